"""What is being learned, as an object: classification or image regression.

A task owns its metric and whether higher is better (conf/ derives `dataset.metric` and
`dataset.metric_mode` from it), which augmentations it allows, and what it logs each epoch beyond
the scalars. `dataset.task` names one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from omegaconf import DictConfig
from torch import nn

from cnnlab.config.build import build
from cnnlab.data.protocols import Loader
from cnnlab.engine.regression import GridLogger, psnr
from cnnlab.errors import ConfigError


class EpochLogger(Protocol):
    """Something a task writes after every epoch, beside metrics.csv and the TensorBoard scalars."""

    def log(self, model: nn.Module, step: int, writer: Any, run_dir: Path) -> None: ...


class Task:
    """The defaults: every augmentation allowed, nothing extra logged (targets reach it as the data
    stores them, image targets in [0, 1]: data/imageset.batch_targets)."""

    name: ClassVar[str]
    metric: ClassVar[str]
    mode: ClassVar[str] = "max"
    # Whether cnnlab.evaluate applies: a confusion matrix and per-class figures need classes.
    has_classes: ClassVar[bool] = False

    def score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The batch's summed metric, left on the device (the loop divides by the images seen)."""
        raise NotImplementedError

    def check_augmentation(self, augmentation: DictConfig, dataset: str) -> None:
        """Raise ConfigError when the augmentation config cannot be used with this task."""

    def epoch_loggers(self, loaders: dict[str, Loader | None]) -> list[EpochLogger]:
        """What to log after each epoch; built before the model, from the run's loaders."""
        return []


class Classification(Task):
    """Scores a batch by the number of correct arg-max predictions; labels are int64 class indices."""

    name = "classification"
    metric = "acc"
    has_classes = True

    def score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output.argmax(1) == target).sum()


class ImageRegression(Task):
    """Images in, images out: scored by per-image PSNR, targets stored as uint8 images in [0, 255].

    Augmentation would move the input's pixels but not the target's, so none is allowed; each
    epoch writes input / output / target grids of fixed images to TensorBoard and the run dir.
    """

    name = "regression"
    metric = "psnr"

    def score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr(output, target) * target.shape[0]

    def check_augmentation(self, augmentation: DictConfig, dataset: str) -> None:
        moved = build(augmentation, key="augmentation").pixel_moving_settings()
        if moved:
            raise ConfigError(
                f"augmentation={moved} would move the input's pixels but not the target's in the "
                f"regression data set {dataset!r}; use augmentation=none."
            )

    def epoch_loggers(self, loaders: dict[str, Loader | None]) -> list[EpochLogger]:
        return [GridLogger(loaders)]


TASKS: dict[str, type[Task]] = {task.name: task for task in (Classification, ImageRegression)}


def make_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"dataset.task={name!r} is not a task; use one of {sorted(TASKS)}.")
    return TASKS[name]()
