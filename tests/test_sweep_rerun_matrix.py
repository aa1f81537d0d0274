"""What a rerun of a sweep does with each job it finds, in-process and fast: every status a job's run
dir can hold, with the same config, a config that differs only in plumbing, or a changed config ->
skip (nothing trains, nothing is rewritten, the stored metric goes back to the sweeper), resume (from
checkpoints/last.pt) or retrain (afresh, the old run's curves removed). Then the jobs off the matrix:
files that do not read, a job that raises or is interrupted, one a live process holds, and one that is
an Optuna trial."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import cnnlab.sweep.jobs
import cnnlab.sweep.pruning
from cnnlab.rundir.lock import LOCK_NAME, hold_run_dir
from cnnlab.sweep.jobs import run_sweep_job
from cnnlab.sweep.study import TRIAL_ENV
from cnnlab.train import run
from tests.conftest import CONF_DIR
from tests.test_run_lock import _dead_pid

TINY = ["trainer.epochs=2", "trainer.limit_batches=2", "trainer.device=cpu", "trainer.evaluate_at_end=false"]
VARIANTS = {
    "same": [],
    "plumbing": ["trainer.num_threads=1", "trainer.resume=true"],  # where and how it runs, not what
    "changed": ["optimizer.lr=0.0005"],
}
EXPECTED = {
    ("completed", "same"): "skip",
    ("diverged", "same"): "skip",  # a NaN is a result, not an error: rerunning would only repeat it
    ("pruned", "same"): "skip",  # an Optuna search's pruner stopped it on purpose
    ("failed", "same"): "resume",
    ("interrupted", "same"): "resume",
    ("died", "same"): "resume",
}
# What the log says of a job dir that is retrained because it holds another config's run.
ANOTHER_CONFIG = "{} holds a run of another config: training afresh over it"
STATUSES = ["completed", "diverged", "pruned", "failed", "interrupted", "died"]
CASES = [
    (status, variant, EXPECTED.get((status, "same" if variant == "plumbing" else variant), "retrain"))
    for status in STATUSES
    for variant in VARIANTS
]


def _compose(root: Path, *overrides: str, hydra: bool = False) -> DictConfig:
    paths = [f"paths.data_root={root / 'data'}", f"paths.cache_dir={root / 'cache'}"]
    paths.append(f"paths.output_dir={root}")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[*paths, *overrides], return_hydra_config=hydra)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real completed job dir (config.yaml, summary.json, metrics.csv, checkpoints, events)."""
    root = tmp_path_factory.mktemp("sweep")
    run(_compose(root, *TINY), run_dir=root / "finished", overrides=TINY)
    return root / "finished"


def _job(finished: Path, job: Path, status: str) -> None:
    """A copy of the finished job whose summary says `status` (`died`: running, its process gone)."""
    shutil.copytree(finished, job)
    summary = json.loads((job / "summary.json").read_text())
    if status == "died":
        summary |= {"status": "running", "pid": _dead_pid(), "host": socket.gethostname()}
    else:
        summary["status"] = status
    (job / "summary.json").write_text(json.dumps(summary))


def _rerun(
    root: Path,
    job: Path,
    *overrides: str,
    fails: BaseException | None = None,
    trial: Any = None,
    seen: list[DictConfig] | None = None,
) -> tuple[float, list[bool]]:
    """run_sweep_job as a multirun calls it for `job`; returns its value and each train call's resume flag.
    Training raises `fails` if given; `trial` is the epoch hook of an Optuna trial the job belongs to;
    `seen` collects the config each train call is given."""
    cfg = _compose(root, *TINY, *overrides, hydra=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(job)
        cfg.hydra.overrides.task = [*TINY, *overrides]
        if trial is not None:
            cfg.hydra.job.env_set = {TRIAL_ENV: "3"}
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    calls: list[bool] = []

    def train(job_cfg: DictConfig, job_dir: Path, job_overrides: list[str], hooks=()) -> float:
        assert job_dir == job and job_overrides == [*TINY, *overrides]
        assert hooks == (() if trial is None else (trial,))
        calls.append(bool(job_cfg.trainer.resume))
        if seen is not None:
            seen.append(job_cfg)
        if fails is not None:
            raise fails
        return 0.25

    try:
        return run_sweep_job(cfg, train), calls
    finally:
        HydraConfig.instance().cfg = None


def _files(run_dir: Path) -> dict[str, bytes]:
    """The run's files, less its lock: deciding to skip holds the lock, which records who held it last."""
    files = sorted(p for p in run_dir.rglob("*") if p.is_file() and p.name != LOCK_NAME)
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in files}


