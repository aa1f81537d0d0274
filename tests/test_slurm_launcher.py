"""hydra/launcher=slurm without a cluster: a fake `sbatch` on PATH that behaves like a CPU-only
cluster's, so the preset's default submission and sbatch's refusals are checked end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from cnnlab.errors import ConfigError
from hydra_plugins.cnnlab_slurm.slurm_launcher import SlurmLauncher, sbatch_refusal
from tests.conftest import CONF_DIR

# Keeps the script it was given, then refuses it as a CPU-only cluster's sbatch does.
FAKE_SBATCH = """#!/bin/sh
cp "$1" "$(dirname "$0")/submitted.sh"
if grep -q -- '--gpus-per-node' "$1"; then
  echo "sbatch: error: Invalid generic resource (gres) specification" >&2
else
  echo "sbatch: error: Batch job submission failed: Slurm temporarily unable to accept job" >&2
fi
exit 1
"""


def submit(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    # A login node has srun too, and submitit >= 1.5.4 looks for it before it calls sbatch.
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    command = [
        sys.executable,
        "-m",
        "cnnlab.train",
        "-m",
        "hydra/launcher=slurm",
        "optimizer.lr=0.01,0.003",
        *overrides,
        f"paths.output_dir={tmp_path / 'outputs'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_preset_is_cpu_only_and_uses_cnnlab_launcher():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher.gpus_per_node is None and launcher.gres is None
    assert launcher._target_ == f"{SlurmLauncher.__module__}.{SlurmLauncher.__qualname__}"


def test_default_submission_asks_for_no_gpu_and_a_refusal_is_one_clear_paragraph(tmp_path):
    done = submit(tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    script = (tmp_path / "bin" / "submitted.sh").read_text()
    assert "#SBATCH --array=0-1" in script and "#SBATCH --cpus-per-task=8" in script
    assert "gpu" not in script and "gres" not in script
    assert "Traceback" not in done.stderr
    # Hydra's log goes to stdout.
    (message,) = [line for line in done.stdout.splitlines() if "SLURM refused" in line]
    assert "Slurm temporarily unable to accept job" in message
    assert "hydra.launcher.*" in message and "nothing was submitted" in message
    assert not (tmp_path / "outputs").exists()


def test_gpu_request_on_a_cpu_cluster_names_gpus_per_node(tmp_path):
    done = submit(tmp_path, "hydra.launcher.gpus_per_node=1")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "#SBATCH --gpus-per-node=1" in (tmp_path / "bin" / "submitted.sh").read_text()
    assert "Traceback" not in done.stderr
    (message,) = [line for line in done.stdout.splitlines() if "SLURM refused" in line]
    assert "Invalid generic resource (gres) specification" in message
    assert "Set hydra.launcher.gpus_per_node (null on a cluster without GPUs)" in message


@pytest.mark.parametrize(
    ("said", "setting"),
    [
        ("Batch job submission failed: More processors requested than permitted", "cpus_per_task"),
        ("Memory specification can not be satisfied", "mem_gb"),
        ("Batch job submission failed: Invalid partition name specified", "partition"),
        ("Batch job submission failed: Invalid account or account/partition combination", "account"),
        ("Requested time limit is invalid (missing or exceeds some limit)", "timeout_min"),
    ],
)
def test_each_refusal_names_its_setting(said, setting):
    failed = RuntimeError(f"sbatch: error: {said}")
    failed.__cause__ = subprocess.CalledProcessError(1, ["sbatch", "job.sh"], stderr=f"sbatch: error: {said}")
    refusal = sbatch_refusal(failed)
    assert isinstance(refusal, ConfigError)
    assert said in str(refusal) and f"Set hydra.launcher.{setting} (" in str(refusal)


def test_missing_sbatch_and_other_errors():
    missing = sbatch_refusal(FileNotFoundError(2, "No such file or directory", "sbatch"))
    assert missing is not None and "hydra/launcher=submitit_local" in str(missing)
    no_srun = sbatch_refusal(RuntimeError('Could not detect "srun", are you indeed on a slurm cluster?'))
    assert no_srun is not None and "not on PATH" in str(no_srun)
    job_failed = RuntimeError("Job failed during processing")
    job_failed.__cause__ = subprocess.CalledProcessError(1, ["sacct", "-j", "3"])
    assert sbatch_refusal(job_failed) is None
    assert sbatch_refusal(FileNotFoundError(2, "No such file or directory", "data.csv")) is None
