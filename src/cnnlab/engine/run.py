"""What one training run steps with (data, model, optimiser, scheduler, loss, task, precision),
built from config in one place, so that fit, the speed benchmark and evaluation train and score
the same objects instead of each assembling its own."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from cnnlab.config.build import build
from cnnlab.data.datamodule import DataModule, build_data
from cnnlab.engine.device import native_bf16, resolve_amp
from cnnlab.engine.loop import evaluate, train_epoch
from cnnlab.engine.tasks import EpochLogger, Task, make_task
from cnnlab.engine.validate import check_optimizer_and_schedule
from cnnlab.models import build_model, count_parameters

log = logging.getLogger(__name__)


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


@dataclass
class RunModel:
    """A run's model and the data it is scored on: what evaluation rebuilds from a run dir. No optimiser
    or scheduler, so a run dir's config builds only its cnnlab and torch.nn targets for it."""

    cfg: DictConfig
    device: torch.device
    amp: bool
    data: DataModule
    model: nn.Module

    @cached_property
    def task(self) -> Task:
        """What is learned (the data set's `task`): its metric, augmentation rule and per-epoch logs."""
        return make_task(self.cfg.dataset.task)


@dataclass
class Run(RunModel):
    """The objects of one run; `model` holds the weights, `step_model` is what steps (compiled or not)."""

    step_model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any | None
    loss_fn: nn.Module
    n_params: int
    epoch_loggers: list[EpochLogger]

    @property
    def steps_scheduler_per_batch(self) -> bool:
        """`scheduler.interval: step` (e.g. one-cycle); otherwise the scheduler steps once per epoch."""
        return self.scheduler is not None and self.cfg.scheduler.interval == "step"

    def train_epoch(self, epoch: int, *, log_every: int, desc: str = "train") -> tuple[dict[str, float], int]:
        """Epoch `epoch` (0-based) in train mode: mean loss and metric, and the images seen.
        The scheduler steps after every batch or after the epoch, as `scheduler.interval` says."""
        self.data.train.set_epoch(epoch)
        result = train_epoch(
            self.step_model,
            self.data.train,
            self.loss_fn,
            self.optimizer,
            self.task,
            device=self.device,
            step_scheduler=self.scheduler if self.steps_scheduler_per_batch else None,
            amp=self.amp,
            log_every=log_every,
            desc=desc,
        )
        if self.scheduler is not None and not self.steps_scheduler_per_batch:
            self.scheduler.step()
        return result

    def evaluate(self, splits: tuple[str, ...] = ("val", "test")) -> dict[str, float]:
        """`<split>_loss` and `<split>_<metric>` in eval mode, for each of `splits` the data has."""
        loaders = self.data.loaders()
        return {
            f"{split}_{key}": value
            for split in splits
            if loaders[split] is not None
            for key, value in evaluate(
                self.step_model, loaders[split], self.loss_fn, self.task, device=self.device, amp=self.amp
            ).items()
        }

    def state_dict(self) -> dict[str, Any]:
        """The trained state a checkpoint keeps: model, optimiser and scheduler."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])


def build_run(cfg: DictConfig, device: torch.device) -> Run:
    """Seed, then build data, model, optimiser, scheduler and loss from config (in that order, so
    the same seed gives the same initial weights whoever builds the run)."""
    amp, data = _seeded_data(cfg, device)
    epoch_loggers = make_task(cfg.dataset.task).epoch_loggers(data.loaders())
    model = _model(cfg, data, device)
    optimizer = build(cfg.optimizer, key="optimizer")(model.parameters())
    scheduler = None
    if cfg.scheduler.build is not None:
        extra = {"steps_per_epoch": len(data.train)} if cfg.scheduler.interval == "step" else {}
        if extra:  # validate() could only guess the batches per epoch; a too-short schedule fails here
            check_optimizer_and_schedule(cfg, len(data.train))
        scheduler = build(cfg.scheduler.build, key="scheduler.build")(optimizer, **extra)
    loss_fn = build(cfg.loss, key="loss")
    step_model = torch.compile(model) if cfg.trainer.compile else model
    return Run(
        cfg=cfg,
        device=device,
        amp=amp,
        data=data,
        model=model,
        step_model=step_model,
        optimizer=optimizer,
        scheduler=scheduler,
        loss_fn=loss_fn,
        n_params=count_parameters(model),
        epoch_loggers=epoch_loggers,
    )


def build_run_model(cfg: DictConfig, device: torch.device) -> RunModel:
    """Seed, then build data and model as build_run does: the same seed gives the same data and net."""
    amp, data = _seeded_data(cfg, device)
    return RunModel(cfg=cfg, device=device, amp=amp, data=data, model=_model(cfg, data, device))


def _seeded_data(cfg: DictConfig, device: torch.device) -> tuple[bool, DataModule]:
    """Whether bf16 autocast is on, then the seed, then the data: how every build starts."""
    trainer = cfg.trainer
    amp = resolve_amp(trainer.amp, device)
    if amp and not native_bf16(device):
        log.warning(
            "trainer.amp=true on %s, which has no native bf16 (no AVX512-BF16/AMX on a CPU): bf16 "
            "autocast runs several times slower here; use trainer.amp=auto to take it only where it pays.",
            device,
        )
    seed_everything(trainer.seed, trainer.deterministic)
    return amp, build_data(cfg, device)


def _model(cfg: DictConfig, data: DataModule, device: torch.device) -> nn.Module:
    model = build_model(cfg.model, data.input_shape).to(device)
    return model.to(memory_format=torch.channels_last) if cfg.trainer.channels_last else model
