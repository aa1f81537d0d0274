"""The files of a run dir: metrics.csv, summary.json and TensorBoard events in tb/.

Each is flushed as it is written, so a crash or Ctrl-C loses nothing already measured.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from cnnlab.data.cache import atomic_write_text

SPLITS = ("train", "val", "test")
# The config a run trained with, resolved, as plain YAML in the run dir: what sweeps compare and what
# experiments/ keeps (Hydra's .hydra/config.yaml is unresolved and is rewritten before a job starts).
RESOLVED_CONFIG = "config.yaml"


def write_resolved_config(run_dir: Path, cfg: DictConfig) -> None:
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    atomic_write_text(OmegaConf.to_yaml(resolved), run_dir / RESOLVED_CONFIG)


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


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    atomic_write_text(json.dumps(summary, indent=2, default=str) + "\n", path)


class TensorBoardLog:
    """Scalars per epoch under split/metric tags, and an HParams session for run comparison."""

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def epoch(self, row: dict[str, Any]) -> None:
        step = int(row["epoch"])
        for key, value in row.items():
            if key == "epoch" or value is None:
                continue
            split, _, metric = key.partition("_")
            tag = f"{split}/{metric}" if split in SPLITS else key
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def hparams(self, params: dict[str, Any], metrics: dict[str, float]) -> None:
        """Written once at the end: TensorBoard's HParams tab pairs these params with metrics."""
        clean = {k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in params.items()}
        experiment, start, end = hparams(clean, {f"hparam/{k}": v for k, v in metrics.items()})
        for summary in (experiment, start, end):
            self.writer.file_writer.add_summary(summary)
        for key, value in metrics.items():
            self.writer.add_scalar(f"hparam/{key}", value)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
