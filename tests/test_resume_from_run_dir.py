"""A stopped run resumes from its run dir alone: `hydra.run.dir=<dir> trainer.resume=true` takes the run's
own overrides (its summary.json), the interrupt hint is that command, runnable as printed, and a resume
that would shorten the run is refused."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import cnnlab
import cnnlab.engine.fit as fit
from cnnlab.config.overrides import resumed_overrides
from cnnlab.errors import ConfigError
from cnnlab.train import run

QUICK = ["trainer.limit_batches=2", "trainer.device=cpu", "trainer.evaluate_at_end=false"]


def _paths(tmp_path: Path) -> list[str]:
    return [f"paths.data_root={tmp_path / 'data'}", f"paths.output_dir={tmp_path / 'outputs'}"]


def _interrupt_in_epoch(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    """A Ctrl-C at the start of `epoch`, as fit sees one."""
    real, started = fit.current_lr, []

    def current_lr(optimizer):
        started.append(1)
        if len(started) == epoch:
            raise KeyboardInterrupt
        return real(optimizer)

    monkeypatch.setattr(fit, "current_lr", current_lr)


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def test_the_interrupt_hint_is_a_command_that_resumes_with_the_runs_own_settings(
    tmp_path, monkeypatch, caplog
):
    run_dir = tmp_path / "optimizer.lr=0.01,seed=3"  # a sweep job's name: `=` and `,` need quoting
    overrides = [*_paths(tmp_path), *QUICK, "trainer.epochs=4", "optimizer.lr=0.01", "trainer.seed=3"]
    _interrupt_in_epoch(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        cnnlab.train(overrides, run_dir=run_dir)
    assert _summary(run_dir)["status"] == "interrupted"
    hint = caplog.text.split("resume with: ")[1].splitlines()[0]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(shlex.split(hint), cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    summary = _summary(run_dir)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 4
    assert summary["overrides"] == [*overrides, "trainer.resume=true"]
    assert list(pd.read_csv(run_dir / "metrics.csv")["epoch"]) == [1, 2, 3, 4]
    config = (run_dir / "config.yaml").read_text()
    assert "epochs: 4\n" in config and "lr: 0.01\n" in config and "seed: 3\n" in config
    assert (run_dir / ".hydra" / "overrides.yaml").read_text().count("trainer.epochs=4") == 1
    assert list(elsewhere.iterdir()) == []  # everything went into the run dir


def test_a_bare_resume_from_python_continues_the_run_it_names(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    _interrupt_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        cnnlab.train([*_paths(tmp_path), *QUICK, "trainer.epochs=3", "model=mlp_bn"], run_dir=run_dir)
    monkeypatch.undo()
    result = cnnlab.train(["trainer.resume=true"], run_dir=run_dir)
    assert result.summary["status"] == "completed"
    assert list(result.metrics["epoch"]) == [1, 2, 3]
    assert "model=mlp_bn" in result.summary["overrides"]


def test_a_resume_asking_for_fewer_epochs_than_are_done_is_refused(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    run(make_cfg(*QUICK, "trainer.epochs=3"), run_dir=run_dir)
    before = {name: (run_dir / name).read_bytes() for name in ("summary.json", "metrics.csv", "config.yaml")}
    with pytest.raises(ConfigError, match=r"trainer.epochs=2, but .* has 3 epochs done"):
        run(make_cfg(*QUICK, "trainer.epochs=2", "trainer.resume=true"), run_dir=run_dir)
    assert {name: (run_dir / name).read_bytes() for name in before} == before  # nothing rewritten


def _run_dir_with_overrides(tmp_path: Path, saved: object) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps({"status": "interrupted", "overrides": saved}))
    return run_dir


def test_resumed_overrides_put_the_saved_ones_first_and_let_the_command_win(tmp_path):
    run_dir = _run_dir_with_overrides(tmp_path, ["trainer.epochs=7", "optimizer.lr=0.1", "model=vgg_blocks"])
    command = ["--cfg", "job", f"hydra.run.dir={run_dir}", "trainer.resume=true", "optimizer.lr=0.2"]
    assert resumed_overrides(command) == [
        "--cfg",
        "job",
        "trainer.epochs=7",
        "model=vgg_blocks",
        f"hydra.run.dir={run_dir}",
        "trainer.resume=true",
        "optimizer.lr=0.2",
    ]
    assert resumed_overrides(["trainer.resume=true"], run_dir)[:2] == ["trainer.epochs=7", "optimizer.lr=0.1"]
    for not_a_resume in ([f"hydra.run.dir={run_dir}"], [f"hydra.run.dir={run_dir}", "trainer.resume=false"]):
        assert resumed_overrides(not_a_resume) == not_a_resume
    # Only true resumes; anything else (1, null, yes) is left as given for validation to name.
    for value in ("1", "null", "yes"):
        command = [f"hydra.run.dir={run_dir}", f"trainer.resume={value}"]
        assert resumed_overrides(command) == command


def test_a_deletion_on_the_command_line_deletes_what_the_saved_overrides_add(tmp_path):
    """`~key` has no `=` and is no setting of its own: the saved `+key=...` still comes first, so the
    deletion finds the key to delete (taken for the key's setting, Hydra would refuse to delete a key
    that is not there)."""
    run_dir = _run_dir_with_overrides(tmp_path, ["+lab.note=1", "trainer.epochs=7"])
    command = [f"hydra.run.dir={run_dir}", "trainer.resume=true", "~lab.note"]
    assert resumed_overrides(command) == ["+lab.note=1", "trainer.epochs=7", *command]


def test_an_argument_hydra_cannot_parse_is_passed_on_for_hydra_to_refuse(tmp_path):
    run_dir = _run_dir_with_overrides(tmp_path, ["trainer.epochs=7"])
    command = [f"hydra.run.dir={run_dir}", "trainer.resume=true", "optimizer.lr=[0.1"]
    assert resumed_overrides(command) == ["trainer.epochs=7", *command]


def test_a_summary_that_does_not_read_gives_no_overrides_to_resume_with(tmp_path):
    """The resume then runs on the command line's settings; fit's check against the checkpoint's config
    refuses them if they differ from the run's."""
    run_dir = _run_dir_with_overrides(tmp_path, [])
    (run_dir / "summary.json").write_bytes(b"\x00\xff not JSON")
    command = [f"hydra.run.dir={run_dir}", "trainer.resume=true"]
    assert resumed_overrides(command) == command


