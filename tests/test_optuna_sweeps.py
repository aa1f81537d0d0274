"""Optuna searches through the CLI (`python -m cnnlab.train -m hydra/sweeper=optuna ...`): a clearly worse
trial pruned, its run dir, report row and study record, and a rerun that does not retrain it; trials that
start as joblib slots free up; per-epoch reports from submitit jobs; a multi-objective Pareto front;
optuna-dashboard serving the study over HTTP; and a refused setting as one paragraph."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnnlab.engine.checkpoint import load_checkpoint
from tests.test_sweep_cli import TINY, job_dirs, snapshot, status, sweep

optuna.logging.set_verbosity(optuna.logging.WARNING)
GOOD, BAD = "0.003", "1e-07"
# A grid over a good lr and one that learns nothing: with seed 1 the grid tries the good one first, so
# by the bad one's first epoch the median pruner has a finished trial to compare it with.
PRUNED_SEARCH = [
    "hydra/sweeper/sampler=grid",
    "hydra.sweeper.sampler.seed=1",
    "hydra/sweeper/pruner=median",
    "hydra.sweeper.pruner.n_startup_trials=1",
    "hydra.sweeper.pruner.n_warmup_steps=0",
    f"optimizer.lr=choice({GOOD},{BAD})",
    "trainer.epochs=3",
    "trainer.limit_batches=3",
]


def trials(storage: str, name: str = "sweep") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).trials


def search(root: Path, *overrides: str) -> list[optuna.trial.FrozenTrial]:
    """An Optuna search through the CLI into root/sweep; the trials of its study (root/sweep/optuna.db)."""
    done, _ = sweep(root, "-m", "hydra/sweeper=optuna", *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    return trials(f"sqlite:///{root / 'sweep' / 'optuna.db'}")


@pytest.fixture(scope="module")
def pruned_search(tmp_path_factory) -> Path:
    """One search whose bad trial was pruned (shared by the pruning and the dashboard tests)."""
    root = tmp_path_factory.mktemp("pruned")
    search(root, *PRUNED_SEARCH)
    return root


@pytest.mark.slow
def test_a_clearly_worse_trial_is_pruned_and_a_rerun_does_not_retrain_it(pruned_search):
    root = pruned_search
    sweep_dir = root / "sweep"
    good, bad = sweep_dir / f"optimizer.lr={GOOD}", sweep_dir / f"optimizer.lr={BAD}"
    assert {p.name for p in job_dirs(root)} == {good.name, bad.name}

    # The bad trial's run dir: stopped after epoch 1 with every file a run leaves.
    summary = json.loads((bad / "summary.json").read_text())
    assert (summary["status"], summary["stop_reason"], summary["pruned_epoch"]) == ("pruned", "pruned", 1)
    assert summary["trial"] == {"number": 1, "study": "sweep"}
    metrics = pd.read_csv(bad / "metrics.csv")
    assert list(metrics["epoch"]) == [1]
    assert load_checkpoint(bad / "checkpoints" / "last.pt")["epoch"] == 1
    events = EventAccumulator(str(bad))
    events.Reload()
    assert [e.value for e in events.Scalars("val/acc")] == pytest.approx(list(metrics["val_acc"]))
    assert status(good) == "completed" and len(pd.read_csv(good / "metrics.csv")) == 3

    # The study says the same: trial 1 pruned with its one epoch's value, trial 0 complete.
    storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
    first, second = trials(storage)
    assert first.state.name == "COMPLETE" and first.params == {"optimizer.lr": float(GOOD)}
    assert first.value == pytest.approx(json.loads((good / "summary.json").read_text())["best"]["value"])
    assert second.state.name == "PRUNED" and second.params == {"optimizer.lr": float(BAD)}
    assert second.intermediate_values == {1: pytest.approx(metrics["val_acc"].iloc[0])}

    # The report: a row each, with trial number, state and pruned epoch; no failure listed.
    table = pd.read_csv(sweep_dir / "summary.csv").set_index("run")
    assert table.loc[bad.name, ["trial", "trial_state", "pruned_epoch"]].tolist() == [1, "PRUNED", 1]
    assert table.loc[good.name, ["trial", "trial_state"]].tolist() == [0, "COMPLETE"]
    assert "| PRUNED" in (sweep_dir / "summary.md").read_text()
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"optimizer.lr": float(GOOD)} and results["best_trial"] == 0
    assert results["trials"] == {"COMPLETE": 1, "PRUNED": 1, "FAIL": 0}

    # The same command again continues the study, whose grid is done: nothing trains.
    before = {r: snapshot(r) for r in (good, bad)}
    assert len(search(root, *PRUNED_SEARCH)) == 2
    # A new study asks for both points again: the jobs are skipped, the pruned one told as pruned.
    other = f"sqlite:///{root / 'other.db'}"
    done, _ = sweep(root, "-m", "hydra/sweeper=optuna", *PRUNED_SEARCH, f"hydra.sweeper.storage={other}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "already pruned with this config" in (bad / "train.log").read_text()
    assert "epoch 1/3" not in done.stdout + done.stderr
    assert {r: snapshot(r) for r in (good, bad)} == before
    assert [(t.params["optimizer.lr"], t.state.name) for t in trials(other)] == [
        (float(GOOD), "COMPLETE"),
        (float(BAD), "PRUNED"),
    ]
    assert trials(other)[1].intermediate_values == second.intermediate_values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_optuna_dashboard_serves_the_study_over_http(pruned_search):
    storage = f"sqlite:///{pruned_search / 'sweep' / 'optuna.db'}"
    port = free_port()
    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    server = subprocess.Popen(
        [str(dashboard), storage, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(60):
            try:
                studies = get_json(f"{base}/api/studies")["study_summaries"]
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"optuna-dashboard did not answer on {base}: {server.stderr.read1().decode()}")
        (summary,) = studies
        assert summary["study_name"] == "sweep"
        detail = get_json(f"{base}/api/studies/{summary['study_id']}?after=0")
        shown = {t["number"]: t for t in detail["trials"]}
        for trial in trials(storage):
            assert shown[trial.number]["state"] == trial.state.name.capitalize()
            assert {p["name"]: float(p["param_external_value"]) for p in shown[trial.number]["params"]} == (
                trial.params
            )
            steps = {v["step"]: v["value"] for v in shown[trial.number]["intermediate_values"]}
            assert steps == pytest.approx(trial.intermediate_values)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_joblib_starts_a_trial_as_soon_as_a_slot_frees_up(tmp_path):
    # Three trials, two slots: with seed 0 the grid asks for 16 epochs, then 2, then 1. The third starts
    # when the 2-epoch trial ends, long before the 16-epoch one does (a batch of two would wait for both).
    long, short, third = search(
        tmp_path,
        "hydra/sweeper/sampler=grid",
        "hydra.sweeper.sampler.seed=0",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "trainer.epochs=choice(1,2,16)",
        "trainer.limit_batches=2",
        "trainer.evaluate_at_end=false",
    )
    assert [t.params["trainer.epochs"] for t in (long, short, third)] == [16, 2, 1]
    assert all(t.state.name == "COMPLETE" for t in (long, short, third))
    assert short.datetime_complete <= third.datetime_start < long.datetime_complete
    # Each job reported every epoch to its trial from its worker process.
    assert [len(t.intermediate_values) for t in (long, short, third)] == [16, 2, 1]


@pytest.mark.slow
def test_submitit_jobs_report_every_epoch_through_the_storage(tmp_path):
    found = search(
        tmp_path,
        "hydra/launcher=submitit_local",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=2",
        "hydra/sweeper/sampler=random",
        "optimizer.lr=tag(log, interval(0.001, 0.01))",
        *TINY,
    )
    assert (tmp_path / "sweep" / ".submitit").is_dir()
    assert len(found) == 2
    by_trial = {
        json.loads((r / "summary.json").read_text())["trial"]["number"]: r for r in job_dirs(tmp_path)
    }
    for trial in found:
        run_dir = by_trial[trial.number]
        metrics = pd.read_csv(run_dir / "metrics.csv")
        assert trial.intermediate_values == dict(zip(metrics["epoch"], metrics["val_acc"], strict=True))


@pytest.mark.slow
def test_a_multi_objective_search_writes_its_pareto_front(tmp_path):
    found = search(
        tmp_path,
        "hydra/sweeper/sampler=nsgaii",
        "hydra.sweeper.direction=[maximize,minimize]",
        "hydra.sweeper.objectives=[best.value,n_params]",
        "model=lenet,simple_cnn",
        "hydra.sweeper.n_trials=3",
        *TINY,
    )
    summaries = {r.name: json.loads((r / "summary.json").read_text()) for r in job_dirs(tmp_path)}
    for trial in found:
        summary = summaries[f"model={trial.params['model']}"]
        assert trial.values == [pytest.approx(summary["best"]["value"]), summary["n_params"]]
    # The Pareto front, computed here from the trials' values.
    front = [
        t
        for t in found
        if not any(
            o.values[0] >= t.values[0] and o.values[1] <= t.values[1] and o.values != t.values for o in found
        )
    ]
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert sorted(s["trial"] for s in results["solutions"]) == sorted(t.number for t in front)


def test_a_setting_the_search_cannot_use_is_one_paragraph_and_no_sweep_dir(tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    command = [
        sys.executable,
        "-m",
        "cnnlab.train",
        "hparams_search=lr_batch_size",
        "hydra.sweeper.direction=minimize",
        f"paths.output_dir={tmp_path / 'outputs'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = [x for x in done.stdout.splitlines() if "hydra.sweeper.direction=minimize" in x]
    assert "set direction to maximize" in line
    # Nothing was searched or trained: no study, no run dir (the sweep report's callback, which runs
    # before any sweeper, may have noted the swept keys).
    assert not (tmp_path / "sweep" / "optuna.db").exists() and not job_dirs(tmp_path)
