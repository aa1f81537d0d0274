"""Sweeps through a real one-node Slurm cluster (tests/slurm/cluster.sh) with hydra/launcher=slurm:
a 2-job grid completes, and a job killed at its timeout_min resumes from its checkpoint on a rerun.
Root only and slow: `make test-slurm` sets CNNLAB_SLURM_TEST=1 and runs them; CI does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

CLUSTER = Path(__file__).with_name("cluster.sh")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("CNNLAB_SLURM_TEST") != "1", reason="needs root and a Slurm cluster: make test-slurm"
    ),
]

# One CPU and 1 GB per job fit the test node; the job runs this interpreter (submitit passes
# sys.executable), so the preset's venv activation is not needed.
LAUNCHER = [
    "hydra/launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.setup=[]",
]
TINY = ["trainer.limit_batches=1"]


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for Slurm's clients while the cluster is up; torn down by its daemons' PIDs."""
    state = tmp_path_factory.mktemp("cluster")
    try:
        subprocess.run([str(CLUSTER), "up", str(state)], check=True, timeout=180)
        yield {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    finally:
        subprocess.run([str(CLUSTER), "down", str(state)], check=True, timeout=180)


def sweep(slurm_env: dict[str, str], sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "cnnlab.train",
        "-m",
        *LAUNCHER,
        *overrides,
        *TINY,
        f"paths.output_dir={sweep_dir.parent / 'outputs'}",
        f"paths.cache_dir={sweep_dir.parent / 'cache'}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    return subprocess.run(command, capture_output=True, text=True, env=slurm_env, timeout=420)


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def submitit_logs(sweep_dir: Path) -> str:
    return "".join(p.read_text() for p in sorted((sweep_dir / ".submitit").glob("*/*_log.*")))


def test_two_job_sweep_runs_as_a_slurm_array(slurm_env, tmp_path):
    sweep_dir = tmp_path / "sweep"
    grid = ["optimizer.lr=0.01,0.003", "trainer.epochs=2"]
    done = sweep(slurm_env, sweep_dir, "hydra.launcher.timeout_min=5", *grid)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = sorted(p.parent for p in sweep_dir.glob("*/summary.json"))
    assert [r.name for r in runs] == ["optimizer.lr=0.003", "optimizer.lr=0.01"]
    assert all(summary(r)["status"] == "completed" for r in runs)
    assert all(len(pd.read_csv(r / "metrics.csv")) == 2 for r in runs)
    # Both ran as tasks 0 and 1 of one Slurm array job on the cluster's node.
    (array_id,) = {p.name.split("_")[0] for p in (sweep_dir / ".submitit").glob("*_[01]")}
    for task in (f"{array_id}_0", f"{array_id}_1"):
        log = (sweep_dir / ".submitit" / task / f"{task}_0_log.out").read_text()
        assert f"JobEnvironment(job_id={task}, hostname=" in log and "Job completed successfully" in log
    assert len(pd.read_csv(sweep_dir / "summary.csv")) == 2


def test_job_killed_at_its_timeout_resumes_on_rerun(slurm_env, tmp_path):
    sweep_dir = tmp_path / "sweep"
    grid = ["trainer.epochs=2,4000"]
    # The 4000-epoch job needs over two minutes. Slurm sends USR2 signal_delay_s before the 2-minute
    # limit, or up to 60 s earlier (its periodic check): after startup, so submitit's handler stops
    # the job there (with a 1-minute limit the signal could arrive before the handler exists).
    timeout = ["hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=30"]
    done = sweep(slurm_env, sweep_dir, *timeout, *grid)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    short = sweep_dir / "trainer.epochs=2"
    long = sweep_dir / "trainer.epochs=4000"
    assert summary(short)["status"] == "completed"
    assert summary(long)["status"] == "failed" and "timed-out" in summary(long)["message"]
    assert "1 of 2 jobs did not finish:" in done.stderr
    assert "this job is timed-out" in submitit_logs(sweep_dir)
    epochs_before = pd.read_csv(long / "metrics.csv")["epoch"].tolist()
    assert 1 <= len(epochs_before) < 4000 and (long / "checkpoints" / "last.pt").is_file()

    done = sweep(slurm_env, sweep_dir, "hydra.launcher.timeout_min=10", *grid)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert summary(long)["status"] == "completed" and summary(short)["status"] == "completed"
    assert "resuming from its checkpoint" in (long / "train.log").read_text()
    assert "already completed with this config" in (short / "train.log").read_text()
    # The resumed run continued the epochs it had: each of 1..4000 once, the first ones unchanged.
    epochs = pd.read_csv(long / "metrics.csv")["epoch"].tolist()
    assert epochs == list(range(1, 4001)) and epochs[: len(epochs_before)] == epochs_before
