"""For the tasks that measure a trained classifier: its rebuilt model and its own test split."""

from __future__ import annotations

import torch
from omegaconf import OmegaConf

from cnnlab.analysis.checkpoint import TrainedRun, load_run
from cnnlab.errors import ConfigError
from cnnlab.labtasks.context import TaskContext


def trained_classifier(
    ctx: TaskContext, run: str | None, task: str, example: str
) -> tuple[TrainedRun, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The run's model and its test batches, built as in training (the task's paths for the cache);
    a missing run or a regression run is a ConfigError that says which run to give."""
    from cnnlab.data.datamodule import build_data

    if not run:
        raise ConfigError(f"task={task} needs task.run=<run dir of {example}>.")
    trained = load_run(run, trusted_targets=ctx.cfg.get("trusted_targets"))
    if trained.cfg.dataset.task != "classification":
        raise ConfigError(f"the run {run!r} is a {trained.cfg.dataset.task} run; {task} measures accuracy.")
    cfg = OmegaConf.merge(trained.cfg, {"paths": ctx.cfg.paths})
    return trained, list(build_data(cfg, torch.device("cpu")).test)
