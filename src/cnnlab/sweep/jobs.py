"""One job of a multirun: skip it when its run dir already holds the same completed config, resume it
when it stopped part-way, limit its threads to its share of the cores, and record a crash as `failed`
instead of taking the other jobs down with it."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from cnnlab.config.overrides import changed_settings, is_plumbing, split_override
from cnnlab.engine.epoch_hooks import EpochHook
from cnnlab.engine.fit import monitored_value
from cnnlab.engine.tensorboard_log import remove_events
from cnnlab.rundir.files import SUMMARY, RunFileError, read_config, read_metrics, read_summary, write_summary
from cnnlab.rundir.lock import DirBusy, hold_run_dir, run_status
from cnnlab.rundir.status import DIED, FAILED, FINISHED, RUNNING
from cnnlab.sweep.orphans import exit_if_orphaned, stop_when_parent_dies
from cnnlab.sweep.study import TRIAL_ENV

log = logging.getLogger("cnnlab.sweep")

MAX_DIRNAME = 200


# Written into the sweep dir when a multirun starts (sweep/callback.py): the keys it varies.
SWEPT_KEYS_FILE = ".swept_keys"


def job_dirname(override_dirname: str, task: list[str] | None = None, sweep_dir: str | None = None) -> str:
    """A job's sweep subdir, which TensorBoard shows as its run name: the job's overrides of the keys
    the sweep varies, in command-line order (all its overrides when the swept keys are not known).
    A dir named the older way, by all its overrides, is kept, so older sweeps still skip and resume.
    One path component, never empty, never too long."""
    everything = _one_component(override_dirname)
    swept = _read_swept_keys(Path(sweep_dir)) if sweep_dir else []
    varying = [o for o in task or [] if split_override(o)[0] in swept]
    if not varying:
        return everything
    name = _one_component(",".join(varying))
    older = Path(sweep_dir) / everything
    if not (Path(sweep_dir) / name).exists() and (older / SUMMARY).is_file():
        return everything
    return name


def swept_keys(hydra_cfg: DictConfig) -> list[str]:
    """The keys a multirun varies: its sweep overrides (`a=1,2`, `range(..)`, `choice(..)`, ...) and its
    sweeper's params (an Optuna search space), plumbing left out."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
    keys = [o.key_or_group for o in parsed if o.is_sweep_override()]
    keys += list(hydra_cfg.sweeper.get("params") or {})
    return [k for k in dict.fromkeys(keys) if not is_plumbing(k)]


def write_swept_keys(sweep_dir: Path, keys: list[str]) -> None:
    """Add `keys` to the sweep dir's record of swept keys, after those an earlier sweep into it recorded:
    a job's dir name then shows every key the dir's jobs differ in, whichever sweep ran it."""
    recorded = _read_swept_keys(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    keys = [*recorded, *(k for k in keys if k not in recorded)]
    (sweep_dir / SWEPT_KEYS_FILE).write_text("".join(f"{k}\n" for k in keys))


def _read_swept_keys(sweep_dir: Path) -> list[str]:
    path = sweep_dir / SWEPT_KEYS_FILE
    return path.read_text().split() if path.is_file() else []


def _one_component(override_dirname: str) -> str:
    name = re.sub(r"[/\\\s]+", "_", override_dirname).strip("._") or "default"
    if len(name) > MAX_DIRNAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[: MAX_DIRNAME - 11]}-{digest}"
    return name


def stored_config(run_dir: Path) -> dict[str, Any] | None:
    """The resolved config a run trained with, from the run's config.yaml (plain YAML: the skip check
    never unpickles a checkpoint); None when there is none, or none that reads (then its summary's
    overrides are all there is to judge it by)."""
    try:
        return read_config(run_dir)
    except RunFileError as error:
        log.warning("cannot read %s (%s): judging the run by its summary's overrides", error.path, error.what)
        return None


