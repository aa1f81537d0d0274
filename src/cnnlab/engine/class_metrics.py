"""What one pass of a classifier over a split gives, and the per-class rates read from it: shared by
the pass that measures (engine/evaluation.py) and the files that report it (engine/evaluation_report.py)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ClassEvaluation:
    """What one pass over a split gives: the C x C confusion matrix (rows: true class, columns:
    predicted) and the most confidently misclassified images, most confident first, as the loader
    gave them (normalised), with their true and predicted labels and the predicted probability."""

    confusion: torch.Tensor
    mistakes: torch.Tensor
    mistake_true: torch.Tensor
    mistake_pred: torch.Tensor
    mistake_confidence: torch.Tensor

    @property
    def images(self) -> int:
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(self.confusion.trace())

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.images, 1)


def per_class_metrics(confusion: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per class, from the confusion matrix: its images (support), predictions and correct ones;
    precision TP / predicted and recall TP / support (NaN where the denominator is 0: undefined); and
    accuracy (TP + TN) / N, the class's own yes/no decision over every image. Recall is the share of
    the class's images classified correctly, what is often called the class's accuracy."""
    counts = confusion.double()
    correct = counts.diag()
    support, predicted, total = counts.sum(1), counts.sum(0), counts.sum()
    true_negative = total - support - predicted + correct
    return {
        "images": support.long(),
        "predicted": predicted.long(),
        "correct": correct.long(),
        "precision": correct / predicted,
        "recall": correct / support,
        "accuracy": (correct + true_negative) / total,
    }
