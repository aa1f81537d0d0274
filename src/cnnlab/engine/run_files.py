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

import yaml
from omegaconf import DictConfig, OmegaConf

from cnnlab.errors import ConfigError

SPLITS = ("train", "val", "test")
# metrics.csv columns that are not split metrics -> their TensorBoard group. TensorBoard lists groups
# by name, so these (and best/) come before test/, train/ and val/: `make tensorboard` prints a link
# that filters the Scalars page to the three split groups.
OTHER_TAGS = {"lr": "opt/lr", "epoch_s": "perf/epoch_s", "images_per_s": "perf/images_per_s"}
# The config a run trained with, resolved, as plain YAML in the run dir: what sweeps compare and what
# experiments/ keeps (Hydra's .hydra/config.yaml is unresolved and is rewritten before a job starts).
RESOLVED_CONFIG = "config.yaml"
# summary.json's status -> the state of the Optuna trial the run was (hydra/sweeper=optuna tells its study
# this, and the sweep report shows it); every other status (failed, diverged, ...) is a failed trial.
TRIAL_STATES = {"completed": "COMPLETE", "pruned": "PRUNED"}


def trial_state(status: str | None) -> str:
    return TRIAL_STATES.get(str(status), "FAIL")


def _atomic_write_text(text: str, path: Path) -> None:
    # Imported on use: the report reads this module's names without paying for torch (data.cache's).
    from cnnlab.data.cache import atomic_write_text

    atomic_write_text(text, path)


def write_resolved_config(run_dir: Path, cfg: DictConfig) -> None:
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    _atomic_write_text(OmegaConf.to_yaml(resolved), run_dir / RESOLVED_CONFIG)


def read_resolved_config(run_dir: Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A run dir's config.yaml as plain containers, holding a mapping under each of `required`; ConfigError
    naming the file when it is unreadable (cut short, binary), not a mapping, or lacks one of them."""
    path = run_dir / RESOLVED_CONFIG
    try:
        config = OmegaConf.to_container(OmegaConf.load(path))
    except (OSError, ValueError, yaml.YAMLError) as error:  # ValueError: Unicode errors too
        raise ConfigError(
            f"{path} cannot be read as a run's config ({' '.join(str(error).split())[:300]}): it is damaged "
            "or another kind of file. Put the run's own config.yaml back, or use another run dir."
        ) from None
    missing = [
        key for key in required if not isinstance(config, dict) or not isinstance(config.get(key), dict)
    ]
    if missing:
        what = (
            f"no {', '.join(missing)} section"
            if isinstance(config, dict)
            else f"a YAML {type(config).__name__}"
        )
        raise ConfigError(
            f"{path} is not the config of a run of `python -m cnnlab.train` (it holds {what}): it is damaged "
            "or from another program. Put the run's own config.yaml back, or use another run dir."
        )
    return config


def metric_columns(metric: str) -> list[str]:
    """The columns of metrics.csv; `metric` is acc for classification, psnr for regression."""
    split_cols = [f"{s}_{m}" for s in SPLITS for m in ("loss", metric)]
    return ["epoch", "lr", *split_cols, "epoch_s", "images_per_s"]


class MetricsCSV:
    """One row per epoch, appended and flushed; on resume, rows past the checkpoint are dropped."""

    def __init__(self, path: Path, columns: list[str], keep_epochs: int = 0) -> None:
        self.path = path
        self.columns = columns
        kept = read_rows(path, columns, keep_epochs) if keep_epochs and path.exists() else []
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


def read_rows(path: Path, columns: list[str], epochs: int) -> list[dict[str, str]]:
    """The rows of a run's metrics.csv up to `epochs`, to keep on resume; ConfigError, before the file is
    touched, when it is not a metrics.csv with these columns (binary, another program's, another task's)."""
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not set(reader.fieldnames) <= set(columns):
                raise ValueError(f"its columns {reader.fieldnames} are not among {columns}")
            return [row for row in reader if int(float(row["epoch"])) <= epochs]
    except (OSError, ValueError, TypeError, csv.Error) as error:  # ValueError: Unicode errors too
        raise ConfigError(
            f"{path} cannot be read as this run's metrics.csv ({' '.join(str(error).split())}), so resuming "
            f"would lose or garble its rows; its checkpoint holds {epochs} epochs. Put the run's own "
            "metrics.csv back (or delete it to keep only what comes next), or train afresh in a new run dir."
        ) from None


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
