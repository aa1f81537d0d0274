"""The figures of the experiments READMEs, drawn from committed files only, with no timestamp or
version in the PNG, so that `make report` rewrites them byte for byte. Accuracy is in percent."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.compare.plot_style import SPLIT_STYLES, draw_splits, run_colors, split_key
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.seeds import Spread, seed_band

if TYPE_CHECKING:
    import pandas as pd

NAMES = {"loss": "loss", "acc": "accuracy (%)", "psnr": "PSNR (dB)"}
# How a seeded run is drawn, said in the title of every figure that draws one and atop its README.
BAND = (
    "line for the mean over the seeds still training at each epoch and a band from their lowest to "
    "highest value"
)
BAND_ALPHA = 0.18


@dataclass
class Curve:
    """One labelled run to draw: a single run, or the seeds of one recipe (a mean line and a band);
    `diverged_at` marks the epoch each diverged job or seed diverged in."""

    label: str
    runs: list[CollectedRun]
    diverged_at: tuple[int, ...] = ()
    bands: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def seeded(self) -> bool:
        return len(self.runs) > 1

    def band(self, column: str) -> pd.DataFrame:
        """Per epoch: mean, low, high and n of `column` over the seeds (seeds.seed_band)."""
        if column not in self.bands:
            self.bands[column] = seed_band([r.metrics for r in self.runs], column)
        return self.bands[column]

    @property
    def legend(self) -> str:
        epochs = ", ".join(str(e) for e in self.diverged_at)
        if not self.seeded:
            return self.label + (f" (diverged in epoch {epochs})" if self.diverged_at else "")
        diverged = f", {len(self.diverged_at)} diverged in epoch {epochs}" if self.diverged_at else ""
        return f"{self.label} ({len(self.runs)} seeds{diverged})"


def curve(label: str, runs: list[CollectedRun]) -> Curve:
    """A curve of one run or of several seeds, with the epoch each diverged one diverged in marked."""
    return Curve(label, runs, tuple(r.diverged_in for r in runs if r.diverged))


def _draw(ax, one: Curve, kind: str, color, splits: tuple[str, ...]) -> list[str]:
    """One curve on one panel: a single run as its lines, seeds as mean lines with min-max bands."""
    scale = 100 if kind == "acc" else 1
    for at in one.diverged_at:
        ax.axvline(at, color=color, linestyle=(0, (1, 2)), linewidth=1.2)
        ax.plot([at], [0.97], transform=ax.get_xaxis_transform(), marker="x", color=color, ms=8)
    if not one.seeded:
        return draw_splits(ax, one.runs[0].metrics, kind, color, one.label, scale, splits=splits)
    drawn = []
    for split in splits:
        column = f"{split}_{kind}"
        band = one.band(column) if any(column in r.metrics for r in one.runs) else None
        if band is None or band.empty:
            continue
        ax.plot(band.index, band["mean"] * scale, linestyle=SPLIT_STYLES[split], color=color)
        ax.fill_between(
            band.index, band["low"] * scale, band["high"] * scale, color=color, alpha=BAND_ALPHA, lw=0
        )
        drawn.append(split)
    return drawn


def plot_curves(
    curves: list[Curve], path: Path, title: str, splits: tuple[str, ...] = tuple(SPLIT_STYLES)
) -> None:
    """Loss and score per epoch of each curve, in compare/plot_style's split styles (seeds as a mean line
    and a band), with a key of the splits on the loss panel and one of the runs on the score panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    score = "psnr" if any("train_psnr" in r.metrics for c in curves for r in c.runs) else "acc"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    colors = run_colors(len(curves))
    drawn: set[str] = set()
    for one, color in zip(curves, colors, strict=True):
        for ax, kind in zip(axes, ("loss", score), strict=True):
            drawn |= set(_draw(ax, one, kind, color, splits))
    for ax, kind in zip(axes, ("loss", score), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(NAMES[kind])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    split_key(axes[0], drawn, fontsize=7, loc="best")
    handles = [
        Line2D([], [], color=color, label=c.legend, marker="x" if c.diverged_at else None)
        for c, color in zip(curves, colors, strict=True)
    ]
    axes[1].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle(title + (f"\nseeds: a {BAND}" if any(c.seeded for c in curves) else ""), fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def draw_grid(source: Path, path: Path, title: str, rows: list[str]) -> None:
    """An image grid a run saved (rows of equal height, e.g. input / output / target) redrawn with a
    title and each row named on the left, so that it reads without the text around it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    image = mpimg.imread(source)
    height, width = image.shape[:2]
    fig, ax = plt.subplots(figsize=(width / 80 + 1.6, height / 80 + 0.5), constrained_layout=True)
    ax.imshow(image, interpolation="nearest", cmap="gray" if image.ndim == 2 else None)
    ax.set_yticks([(i + 0.5) * height / len(rows) for i in range(len(rows))], rows, fontsize=8)
    ax.set_xticks([])
    ax.tick_params(left=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def against_data(xs: list[float], spreads: list[Spread], scale: float) -> pd.DataFrame:
    """What plot_against draws: per value, the mean over the seeds, their lowest and highest, and n."""
    import pandas as pd

    return pd.DataFrame(
        {
            "x": xs,
            "mean": [s.mean * scale for s in spreads],
            "low": [min(s.values) * scale for s in spreads],
            "high": [max(s.values) * scale for s in spreads],
            "n": [s.n for s in spreads],
        }
    ).sort_values("x", kind="stable")


def plot_against(xs: list[float], spreads: list[Spread], path: Path, key: str, ylabel: str) -> None:
    """A score over seeds against a hyper-parameter's value: the mean, and a bar from the lowest seed to
    the highest (accuracy in percent), each point labelled with its n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = against_data(xs, spreads, 100 if ylabel.endswith("(%)") else 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    # numpy arrays, not Series: matplotlib reads a one-point Series differently under pandas 2 and 3,
    # and the committed figures must not depend on which pandas renders them.
    x, mean, low, high = (data[c].to_numpy() for c in ("x", "mean", "low", "high"))
    ax.errorbar(
        x,
        mean,
        yerr=[mean - low, high - mean],
        fmt="o-",
        capsize=4,
    )
    for _, point in data.iterrows():
        ax.annotate(
            f"n={int(point['n'])}",
            (point["x"], point["high"]),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
            fontsize=7,
        )
    ax.set_xlabel(key)
    ax.set_ylabel(ylabel)
    ax.set_xticks(list(x))
    ax.grid(alpha=0.3)
    ax.set_title(
        f"{ylabel.removesuffix(' (%)')} against {key}: mean over seeds, bar from lowest to highest",
        fontsize=9,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
