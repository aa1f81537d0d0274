"""The files of a run dir, read and written here alone: summary.json, config.yaml and metrics.csv
(TensorBoard's events: engine/tensorboard_log.py; checkpoints: engine/checkpoint.py; the lock: lock.py).

Each is flushed as it is written, so a crash or Ctrl-C loses nothing already measured. A file that is
not what it claims (binary, cut short, another program's) is a RunFileError naming it, which each
reader turns into its own consequence: the report skips the run, a sweep trains the job afresh.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from cnnlab.errors import ConfigError
from cnnlab.rundir.atomic import atomic_write_text

SPLITS = ("train", "val", "test")
# metrics.csv columns that are not split metrics -> their TensorBoard group. TensorBoard lists groups
# by name, so these (and best/) come before test/, train/ and val/: `make tensorboard` prints a link
# that filters the Scalars page to the three split groups.
OTHER_TAGS = {"lr": "opt/lr", "epoch_s": "perf/epoch_s", "images_per_s": "perf/images_per_s"}
# The config a run trained with, resolved, as plain YAML in the run dir: what sweeps compare and what
# experiments/ keeps (Hydra's .hydra/config.yaml is unresolved and is rewritten before a job starts).
RESOLVED_CONFIG = "config.yaml"
SUMMARY = "summary.json"
METRICS = "metrics.csv"
# What a run leaves for others to read back: the report, the HParams table, the lab book (collected).
RUN_FILES = (SUMMARY, METRICS, RESOLVED_CONFIG)


class RunFileError(ValueError):
    """A run file that cannot be read as what it claims to be; `what` says why, in a few words."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.path = path
        self.what = what


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """run_dir's summary.json; None when there is none, RunFileError when it is not a run summary."""
    return _read_mapping(run_dir / SUMMARY, _json, "readable JSON")


def read_config(run_dir: Path) -> dict[str, Any] | None:
    """run_dir's config.yaml as plain containers (written resolved); None when there is none,
    RunFileError when it is not a YAML mapping."""
    return read_yaml(run_dir / RESOLVED_CONFIG)


def read_yaml(path: Path) -> dict[str, Any] | None:
    """A YAML mapping of a run dir (config.yaml, Hydra's .hydra/*.yaml) as plain containers, unresolved;
    None when the file is missing, RunFileError when it is not a YAML mapping."""
    return _read_mapping(path, _yaml, "YAML")


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _yaml(path: Path) -> Any:
    return OmegaConf.to_container(OmegaConf.load(path))


def _read_mapping(path: Path, parse: Any, kind: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        value = parse(path)
    except (OSError, ValueError, yaml.YAMLError) as error:  # ValueError: JSON and Unicode errors alike
        raise RunFileError(path, f"it is not {kind} ({' '.join(str(error).split())[:300]})") from None
    if not isinstance(value, dict):
        raise RunFileError(path, f"it holds a {type(value).__name__}, not a mapping")
    return value


def find_runs(dirs: list[Path]) -> list[Path]:
    """Run dirs (those holding summary.json) at or below each dir; hidden folders are skipped."""
    found: list[Path] = []
    for root in dirs:
        if (root / SUMMARY).is_file():
            found.append(root)
            continue
        for path in sorted(root.rglob(SUMMARY)):
            if not any(part.startswith(".") for part in path.relative_to(root).parts):
                found.append(path.parent)
    return list(dict.fromkeys(found))


def write_resolved_config(run_dir: Path, cfg: DictConfig) -> None:
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    atomic_write_text(OmegaConf.to_yaml(resolved), run_dir / RESOLVED_CONFIG)


def read_resolved_config(run_dir: Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A run dir's config.yaml as plain containers, holding a mapping under each of `required`; ConfigError
    naming the file when it is unreadable (cut short, binary), not a mapping, or lacks one of them."""
    path = run_dir / RESOLVED_CONFIG
    try:
        config = read_config(run_dir)
        if config is None:
            raise RunFileError(path, "there is no such file")
    except RunFileError as error:
        raise ConfigError(
            f"{path} cannot be read as a run's config ({error.what}): it is damaged "
            "or another kind of file. Put the run's own config.yaml back, or use another run dir."
        ) from None
    missing = [key for key in required if not isinstance(config.get(key), dict)]
    if missing:
        raise ConfigError(
            f"{path} is not the config of a run of `python -m cnnlab.train` (it holds no "
            f"{', '.join(missing)} section): it is damaged or from another program. Put the run's own "
            "config.yaml back, or use another run dir."
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


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """run_dir's metrics.csv, one dict of numbers per epoch (empty cells left out): what an Optuna trial
    is told of a finished run it asked for again."""
    with (run_dir / METRICS).open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


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
    atomic_write_text(json.dumps(summary, indent=2, default=str) + "\n", path)
