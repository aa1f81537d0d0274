"""Check config values before any work, so a typo fails in a second with a message, not an hour in.

One table (RULES) holds the type and range of every key the engine reads; the optimiser and the
scheduler are then built once on a dummy parameter and the schedule is stepped through, so their own
argument checks (and a schedule that goes negative or divides by zero) fail here too.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from cnnlab.config.build import build
from cnnlab.config.overrides import flatten, split_override
from cnnlab.config.paths import CONF_DIR
from cnnlab.engine.tasks import make_task
from cnnlab.errors import ConfigError


def _int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


# numpy's legacy seeding (np.random.seed) takes 32 bits; torch's generators take 64.
MAX_SEED = 2**32 - 1


def _seed(v: Any) -> bool:
    return _int_at_least(0)(v) and v <= MAX_SEED


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _number(check: Callable[[float], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and check(v)


def _boolean(v: Any) -> bool:
    return isinstance(v, bool)


def _pair_of_fractions(v: Any) -> bool:
    return (
        isinstance(v, Iterable)
        and not isinstance(v, str)
        and len(list(v)) == 2
        and all(_number(lambda b: 0 <= b < 1)(b) for b in v)
    )


BOOLEAN = "true or false (a boolean, not a string such as 'no')"
# Keys every training config has: checked always (a missing one reads as null).
RULES: list[tuple[str, Callable[[Any], bool], str]] = [
    # First: trainer.monitor and its mode are resolved from the task, so a bad task shows there too.
    ("dataset.task", lambda v: v in ("classification", "regression"), "classification or regression"),
    ("trainer.epochs", _int_at_least(1), "an integer >= 1"),
    ("trainer.batch_size", _int_at_least(1), "an integer >= 1"),
    ("trainer.eval_batch_size", _int_at_least(1), "an integer >= 1"),
    ("trainer.seed", _seed, f"an integer from 0 to {MAX_SEED} (2**32 - 1: numpy's seeds are 32-bit)"),
    ("trainer.limit_batches", _optional(_int_at_least(1)), "null or an integer >= 1"),
    ("trainer.num_threads", _optional(_int_at_least(1)), "null or an integer >= 1"),
    ("trainer.log_every_n_steps", _int_at_least(1), "an integer >= 1"),
    ("trainer.prepare_chunk", _int_at_least(0), "an integer >= 0 (0: batch by batch)"),
    ("trainer.amp", lambda v: isinstance(v, bool) or v == "auto", "true, false or auto"),
    ("trainer.monitor_mode", lambda v: v in ("min", "max"), "min or max"),
    ("trainer.early_stopping.mode", lambda v: v in ("min", "max"), "min or max"),
    ("trainer.early_stopping.patience", _int_at_least(1), "an integer >= 1 (epochs without improvement)"),
    (
        "trainer.early_stopping.min_delta",
        _number(lambda v: v >= 0),
        "a number >= 0 (the smallest gain that counts as an improvement)",
    ),
    *(
        (f"trainer.{key}", _boolean, BOOLEAN)
        for key in (
            "deterministic",
            "eval_at_start",
            "evaluate_at_end",
            "resume",
            "resume_allow_changes",
            "channels_last",
            "compile",
            "early_stopping.enabled",
            "early_stopping.restore_best",
        )
    ),
    ("dataset.val_fraction", _number(lambda v: 0 <= v < 1), "a fraction in [0, 1)"),
    ("dataset.num_workers", _int_at_least(0), "an integer >= 0"),
    ("dataset.image_size", _optional(_int_at_least(1)), "null or an integer >= 1 (pixels)"),
    ("dataset.num_classes", _int_at_least(1), "an integer >= 1"),
    ("dataset.channels", _int_at_least(1), "an integer >= 1"),
    ("dataset.split_seed", _seed, f"an integer from 0 to {MAX_SEED} (2**32 - 1)"),
    ("dataset.normalize", _boolean, BOOLEAN),
    ("optimizer.lr", _number(lambda v: v > 0), "a finite number > 0, e.g. 0.001"),
    ("scheduler.interval", lambda v: v in ("epoch", "step"), "epoch or step"),
]
# Keys only some configs have (arguments of some optimisers and schedulers, the data sets' image caps):
# checked where present.
ARGUMENT_RULES: list[tuple[str, Callable[[Any], bool], str]] = [
    ("optimizer.weight_decay", _optional(_number(lambda v: v >= 0)), "a number >= 0"),
    ("optimizer.momentum", _optional(_number(lambda v: 0 <= v < 1)), "a number in [0, 1)"),
    ("optimizer.betas", _pair_of_fractions, "a pair of numbers in [0, 1), e.g. [0.9, 0.999]"),
    ("optimizer.eps", _number(lambda v: v > 0), "a number > 0"),
    ("scheduler.build.step_size", _int_at_least(1), "an integer >= 1 (epochs between decays)"),
    ("scheduler.build.gamma", _number(lambda v: v > 0), "a number > 0 (the lr's factor per decay)"),
    ("scheduler.build.max_lr", _number(lambda v: v > 0), "a number > 0, e.g. ${optimizer.lr}"),
    ("scheduler.build.T_max", _int_at_least(1), "an integer >= 1"),
    ("scheduler.build.eta_min", _number(lambda v: v >= 0), "a number >= 0"),
    ("logger.mlflow.log_checkpoints", _boolean, BOOLEAN),
    *(
        (f"dataset.{key}", _optional(_int_at_least(1)), "null (all images) or an integer >= 1")
        for key in ("max_eval", "max_train", "max_test")
    ),
]
# Keys no config file sets but code reads when present (`+dataset.max_eval=2000`).
OPTIONAL_KEYS = frozenset({"dataset.max_eval", "dataset.monitor", "dataset.max_train", "dataset.max_test"})
# Steps per epoch the dry run of a per-step schedule takes before the data is read (at most
# trainer.limit_batches); build_run steps it through again with the real count.
DRY_STEPS_PER_EPOCH = 50
MAX_DRY_STEPS = 10_000
_ABSENT = object()


def validate(cfg: DictConfig, overrides: Iterable[str] = ()) -> None:
    """Raise ConfigError naming the first key whose value is out of range, and what is allowed."""
    check_added_keys(cfg, overrides)
    for rules, required in ((RULES, True), (ARGUMENT_RULES, False)):
        for key, ok, allowed in rules:
            value = OmegaConf.select(cfg, key, default=_ABSENT)
            if value is _ABSENT and not required:
                continue
            value = None if value is _ABSENT else value
            if not ok(value):
                raise ConfigError(f"{key}={_shown(value)} is not allowed: it must be {allowed}.")
    check_optimizer_and_schedule(cfg)
    check_monitor(cfg, "trainer.monitor", cfg.trainer.monitor)
    check_early_stopping(cfg)
    make_task(cfg.dataset.task).check_augmentation(cfg.augmentation, cfg.dataset.name)
    check_logger(cfg)


def check_logger(cfg: DictConfig) -> None:
    """logger=mlflow needs MLflow installed: said before any work, with the extra to install."""
    from cnnlab.engine.mlflow_log import client_for, settings_of

    settings = settings_of(cfg)
    if settings is not None:
        client_for(str(settings.tracking_uri))


def check_monitor(cfg: DictConfig, key: str, monitor: str) -> None:
    """A monitored metric must be one the run records, and a val_ one needs a validation split."""
    metric = cfg.dataset.metric
    allowed_monitors = [f"{s}_{m}" for s in ("train", "val", "test") for m in ("loss", metric)]
    if monitor not in allowed_monitors:
        raise ConfigError(
            f"{key}={monitor!r} is not a metric this run records; use one of {allowed_monitors}."
        )
    if monitor.startswith("val_") and cfg.dataset.val_fraction == 0:
        raise ConfigError(
            f"{key}={monitor!r} needs a validation split but dataset.val_fraction=0; "
            f"set dataset.val_fraction (e.g. 0.1) or monitor a train_ metric."
        )


def check_early_stopping(cfg: DictConfig) -> None:
    """Early stopping may not look at the test split (that would tune on it), and restoring the best
    weights restores checkpoints/best.pt, so its monitor must be trainer.monitor."""
    es = cfg.trainer.early_stopping
    if not es.enabled:
        return
    check_monitor(cfg, "trainer.early_stopping.monitor", es.monitor)
    if es.monitor.startswith("test_"):
        raise ConfigError(
            f"trainer.early_stopping.monitor={es.monitor!r} would stop on the test split, which then no "
            "longer measures unseen data; monitor a val_ metric (dataset.val_fraction > 0 holds one out) "
            "or the train loss (trainer.early_stopping.monitor=train_loss)."
        )
    if es.restore_best and (es.monitor, es.mode) != (cfg.trainer.monitor, cfg.trainer.monitor_mode):
        raise ConfigError(
            f"trainer.early_stopping.restore_best=true restores checkpoints/best.pt, the best epoch by "
            f"trainer.monitor={cfg.trainer.monitor!r} ({cfg.trainer.monitor_mode}), but early stopping "
            f"watches {es.monitor!r} ({es.mode}); set trainer.monitor={es.monitor} or "
            "trainer.early_stopping.restore_best=false."
        )


def _shown(value: Any) -> str:
    return repr(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)


def check_added_keys(cfg: DictConfig, overrides: Iterable[str]) -> None:
    """Refuse a `+key=value` that nothing reads (a typo such as +trainer.epoch=3), naming the close match.

    A `+` key counts as read when it picks a config group (+budget=smoke), is an argument of a
    `_target_` (the class checks its own arguments), is referenced by an interpolation, or is one of
    the OPTIONAL_KEYS the engine looks up.
    """
    raw = OmegaConf.to_container(cfg, resolve=False)
    known = [k for k in flatten(raw) if not k.startswith("hydra.")]
    interpolated = " ".join(str(v) for v in _leaf_values(raw) if isinstance(v, str) and "${" in v)
    for override in overrides:
        if not override.startswith("+"):
            continue
        key, _ = split_override(override)
        if key.startswith(("hydra", "paths.")) or (CONF_DIR / key.split("/")[0]).is_dir():
            continue
        if key in OPTIONAL_KEYS or "${" + key + "}" in interpolated or _under_target(cfg, key):
            continue
        candidates = [k for k in [*known, *OPTIONAL_KEYS] if k != key]
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(
            f"{override} adds the key {key}, which no part of cnnlab reads, so it would change nothing; "
            f"{hint}Drop the `+` to set an existing key (see --cfg job for the composed config)."
        )


def _leaf_values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for value in node.values() for v in _leaf_values(value)]
    if isinstance(node, list):
        return [v for value in node for v in _leaf_values(value)]
    return [node]


def _under_target(cfg: DictConfig, key: str) -> bool:
    """Whether `key` sits directly in a node with a `_target_` (it becomes a constructor argument)."""
    parent = key.rpartition(".")[0]
    node = OmegaConf.select(cfg, parent, default=None) if parent else None
    return isinstance(node, DictConfig) and "_target_" in node


def check_optimizer_and_schedule(cfg: DictConfig, steps_per_epoch: int | None = None) -> None:
    """Build the optimiser on a dummy parameter and step the schedule through the whole run, so a bad
    argument or a schedule whose lr turns negative, infinite or divides by zero fails before any work.
    A per-step schedule is stepped `steps_per_epoch` times an epoch: the training loader's length once
    the data is read, before that DRY_STEPS_PER_EPOCH (or trainer.limit_batches when fewer)."""
    optimizer = _dry_call(
        build(cfg.optimizer, key="optimizer"), "optimizer", [torch.nn.Parameter(torch.zeros(1))]
    )
    spec = cfg.scheduler.get("build")
    if spec is None:
        return
    per_step = cfg.scheduler.interval == "step"
    if steps_per_epoch is None:
        steps_per_epoch = min(DRY_STEPS_PER_EPOCH, cfg.trainer.limit_batches or DRY_STEPS_PER_EPOCH)
    extra = {"steps_per_epoch": steps_per_epoch} if per_step else {}
    span = (
        f" (the schedule spans trainer.epochs={cfg.trainer.epochs} x {steps_per_epoch} batches per epoch; "
        "a schedule in phases needs enough steps for each: raise trainer.epochs or trainer.limit_batches)"
        if per_step
        else ""
    )
    scheduler = _dry_call(
        build(spec, key="scheduler.build"), "scheduler.build", optimizer, note=span, **extra
    )
    steps = min(cfg.trainer.epochs * (steps_per_epoch if per_step else 1), MAX_DRY_STEPS)
    target = spec.get("_target_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": nothing trains here
        for step in range(steps):
            lr = optimizer.param_groups[0]["lr"]
            if not (isinstance(lr, float | int) and math.isfinite(lr) and lr >= 0):
                raise ConfigError(
                    f"scheduler={cfg.scheduler.get('name', target)} makes the learning rate {lr!r} at "
                    f"{'step' if per_step else 'epoch'} {step + 1}; a learning rate must be a finite "
                    f"number >= 0. Check scheduler.build's arguments ({_shown(spec)})."
                )
            try:
                scheduler.step()
            except (ArithmeticError, TypeError, ValueError) as error:
                raise ConfigError(
                    f"scheduler.build ({target}) fails when stepped at {'step' if per_step else 'epoch'} "
                    f"{step + 1}: {type(error).__name__}: {error}{span}. "
                    f"Check its arguments ({_shown(spec)})."
                ) from None


def _dry_call(partial: Callable[..., Any], key: str, *args: Any, note: str = "", **kwargs: Any) -> Any:
    """Call a `_partial_` config's object with its remaining arguments; a complaint is a ConfigError."""
    try:
        return partial(*args, **kwargs)
    except (TypeError, ValueError, ArithmeticError) as error:
        raise ConfigError(
            f"{key} ({getattr(partial, 'func', partial).__name__}) rejects its arguments: {error}{note}. "
            f"Fix {key}.<argument> (print the config with --cfg job)."
        ) from None
