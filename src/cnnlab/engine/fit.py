"""A whole run: build it from config (engine/run.py), train epoch by epoch, and leave
metrics.csv, summary.json, TensorBoard events and checkpoints/last.pt in the run dir whatever happens;
checkpoints/best.pt holds the epoch with the best monitored metric, and a completed classification
run is evaluated on its test split (engine/evaluation.py)."""

from __future__ import annotations

import logging
import math
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from cnnlab.config.overrides import quoted_value
from cnnlab.data.datamodule import class_names
from cnnlab.engine.checkpoint import (
    check_resume_config,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from cnnlab.engine.device import resolve_device
from cnnlab.engine.early_stopping import (
    DIVERGED,
    FAILED,
    INTERRUPTED,
    MAX_EPOCHS,
    PLATEAU,
    EarlyStopping,
    early_stopping_from,
)
from cnnlab.engine.epoch_hooks import EpochHook, Stop, first_stop
from cnnlab.engine.evaluation import EVALUATION_DIR, evaluate_split
from cnnlab.engine.inference import INFERENCE_KEY, inference_record
from cnnlab.engine.interrupts import sigint_deferred
from cnnlab.engine.loop import Diverged, current_lr
from cnnlab.engine.mlflow_log import tracker_for
from cnnlab.engine.run import Run, build_run
from cnnlab.engine.tensorboard_log import TensorBoardLog, hparams_of, remove_events
from cnnlab.errors import CheckpointError, ConfigError, quoted
from cnnlab.rundir import status as statuses
from cnnlab.rundir.files import (
    METRICS,
    SUMMARY,
    MetricsCSV,
    metric_columns,
    write_resolved_config,
    write_summary,
)
from cnnlab.rundir.lock import now, process_record

log = logging.getLogger(__name__)
# What resuming reads from checkpoints/last.pt (the scheduler's state is None for a run without one).
RESUME_KEYS = ("model", "optimizer", "scheduler", "epoch", "rng", "wall_s")


def fit(
    cfg: DictConfig, run_dir: Path, overrides: list[str], hooks: Sequence[EpochHook] = ()
) -> dict[str, Any]:
    """Train as configured in run_dir (made by the lock train_run holds) and return the summary (also
    written to run_dir/summary.json); `hooks` see every epoch's row and may end the run (an Optuna
    trial's pruner)."""
    start = time.perf_counter()
    trainer = cfg.trainer
    if trainer.num_threads:
        torch.set_num_threads(trainer.num_threads)
    device = resolve_device(trainer.device)
    run = build_run(cfg, device)
    stopper = early_stopping_from(cfg)
    log.info(startup_line(cfg, run, run_dir))

    ckpt_path = run_dir / "checkpoints" / "last.pt"
    best_path = run_dir / "checkpoints" / "best.pt"
    first_epoch, prior_wall, best, initial = 0, 0.0, None, None
    if trainer.resume and ckpt_path.exists():
        first_epoch, prior_wall, best, initial = resume(run, ckpt_path, stopper)
        log.info("resuming %s after epoch %d with the overrides %s", run_dir, first_epoch, overrides)
    elif trainer.resume:
        log.info(
            "trainer.resume=true but %s has no checkpoints/last.pt: starting afresh (to continue a run, "
            "name its dir: hydra.run.dir=<run dir> trainer.resume=true)",
            run_dir,
        )
    if first_epoch == 0:
        forget_previous_run(run_dir)

    resolved = OmegaConf.to_container(cfg, resolve=True)  # once: config.yaml, HParams, every checkpoint
    inference = inference_record(run.data, run.task.name, class_names(cfg) if run.task.has_classes else None)
    tracker = tracker_for(cfg, run_dir, resuming=first_epoch > 0)  # logger=mlflow; before any file
    metrics = MetricsCSV(run_dir / METRICS, metric_columns(run.task.metric), first_epoch)
    write_resolved_config(run_dir, cfg)
    tb = TensorBoardLog(run_dir, purge_step=first_epoch + 1 if first_epoch else None)
    tb.start_session(hparams_of(resolved))
    if tracker is not None:
        tracker.params(hparams_of(resolved))
    data = run.data
    summary: dict[str, Any] = {
        "name": cfg.name,
        "status": statuses.RUNNING,
        "task": run.task.name,
        "monitor": trainer.monitor,
        "n_params": run.n_params,
        "input_shape": list(data.input_shape),
        "images": data.sizes(),
        "device": str(device),
        "bf16_autocast": run.amp,
        "overrides": overrides,
        "run_dir": str(run_dir),
        **process_record(),  # pid, host and heartbeat: a run whose process is gone reads as `died`
    }
    for hook in hooks:
        summary |= hook.record()
    if initial is not None:
        summary["initial"] = initial
    if data.sample_note:
        summary["evaluation_sample"] = data.sample_note

    def checkpoint(epoch: int, improved: bool = False) -> None:
        """last.pt, and best.pt first when the monitored metric improved (one serialisation for both),
        so last.pt never records a best that best.pt lacks."""
        save_checkpoint(
            *((best_path, ckpt_path) if improved else (ckpt_path,)),
            **run.state_dict(),
            epoch=epoch,
            best=best,
            wall_s=prior_wall + time.perf_counter() - start,
            input_shape=list(data.input_shape),
            config=resolved,
            **{INFERENCE_KEY: inference},
            initial=summary.get("initial"),
            early_stopping=stopper.state_dict() if stopper else None,
        )

    def finish(status: str, stop_reason: str, message: str | None = None) -> dict[str, Any]:
        rows = metrics.rows
        final = rows[-1] if rows else {}
        if status == statuses.COMPLETED and restore_best and best is not None:
            run.model.load_state_dict(load_checkpoint(best_path, run.device)["model"])
            final = best["row"]
            summary["restored_epoch"] = int(best["epoch"])
            log.info("restored the weights of epoch %d (best %s)", best["epoch"], best["metric"])
        summary.update(
            status=status,
            stop_reason=stop_reason,
            epochs_completed=len(rows),
            final={k: v for k, v in final.items() if k != "epoch"},
            best=best,
            wall_s=prior_wall + time.perf_counter() - start,
        )
        if stopper is not None:
            summary["early_stopping"] = stopper.record()
        if message:
            summary["message"] = message
        write_summary(run_dir / SUMMARY, summary)
        tb.end_session(status, best, stop_reason, len(rows))
        tb.close()
        if tracker is not None and status != statuses.COMPLETED:  # a completed run is evaluated first
            tracker.end(summary)
        return summary

    restore_best = stopper is not None and trainer.early_stopping.restore_best
    stop_reason = MAX_EPOCHS
    stop: Stop | None = None

    if first_epoch == 0:
        if trainer.eval_at_start:
            summary["initial"] = initial_metrics(run)
            log.info("before training: %s", summary["initial"])
        checkpoint(0)
    write_summary(run_dir / SUMMARY, summary)
    epoch = first_epoch
    if first_epoch == trainer.epochs:
        log.warning(
            "%d epochs are already done, trainer.epochs=%d: nothing to train (raise trainer.epochs to go on)",
            first_epoch,
            trainer.epochs,
        )
    if stopper is not None and stopper.best_value is not None and stopper.update_is_due(first_epoch):
        stop_reason = PLATEAU  # the run had already stopped on its plateau before this resume
    try:
        for epoch in range(first_epoch, trainer.epochs if stop_reason == MAX_EPOCHS else first_epoch):
            lr = current_lr(run.optimizer)
            tick = time.perf_counter()
            train, seen = run.train_epoch(
                epoch, log_every=trainer.log_every_n_steps, desc=f"epoch {epoch + 1}/{trainer.epochs}"
            )
            epoch_s = time.perf_counter() - tick
            row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr}
            row |= {f"train_{k}": v for k, v in train.items()}
            row |= run.evaluate(("val", "test"))
            row |= {"epoch_s": epoch_s, "images_per_s": seen / epoch_s}
            with sigint_deferred():  # a Ctrl-C waits until the row and its checkpoint are both written
                metrics.append(row)
                tb.epoch(row)
                if tracker is not None:
                    tracker.epoch(row)
                for logger in run.epoch_loggers:
                    logger.log(run.model, epoch + 1, tb.writer, run_dir)
                previous, best = best, _better(best, row, trainer.monitor, trainer.monitor_mode)
                plateau = stopper is not None and stopper.update(row)
                log.info(_epoch_line(row, trainer.epochs))
                checkpoint(epoch + 1, improved=best is not previous)
                summary.update(epochs_completed=epoch + 1, heartbeat=now())
                write_summary(run_dir / SUMMARY, summary)
            stop = first_stop(tuple(hooks), row)
            if stop is not None:
                break
            if plateau:
                stop_reason = PLATEAU
                log.info(
                    "early stopping after epoch %d: %s has not improved by more than %g since epoch %d",
                    epoch + 1,
                    stopper.monitor,
                    stopper.min_delta,
                    stopper.best_epoch,
                )
                break
    except Diverged as error:
        lr = cfg.optimizer.get("lr")
        lower = f" (it is {lr:g}: try optimizer.lr={lr / 2:g})" if isinstance(lr, int | float) else ""
        message = (
            f"{error} in epoch {epoch + 1}; the run stopped. Lower the learning rate{lower}, or add a "
            "warm-up, a schedule or normalisation."
        )
        log.error(message)
        return finish(statuses.DIVERGED, DIVERGED, message)
    except KeyboardInterrupt:
        log.warning("interrupted in epoch %d; resume with: %s", epoch + 1, resume_command(run_dir))
        finish(statuses.INTERRUPTED, INTERRUPTED)
        raise
    except Exception as error:
        finish(statuses.FAILED, FAILED, f"{type(error).__name__}: {error}")
        raise
    if stop is not None:  # a hook ended the run: its files are complete, no end-of-run evaluation
        log.info(stop.message)
        summary.update(stop.record)
        return finish(stop.status, stop.reason, stop.message)
    summary = finish(statuses.COMPLETED, stop_reason)
    if trainer.evaluate_at_end:
        restored = summary.get("restored_epoch")
        evaluate_at_end(run, run_dir, restored or summary["epochs_completed"], "best" if restored else "last")
    if tracker is not None:
        tracker.end(summary)
    return summary


