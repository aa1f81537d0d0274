"""The `seed_band` analysis: how far a recipe's seeds lie apart while they train. One figure of one
metrics.csv column per epoch, each recipe as the mean over its seeds with a band from the lowest to the
highest seed; a row per recipe with the band's width at the last epoch every seed reached and where it
was widest; and a reading per recipe. A gap between two recipes smaller than their bands is noise.
Spec: {kind: seed_band, runs: [<folder>, ...], column: <metrics.csv column, default the runs' score>}."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from cnnlab.compare.plot_style import run_colors
from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.block import NOT_RUN, Block, Figures, table
from cnnlab.labs.book.figures import BAND, BAND_ALPHA, NAMES
from cnnlab.labs.book.kind import Kind, fetched
from cnnlab.labs.book.seeded_runs import score_of, wanted
from cnnlab.labs.book.seeds import seed_band


def width_text(width: float, column: str) -> str:
    """A band's width: points for an accuracy, dB for a PSNR, the column's own unit otherwise."""
    if column.endswith("_acc"):
        return f"{100 * width:.2f} points"
    return f"{width:.2f} dB" if column.endswith("_psnr") else f"{width:.4g}"


def band_row(folder: str, band: pd.DataFrame, seeds: int, column: str) -> list[str]:
    """One recipe's row: seeds, the last epoch all of them reached and the band's width there, and the
    epoch of the widest band among the epochs all seeds reached."""
    full = band[band["n"] == seeds]
    if full.empty:
        return [folder, str(seeds), "-", "-", "-"]
    widths = full["high"] - full["low"]
    last, widest = int(full.index[-1]), int(widths.idxmax())
    return [
        folder,
        str(seeds),
        str(last),
        width_text(float(widths.loc[last]), column),
        f"{width_text(float(widths.loc[widest]), column)} (epoch {widest})",
    ]


def plot_bands(bands: list[tuple[str, pd.DataFrame]], column: str, path: Path, title: str) -> None:
    """The mean of `column` over each recipe's seeds per epoch, with a band from lowest to highest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    kind = column.split("_", 1)[1]
    scale = 100 if kind == "acc" else 1
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for (label, band), color in zip(bands, run_colors(len(bands)), strict=True):
        ax.plot(band.index, band["mean"] * scale, color=color, label=label)
        ax.fill_between(
            band.index, band["low"] * scale, band["high"] * scale, color=color, alpha=BAND_ALPHA, lw=0
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{column.split('_', 1)[0]} {NAMES.get(kind, kind)}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    # One panel is narrower than the band's sentence: wrapped, it stays inside the figure.
    ax.set_title(f"{title}\n" + textwrap.fill(f"seeds: a {BAND}", 80), fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def seed_bands(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    block = Block()
    landed = [(f, runs) for f in spec["runs"] if (runs := fetched(art.trained, f, block)) is not None]
    present = [(folder, runs) for folder, runs in landed if len(runs) > 1]
    waiting = [
        f"{folder} {len(runs)} of {wanted(art.recipe(folder))}" for folder, runs in landed if len(runs) < 2
    ]
    if waiting:
        block.reading.append(f"No band yet for {', '.join(waiting)} seeds: a band needs two seeds or more.")
    if not present:
        return block
    column = spec.get("column") or score_of([r for _, runs in present for r in runs])
    bands = [(folder, seed_band([r.metrics for r in runs], column)) for folder, runs in present]
    drawn = [(folder, band) for folder, band in bands if not band.empty]
    if not drawn:
        block.missing += [f"{folder} ({column} never measured)" for folder, _ in bands]
        return block
    seeds = {folder: len(runs) for folder, runs in present}
    rows = [band_row(folder, band, seeds[folder], column) for folder, band in drawn]
    block.lines += table(
        ["run", "seeds", "last epoch all seeds reached", f"band of {column} there", "widest band (epoch)"],
        rows,
    )
    path, link = figures.next()
    plot_bands(drawn, column, path, f"{column} over seeds: {', '.join(f for f, _ in drawn)}")
    block.lines += ["", f"![{column} over the seeds of {', '.join(f for f, _ in drawn)}]({link})"]
    for folder, n, last, width, widest in rows:
        if last == "-":
            block.reading.append(f"{folder}: no epoch that all its {n} seeds reached.")
        else:
            block.reading.append(
                f"{folder}: its {n} seeds lie {width} apart in {column} at epoch {last}, the last all of "
                f"them reached; the band is widest, {widest.replace(' (', ', at ').rstrip(')')}."
            )
    if block.missing:
        block.reading.append(f"Not in the figure, {NOT_RUN}: {', '.join(block.missing)}.")
    return block  # no headline: the section's own runs speak for it, the band says how far to trust them


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return list(spec["runs"])


KIND = Kind("seed_band", seed_bands, reads)
