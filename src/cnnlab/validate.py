"""Check config values before any work, so a typo fails in a second with a message, not an hour in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cnnlab.engine.tasks import make_task
from cnnlab.errors import ConfigError


def _int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _number(check: Callable[[float], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and check(v)


RULES: list[tuple[str, Callable[[Any], bool], str]] = [
    ("trainer.epochs", _int_at_least(1), "an integer >= 1"),
    ("trainer.batch_size", _int_at_least(1), "an integer >= 1"),
    ("trainer.eval_batch_size", _int_at_least(1), "an integer >= 1"),
    ("trainer.seed", _int_at_least(0), "an integer >= 0"),
    ("trainer.limit_batches", _optional(_int_at_least(1)), "null or an integer >= 1"),
    ("trainer.num_threads", _optional(_int_at_least(1)), "null or an integer >= 1"),
    ("trainer.log_every_n_steps", _int_at_least(1), "an integer >= 1"),
    ("trainer.amp", lambda v: isinstance(v, bool) or v == "auto", "true, false or auto"),
    ("trainer.monitor_mode", lambda v: v in ("min", "max"), "min or max"),
    ("dataset.val_fraction", _number(lambda v: 0 <= v < 1), "a fraction in [0, 1)"),
    ("dataset.num_workers", _int_at_least(0), "an integer >= 0"),
    ("dataset.task", lambda v: v in ("classification", "regression"), "classification or regression"),
    ("optimizer.lr", _number(lambda v: v > 0), "a number > 0, e.g. 0.001"),
    ("optimizer.weight_decay", _optional(_number(lambda v: v >= 0)), "a number >= 0"),
    ("optimizer.momentum", _optional(_number(lambda v: 0 <= v < 1)), "a number in [0, 1)"),
    ("scheduler.interval", lambda v: v in ("epoch", "step"), "epoch or step"),
]


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first key whose value is out of range, and what is allowed."""
    for key, ok, allowed in RULES:
        value = OmegaConf.select(cfg, key, default=None)
        if not ok(value):
            raise ConfigError(f"{key}={value!r} is not allowed: it must be {allowed}.")
    monitor = cfg.trainer.monitor
    metric = cfg.dataset.metric
    allowed_monitors = [f"{s}_{m}" for s in ("train", "val", "test") for m in ("loss", metric)]
    if monitor not in allowed_monitors:
        raise ConfigError(
            f"trainer.monitor={monitor!r} is not a metric this run records; use one of {allowed_monitors}."
        )
    if monitor.startswith("val_") and cfg.dataset.val_fraction == 0:
        raise ConfigError(
            f"trainer.monitor={monitor!r} needs a validation split but dataset.val_fraction=0; "
            f"set dataset.val_fraction (e.g. 0.1) or monitor a test_ metric."
        )
    make_task(cfg.dataset.task).check_augmentation(cfg.augmentation, cfg.dataset.name)