@pytest.mark.parametrize(("status", "variant", "action"), CASES, ids=[f"{s}-{v}-{a}" for s, v, a in CASES])
def test_a_rerun_skips_resumes_or_retrains_each_job(finished, tmp_path, caplog, status, variant, action):
    job = tmp_path / "job"
    _job(finished, job, status)
    before = _files(job)
    with caplog.at_level(logging.INFO, logger="cnnlab.sweep"):
        value, calls = _rerun(tmp_path, job, *VARIANTS[variant])
    if action == "resume":  # a died run's summary says `running`: the log says what it really is
        assert f"{job} stopped as {status}: resuming from its checkpoint" in caplog.text
    assert (ANOTHER_CONFIG.format(job) in caplog.text) == (action == "retrain")
    if action == "skip":
        # The sweeper gets the stored best, read here from metrics.csv; nothing trains or is rewritten.
        assert calls == []
        assert value == pytest.approx(pd.read_csv(job / "metrics.csv")["val_acc"].max(), rel=1e-12)
        assert _files(job) == before
    else:
        assert (value, calls) == (0.25, [action == "resume"])
    if action == "retrain":  # the old run's TensorBoard curves would be drawn as this run's
        assert not list(job.glob("events.out.tfevents.*"))
    else:
        assert list(job.glob("events.out.tfevents.*"))


def test_a_job_without_a_run_dir_trains_afresh(tmp_path):
    value, calls = _rerun(tmp_path, tmp_path / "new")
    assert (value, calls) == (0.25, [False])


def test_a_job_whose_dir_another_process_has_locked_is_skipped_writing_nothing(tmp_path, caplog):
    """The lock, not only a `running` summary, keeps two processes out of one dir (a job that has not
    written its summary yet)."""
    job = tmp_path / "job"
    with hold_run_dir(job), caplog.at_level(logging.WARNING, logger="cnnlab.sweep"):
        value, calls = _rerun(tmp_path, job)
    assert math.isnan(value) and calls == []
    assert not (job / "summary.json").exists()
    assert "skipping this job, nothing written" in caplog.text


@pytest.mark.parametrize(("launcher", "watched"), [("basic", False), ("joblib", True)])
def test_only_a_joblib_job_watches_for_its_parent_dying(tmp_path, monkeypatch, launcher, watched):
    """joblib's workers outlive a killed sweep unless they watch their parent; a job of the basic launcher
    runs in the sweep's own process, which must not kill itself."""
    calls = []
    monkeypatch.setattr(cnnlab.sweep.jobs, "stop_when_parent_dies", lambda: calls.append(True))
    assert _rerun(tmp_path, tmp_path / "job", f"hydra/launcher={launcher}") == (0.25, [False])
    assert calls == ([True] if watched else [])


@pytest.mark.parametrize(("given", "threads"), [([], 4), (["trainer.num_threads=3"], 3)])
def test_a_joblib_job_trains_on_its_share_of_the_cores_unless_told(tmp_path, monkeypatch, given, threads):
    monkeypatch.setattr(cnnlab.sweep.jobs, "stop_when_parent_dies", lambda: None)
    monkeypatch.setattr(cnnlab.sweep.jobs, "available_cores", lambda: 8)
    seen: list[DictConfig] = []
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *given]
    assert _rerun(tmp_path, tmp_path / "job", *joblib, seen=seen) == (0.25, [False])
    assert [cfg.trainer.num_threads for cfg in seen] == [threads]  # 8 cores, 2 jobs at once: 4 each


@pytest.mark.parametrize(("variant", "action"), [("same", "resume"), ("changed", "retrain")])
def test_an_empty_summary_is_judged_by_the_config_beside_it(finished, tmp_path, caplog, variant, action):
    """`{}` reads, unlike a damaged summary: config.yaml says whose run it is; no status: unfinished."""
    job = tmp_path / "job"
    _job(finished, job, "completed")
    (job / "summary.json").write_text("{}")
    with caplog.at_level(logging.WARNING, logger="cnnlab.sweep"):
        assert _rerun(tmp_path, job, *VARIANTS[variant]) == (0.25, [action == "resume"])
    assert (ANOTHER_CONFIG.format(job) in caplog.text) == (action == "retrain")


def test_a_status_cnnlab_never_writes_is_an_unfinished_run_resumed_under_its_name(finished, tmp_path, caplog):
    """A summary from a hand edit or another version ("stopped", which sorts after "running") is neither a
    finished run nor one a live process trains: the job resumes, and the log names the status it found."""
    job = tmp_path / "job"
    _job(finished, job, "stopped")
    with caplog.at_level(logging.INFO, logger="cnnlab.sweep"):
        assert _rerun(tmp_path, job) == (0.25, [True])
    assert f"{job} stopped as stopped: resuming from its checkpoint" in caplog.text


def _stored_best(job: Path) -> float:
    return pd.read_csv(job / "metrics.csv")["val_acc"].max()


@pytest.mark.parametrize("damage", [b"\x00\xff\xfe binary", b"[1, 2]", b'{"status": "comp'])
def test_an_unreadable_summary_is_named_and_the_job_trained_afresh(finished, tmp_path, caplog, damage):
    job = tmp_path / "job"
    _job(finished, job, "completed")
    (job / "summary.json").write_bytes(damage)
    with caplog.at_level(logging.WARNING, logger="cnnlab.sweep"):
        assert _rerun(tmp_path, job) == (0.25, [False])
    assert f"{job / 'summary.json'} is not a run summary" in caplog.text
    assert "holds a run of another config" not in caplog.text  # nothing is known of whose run it was
    assert not list(job.glob("events.out.tfevents.*"))  # its curves are not this run's