UNREADABLE: dict[str, Any] = {}  # what _read_summary returns for a summary.json that is not a run's summary


def _read_summary(run_dir: Path) -> dict[str, Any] | None:
    """run_dir's summary.json; None when there is none, UNREADABLE (with a warning naming it) when it is not
    a run summary (binary, cut short, a list)."""
    try:
        return read_summary(run_dir)
    except RunFileError as error:
        log.warning("%s is not a run summary (%s): training this job afresh", error.path, error.what)
        return UNREADABLE


def same_config(run_dir: Path, cfg: DictConfig, overrides: list[str], summary: dict[str, Any]) -> bool:
    """Whether run_dir was trained with this config (by its config.yaml; by its overrides without one).
    Either way plumbing (paths, device, threads, resuming) does not count."""
    stored = stored_config(run_dir)
    if stored is not None:
        return not changed_settings(stored, OmegaConf.to_container(cfg, resolve=True))

    def keep(items: list[str]) -> list[str]:
        return sorted(o for o in items if not is_plumbing(split_override(o)[0]))

    return keep(summary.get("overrides") or []) == keep(overrides)


def launcher_threads(hydra_cfg: DictConfig, cores: int) -> int | None:
    """Torch threads per job for launchers that run jobs side by side on one machine's cores."""
    launcher = hydra_cfg.launcher
    target = str(launcher.get("_target_", ""))
    if target.endswith("JoblibLauncher"):
        n_jobs = int(launcher.n_jobs)
        running = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
        return max(1, cores // running)
    cpus = launcher.get("cpus_per_task")
    return int(cpus) if cpus else None


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def record_failure(
    run_dir: Path, cfg: DictConfig, overrides: list[str], error: BaseException, started: float
) -> None:
    """Leave status `failed` and the error in summary.json, whether or not fit got to write one."""
    summary = _read_summary(run_dir) or {}
    # Written by fit during this attempt (1 s of slack for coarse file-system clocks)?
    fresh = summary and (run_dir / SUMMARY).stat().st_mtime >= started - 1.0
    if not (fresh and summary.get("status") == FAILED):
        summary = {
            "name": cfg.get("name"),
            "status": FAILED,
            "overrides": overrides,
            "run_dir": str(run_dir),
            "wall_s": time.time() - started,
            "message": f"{type(error).__name__}: {error}",
        }
    summary["traceback"] = "".join(traceback.format_exception(error))
    write_summary(run_dir / SUMMARY, summary)


def trial_hooks(hydra_cfg: DictConfig, cfg: DictConfig) -> tuple[EpochHook, ...]:
    """The job's Optuna trial as an epoch hook when an Optuna search launched it (the pruning and the
    per-epoch reports, cnnlab.sweep.pruning); nothing for any other sweep's job."""
    if TRIAL_ENV not in (hydra_cfg.job.get("env_set") or {}):
        return ()
    from cnnlab.sweep.pruning import trial_of_job  # Optuna: paid by searches only

    return (trial_of_job(hydra_cfg, cfg.trainer.monitor),)


def _replay_into_trial(hydra_cfg: DictConfig, cfg: DictConfig, run_dir: Path) -> None:
    """A finished run dir that an Optuna search asked for again: its epochs become the new trial's
    per-epoch values, so pruners and the dashboard see them as if it had trained."""
    try:
        for hook in trial_hooks(hydra_cfg, cfg):
            hook.replay(read_metrics(run_dir))
    except Exception as error:  # noqa: BLE001  (the run is finished; its trial just lacks its curve)
        log.warning("could not report %s's epochs to its trial: %s", run_dir, error)


class JobName(logging.Filter):
    """Starts each log line with `[<job dir name>] `, the job's TensorBoard run name, so the lines of
    jobs that run side by side (joblib) say which job wrote them; a record is named once even when
    several handlers (terminal, train.log) pass it on."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "cnnlab_job", None) is None:
            record.cnnlab_job = self.name
            record.msg = f"[{self.name.replace('%', '%%') if record.args else self.name}] {record.msg}"
        return True


@contextmanager
def lines_named(name: str) -> Iterator[None]:
    """Every handler of the root logger names the job while it runs (Hydra set them up for this job)."""
    handlers, named = list(logging.getLogger().handlers), JobName(name)
    for handler in handlers:
        handler.addFilter(named)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(named)


def run_sweep_job(cfg: DictConfig, train: Callable[..., float]) -> float:
    """The multirun task: skip, resume or train this job; never raise (but Ctrl-C) so others finish.
    Its log lines carry its name. `train(cfg, run_dir, overrides, hooks=...)` trains; hooks are the job's
    Optuna trial, if any.

    The job holds its dir's lock while it decides and trains, so a job whose dir another process holds is
    skipped without writing a file there, and a dir that another process completed meanwhile is skipped,
    not trained twice. `train` must not take the lock itself (train.run(..., locked=True))."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    with lines_named(run_dir.name):
        return _sweep_job(cfg, train, run_dir)


def _sweep_job(cfg: DictConfig, train: Callable[..., float], run_dir: Path) -> float:
    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    summary = _read_summary(run_dir)
    if summary and run_status(run_dir, summary) == RUNNING:  # the lock would refuse it: say so at once
        log.warning("skipping %s: another process (pid %s) is training it now", run_dir, summary.get("pid"))
        return math.nan
    if cfg.trainer.num_threads is None:
        cfg.trainer.num_threads = launcher_threads(hydra_cfg, available_cores())
    if str(hydra_cfg.launcher.get("_target_", "")).endswith("JoblibLauncher"):
        stop_when_parent_dies()
    try:
        with hold_run_dir(run_dir):
            done = _finished_value(run_dir, cfg, overrides)
            if done is not None:
                _replay_into_trial(hydra_cfg, cfg, run_dir)
                return done
            return _train_recording_failure(cfg, run_dir, overrides, train)
    except DirBusy as busy:
        log.warning("skipping this job, nothing written: %s", busy)
        return math.nan


def _finished_value(run_dir: Path, cfg: DictConfig, overrides: list[str]) -> float | None:
    """Under run_dir's lock: the monitored value when run_dir already finished with this config (the job is
    skipped); else None, with cfg.trainer.resume set to continue a run of this config that stopped part-way
    (a `running` one died: this process holds its lock) or to train afresh over another config's."""
    summary = _read_summary(run_dir)
    if summary is None:
        return None
    if summary is UNREADABLE or not same_config(run_dir, cfg, overrides, summary):
        if summary is not UNREADABLE:
            log.warning("%s holds a run of another config: training afresh over it", run_dir)
        remove_events(run_dir)
        cfg.trainer.resume = False
        return None
    status = str(summary.get("status"))
    if status in FINISHED:  # a rerun would only repeat it: skipped (a diverged run is a result, NaN)
        value = monitored_value(summary)
        log.info(
            "skipping %s: already %s with this config (%s=%s)", run_dir, status, summary.get("monitor"), value
        )
        return value
    if (run_dir / "checkpoints" / "last.pt").is_file():
        log.info(
            "%s stopped as %s: resuming from its checkpoint",
            run_dir,
            DIED if status == RUNNING else status,
        )
        cfg.trainer.resume = True
    return None


def _train_recording_failure(
    cfg: DictConfig,
    run_dir: Path,
    overrides: list[str],
    train: Callable[..., float],
) -> float:
    started = time.time()
    try:
        return train(cfg, run_dir, overrides, hooks=trial_hooks(HydraConfig.get(), cfg))
    except KeyboardInterrupt:
        exit_if_orphaned()
        raise
    except Exception as error:
        log.error("job failed: %s", error, exc_info=True)
        record_failure(run_dir, cfg, overrides, error, started)
        return math.nan
