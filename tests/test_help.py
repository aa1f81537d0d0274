"""Each Hydra entry point's --help says what the command does, its keys and an example, and train's
names every file a run leaves (a help that falls behind the run dir fails here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnnlab.config.paths import CONF_DIR
from cnnlab.train import run

ROOT = Path(__file__).resolve().parents[1]


def help_text(module: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_train_help_names_every_file_a_run_leaves(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    run(make_cfg("trainer.epochs=1", "trainer.limit_batches=2", "trainer.device=cpu"), run_dir=run_dir)
    left = {p.name for p in run_dir.glob("*/*") if p.parent.name != ".hydra"}
    left |= {p.name for p in run_dir.iterdir() if not p.name.startswith((".", "events.out"))}
    assert {"last.pt", "best.pt", "test-last", "metrics.csv"} <= left  # what the run left, read back
    text = help_text("cnnlab.train")
    assert {name for name in left if name not in text} == set(), text
    assert "trainer.evaluate_at_end" in text
    assert "python -m cnnlab.evaluate run=<run dir>" in text and "python -m cnnlab.report" in text


@pytest.mark.parametrize(("module", "config"), [("cnnlab.evaluate", "evaluate"), ("cnnlab.lab", "lab")])
def test_help_says_what_the_command_does_its_keys_and_an_example(module, config):
    text = help_text(module)
    assert f"Usage: python -m {module}" in text and f"python -m {module} " in text.split("Examples:")[1]
    keys = [k for k in yaml.safe_load((CONF_DIR / f"{config}.yaml").read_text()) if k != "defaults"]
    assert all(f"\n{key}:" in text for key in keys if key != "hydra"), text
    assert "is powered by Hydra" not in text  # not Hydra's generic page
