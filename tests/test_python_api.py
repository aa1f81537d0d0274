"""The Python API: cnnlab.train(overrides, run_dir) -> Result holding what the run dir holds,
cnnlab.sweep and cnnlab.load_run, and `cnnlab.train` / `cnnlab.sweep` callable however cnnlab was
imported, while staying the modules `python -m cnnlab.train` and the tests import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

import cnnlab
from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.errors import ConfigError
from cnnlab.train import train_run

QUICK = ["trainer.epochs=2", "trainer.limit_batches=2", "trainer.device=cpu"]

# Run in a fresh interpreter: which import comes first decides what the package attribute is.
ATTRIBUTE_FIRST = """
import sys, cnnlab
assert callable(cnnlab.train) and callable(cnnlab.sweep) and callable(cnnlab.load_run)
import cnnlab.train, cnnlab.sweep.jobs
from cnnlab import train
from cnnlab.train import run
assert cnnlab.train is sys.modules["cnnlab.train"] is train and train.run is run and callable(train.main)
assert callable(cnnlab.train) and callable(cnnlab.sweep) and cnnlab.sweep.jobs.run_sweep_job
print(sorted(name for name in cnnlab.__all__ if name in dir(cnnlab)))
"""
MODULE_FIRST = """
import sys
from cnnlab.train import run
import cnnlab.sweep.jobs
import cnnlab
assert cnnlab.train is sys.modules["cnnlab.train"] and cnnlab.train.run is run
assert callable(cnnlab.train) and callable(cnnlab.sweep)
print("ok")
"""


@pytest.mark.parametrize("script", [ATTRIBUTE_FIRST, MODULE_FIRST], ids=["attribute_first", "module_first"])
def test_cnnlab_train_and_sweep_are_callable_modules_whatever_was_imported_first(script):
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if script is ATTRIBUTE_FIRST:
        assert done.stdout.split("\n")[-2] == str(sorted(cnnlab.__all__))


def test_train_returns_what_the_run_dir_holds(tmp_path):
    run_dir = tmp_path / "run"
    overrides = [f"paths.data_root={tmp_path / 'data'}", *QUICK, "optimizer.lr=0.01"]
    result = cnnlab.train(overrides, run_dir=run_dir)

    assert result.run_dir == run_dir
    assert result.summary == json.loads((run_dir / "summary.json").read_text())
    assert result.summary["status"] == "completed" and result.summary["overrides"] == overrides
    pd.testing.assert_frame_equal(result.metrics, pd.read_csv(run_dir / "metrics.csv"))
    assert list(result.metrics["epoch"]) == [1, 2]
    # .hydra/ as Hydra leaves it, and the run's log lines in train.log
    assert yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()) == overrides
    assert yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())["optimizer"]["lr"] == 0.01
    hydra = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]
    assert hydra["runtime"]["choices"]["model"] == "lenet"
    assert "epoch 2/2  train_loss" in (run_dir / "train.log").read_text()

    best = result.summary["best"]["epoch"]
    trained = result.load("best")
    assert trained.epoch == best and not trained.model.training
    saved = load_checkpoint(run_dir / "checkpoints" / "best.pt")["model"]
    assert all(torch.equal(value, saved[key]) for key, value in trained.model.state_dict().items())
    assert cnnlab.load_run(run_dir, checkpoint="last").epoch == 2


def test_train_without_a_run_dir_writes_hydras_default_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CNNLAB_OUTPUT_DIR", raising=False)
    result = cnnlab.train([f"paths.data_root={tmp_path / 'data'}", *QUICK, "trainer.epochs=1"])
    assert result.run_dir.parent == Path("outputs/runs/digits-lenet")
    assert (tmp_path / result.run_dir / "summary.json").is_file()


def test_train_run_outside_hydra_without_a_run_dir_says_what_to_give(make_cfg):
    with pytest.raises(ConfigError, match=r"give run_dir=, or call cnnlab.train"):
        train_run(make_cfg(*QUICK))


def test_a_misspelt_override_from_python_is_one_paragraph(tmp_path):
    with pytest.raises(ConfigError, match="did you mean model=lenet"):
        cnnlab.train(["model=lenett"], run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="trainer.batch_size=0 is not allowed"):
        cnnlab.train([f"paths.data_root={tmp_path / 'data'}", "trainer.batch_size=0"], run_dir=tmp_path / "r")


@pytest.mark.parametrize(
    ("params", "n_jobs", "said"),
    [
        ({}, 1, "sweeps nothing"),
        ({"optimizer.lr": []}, 1, "sweep values for optimizer.lr: \\[\\] is not a non-empty list"),
        ({"optimizer.lr": 0.1}, 1, "sweep values for optimizer.lr: 0.1 is not a non-empty list"),
        ({"optimizer.lr": [0.1]}, 0, "n_jobs=0 is not allowed"),
    ],
)
def test_sweep_refuses_a_grid_it_cannot_run_before_starting_anything(tmp_path, params, n_jobs, said):
    with pytest.raises(ConfigError, match=said):
        cnnlab.sweep(params, sweep_dir=tmp_path / "sweep", n_jobs=n_jobs)
    assert not (tmp_path / "sweep").exists()
