"""The report's two figures: every run's curves (up to MAX_CURVE_RUNS), and the monitored metric against
the swept value (best and final per run, seeds as a mean with a band); the lab book draws them too."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cnnlab.compare.collect import SEED_KEY, Report
from cnnlab.compare.plot_style import draw_splits, run_colors, run_handles, split_key

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("cnnlab.report")

# More runs than this make curves.png a bundle nobody can read: metric_vs_value.png replaces it.
MAX_CURVE_RUNS = 8


CURVES = "curves.png"


METRIC_VS_VALUE = "metric_vs_value.png"


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
    (cnnlab.compare.plot_style), a key of both. Returns the (closed) figure, whose lines tests read."""
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
