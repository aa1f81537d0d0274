"""Real multiruns through the CLI (`python -m cnnlab.train -m ...`) with each launcher and Optuna:
run dirs, the end-of-sweep report, skipping on rerun, failure isolation, TensorBoard hparams."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.sweep.jobs import available_cores

TINY = ["trainer.epochs=2", "trainer.limit_batches=3"]


def sweep(tmp_path: Path, *overrides: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run a multirun into tmp_path/sweep; returns the finished process and its wall time."""
    command = [
        sys.executable,
        "-m",
        "cnnlab.train",
        *overrides,
        f"paths.output_dir={tmp_path / 'outputs'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    return done, time.perf_counter() - start


def job_dirs(tmp_path: Path) -> list[Path]:
    return sorted(p.parent for p in (tmp_path / "sweep").glob("*/summary.json"))


def status(run_dir: Path) -> str:
    return json.loads((run_dir / "summary.json").read_text())["status"]


def snapshot(run_dir: Path) -> dict[str, tuple[int, bytes]]:
    """What training writes in a run dir (Hydra's .hydra/ and train.log are rewritten by Hydra itself)."""
    files = [
        run_dir / "metrics.csv",
        run_dir / "summary.json",
        *run_dir.glob("checkpoints/*"),
        *run_dir.glob("events.out.tfevents.*"),
    ]
    return {str(f): (f.stat().st_mtime_ns, f.read_bytes()) for f in files}


def assert_report(tmp_path: Path, n_jobs: int) -> pd.DataFrame:
    table = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert len(table) == n_jobs
    assert (tmp_path / "sweep" / "curves.png").stat().st_size > 10_000
    return table


def hparams_content(log_dir: Path) -> dict[str, plugin_data_pb2.HParamsPluginData]:
    """The HParams plugin's summaries directly in log_dir, by tag, as TensorBoard's reader sees them."""
    events = EventAccumulator(str(log_dir))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(data) for tag, data in content.items()}


def hparams_of(run_dir: Path) -> dict[str, float | str]:
    start = hparams_content(run_dir)["_hparams_/session_start_info"].session_start_info
    return {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}


def test_failing_job_is_recorded_others_finish_and_rerun_resumes(tmp_path):
    # image_size=4 is too small for LeNet's 5x5 kernels: that job raises while building the model.
    done, _ = sweep(tmp_path, "-m", "dataset.image_size=28,4", "trainer.epochs=1", "trainer.limit_batches=2")
    assert done.returncode == 1, done.stderr[-3000:]
    # Each job's dir (its TensorBoard run name) holds only the swept override.
    good, bad = (tmp_path / "sweep" / f"dataset.image_size={s}" for s in (28, 4))
    assert status(good) == "completed"
    failed = json.loads((bad / "summary.json").read_text())
    assert failed["status"] == "failed"
    assert failed["message"].startswith("ConfigError: model=lenet cannot take 1x4x4 inputs")
    tail = done.stderr.strip().splitlines()[-4:]
    assert tail[0] == "1 of 2 jobs did not finish:"
    assert tail[1].startswith("  [failed] dataset.image_size=4")
    assert_report(tmp_path, 2)

    # A job stopped part-way reruns and resumes from its checkpoint; the failed one is retried.
    summary = json.loads((good / "summary.json").read_text())
    (good / "summary.json").write_text(json.dumps(summary | {"status": "interrupted"}))
    rows_before = pd.read_csv(good / "metrics.csv")
    done, _ = sweep(tmp_path, "-m", "dataset.image_size=28,4", "trainer.epochs=1", "trainer.limit_batches=2")
    assert done.returncode == 1
    assert "stopped as interrupted: resuming from its checkpoint" in (good / "train.log").read_text()
    assert status(good) == "completed" and status(bad) == "failed"
    pd.testing.assert_frame_equal(pd.read_csv(good / "metrics.csv"), rows_before)