def test_a_run_dir_the_file_system_cannot_look_into_gives_no_overrides_to_resume_with(tmp_path):
    """A name longer than a file name may be (the OSError of looking, not a missing file) is left for the
    run's own start to report, as is any dir it cannot read."""
    command = [f"hydra.run.dir={tmp_path / ('x' * 300)}", "trainer.resume=true"]
    with pytest.raises(OSError, match="too long"):
        (tmp_path / ("x" * 300) / "summary.json").is_file()
    assert resumed_overrides(command) == command


@pytest.mark.parametrize("saved", ["model._target_=os.system", "hydra.job.env_set.X=1"])
def test_a_resume_takes_no_code_and_no_hydra_settings_from_a_run_dir(tmp_path, saved):
    run_dir = _run_dir_with_overrides(tmp_path, ["trainer.epochs=3", saved])
    with pytest.raises(
        ConfigError, match=f"records the override '{saved}'.*give '{saved}' on the command line"
    ):
        resumed_overrides(["trainer.resume=true"], run_dir)
    trusted = "model._target_=cnnlab.models.lenet.LeNet5"
    assert trusted in resumed_overrides(
        ["trainer.resume=true"], _run_dir_with_overrides(tmp_path / "b", [trusted])
    )


def test_a_summary_whose_overrides_are_not_strings_is_refused_by_name(tmp_path):
    run_dir = _run_dir_with_overrides(tmp_path, {"trainer.epochs": 3})
    with pytest.raises(ConfigError, match="summary.json records overrides that are not a list of strings"):
        resumed_overrides(["trainer.resume=true"], run_dir)


@pytest.mark.parametrize("made", [False, True])
def test_a_resume_of_a_dir_that_holds_no_run_yet_takes_nothing_and_trains_afresh(tmp_path, made):
    """A resumable queue starts every run with trainer.resume=true, so its first start finds no summary."""
    run_dir = tmp_path / "fresh"
    if made:
        run_dir.mkdir()
    command = [f"hydra.run.dir={run_dir}", "trainer.resume=true", "trainer.epochs=1"]
    assert resumed_overrides(command) == command


def test_the_command_refuses_a_run_dir_it_cannot_resume_in_one_paragraph(tmp_path):
    run_dir = _run_dir_with_overrides(tmp_path, None)
    command = [sys.executable, "-m", "cnnlab.train", f"hydra.run.dir={run_dir}", "trainer.resume=true"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "records overrides that are not a list of strings (None)" in done.stderr
