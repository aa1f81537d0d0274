"""Every run under some dirs read into one table (compare/'s ground): each run's summary.json, metrics.csv
and the value it used of every key some run set differently, grouped over seeds where only the seed varies."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from cnnlab.config.overrides import flatten, parse_overrides
from cnnlab.rundir.files import RESOLVED_CONFIG, RunFileError, find_runs, read_yaml
from cnnlab.rundir.files import read_summary as summary_of
from cnnlab.rundir.lock import died_message, run_status
from cnnlab.rundir.status import DIED, trial_state

if TYPE_CHECKING:
    pass

log = logging.getLogger("cnnlab.report")

SEED_KEY = "trainer.seed"


# The columns _read_run fills for every run.
REPORT_COLUMNS = frozenset({"run_dir", "name", "status", "epochs", "overrides", "monitor", "monitor_mode"})


@dataclass
class Report:
    """Every run found: one row each in `runs`, one row per (run, epoch) in `curves`."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    varying: list[str]
    grouped: pd.DataFrame | None


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run's summary.json, or None with a warning naming the file when it is not a run summary."""
    try:
        return summary_of(run_dir)
    except RunFileError as error:
        log.warning("skipping %s: %s; rerun that run or delete its dir", error.path, error.what)
        return None


def _read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping as plain containers, unresolved; {} with a warning when it cannot be read."""
    try:
        return read_yaml(path) or {}
    except RunFileError as error:
        log.warning("cannot read %s (%s): using the run's overrides instead", error.path, error.what)
        return {}


def _override_value(text: str) -> Any:
    """An override's value as its config would hold it: `0.01` a number, `lenet` a string."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if value is None or isinstance(value, bool | int | float | str) else text


def settings_used(run_dir: Path, overrides: dict[str, str]) -> dict[str, Any]:
    """{dotted key: value the run used}: each leaf of its config.yaml; for a config group, the option
    Hydra chose (.hydra/hydra.yaml), else the group's `name` (`model`: `lenet`); the override text for
    a key in none of them (a run from before config.yaml)."""
    choices = _read_yaml(run_dir / ".hydra" / "hydra.yaml").get("hydra", {}).get("runtime", {})
    leaves = {
        key: value if value is None or isinstance(value, bool | int | float | str) else str(value)
        for key, value in flatten(_read_yaml(run_dir / RESOLVED_CONFIG)).items()
    }
    return (
        {key: _override_value(value) for key, value in overrides.items()}
        | {key.removesuffix(".name"): value for key, value in leaves.items() if key.endswith(".name")}
        | {key: value for key, value in (choices.get("choices") or {}).items() if value is not None}
        | leaves
    )


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """A run's metrics.csv, one row per epoch; empty when there is none, and empty with a warning naming it
    when it is not a metrics.csv (binary, ragged, without an epoch column): the run is still reported."""
    path = run_dir / "metrics.csv"
    if not path.is_file() or not path.stat().st_size:
        return pd.DataFrame()
    try:
        metrics = pd.read_csv(path, float_precision="round_trip")
        if "epoch" not in metrics.columns or not pd.api.types.is_numeric_dtype(metrics["epoch"]):
            raise ValueError(f"no numeric epoch column among {list(metrics.columns)[:6]}")
    except (OSError, ValueError, pd.errors.ParserError) as error:  # ValueError: Unicode errors too
        log.warning(
            "%s is not a metrics.csv (%s): its run is reported without curves or final metrics",
            path,
            " ".join(str(error).split()),
        )
        return pd.DataFrame()
    return metrics


