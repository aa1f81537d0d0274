"""The figures of the experiments READMEs, drawn from committed metrics.csv files only, with no
timestamp or version in the PNG, so that `make report` rewrites them byte for byte."""

from __future__ import annotations

from pathlib import Path

from cnnlab.labbook.artefacts import Run

STYLES = (("train", "--"), ("val", ":"), ("test", "-"))
NAMES = {"loss": "loss", "acc": "accuracy (%)", "psnr": "PSNR (dB)"}


def plot_curves(runs: list[tuple[str, Run]], path: Path, title: str) -> None:
    """Loss and score per epoch of each labelled run: train dashed, validation dotted, test solid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    score = "psnr" if any("train_psnr" in r.metrics for _, r in runs) else "acc"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    colors = plt.get_cmap("tab10" if len(runs) <= 10 else "tab20")
    for i, (label, run) in enumerate(runs):
        metrics = run.metrics
        for ax, kind in zip(axes, ("loss", score), strict=True):
            for split, style in STYLES:
                column = f"{split}_{kind}"
                if column in metrics and metrics[column].notna().any():
                    values = metrics[column] * (100 if kind == "acc" else 1)
                    shown = label if split == run.eval_split else None
                    ax.plot(metrics["epoch"], values, style, color=colors(i % colors.N), label=shown)
    for ax, kind in zip(axes, ("loss", score), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(NAMES[kind])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(f"{title} (train dashed, validation dotted, test solid)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
