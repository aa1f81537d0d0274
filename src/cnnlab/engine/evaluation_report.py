"""An evaluation's files and TensorBoard entries: the confusion matrix (CSV, PNG), the per-class table
(CSV, Markdown), the most confident mistakes (PNG grid, CSV) and evaluation.json; the two images and
the table also go to TensorBoard under `eval/<split>/<checkpoint>/`.

Tables go through the csv module and tabulate, the grid through torch: every training run ends here,
and the tensor path imports neither pandas nor torchvision (tests/test_speed_paths.py).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from tabulate import tabulate
from torch.utils.tensorboard import SummaryWriter

from cnnlab.engine.class_metrics import ClassEvaluation, per_class_metrics
from cnnlab.rundir.atomic import atomic_write_text

# Above this many classes the confusion matrix's cells are too small to print their counts in.
ANNOTATED_CLASSES = 20
RATES = ("precision", "recall", "accuracy")

Table = tuple[list[str], list[list[Any]]]


def per_class_table(confusion: torch.Tensor, names: list[str]) -> Table:
    """One row per class: images, predicted, correct, precision, recall, accuracy."""
    metrics = per_class_metrics(confusion)
    columns = [values.tolist() for values in metrics.values()]
    return ["class", *metrics], [[name, *values] for name, *values in zip(names, *columns, strict=True)]


def confusion_table(confusion: torch.Tensor, names: list[str]) -> Table:
    """Rows: the true class; columns: the predicted one."""
    rows = [[name, *counts] for name, counts in zip(names, confusion.tolist(), strict=True)]
    return ["true \\ predicted", *names], rows


def mistakes_table(result: ClassEvaluation, names: list[str]) -> Table:
    labels = zip(result.mistake_true.tolist(), result.mistake_pred.tolist(), strict=True)
    rows = [
        [rank, names[true], names[pred], confidence]
        for rank, ((true, pred), confidence) in enumerate(
            zip(labels, result.mistake_confidence.tolist(), strict=True), 1
        )
    ]
    return ["rank", "true", "predicted", "confidence"], rows


def write_csv(path: Path, table: Table) -> None:
    header, rows = table
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def markdown_table(table: Table) -> str:
    """Counts as integers, rates as percentages with one decimal, an undefined rate as a dash."""
    header, rows = table
    rates = [header.index(column) for column in RATES]
    shown = [
        [("–" if math.isnan(v) else f"{100 * v:.1f}%") if i in rates else v for i, v in enumerate(row)]
        for row in rows
    ]
    return tabulate(shown, header, tablefmt="pipe", colalign=("left",) + ("right",) * (len(header) - 1))


def confusion_figure(confusion: torch.Tensor, names: list[str], title: str) -> Figure:
    n = len(names)
    side = max(4.0, 0.45 * n + 2.0)
    figure = Figure(figsize=(side + 1, side), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    counts = confusion.numpy()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8, label="images")
    axes.set_xticks(range(n), names, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(range(n), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if n <= ANNOTATED_CLASSES:
        threshold = counts.max() / 2
        for (row, col), count in np.ndenumerate(counts):
            colour = "white" if count > threshold else "black"
            axes.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    return figure


def mistakes_figure(result: ClassEvaluation, names: list[str], title: str) -> Figure:
    """The mistakes as one near-square montage (a single axes: 25 subplots would take matplotlib
    seconds), each image titled `true → predicted (confidence%)` in the gap above it."""
    n = len(result.mistake_true)
    columns = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    figure = Figure(figsize=(1.8 * columns + 0.2, 1.8 * rows + 0.5), dpi=100)
    figure.suptitle(title, fontsize=10)
    axes = figure.add_axes((0.01, 0.01, 0.98, 0.98 - 0.45 / figure.get_figheight()))
    axes.set_axis_off()
    if n == 0:
        axes.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return figure
    height, width = result.mistakes.shape[-2:]
    gap = max(2, round(0.3 * height))  # room for each image's title
    grid = montage(result.mistakes, columns, gap)
    gray = grid.shape[0] == 1
    pixels = grid[0].numpy() if gray else grid.permute(1, 2, 0).numpy()
    axes.imshow(pixels, cmap="gray" if gray else None, vmin=0, vmax=1, interpolation="nearest")
    true_pred_confidence = (result.mistake_true, result.mistake_pred, result.mistake_confidence)
    labels = zip(*(t.tolist() for t in true_pred_confidence), strict=True)
    for i, (true, pred, confidence) in enumerate(labels):
        row, column = divmod(i, columns)
        x = gap + column * (width + gap) + width / 2
        y = gap + row * (height + gap) - gap / 2
        text = f"{names[true]} → {names[pred]} ({100 * confidence:.0f}%)"
        axes.text(x, y, text, ha="center", va="center", fontsize=8)
    return figure


def montage(images: torch.Tensor, columns: int, gap: int) -> torch.Tensor:
    """N x C x H x W images in [0, 1] as one C x H' x W' white-framed grid, row by row, `gap` pixels
    around each image (make_grid's layout, in a few tensor ops)."""
    n, channels, height, width = images.shape
    rows = math.ceil(n / columns)
    cells = torch.ones(rows * columns, channels, height + gap, width + gap)
    cells[:n] = F.pad(images, (gap, 0, gap, 0), value=1.0)  # the gap left of and above each image
    grid = cells.view(rows, columns, channels, height + gap, width + gap).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(channels, rows * (height + gap), columns * (width + gap))
    return F.pad(grid, (0, gap, 0, gap), value=1.0)


def rendered(figure: Figure) -> np.ndarray:
    """The figure's pixels as H x W x 3 uint8: one rendering for both the PNG file and TensorBoard."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def write_evaluation(
    result: ClassEvaluation, names: list[str], out_dir: Path, log_dir: Path, info: dict[str, Any]
) -> dict[str, Any]:
    """Write every file into out_dir and the images and table into TensorBoard events in log_dir;
    returns the contents of out_dir/evaluation.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    split, checkpoint, epoch = info["split"], info["checkpoint"], int(info["epoch"])
    label = f"{split} split, {checkpoint} checkpoint (epoch {epoch})"
    table = per_class_table(result.confusion, names)
    markdown = markdown_table(table)
    write_csv(out_dir / "confusion_matrix.csv", confusion_table(result.confusion, names))
    write_csv(out_dir / "per_class.csv", table)
    atomic_write_text(f"# Per-class metrics: {label}\n\n{markdown}\n", out_dir / "per_class.md")
    write_csv(out_dir / "mistakes.csv", mistakes_table(result, names))
    figures = {
        "confusion_matrix": confusion_figure(
            result.confusion, names, f"{label}: accuracy {100 * result.accuracy:.2f}%"
        ),
        "mistakes": mistakes_figure(
            result, names, f"Most confident mistakes, {label}: true → predicted (confidence)"
        ),
    }
    summary = {
        **info,
        "images": result.images,
        "correct": result.correct,
        "accuracy": result.accuracy,
        "mistakes_shown": len(result.mistake_true),
        "dir": str(out_dir),
    }
    tag = f"eval/{split}/{checkpoint}"
    with SummaryWriter(str(log_dir)) as writer:
        for name, figure in figures.items():
            pixels = rendered(figure)
            Image.fromarray(pixels).save(out_dir / f"{name}.png")
            writer.add_image(f"{tag}/{name}", pixels, epoch, dataformats="HWC")
        writer.add_text(f"{tag}/per_class", markdown, epoch)
    atomic_write_text(json.dumps(summary, indent=2) + "\n", out_dir / "evaluation.json")
    return summary
