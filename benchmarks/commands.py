"""The command lines of cnnlab training runs and sweeps, shared by the benchmark scripts that spawn them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def cnnlab_train(run_dir: Path, *overrides: str) -> list[str]:
    """`python -m cnnlab.train <overrides> hydra.run.dir=<run_dir>` with this interpreter."""
    return [sys.executable, "-m", "cnnlab.train", *overrides, f"hydra.run.dir={run_dir}"]


def cnnlab_sweep(root: Path, sweep_dir: Path, *overrides: str) -> list[str]:
    """`python -m cnnlab.train <overrides>` writing its sweep into sweep_dir, its outputs and data cache
    under root."""
    return [
        sys.executable,
        "-m",
        "cnnlab.train",
        *overrides,
        f"paths.output_dir={root / 'outputs'}",
        f"paths.cache_dir={root / 'cache'}",
        f"hydra.sweep.dir={sweep_dir}",
    ]


def run_timed(command: list[str]) -> float:
    """Run a command to its end; its wall seconds, or exit with its output when it failed."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({' '.join(command)}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return wall
