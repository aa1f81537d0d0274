"""What a comparison writes: summary.csv, summary.md (tables aligned, the best run marked) and the
figures, into the first dir compared or another; a sweep's end and `python -m cnnlab.report` call
write_report."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cnnlab.compare.collect import SEED_KEY, Report, _missing, best_rows, collect
from cnnlab.compare.plots import CURVES, FIGURES, MAX_CURVE_RUNS, METRIC_VS_VALUE, swept_axis
from cnnlab.rundir.status import FAILING

if TYPE_CHECKING:
    pass

log = logging.getLogger("cnnlab.report")

BEST_MARK = "★"


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
        "stop_reason",
        "restored_epoch",
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
    bad = runs[runs["status"].isin(FAILING)]
    if len(bad):
        parts += ["## Not completed", ""]
        parts += [
            f"- `{r.run}` ({r.status}): {r.message or 'no message'} ({r.run_dir})" for r in bad.itertuples()
        ]
        parts.append("")
    return "\n".join(parts)


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
