"""Compare runs: `python -m cnnlab.report <run or sweep dir>...` writes summary.csv, summary.md and
a figure, so a sweep reads as one table and one figure instead of N folders.

The figure is curves.png (loss and score per epoch, split styles from cnnlab.plot_style) for up to
MAX_CURVE_RUNS runs; a larger sweep gets metric_vs_value.png (best and final monitored metric against
the swept value) instead, because more curves than that only read in TensorBoard.
`write_report` is what tests and the end-of-sweep Hydra callback call; `main` is the thin CLI.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from omegaconf import OmegaConf

from cnnlab.engine.run_files import RESOLVED_CONFIG, trial_state
from cnnlab.engine.run_lock import died_message, run_status
from cnnlab.errors import unusable_path
from cnnlab.overrides import flatten, parse_overrides
from cnnlab.plot_style import draw_splits, run_colors, run_handles, split_key

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("cnnlab.report")
SEED_KEY = "trainer.seed"
# More runs than this make curves.png a bundle nobody can read: metric_vs_value.png replaces it.
MAX_CURVE_RUNS = 8
CURVES = "curves.png"
METRIC_VS_VALUE = "metric_vs_value.png"
BEST_MARK = "★"
# The columns _read_run fills for every run.
REPORT_COLUMNS = frozenset({"run_dir", "name", "status", "epochs", "overrides", "monitor", "monitor_mode"})


@dataclass
class Report:
    """Every run found: one row each in `runs`, one row per (run, epoch) in `curves`."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    varying: list[str]
    grouped: pd.DataFrame | None


def find_runs(dirs: list[Path]) -> list[Path]:
    """Run dirs (those holding summary.json) at or below each dir; hidden folders are skipped."""
    found: list[Path] = []
    for root in dirs:
        if (root / "summary.json").is_file():
            found.append(root)
            continue
        for path in sorted(root.rglob("summary.json")):
            if not any(part.startswith(".") for part in path.relative_to(root).parts):
                found.append(path.parent)
    return list(dict.fromkeys(found))


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run's summary.json, or None with a warning naming the file when it is not readable JSON."""
    path = run_dir / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        log.warning(
            "skipping %s: it is not readable JSON (%s); rerun that run or delete its dir", path, error
        )
        return None
    if not isinstance(summary, dict):
        log.warning("skipping %s: it holds a %s, not a run summary", path, type(summary).__name__)
        return None
    return summary


def _read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping as plain containers, unresolved; {} with a warning when it cannot be read."""
    if not path.is_file():
        return {}
    try:
        data = OmegaConf.to_container(OmegaConf.load(path))
    except (OSError, ValueError, yaml.YAMLError) as error:  # ValueError: Unicode errors too
        log.warning("cannot read %s (%s): using the run's overrides instead", path, error)
        return {}
    return data if isinstance(data, dict) else {}


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
        metrics = pd.read_csv(path)
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
    if status == "died":
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
    }
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


def _decimals(value: float, digits: int = 4) -> int:
    """The decimals that show `value` to `digits` significant digits, trailing zeros dropped."""
    if value == 0 or not math.isfinite(value):
        return 0
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return len(f"{value:.{places}f}".rstrip("0").partition(".")[2])


def _aligned(values: pd.Series) -> tuple[list[str], str]:
    """A column's cells and alignment: numbers right-aligned, with one number of decimals for the
    whole column (enough for four significant digits of each value); anything else left-aligned text."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return ["" if _missing(v) else str(v) for v in values], "left"
    places = max((_decimals(float(v)) for v in values if not pd.isna(v)), default=0)
    return ["" if pd.isna(v) else f"{v:.{places}f}" for v in values], "right"


def _markdown_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "(none)"
    cells, align = zip(*(_aligned(df[c]) for c in df.columns), strict=True)
    table = pd.DataFrame(dict(zip(df.columns, cells, strict=True)))
    return table.to_markdown(index=False, colalign=align, disable_numparse=True)


