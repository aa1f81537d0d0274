"""What a rerun of a sweep does with each job it finds, in-process and fast: every status a job's run
dir can hold, with the same config, a config that differs only in plumbing, or a changed config ->
skip (nothing trains, nothing is rewritten, the stored metric goes back to the sweeper), resume (from
checkpoints/last.pt) or retrain (afresh, the old run's curves removed)."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from cnnlab.rundir.lock import LOCK_NAME
from cnnlab.sweep.jobs import run_sweep_job
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


def _rerun(root: Path, job: Path, *overrides: str) -> tuple[float, list[bool]]:
    """run_sweep_job as a multirun calls it for `job`; returns its value and each train call's resume flag."""
    cfg = _compose(root, *TINY, *overrides, hydra=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(job)
        cfg.hydra.overrides.task = [*TINY, *overrides]
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    calls: list[bool] = []

    def train(job_cfg: DictConfig, job_dir: Path, job_overrides: list[str], hooks=()) -> float:
        assert job_dir == job
        calls.append(bool(job_cfg.trainer.resume))
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
def test_a_rerun_skips_resumes_or_retrains_each_job(finished, tmp_path, status, variant, action):
    job = tmp_path / "job"
    _job(finished, job, status)
    before = _files(job)
    value, calls = _rerun(tmp_path, job, *VARIANTS[variant])
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