@pytest.mark.parametrize(("variant", "action"), [("same", "skip"), ("changed", "retrain")])
def test_an_unreadable_config_yaml_leaves_the_summarys_overrides_to_judge_the_job(
    finished, tmp_path, caplog, variant, action
):
    job = tmp_path / "job"
    _job(finished, job, "completed")
    (job / "config.yaml").write_text("model: [unclosed\n")
    with caplog.at_level(logging.WARNING, logger="cnnlab.sweep"):
        value, calls = _rerun(tmp_path, job, *VARIANTS[variant])
    assert f"cannot read {job / 'config.yaml'}" in caplog.text
    if action == "skip":
        assert calls == [] and value == pytest.approx(_stored_best(job), rel=1e-12)
    else:
        assert (value, calls) == (0.25, [False])


def test_a_job_that_raises_is_recorded_failed_and_gives_the_sweeper_nan(tmp_path, caplog):
    job = tmp_path / "job"
    with caplog.at_level(logging.ERROR, logger="cnnlab.sweep"):
        value, calls = _rerun(tmp_path, job, fails=ValueError("the loss went sideways"))
    assert math.isnan(value) and calls == [False]
    summary = json.loads((job / "summary.json").read_text())
    assert (summary["status"], summary["message"]) == ("failed", "ValueError: the loss went sideways")
    assert summary["overrides"] == TINY and "ValueError: the loss went sideways" in summary["traceback"]
    assert "job failed: the loss went sideways" in caplog.text
    (failed,) = [r for r in caplog.records if "job failed" in r.getMessage()]
    assert failed.exc_info is not None and failed.exc_info[0] is ValueError  # the log shows the traceback


def test_ctrl_c_in_a_job_stops_the_sweep(tmp_path, monkeypatch):
    """A joblib worker whose sweep was killed exits instead of going on to the next job (exit_if_orphaned)."""
    checks = []
    monkeypatch.setattr(cnnlab.sweep.jobs, "exit_if_orphaned", lambda: checks.append(True))
    with pytest.raises(KeyboardInterrupt):
        _rerun(tmp_path, tmp_path / "job", fails=KeyboardInterrupt())
    assert not (tmp_path / "job" / "summary.json").exists()  # an interrupt is not a failure to record
    assert checks == [True]


def test_a_job_that_a_live_process_is_training_is_skipped_untouched(finished, tmp_path, caplog):
    job = tmp_path / "job"
    _job(finished, job, "completed")
    summary = json.loads((job / "summary.json").read_text())
    summary |= {"status": "running", "pid": os.getpid(), "host": socket.gethostname()}
    (job / "summary.json").write_text(json.dumps(summary))
    (job / LOCK_NAME).unlink(missing_ok=True)  # no lock record: the pid is what tells it is alive
    before = _files(job)
    with caplog.at_level(logging.WARNING, logger="cnnlab.sweep"):
        value, calls = _rerun(tmp_path, job)
    assert math.isnan(value) and calls == [] and _files(job) == before
    assert f"another process (pid {os.getpid()}) is training it now" in caplog.text


class Trial:
    """The epoch hook of the Optuna trial a job runs in, recording the curves replayed into it."""

    def __init__(self, fails: bool = False) -> None:
        self.replayed, self.fails = [], fails

    def replay(self, rows: list[dict]) -> None:
        if self.fails:
            raise RuntimeError("the study's storage is gone")
        self.replayed.append([row["epoch"] for row in rows])


def test_a_skipped_optuna_job_replays_its_epochs_into_its_trial(finished, tmp_path, monkeypatch, caplog):
    trial = Trial()
    monkeypatch.setattr(cnnlab.sweep.pruning, "trial_of_job", lambda hydra_cfg, monitor: trial)
    job = tmp_path / "job"
    _job(finished, job, "completed")
    value, calls = _rerun(tmp_path, job, trial=trial)
    assert calls == [] and value == pytest.approx(_stored_best(job), rel=1e-12)
    assert trial.replayed == [[1, 2]]
    assert _rerun(tmp_path, tmp_path / "new", trial=trial) == (0.25, [False])  # a trained job gets the hook

    broken = Trial(fails=True)
    monkeypatch.setattr(cnnlab.sweep.pruning, "trial_of_job", lambda hydra_cfg, monitor: broken)
    with caplog.at_level(logging.WARNING, logger="cnnlab.sweep"):
        value, calls = _rerun(tmp_path, job, trial=broken)
    assert calls == [] and value == pytest.approx(_stored_best(job), rel=1e-12)  # still skipped
    assert f"could not report {job}'s epochs to its trial: the study's storage is gone" in caplog.text
