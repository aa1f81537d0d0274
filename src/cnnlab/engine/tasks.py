"""What is being learned: classification (accuracy) or image regression (PSNR).

The data set's `task` picks one; the loop asks it how to score a batch.
"""

from __future__ import annotations

import torch

from cnnlab.engine.regression import psnr
from cnnlab.errors import ConfigError


class Classification:
    """Scores a batch by the number of correct arg-max predictions."""

    metric = "acc"

    def score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output.argmax(1) == target).sum()


class Regression:
    """Scores a batch by the sum of per-image PSNR (targets in [0, 1])."""

    metric = "psnr"

    def score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr(output, target) * target.shape[0]


TASKS = {"classification": Classification, "regression": Regression}
Task = Classification | Regression


def make_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"dataset.task={name!r} is not a task; use one of {sorted(TASKS)}.")
    return TASKS[name]()
