"""A whole run: build data, model and optimiser from config, train epoch by epoch, and leave
metrics.csv, summary.json, tb/ and checkpoints/last.pt in the run dir whatever happens."""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from cnnlab.build import build
from cnnlab.data.datamodule import build_data
from cnnlab.engine.checkpoint import (
    check_resume_config,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from cnnlab.engine.device import native_bf16, resolve_amp, resolve_device
from cnnlab.engine.interrupts import sigint_deferred
from cnnlab.engine.loop import Diverged, evaluate, step_lr, train_epoch
from cnnlab.engine.regression import GridLogger
from cnnlab.engine.run_files import (
    MetricsCSV,
    TensorBoardLog,
    metric_columns,
    write_resolved_config,
    write_summary,
)
from cnnlab.engine.run_lock import now, process_record
from cnnlab.engine.tasks import make_task
from cnnlab.models import build_model, count_parameters
from cnnlab.overrides import parse_overrides

log = logging.getLogger(__name__)


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def fit(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """Train as configured and return the summary (also written to run_dir/summary.json)."""
    start = time.perf_counter()
    trainer = cfg.trainer
    if trainer.num_threads:
        torch.set_num_threads(trainer.num_threads)
    device = resolve_device(trainer.device)
    amp = resolve_amp(trainer.amp, device)
    if amp and not native_bf16(device):
        log.warning(
            "trainer.amp=true on %s, which has no native bf16 (no AVX512-BF16/AMX on a CPU): bf16 "
            "autocast runs several times slower here; use trainer.amp=auto to take it only where it pays.",
            device,
        )
    seed_everything(trainer.seed, trainer.deterministic)
    run_dir.mkdir(parents=True, exist_ok=True)
    task = make_task(cfg.dataset.task)
    data = build_data(cfg, device)
    model = build_model(cfg.model, data.input_shape).to(device)
    n_params = count_parameters(model)
    if trainer.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build(cfg.optimizer, key="optimizer")(model.parameters())
    scheduler = None
    if cfg.scheduler.build is not None:
        extra = {"steps_per_epoch": len(data.train)} if cfg.scheduler.interval == "step" else {}
        scheduler = build(cfg.scheduler.build, key="scheduler.build")(optimizer, **extra)
    loss_fn = build(cfg.loss, key="loss")
    step_model = torch.compile(model) if trainer.compile else model

    ckpt_path = run_dir / "checkpoints" / "last.pt"
    first_epoch, prior_wall, best = 0, 0.0, None
    if trainer.resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, device)
        changed = check_resume_config(
            state.get("config") or {},
            OmegaConf.to_container(cfg, resolve=True),
            ckpt_path,
            allow=trainer.get("resume_allow_changes", False),
        )
        if changed:
            log.warning("resuming with changed settings (trainer.resume_allow_changes=true): %s", changed)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        first_epoch, prior_wall, best = state["epoch"], state["wall_s"], state["best"]
        log.info("resuming %s after epoch %d", run_dir, first_epoch)
    elif trainer.resume:
        log.info("trainer.resume=true but %s has no checkpoint: starting afresh", run_dir)

    write_resolved_config(run_dir, cfg)
    metrics = MetricsCSV(run_dir / "metrics.csv", metric_columns(task.metric), first_epoch)
    tb = TensorBoardLog(run_dir / "tb", purge_step=first_epoch + 1 if first_epoch else None)
    grids = GridLogger(data.fixed_batches, tb.writer, run_dir) if data.fixed_batches else None
    summary: dict[str, Any] = {
        "name": cfg.name,
        "status": "running",
        "task": data.task,
        "monitor": trainer.monitor,
        "n_params": n_params,
        "input_shape": list(data.input_shape),
        "device": str(device),
        "bf16_autocast": amp,
        "overrides": overrides,
        "run_dir": str(run_dir),
        **process_record(),  # pid, host and heartbeat: a run whose process is gone reads as `died`
    }

    def checkpoint(epoch: int) -> None:
        save_checkpoint(
            ckpt_path,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict() if scheduler is not None else None,
            epoch=epoch,
            best=best,
            wall_s=prior_wall + time.perf_counter() - start,
            input_shape=list(data.input_shape),
            config=OmegaConf.to_container(cfg, resolve=True),
        )

    def finish(status: str, message: str | None = None) -> dict[str, Any]:
        rows = metrics.rows
        summary.update(
            status=status,
            epochs_completed=len(rows),
            final={k: v for k, v in rows[-1].items() if k != "epoch"} if rows else {},
            best=best,
            wall_s=prior_wall + time.perf_counter() - start,
        )
        if message:
            summary["message"] = message
        write_summary(run_dir / "summary.json", summary)
        final = {k: v for k, v in summary["final"].items() if v is not None}
        tb.hparams(hparams_of(cfg, overrides), {**final, "n_params": n_params})
        tb.close()
        return summary

    if first_epoch == 0:
        if trainer.get("eval_at_start"):
            summary["initial"] = initial_metrics(step_model, data, loss_fn, task, device, amp)
            log.info("before training: %s", summary["initial"])
        checkpoint(0)
    write_summary(run_dir / "summary.json", summary)
    epoch = first_epoch
    try:
        for epoch in range(first_epoch, trainer.epochs):
            data.train.set_epoch(epoch)
            lr = step_lr(optimizer)
            tick = time.perf_counter()
            train, seen = train_epoch(
                step_model,
                data.train,
                loss_fn,
                optimizer,
                task,
                device=device,
                step_scheduler=scheduler if cfg.scheduler.interval == "step" else None,
                amp=amp,
                log_every=trainer.log_every_n_steps,
                desc=f"epoch {epoch + 1}/{trainer.epochs}",
            )
            epoch_s = time.perf_counter() - tick
            if scheduler is not None and cfg.scheduler.interval == "epoch":
                scheduler.step()
            row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr}
            row |= {f"train_{k}": v for k, v in train.items()}
            for split, loader in (("val", data.val), ("test", data.test)):
                if loader is not None:
                    result = evaluate(step_model, loader, loss_fn, task, device=device, amp=amp)
                    row |= {f"{split}_{k}": v for k, v in result.items()}
            row |= {"epoch_s": epoch_s, "images_per_s": seen / epoch_s}
            with sigint_deferred():  # a Ctrl-C waits until the row and its checkpoint are both written
                metrics.append(row)
                tb.epoch(row)
                if grids is not None:
                    grids.log(model, epoch + 1)
                best = _better(best, row, trainer.monitor, trainer.monitor_mode)
                log.info(_epoch_line(row, trainer.epochs))
                checkpoint(epoch + 1)
                summary.update(epochs_completed=epoch + 1, heartbeat=now())
                write_summary(run_dir / "summary.json", summary)
    except Diverged as error:
        message = (
            f"{error} in epoch {epoch + 1}; the run stopped. Lower the learning rate "
            f"(optimizer.lr={cfg.optimizer.get('lr')}) or add a schedule/normalisation."
        )
        log.error(message)
        return finish("diverged", message)
    except KeyboardInterrupt:
        log.warning(
            "interrupted in epoch %d; resume with: hydra.run.dir=%s trainer.resume=true",
            epoch + 1,
            run_dir,
        )
        finish("interrupted")
        raise
    except Exception as error:
        finish("failed", f"{type(error).__name__}: {error}")
        raise
    return finish("completed")


def initial_metrics(model, data, loss_fn, task, device: torch.device, amp: bool) -> dict[str, float]:
    """Loss and metric of the untrained net on every split, in eval mode (rdfia q17's "error at the
    start of the first epoch"): the train split is read through its loader, so as it is trained on."""
    data.train.set_epoch(0)
    loaders = {"train": data.train, "val": data.val, "test": data.test}
    return {
        f"{split}_{key}": value
        for split, loader in loaders.items()
        if loader is not None
        for key, value in evaluate(model, loader, loss_fn, task, device=device, amp=amp).items()
    }


def monitored_value(summary: dict[str, Any]) -> float:
    """The metric a sweeper optimises: the best monitored value, NaN when none was reached."""
    best = summary.get("best") or {}
    return float(best.get("value", math.nan))


def hparams_of(cfg: DictConfig, overrides: list[str]) -> dict[str, Any]:
    """The settings that tell runs apart in TensorBoard's HParams tab."""
    return {
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "lr": cfg.optimizer.get("lr"),
        "batch_size": cfg.trainer.batch_size,
        "epochs": cfg.trainer.epochs,
        "seed": cfg.trainer.seed,
        **parse_overrides(overrides),
    }


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