def startup_line(cfg: DictConfig, run: Run, run_dir: Path) -> str:
    """One line before the first epoch naming where the run writes and what it trains, so a log read
    through a pipe, nohup, Slurm or a notebook says it from the start (a progress bar shows only on a
    terminal)."""
    sizes = ", ".join(f"{split} {n:,}" for split, n in run.data.sizes().items())
    shape = run.data.shape_text()
    return (
        f"run dir {run_dir} | device {run.device}{' (bf16 autocast)' if run.amp else ''} | "
        f"data {cfg.dataset.name}: {sizes} images of {shape}"
        f"{' (val/test sampled: trainer.limit_batches)' if run.data.sample_note else ''} | "
        f"model {cfg.model.get('name', cfg.model.get('_target_'))}: {run.n_params:,} parameters | "
        f"up to {cfg.trainer.epochs} epochs"
    )


def forget_previous_run(run_dir: Path) -> None:
    """Before training afresh in a dir that held another run (`make run` twice): its best.pt,
    evaluations and TensorBoard events would be taken for this run's, and TensorBoard would draw both
    runs' curves as one (last.pt, metrics.csv and summary.json are rewritten anyway)."""
    (run_dir / "checkpoints" / "best.pt").unlink(missing_ok=True)
    shutil.rmtree(run_dir / EVALUATION_DIR, ignore_errors=True)
    remove_events(run_dir)


