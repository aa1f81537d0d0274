"""Compare runs: `python -m cnnlab.report <run or sweep dir>...` writes summary.csv, summary.md
and curves.png, so a sweep reads as one table and one figure instead of N folders.

`write_report` is what tests and the end-of-sweep Hydra callback call; `main` is the thin CLI.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cnnlab.engine.run_lock import died_message, run_status
from cnnlab.overrides import parse_overrides

log = logging.getLogger("cnnlab.report")
SEED_KEY = "trainer.seed"


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


def _read_run(run_dir: Path, summary: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    csv_path = run_dir / "metrics.csv"
    metrics = pd.read_csv(csv_path) if csv_path.is_file() and csv_path.stat().st_size else pd.DataFrame()
    overrides = parse_overrides(summary.get("overrides") or [])
    status = run_status(run_dir, summary)
    if status == "died":
        summary["message"] = died_message(run_dir, summary)
    row: dict[str, Any] = {
        "run_dir": str(run_dir),
        "name": summary.get("name"),
        "status": status,
        "epochs": len(metrics),
        "overrides": " ".join(summary.get("overrides") or []),
        "_overrides": overrides,
    }
    if len(metrics):
        last = metrics.iloc[-1]
        row |= {f"final_{col}": last[col] for col in metrics.columns if col != "epoch"}
    best = summary.get("best") or {}
    row |= {
        "monitor": summary.get("monitor"),
        "best_value": best.get("value", math.nan),
        "best_epoch": best.get("epoch", math.nan),
        "n_params": summary.get("n_params", math.nan),
        "wall_s": summary.get("wall_s", math.nan),
        "message": summary.get("message", ""),
    }
    return row, metrics.assign(run_dir=str(run_dir))


def varying_keys(overrides: list[dict[str, str]]) -> list[str]:
    """Override keys whose value is not the same in every run (missing counts as a value)."""
    keys = sorted({k for o in overrides for k in o})
    return [k for k in keys if len({o.get(k) for o in overrides}) > 1]


def _typed(values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    return numeric if numeric.notna().sum() == values.notna().sum() else values


def _label(row: pd.Series, varying: list[str]) -> str:
    parts = [f"{k}={row[k]}" for k in varying if not pd.isna(row[k])]
    return " ".join(parts) or Path(row["run_dir"]).name


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
    """Read every run under `dirs` into one DataFrame (summary.json + metrics.csv + overrides)."""
    summaries = {d: read_summary(d) for d in find_runs([Path(d) for d in dirs])}
    readable = {d: s for d, s in summaries.items() if s is not None}
    if not readable:
        raise FileNotFoundError(
            f"no run dir (a folder with a readable summary.json) under {', '.join(map(str, dirs))}"
        )
    rows, curves = zip(*(_read_run(d, s) for d, s in readable.items()), strict=True)
    overrides = [r.pop("_overrides") for r in rows]
    varying = varying_keys(overrides)
    runs = pd.DataFrame(list(rows))
    for key in reversed(varying):
        runs.insert(0, key, _typed(pd.Series([o.get(key) for o in overrides], dtype=object)))
    if varying:
        runs = runs.sort_values(varying, kind="stable", na_position="last").reset_index(drop=True)
    runs.insert(0, "run", [_label(row, varying) for _, row in runs.iterrows()])
    curves_df = pd.concat(curves, ignore_index=True)
    labels = dict(zip(runs["run_dir"], runs["run"], strict=True))
    curves_df["run"] = curves_df["run_dir"].map(labels)
    return Report(runs, curves_df, varying, group_over_seeds(runs, varying))


def _fmt(value: Any) -> Any:
    if isinstance(value, float) and not math.isnan(value):
        return f"{value:.4g}"
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _markdown_table(df: pd.DataFrame) -> str:
    return df.map(_fmt).to_markdown(index=False) if len(df) else "(none)"


def to_markdown(report: Report, title: str) -> str:
    """summary.md: the runs, the per-config mean/std over seeds, and what failed and why."""
    runs = report.runs
    shown = [
        *report.varying,
        "status",
        "epochs",
        *[
            c
            for c in runs.columns
            if c.startswith("final_") and c.split("_", 1)[1].startswith(("train", "val", "test"))
        ],
        "best_value",
        "best_epoch",
        "n_params",
        "wall_s",
    ]
    counts = ", ".join(f"{n} {s}" for s, n in runs["status"].value_counts().items())
    monitors = ", ".join(sorted(set(runs["monitor"].dropna())))
    parts = [
        f"# {title}",
        "",
        f"{len(runs)} runs: {counts}. Best value is of the monitored metric ({monitors}).",
        "",
    ]
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


def plot_curves(report: Report, path: Path) -> None:
    """curves.png: loss and accuracy (or PSNR) per epoch, one colour per run, train dashed, val solid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    curves = report.curves
    metric = "psnr" if any(c.endswith("_psnr") for c in curves.columns) else "acc"
    labels = list(report.runs["run"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    colors = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    for i, label in enumerate(labels):
        one = curves[curves["run"] == label]
        color = colors(i % colors.N)
        marker = "o" if len(one) <= 12 else None
        for ax, kind in zip(axes, ("loss", metric), strict=True):
            for split, style in (("train", "--"), ("val", "-")):
                col = f"{split}_{kind}"
                if col in one and one[col].notna().any():
                    line_label = label if split == "val" or f"val_{kind}" not in one else None
                    ax.plot(one["epoch"], one[col], style, color=color, marker=marker, ms=3, label=line_label)
    names = {"loss": "loss", "acc": "accuracy", "psnr": "PSNR (dB)"}
    for ax, kind in zip(axes, ("loss", metric), strict=True):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(names[kind])
        ax.set_title(f"{names[kind]} (solid: val, dashed: train)")
        ax.grid(alpha=0.3)
    handles, texts = axes[1].get_legend_handles_labels()
    title = "runs by " + ", ".join(report.varying) if report.varying else "runs"
    fig.legend(
        handles, texts, loc="outside lower center", ncol=min(3, max(1, len(texts))), fontsize=8, title=title
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(dirs: list[str | Path], out: str | Path | None = None) -> Report:
    """Collect runs under `dirs`, write summary.csv, summary.md and curves.png to `out` (default: dirs[0])."""
    report = collect(dirs)
    out_dir = Path(out) if out is not None else Path(dirs[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    report.runs.to_csv(out_dir / "summary.csv", index=False)
    if report.grouped is not None:
        report.grouped.to_csv(out_dir / "summary_by_config.csv", index=False)
    title = "Summary of " + ", ".join(str(d) for d in dirs)
    (out_dir / "summary.md").write_text(to_markdown(report, title))
    plot_curves(report, out_dir / "curves.png")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.report",
        description=(
            "Compare runs: collect summary.json, metrics.csv and the overrides of every run under the "
            "given run or sweep dirs into summary.csv, summary.md (one row per run, the overrides that "
            "vary as columns; mean and std over seeds when trainer.seed varies) and curves.png (loss and "
            "accuracy per epoch, one line per run labelled by the overrides that vary)."
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
    logging.basicConfig(format="cnnlab.report: %(message)s", stream=sys.stderr, force=True)
    try:
        report = write_report(args.dirs, args.out)
    except FileNotFoundError as error:
        parser.exit(2, f"cnnlab.report: {error}\n")
    out = args.out or args.dirs[0]
    print(to_markdown(report, f"{len(report.runs)} runs").split("## Not completed")[0].rstrip())
    print(f"\nwrote {out}/summary.csv, summary.md, curves.png")


if __name__ == "__main__":
    main()
