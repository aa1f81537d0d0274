"""For the tasks that measure a trained classifier: its rebuilt model and its own test split."""

from __future__ import annotations

import torch

from cnnlab.engine.reopen import TrainedRun, open_run
from cnnlab.errors import ConfigError
from cnnlab.labs.exercises.context import ExerciseContext


def trained_classifier(
    ctx: ExerciseContext, run: str | None, task: str, example: str
) -> tuple[TrainedRun, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The run's model and its test batches, built as in training (the task's paths for the cache);
    a missing run or a regression run is a ConfigError that says which run to give."""
    if not run:
        raise ConfigError(f"task={task} needs task.run=<run dir of {example}>.")
    trained = open_run(
        run,
        with_data=True,
        trusted_targets=ctx.cfg.get("trusted_targets"),
        paths=ctx.cfg.paths,
        needs_classes=f"task={task} measures accuracy.",
    )
    assert trained.data is not None
    return trained, list(trained.data.test)