def best_rows(runs: pd.DataFrame) -> list[int]:
    """The index of the best run per monitored metric: the highest best_value where the monitor's
    mode (config.yaml's trainer.monitor_mode) is max, the lowest where it is min."""
    best = []
    for (_, mode), group in runs.groupby(["monitor", "monitor_mode"], sort=True):
        values = pd.to_numeric(group["best_value"], errors="coerce")
        if values.notna().any():
            best.append(values.idxmax() if mode == "max" else values.idxmin())
    return best


def figure_names(report: Report) -> list[str]:
    """curves.png for up to MAX_CURVE_RUNS runs, metric_vs_value.png for more."""
    return [CURVES] if len(report.runs) <= MAX_CURVE_RUNS else [METRIC_VS_VALUE]


def _best_sentence(runs: pd.DataFrame) -> str:
    pairs = runs[["monitor", "monitor_mode"]].dropna().drop_duplicates().sort_values("monitor")
    if not len(pairs):
        return "No run has a monitored metric."
    each = ", ".join(
        f"{monitor} ({'higher' if mode == 'max' else 'lower'} is better)"
        for monitor, mode in pairs.itertuples(index=False)
    )
    return (
        f"best_value is the best over epochs of the monitored metric; {BEST_MARK} marks the best run "
        f"by {each}."
    )


def _figure_lines(report: Report) -> list[str]:
    if figure_names(report) == [CURVES]:
        return [f"![loss and score per epoch of every run]({CURVES})", ""]
    x_key = swept_axis(report)
    return [
        f"![best and final monitored metric against {x_key}]({METRIC_VS_VALUE})",
        "",
        f"{len(report.runs)} runs are more than {MAX_CURVE_RUNS}, so no {CURVES}: their per-epoch curves "
        "are in TensorBoard (`tensorboard --logdir` on this dir).",
        "",
    ]


def to_markdown(report: Report, title: str) -> str:
    """summary.md: the runs (the best marked), the per-config mean/std over seeds, and what failed."""
    runs = report.runs.copy()
    runs.insert(0, "best", "")
    runs.loc[best_rows(runs), "best"] = BEST_MARK
    shown = [
        "best",
        "sweep",
        "trial",
        *report.varying,
        "status",
        "trial_state",
        "pruned_epoch",
        "epochs",
        *[
            c
            for c in runs.columns
            if c.startswith("final_") and c.split("_", 2)[1] in ("train", "val", "test")
        ],
        "best_value",
        "best_epoch",
        "n_params",
        "wall_s",
    ]
    counts = ", ".join(f"{n} {s}" for s, n in runs["status"].value_counts().items())
    parts = [f"# {title}", "", f"{len(runs)} runs: {counts}. {_best_sentence(runs)}", ""]
    parts += _figure_lines(report)
    parts += ["## Runs", "", _markdown_table(runs[[c for c in shown if c in runs.columns]]), ""]
    if report.grouped is not None:
        grouped = report.grouped
        keys = [k for k in report.varying if k != SEED_KEY]
        table = grouped[[*keys, "n_seeds"]].copy()
        for col in [c for c in shown if f"{c}_mean" in grouped.columns and c not in ("best_epoch",)]:
            table[col] = [
                f"{m:.4g} ± {s:.2g}"
                for m, s in zip(grouped[f"{col}_mean"], grouped[f"{col}_std"], strict=True)
            ]
        parts += ["## Mean ± std over seeds", "", _markdown_table(table), ""]
    bad = runs[runs["status"].isin(["failed", "diverged", "interrupted", "running", "died"])]
    if len(bad):
        parts += ["## Not completed", ""]
        parts += [
            f"- `{r.run}` ({r.status}): {r.message or 'no message'} ({r.run_dir})" for r in bad.itertuples()
        ]
        parts.append("")
    return "\n".join(parts)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _run_labels(runs: pd.DataFrame) -> list[str]:
    """What TensorBoard names each run with --logdir on the sweeps' common parent."""
    if "sweep" not in runs:
        return list(runs["run"])
    return [f"{s}/{r}" for s, r in zip(runs["sweep"], runs["run"], strict=True)]