def _read_run(run_dir: Path, summary: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    metrics = read_metrics(run_dir)
    overrides = parse_overrides(summary.get("overrides") or [])
    settings = settings_used(run_dir, overrides)
    status = run_status(run_dir, summary)
    if status == DIED:
        summary["message"] = died_message(run_dir, summary)
    monitor = summary.get("monitor")
    row: dict[str, Any] = {
        "run_dir": str(run_dir),
        "name": summary.get("name"),
        "status": status,
        "epochs": len(metrics),
        "overrides": " ".join(summary.get("overrides") or []),
        "_overrides": overrides,
        "_settings": settings,
    }
    if len(metrics):
        last = metrics.iloc[-1]
        row |= {f"final_{col}": last[col] for col in metrics.columns if col != "epoch"}
    best = summary.get("best") or {}
    row |= {
        "monitor": monitor,
        "monitor_mode": settings.get("trainer.monitor_mode") or _mode_by_name(monitor),
        "final_value": row.get(f"final_{monitor}", math.nan),
        "best_value": best.get("value", math.nan),
        "best_epoch": best.get("epoch", math.nan),
        "n_params": summary.get("n_params", math.nan),
        "wall_s": summary.get("wall_s", math.nan),
        "message": summary.get("message", ""),
        "stop_reason": summary.get("stop_reason", ""),
    }
    if "restored_epoch" in summary:  # early stopping brought back its best epoch's weights
        row["restored_epoch"] = summary["restored_epoch"]
    trial = summary.get("trial")
    if isinstance(trial, dict):  # a job of an Optuna search (hydra/sweeper=optuna)
        row |= {
            "trial": trial.get("number", math.nan),
            "trial_state": trial_state(status),
            "pruned_epoch": summary.get("pruned_epoch", math.nan),
        }
    return row, metrics.assign(run_dir=str(run_dir))


def _mode_by_name(monitor: str | None) -> str:
    """For a run without config.yaml: losses are minimised, cnnlab's scores (acc, psnr) maximised."""
    return "min" if str(monitor).endswith("loss") else "max"


def varying_keys(overrides: list[dict[str, Any]]) -> list[str]:
    """Keys whose value is not the same in every run (missing counts as a value), sorted."""
    keys = sorted({k for o in overrides for k in o})
    return [k for k in keys if len({repr(o.get(k)) for o in overrides}) > 1]


def _typed(values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    return numeric if numeric.notna().sum() == values.notna().sum() else values


def _sortable(column: pd.Series) -> pd.Series:
    """Numbers sort as numbers; a column mixing types (a key that is a number in one sweep and text in
    another) sorts as text instead of raising."""
    if pd.api.types.is_numeric_dtype(column):
        return column
    return column.map(lambda value: value if _missing(value) else str(value))


def sweep_names(run_dirs: list[Path]) -> list[str] | None:
    """Which sweep each run came from (its parent dir, relative to the parent all of them share), or
    None when they all came from one."""
    sweeps = [p.parent.resolve() for p in run_dirs]
    if len(set(sweeps)) < 2:
        return None
    common = os.path.commonpath(sweeps)
    return [os.path.relpath(s, common) for s in sweeps]


def _metric_columns(runs: pd.DataFrame) -> list[str]:
    return [c for c in runs.columns if c.startswith("final_") or c in ("best_value", "best_epoch")]


def group_over_seeds(runs: pd.DataFrame, varying: list[str]) -> pd.DataFrame | None:
    """Mean and std over seeds of every metric, one row per config, when the seed varies."""
    if SEED_KEY not in varying:
        return None
    by = [k for k in varying if k != SEED_KEY]
    numbers = [*_metric_columns(runs), "wall_s"]
    keyed = runs.assign(_all="all") if not by else runs
    grouped = keyed.groupby(by or ["_all"], dropna=False, sort=True)
    table = grouped[numbers].agg(["mean", "std"])
    table.columns = [f"{col}_{stat}" for col, stat in table.columns]
    table.insert(0, "n_seeds", grouped.size())
    return table.reset_index().drop(columns=["_all"], errors="ignore")


def collect(dirs: list[str | Path]) -> Report:
    """Read every run under `dirs` into one DataFrame: summary.json, metrics.csv, and the value each
    run used of every key some run overrode differently (from config.yaml, so no blank cells)."""
    summaries = {d: read_summary(d) for d in find_runs([Path(d) for d in dirs])}
    readable = {d: s for d, s in summaries.items() if s is not None}
    if not readable:
        raise FileNotFoundError(
            f"no run dir (a folder with a readable summary.json) under {', '.join(map(str, dirs))}"
        )
    rows, curves = zip(*(_read_run(d, s) for d, s in readable.items()), strict=True)
    overridden = list(dict.fromkeys(k for r in rows for k in r.pop("_overrides")))  # command-line order
    settings = [r.pop("_settings") for r in rows]
    used = [{k: s.get(k) for k in overridden} for s in settings]
    differing = set(varying_keys(used))
    varying = [k for k in overridden if k in differing]
    # A swept key named like a column of the report (`name`) holds what that column would: the key wins.
    runs = pd.DataFrame(list(rows)).drop(columns=[k for k in varying if k in REPORT_COLUMNS])
    for key in reversed(varying):
        runs.insert(0, key, _typed(pd.Series([u[key] for u in used], dtype=object)))
    # A job's dir name is its TensorBoard run name: the swept overrides, in command-line order.
    runs.insert(0, "run", [Path(d).name for d in readable])
    sweeps = sweep_names(list(readable))
    if sweeps is not None:
        runs.insert(0, "sweep", sweeps)
    order = [*(["sweep"] if sweeps else []), *varying]
    if order:
        runs = runs.sort_values(order, kind="stable", na_position="last", key=_sortable)
        runs = runs.reset_index(drop=True)
    return Report(runs, pd.concat(curves, ignore_index=True), varying, group_over_seeds(runs, varying))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def best_rows(runs: pd.DataFrame) -> list[int]:
    """The index of the best run per monitored metric: the highest best_value where the monitor's
    mode (config.yaml's trainer.monitor_mode) is max, the lowest where it is min."""
    best = []
    for (_, mode), group in runs.groupby(["monitor", "monitor_mode"], sort=True):
        values = pd.to_numeric(group["best_value"], errors="coerce")
        if values.notna().any():
            best.append(values.idxmax() if mode == "max" else values.idxmin())
    return best