def evaluate_at_end(run: Run, run_dir: Path, epoch: int, checkpoint: str = "last") -> None:
    """The completed run's last weights (in memory) on its test split; a failure here is logged, never
    raised: the run and its files are complete, and `python -m cnnlab.evaluate` can redo it."""
    if not run.task.has_classes:
        log.info("no end-of-run evaluation: it is for classification runs, this is %s", run.task.name)
        return
    try:
        result = evaluate_split(run, run_dir, "test", checkpoint, epoch)
    except Exception as error:  # noqa: BLE001  (anything: the training run must stay completed)
        log.warning(
            "end-of-run evaluation failed (%s: %s); the run itself completed. Retry with "
            "python -m cnnlab.evaluate run=%s",
            type(error).__name__,
            error,
            run_dir,
        )
        return
    log.info("test accuracy %.4f per class and mistakes in %s", result["accuracy"], result["dir"])


def resume(
    run: Run, ckpt_path: Path, stopper: EarlyStopping | None = None
) -> tuple[int, float, dict | None, dict | None]:
    """Load the checkpoint's weights, optimiser, scheduler, early-stopping and RNG states into `run`,
    after checking that its config is this run's; returns the epochs done, the wall time spent, the
    best so far and the metrics measured before any step (trainer.eval_at_start), which summary.json
    keeps."""
    state = load_checkpoint(ckpt_path, run.device, required=RESUME_KEYS)
    if state["epoch"] > run.cfg.trainer.epochs:
        raise ConfigError(
            f"trainer.epochs={run.cfg.trainer.epochs}, but {ckpt_path} has {state['epoch']} epochs done: a "
            "resume cannot shorten a run (its metrics.csv would hold more epochs than its config says). "
            f"Leave trainer.epochs out to keep the run's own, give trainer.epochs>={state['epoch']}, or "
            "train a new run dir."
        )
    changed = check_resume_config(
        state.get("config") or {},
        OmegaConf.to_container(run.cfg, resolve=True),
        ckpt_path,
        allow=run.cfg.trainer.resume_allow_changes,
    )
    if changed:
        log.warning("resuming with changed settings (trainer.resume_allow_changes=true): %s", changed)
    try:
        run.load_state_dict(state)
        if stopper is not None:
            stopper.load_state_dict(state.get("early_stopping"))
        set_rng_state(state["rng"])
        epochs_done = int(state["epoch"])
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(
            f"{ckpt_path} does not fit this run ({quoted(error)}): it holds another model's weights or "
            "is not a whole checkpoint of `python -m cnnlab.train`. Put the run's own last.pt back, or train "
            "afresh in a new run dir."
        ) from None
    return epochs_done, state["wall_s"], state.get("best"), state.get("initial")