def plot_curves(report: Report, path: Path) -> Figure:
    """curves.png: loss and accuracy (or PSNR) per epoch; a colour per run, a line style per split
    (cnnlab.plot_style), a key of both. Returns the (closed) figure, whose lines tests read."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    curves = report.curves
    metric = "psnr" if any(c.endswith("_psnr") for c in curves.columns) else "acc"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    colors = run_colors(len(report.runs))
    drawn: set[str] = set()
    shown: list[tuple[str, Any]] = []
    for run_dir, label, color in zip(report.runs["run_dir"], _run_labels(report.runs), colors, strict=True):
        one = curves[curves["run_dir"] == run_dir]
        line = {"marker": "o" if len(one) <= 12 else None, "ms": 3}
        splits = [
            s
            for ax, kind in zip(axes, ("loss", metric), strict=True)
            for s in draw_splits(ax, one, kind, color, label, **line)
        ]
        if splits:
            drawn |= set(splits)
            shown.append((label, color))
    names = {"loss": "loss", "acc": "accuracy", "psnr": "PSNR (dB)"}
    for ax, kind in zip(axes, ("loss", metric), strict=True):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(names[kind])
        ax.set_title(names[kind])
        ax.grid(alpha=0.3)
    split_key(axes[0], drawn, fontsize=8, loc="best")
    if shown:
        labels, line_colors = zip(*shown, strict=True)
        title = "runs by " + ", ".join(report.varying) if report.varying else "runs"
        fig.legend(
            handles=run_handles(list(labels), list(line_colors)),
            loc="outside lower center",
            ncol=min(3, len(labels)),
            fontsize=8,
            title=title,
        )
    else:
        fig.suptitle("no run has finished an epoch yet")
    fig.savefig(path, dpi=110, metadata={"Software": None})  # the same runs give the same bytes
    plt.close(fig)
    return fig


def swept_axis(report: Report) -> str:
    """The key metric_vs_value.png puts on x: of the varying keys (the seed only when alone), the one
    with the most distinct values, a numeric one on a tie; `run` when no key varies."""
    runs = report.runs
    keys = [k for k in report.varying if k != SEED_KEY] or report.varying
    if not keys:
        return "run"
    return min(
        keys, key=lambda k: (-runs[k].nunique(), not pd.api.types.is_numeric_dtype(runs[k]), keys.index(k))
    )


def plot_metric_vs_value(report: Report, path: Path) -> Figure:
    """metric_vs_value.png: the best and the final monitored metric of each run against the swept
    value, one line per combination of the other varying keys (and sweep). Returns the closed figure."""
    plt = _pyplot()
    runs = report.runs
    x_key = swept_axis(report)
    others = [*(["sweep"] if "sweep" in runs else []), *(k for k in report.varying if k != x_key)]
    numeric = pd.api.types.is_numeric_dtype(runs[x_key]) and not pd.api.types.is_bool_dtype(runs[x_key])
    if numeric:
        x_of = runs[x_key]
    else:
        categories = sorted(runs[x_key].map(str).unique())
        x_of = runs[x_key].map(str).map({c: i for i, c in enumerate(categories)})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True, constrained_layout=True)
    groups = list(runs.groupby(others, dropna=False, sort=True)) if others else [((), runs)]
    monitored = sorted(set(runs["monitor"].dropna()))
    # accuracies in percent, as in every other figure
    percent = bool(monitored) and all(m.endswith("_acc") for m in monitored)
    for (values, group), color in zip(groups, run_colors(len(groups)), strict=True):
        ordered = group.assign(_x=x_of[group.index]).sort_values("_x", kind="stable")
        label = ", ".join(f"{k}={v}" for k, v in zip(others, values, strict=True))
        for ax, column in zip(axes, ("best_value", "final_value"), strict=True):
            ax.plot(
                ordered["_x"],
                ordered[column].astype(float) * (100 if percent else 1),
                "o-",
                color=color,
                label=label,
            )
    positive = runs[x_key].dropna() if numeric else pd.Series(dtype=float)
    log_x = len(positive) and (positive > 0).all() and positive.max() / positive.min() >= 100
    monitors = ", ".join(monitored) or "monitored metric"
    unit = " (%)" if percent else ""
    for ax, what in zip(
        axes, (f"best {monitors} over the epochs{unit}", f"final {monitors} (last epoch){unit}"), strict=True
    ):
        ax.set_ylabel(what)
        ax.set_xlabel(f"{x_key} (log scale)" if log_x else x_key)
        if log_x:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(categories)), categories, rotation=30, ha="right")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{len(runs)} runs: best and final {monitors} against {x_key}")
    if others:
        fig.legend(
            handles=axes[0].get_lines(),
            loc="outside lower center",
            ncol=min(4, len(groups)),
            fontsize=8,
            title=", ".join(others),
        )
    fig.savefig(path, dpi=110, metadata={"Software": None})  # the same runs give the same bytes
    plt.close(fig)
    return fig


FIGURES = {CURVES: plot_curves, METRIC_VS_VALUE: plot_metric_vs_value}


def write_report(dirs: list[str | Path], out: str | Path | None = None) -> Report:
    """Collect runs under `dirs`, write summary.csv, summary.md and the figure (figure_names) to `out`
    (default: dirs[0]); the other figure, left from an earlier report of fewer or more runs, goes."""
    report = collect(dirs)
    out_dir = Path(out) if out is not None else Path(dirs[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    report.runs.to_csv(out_dir / "summary.csv", index=False)
    if report.grouped is not None:
        report.grouped.to_csv(out_dir / "summary_by_config.csv", index=False)
    title = "Summary of " + ", ".join(str(d) for d in dirs)
    (out_dir / "summary.md").write_text(to_markdown(report, title))
    wanted = figure_names(report)
    for name, plot in FIGURES.items():
        if name in wanted:
            plot(report, out_dir / name)
        else:
            (out_dir / name).unlink(missing_ok=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.report",
        description=(
            "Compare runs: collect summary.json, metrics.csv and config.yaml of every run under the given "
            "run or sweep dirs into summary.csv and summary.md (one row per run, named as TensorBoard names "
            "it; a column per key some run overrode differently, filled with the value each run used; a "
            "sweep column when the runs come from several sweeps; the best run marked; mean and std over "
            "seeds when trainer.seed varies) and a figure: curves.png (loss and accuracy per epoch, a colour "
            f"per run, train dashed, validation dotted, test solid) for up to {MAX_CURVE_RUNS} runs, else "
            "metric_vs_value.png (best and final monitored metric against the swept value)."
        ),
        epilog=(
            "Examples:\n"
            "  python -m cnnlab.report outputs/sweeps/digits-lenet/2025-01-01_12-00-00\n"
            "  python -m cnnlab.report outputs/runs/a/x outputs/runs/b/y --out outputs/compare\n"
            "A sweep writes its report itself when it ends.\n"
            "The same runs in TensorBoard: tensorboard --logdir <sweep dir>"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="run dirs or sweep dirs (searched recursively)")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the report (default: the first dir)"
    )
    args = parser.parse_args(argv)
    out = args.out or args.dirs[0]
    logging.basicConfig(format="cnnlab.report: %(message)s", stream=sys.stderr, force=True)
    try:
        report = write_report(args.dirs, args.out)
    except FileNotFoundError as error:
        parser.exit(2, f"cnnlab.report: {error}\n")
    except OSError as error:
        problem = unusable_path(error, {"--out" if args.out else "--out (default: the first dir)": out})
        if problem is None:
            raise
        parser.exit(2, f"cnnlab.report: {problem}\n")
    print(to_markdown(report, f"{len(report.runs)} runs").split("## Not completed")[0].rstrip())
    print(f"\nwrote {out}/summary.csv, summary.md, {', '.join(figure_names(report))}")


if __name__ == "__main__":
    main()
