"""The figures of the experiments READMEs, drawn from committed metrics.csv files only, with no
timestamp or version in the PNG, so that `make report` rewrites them byte for byte."""

from __future__ import annotations

from pathlib import Path

from cnnlab.labbook.artefacts import Run
from cnnlab.plot_style import draw_splits, run_colors, run_handles, split_key

NAMES = {"loss": "loss", "acc": "accuracy (%)", "psnr": "PSNR (dB)"}


def plot_curves(runs: list[tuple[str, Run]], path: Path, title: str) -> None:
    """Loss and score per epoch of each labelled run, in cnnlab.plot_style's split styles, with a key of
    the splits on the loss panel and one of the runs on the score panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    score = "psnr" if any("train_psnr" in r.metrics for _, r in runs) else "acc"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    colors = run_colors(len(runs))
    drawn: set[str] = set()
    for (label, run), color in zip(runs, colors, strict=True):
        for ax, kind in zip(axes, ("loss", score), strict=True):
            drawn |= set(draw_splits(ax, run.metrics, kind, color, label, 100 if kind == "acc" else 1))
    for ax, kind in zip(axes, ("loss", score), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(NAMES[kind])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    split_key(axes[0], drawn, fontsize=7, loc="best")
    axes[1].legend(handles=run_handles([label for label, _ in runs], colors), fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
