"""Files a user hands in never run code: a checkpoint with a pickle payload is refused by resume,
by analysis and by a sweep rerun, and a run dir naming a foreign `_target_` builds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.engine.reopen import load_run
from cnnlab.errors import CheckpointError, ConfigError
from cnnlab.train import run

TINY = ["trainer.epochs=1", "trainer.limit_batches=2"]


class Payload:
    """Unpickling this calls os.makedirs(marker): the proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def plant(checkpoint, marker) -> None:
    """Rewrite a real checkpoint with the payload hidden inside an otherwise valid state."""
    state = torch.load(checkpoint, weights_only=True)
    state["extra"] = Payload(str(marker))
    torch.save(state, checkpoint)


@pytest.fixture
def trained(make_cfg, tmp_path):
    run(make_cfg(*TINY), run_dir=tmp_path / "run", overrides=TINY)
    return tmp_path / "run"


def test_cnnlabs_own_checkpoint_loads_weights_only(trained):
    state = torch.load(trained / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 1 and isinstance(state["config"], dict)
    assert set(state["rng"]) == {"torch", "cuda", "numpy", "python"}


def test_payload_in_checkpoint_is_refused_by_resume(make_cfg, trained, tmp_path):
    marker = tmp_path / "pwned-resume"
    plant(trained / "checkpoints" / "last.pt", marker)
    cfg = make_cfg(*TINY, "trainer.epochs=2", "trainer.resume=true", "trainer.resume_allow_changes=true")
    with pytest.raises(CheckpointError, match="could run code"):
        run(cfg, run_dir=trained, overrides=[])
    assert not marker.exists()


def test_payload_in_checkpoint_is_refused_by_analysis(trained, tmp_path):
    marker = tmp_path / "pwned-analysis"
    plant(trained / "checkpoints" / "last.pt", marker)
    with pytest.raises(CheckpointError, match="will not load it"):
        load_run(trained)
    assert not marker.exists()


def test_an_unreadable_checkpoint_is_one_error_quoting_the_start_of_its_cause(tmp_path, monkeypatch):
    """However long what torch.load raised, the message quotes its first 300 characters, then the fix."""

    def fails(*args, **kwargs):
        raise RuntimeError("x" * 1000)

    torch.save({"model": {}}, tmp_path / "last.pt")
    monkeypatch.setattr(torch, "load", fails)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(tmp_path / "last.pt")
    message = str(refused.value)
    # "RuntimeError: " is 14 characters, so 286 of the message make the 300 quoted
    assert f"last.pt is not a readable checkpoint (RuntimeError: {'x' * 286}). It may" in message
    assert message.endswith("delete it to train afresh, or point to the run dir that wrote it.")


def _foreign_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "a zip, but not one torch.save wrote")


@pytest.mark.parametrize(
    ("write", "what"),
    [
        (
            lambda p: p.write_bytes(b""),
            "is not a readable checkpoint (EOFError: the file is empty (0 bytes))",
        ),
        (lambda p: p.write_bytes(b"P"), "(ValueError: it is not the zip archive torch.save writes)"),
        (_foreign_zip, "is not a readable checkpoint (RuntimeError: "),
        (
            lambda p: torch.save([1, 2], p),
            "is a PyTorch file but not a checkpoint of `python -m cnnlab.train` (it holds a list)",
        ),
        (lambda p: torch.save({"epoch": 1}, p), "(it holds no model, rng)"),
        (lambda p: torch.save({"rng": 1}, p), "(it holds no model)"),
    ],
    ids=["empty", "one-byte", "foreign-zip", "list", "dict-without-both", "dict-without-model"],
)
def test_a_file_that_is_no_checkpoint_is_refused_saying_what_it_is(tmp_path, write, what):
    path = tmp_path / "last.pt"
    write(path)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(path, required=("model", "rng"))
    assert str(refused.value).startswith(str(path)) and what in str(refused.value)
    assert refused.value.__cause__ is None  # one paragraph: no chained traceback


def test_foreign_target_in_a_run_dir_builds_nothing(trained, tmp_path):
    marker = tmp_path / "pwned-target"
    path = trained / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True)
    state["config"]["model"] = {"_target_": "os.makedirs", "name": str(marker)}
    torch.save(state, path)
    with pytest.raises(ConfigError, match="'os.makedirs'.*not on the allow-list"):
        load_run(trained)
    assert not marker.exists()


def test_sweep_rerun_never_unpickles_a_checkpoint(tmp_path):
    """Every job of a rerun is checked for skipping; a planted checkpoint must not run while doing so."""
    base = [
        sys.executable,
        "-m",
        "cnnlab.train",
        "-m",
        *TINY,
        "optimizer.lr=0.01",
        f"paths.output_dir={tmp_path / 'outputs'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"paths.data_root={tmp_path / 'data'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    first = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    (job,) = [p.parent for p in (tmp_path / "sweep").glob("*/summary.json")]
    marker = tmp_path / "pwned-sweep"
    plant(job / "checkpoints" / "last.pt", marker)
    again = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "skipping" in (job / "train.log").read_text()
    assert not marker.exists()


def test_resume_with_a_changed_setting_lists_it(make_cfg, trained):
    cfg = make_cfg(*TINY, "trainer.epochs=2", "optimizer.lr=0.5", "trainer.resume=true")
    with pytest.raises(ConfigError, match=r"differs from the one .* optimizer.lr: 0.001 -> 0.5\. "):
        run(cfg, run_dir=trained, overrides=[])
    allowed = make_cfg(
        *TINY,
        "trainer.epochs=2",
        "optimizer.lr=0.5",
        "trainer.resume=true",
        "trainer.resume_allow_changes=true",
    )
    run(allowed, run_dir=trained, overrides=[])
    assert OmegaConf.load(trained / "config.yaml").optimizer.lr == 0.5
