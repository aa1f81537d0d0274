"""The command line of one cnnlab training run, shared by the benchmark scripts that spawn runs."""

from __future__ import annotations

import sys
from pathlib import Path


def cnnlab_train(run_dir: Path, *overrides: str) -> list[str]:
    """`python -m cnnlab.train <overrides> hydra.run.dir=<run_dir>` with this interpreter."""
    return [sys.executable, "-m", "cnnlab.train", *overrides, f"hydra.run.dir={run_dir}"]