@pytest.mark.slow
def test_joblib_grid_reports_and_rerun_trains_nothing(tmp_path):
    grid = [
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "optimizer.lr=0.01,0.003",
        "trainer.seed=0,1",
    ]
    done, first_wall = sweep(tmp_path, *grid, *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = job_dirs(tmp_path)
    assert len(runs) == 4 and all(status(r) == "completed" for r in runs)
    table = assert_report(tmp_path, 4)
    assert {"optimizer.lr", "trainer.seed"} <= set(table.columns)
    # Mean and std over the two seeds of each lr, against statistics over summary.csv's rows.
    by_config = pd.read_csv(tmp_path / "sweep" / "summary_by_config.csv").set_index("optimizer.lr")
    for lr, rows in table.groupby("optimizer.lr"):
        assert by_config.loc[lr, "n_seeds"] == 2 == len(rows)
        values = rows["final_val_acc"].tolist()
        assert by_config.loc[lr, "final_val_acc_mean"] == pytest.approx(statistics.mean(values))
        assert by_config.loc[lr, "final_val_acc_std"] == pytest.approx(statistics.stdev(values), abs=1e-12)
    for run_dir in runs:
        # Each job gets its share of the cores, and TensorBoard sees every swept parameter.
        config = load_checkpoint(run_dir / "checkpoints" / "last.pt")["config"]
        assert config["trainer"]["num_threads"] == max(1, available_cores() // 2)
        hparams = hparams_of(run_dir)
        assert hparams["optimizer.lr"] == config["optimizer"]["lr"]
        assert hparams["trainer.seed"] == config["trainer"]["seed"]
        assert hparams["trainer.epochs"] == 2 and hparams["model.name"] == "lenet"
    # One experiment at the sweep's root: every run's keys, the swept ones first, the per-epoch metrics.
    experiment = hparams_content(tmp_path / "sweep")["_hparams_/experiment"].experiment
    names = [h.name for h in experiment.hparam_infos]
    assert names[:2] == ["optimizer.lr", "trainer.seed"] and set(hparams_of(runs[0])) == set(names)
    assert [h.differs for h in experiment.hparam_infos].count(True) == 2
    per_epoch = {f"{s}/{m}" for s in ("train", "val", "test") for m in ("loss", "acc")}
    assert {m.name.tag for m in experiment.metric_infos} == per_epoch | {"best/val_acc"}

    before = {r: snapshot(r) for r in runs}
    done, rerun_wall = sweep(tmp_path, *grid, *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert all("already completed with this config" in (r / "train.log").read_text() for r in runs)
    assert {r: snapshot(r) for r in runs} == before
    assert "epoch 1/2" not in done.stdout + done.stderr
    assert rerun_wall < first_wall
    assert_report(tmp_path, 4)


@pytest.mark.slow
def test_submitit_local_sweep(tmp_path):
    done, _ = sweep(tmp_path, "-m", "hydra/launcher=submitit_local", "optimizer.lr=0.01,0.003", *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = job_dirs(tmp_path)
    assert len(runs) == 2 and all(status(r) == "completed" for r in runs)
    assert (tmp_path / "sweep" / ".submitit").is_dir()
    assert_report(tmp_path, 2)


@pytest.mark.slow
def test_optuna_search_persists_and_continues_its_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = [
        "hparams_search=lr_batch_size",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=t",
    ]
    done, _ = sweep(tmp_path, *search, "hydra.sweeper.n_trials=4", *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(job_dirs(tmp_path)) == 4
    assert_report(tmp_path, 4)

    done, _ = sweep(tmp_path, *search, "hydra.sweeper.n_trials=2", *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    study = optuna.load_study(study_name="t", storage=storage)
    assert len(study.trials) == 6
    table = assert_report(tmp_path, 6)
    # Each trial's value in the study is the best monitored metric its run dir reports.
    for trial in study.trials:
        row = table[
            np.isclose(table["optimizer.lr"], trial.params["optimizer.lr"], rtol=1e-12)
            & (table["trainer.batch_size"] == trial.params["trainer.batch_size"])
        ]
        assert len(row) == 1 and row["best_value"].iloc[0] == pytest.approx(trial.value)
