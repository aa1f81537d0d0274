"""The one line-style convention of every per-epoch curve figure, sweep reports and lab READMEs alike:
the line style says the split (train dashed, validation dotted, test solid), the colour says the run,
and a key of the styles sits on each figure so nobody has to remember which is which."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D

SPLIT_STYLES = {"train": "--", "val": ":", "test": "-"}
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
KEY_COLOR = "0.3"


def draw_splits(
    ax: Axes,
    metrics: pd.DataFrame,
    kind: str,
    color: Any,
    run: str,
    scale: float = 1.0,
    splits: Iterable[str] = tuple(SPLIT_STYLES),
    **line: Any,
) -> list[str]:
    """Plot each `<split>_<kind>` column of a run's metrics.csv that holds values (of `splits` only), in
    its split's style; returns the splits drawn. Each line is labelled `<run> (<split>)`."""
    drawn = []
    for split, style in SPLIT_STYLES.items():
        if split not in splits:
            continue
        column = f"{split}_{kind}"
        if column in metrics and metrics[column].notna().any():
            values = metrics[column] * scale
            ax.plot(metrics["epoch"], values, linestyle=style, color=color, label=f"{run} ({split})", **line)
            drawn.append(split)
    return drawn


def split_key(ax: Axes, splits: Iterable[str], **legend: Any) -> Legend | None:
    """The style of each split drawn (train, val, test order) as a legend on `ax`, kept when the runs'
    legend is added to the same axes later; None, and no legend, when no split was drawn."""
    from matplotlib.lines import Line2D

    shown = set(splits)
    handles = [
        Line2D([], [], color=KEY_COLOR, linestyle=style, label=SPLIT_NAMES[split])
        for split, style in SPLIT_STYLES.items()
        if split in shown
    ]
    if not handles:
        return None
    legend.setdefault("title_fontsize", legend.get("fontsize"))
    key = ax.legend(handles=handles, title="split", **legend)
    ax.add_artist(key)
    return key


def run_colors(n: int) -> list[tuple[float, float, float, float]]:
    """One colour per run: tab10's ten, tab20's twenty beyond that."""
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def run_handles(labels: list[str], colors: list[Any]) -> list[Line2D]:
    """Legend entries for the runs: a plain line in each run's colour."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=color, label=label) for label, color in zip(labels, colors, strict=True)]
