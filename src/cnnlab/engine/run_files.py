"""The files of a run dir: metrics.csv, summary.json and config.yaml (TensorBoard's events:
engine/tensorboard_log.py).

Each is flushed as it is written, so a crash or Ctrl-C loses nothing already measured.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

SPLITS = ("train", "val", "test")
# metrics.csv columns that are not split metrics -> their TensorBoard group. TensorBoard lists groups
# by name, so these (and best/) come before test/, train/ and val/: `make tensorboard` prints a link
# that filters the Scalars page to the three split groups.
OTHER_TAGS = {"lr": "opt/lr", "epoch_s": "perf/epoch_s", "images_per_s": "perf/images_per_s"}
# The config a run trained with, resolved, as plain YAML in the run dir: what sweeps compare and what
# experiments/ keeps (Hydra's .hydra/config.yaml is unresolved and is rewritten before a job starts).
RESOLVED_CONFIG = "config.yaml"


def _atomic_write_text(text: str, path: Path) -> None:
    # Imported on use: the report reads this module's names without paying for torch (data.cache's).
    from cnnlab.data.cache import atomic_write_text

    atomic_write_text(text, path)


def write_resolved_config(run_dir: Path, cfg: DictConfig) -> None:
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    _atomic_write_text(OmegaConf.to_yaml(resolved), run_dir / RESOLVED_CONFIG)


def metric_columns(metric: str) -> list[str]:
    """The columns of metrics.csv; `metric` is acc for classification, psnr for regression."""
    split_cols = [f"{s}_{m}" for s in SPLITS for m in ("loss", metric)]
    return ["epoch", "lr", *split_cols, "epoch_s", "images_per_s"]


class MetricsCSV:
    """One row per epoch, appended and flushed; on resume, rows past the checkpoint are dropped."""

    def __init__(self, path: Path, columns: list[str], keep_epochs: int = 0) -> None:
        self.path = path
        self.columns = columns
        kept: list[dict[str, str]] = []
        if keep_epochs and path.exists():
            with path.open(newline="") as f:
                kept = [r for r in csv.DictReader(f) if int(r["epoch"]) <= keep_epochs]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(kept)
        self.rows: list[dict[str, Any]] = [
            {k: float(v) if v != "" else None for k, v in r.items()} for r in kept
        ]

    def append(self, row: dict[str, Any]) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow({c: row.get(c) for c in self.columns})
        self.rows.append(row)


def scalar_tag(column: str) -> str:
    """A metrics.csv column's TensorBoard tag: `val_acc` -> `val/acc`, `lr` -> `opt/lr`."""
    split, _, metric = column.partition("_")
    return f"{split}/{metric}" if split in SPLITS else OTHER_TAGS.get(column, column)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    _atomic_write_text(json.dumps(summary, indent=2, default=str) + "\n", path)


# What a run dir holds before any training: Hydra's files and the run lock.
BEFORE_TRAINING = frozenset({".hydra", "train.log", ".lock"})


def remove_unused_run_dir(run_dir: Path, output_dir: Path) -> bool:
    """Remove a run dir that a refused config left holding nothing of a run (only Hydra's .hydra/ and
    train.log, and a .lock no process holds), and its parents up to `output_dir` that are left empty,
    so a typo leaves no dir to mistake for a run; True when it went. A dir with any run file stays."""
    from cnnlab.engine.run_lock import is_held  # the report imports this module without fcntl's users

    if not run_dir.is_dir() or not {p.name for p in run_dir.iterdir()} <= BEFORE_TRAINING or is_held(run_dir):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    output_dir = output_dir.resolve()
    parent = run_dir.resolve().parent
    while parent != output_dir and output_dir in parent.parents and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    return not run_dir.exists()
