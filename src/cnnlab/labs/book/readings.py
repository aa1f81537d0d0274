"""How the READMEs name scores and splits, and the one reading every curve gets: whether its
evaluation loss turns up again while the train loss keeps falling (over-fitting)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnlab.labs.book.formatting import fmt_value

if TYPE_CHECKING:
    import pandas as pd

# A loss that ends this much above its minimum (relative) counts as rising again.
RISE = 0.10
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
SCORE_NAMES = {
    "test_acc": "test accuracy",
    "val_acc": "validation accuracy",
    "val_loss": "validation loss",
    "val_psnr": "validation PSNR",
    "test_psnr": "test PSNR",
    "train_loss": "train loss",
}


def metric_text(column: str, value: float) -> str:
    """A value of a metrics.csv column as it reads: PSNR in dB, accuracy in percent."""
    if column.endswith("_psnr"):
        return f"{value:.2f} dB"
    return fmt_value(float(value), column)


def loss_reading(metrics: pd.DataFrame, eval_split: str, whose: str = "Its") -> list[str]:
    """Whether the evaluation loss turns up again after its lowest epoch (and the train loss meanwhile)."""
    loss = f"{eval_split}_loss"
    split = SPLIT_NAMES[eval_split]
    if loss not in metrics or metrics[loss].notna().sum() <= 1:
        return []
    values = metrics.set_index("epoch")[loss].dropna()
    low, last = values.idxmin(), values.index[-1]
    if low < last and values[last] > values[low] * (1 + RISE):
        return [
            f"{whose} {split} loss is lowest at epoch {low} ({values[low]:.3g}) and rises to "
            f"{values[last]:.3g} by epoch {last}{train_loss_meanwhile(metrics, low, last)}"
        ]
    if low == last:
        return [f"{whose} {split} loss is still falling at the last epoch ({values[last]:.3g})."]
    return [
        f"{whose} {split} loss is lowest at epoch {low} ({values[low]:.3g}) and ends at "
        f"{values[last]:.3g}: no clear over-fitting."
    ]


def train_loss_meanwhile(metrics: pd.DataFrame, low: int, last: int) -> str:
    """Over-fitting is an evaluation loss that rises while the train loss keeps falling."""
    if "train_loss" not in metrics:
        return ": the net over-fits."
    train = metrics.set_index("epoch")["train_loss"]
    if train[last] < train[low]:
        return f", while its train loss falls from {train[low]:.3g} to {train[last]:.3g}: the net over-fits."
    return f"; its train loss does not fall meanwhile ({train[low]:.3g} to {train[last]:.3g})."