def resume_command(run_dir: Path) -> str:
    """The shell command that continues run_dir with its own settings (train.py takes them from its
    summary.json), with this interpreter, so it works as printed."""
    run_dir_override = shlex.quote(f"hydra.run.dir={quoted_value(str(run_dir.absolute()))}")
    return f"{shlex.quote(sys.executable)} -m cnnlab.train {run_dir_override} trainer.resume=true"


def initial_metrics(run: Run) -> dict[str, float]:
    """Loss and metric of the untrained net on every split, in eval mode (rdfia q17's "error at the
    start of the first epoch"): the train split is read through its loader, so as it is trained on (a
    loader's draws are a function of its seed and epoch, and a new one's epoch is 0)."""
    return run.evaluate(("train", "val", "test"))


def monitored_value(summary: dict[str, Any]) -> float:
    """The metric a sweeper optimises: the best monitored value, NaN when none was reached."""
    best = summary.get("best") or {}
    return float(best.get("value", math.nan))


def _better(best: dict | None, row: dict[str, Any], monitor: str, mode: str) -> dict | None:
    value = row.get(monitor)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return best
    if best is None or (value > best["value"] if mode == "max" else value < best["value"]):
        return {"metric": monitor, "value": value, "epoch": row["epoch"], "row": dict(row)}
    return best


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    parts = [f"epoch {int(row['epoch'])}/{epochs}"]
    for key, value in row.items():
        if key not in ("epoch", "lr", "epoch_s", "images_per_s") and value is not None:
            parts.append(f"{key} {value:.4f}")
    parts.append(f"{row['images_per_s']:.0f} img/s")
    return "  ".join(parts)
