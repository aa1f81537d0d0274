"""Training entry point: `python -m cnnlab.train [group=option ...] [key=value ...]` (`cnnlab-train`),
and from Python `cnnlab.train([overrides], run_dir=None) -> Result`: this module is callable.

Hydra composes the config; `run` does the work and is what tests and sweeps call. A bare resume
(`hydra.run.dir=<dir> trainer.resume=true`) gets the run's own overrides first (overrides.resumed_overrides).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from cnnlab.api import Result, as_hydra_job, compose_train, make_callable
from cnnlab.compare.tensorboard_root import refresh_after_run
from cnnlab.config.composition_errors import reports_composition_errors
from cnnlab.config.overrides import resumed_overrides
from cnnlab.config.paths import CONF_DIR
from cnnlab.engine.epoch_hooks import EpochHook
from cnnlab.engine.fit import fit, monitored_value
from cnnlab.engine.validate import validate
from cnnlab.errors import CnnlabError, ConfigError, disk_full_as_error
from cnnlab.rundir.lock import hold_run_dir, remove_unused_run_dir
from cnnlab.rundir.status import COMPLETED, DIVERGED
from cnnlab.sweep import run_sweep_job

log = logging.getLogger("cnnlab.train")


def run(
    cfg: DictConfig,
    run_dir: Path | None = None,
    overrides: list[str] | None = None,
    hooks: Sequence[EpochHook] = (),
    *,
    locked: bool = False,
) -> float:
    """Train one configuration; returns the monitored metric (best over epochs) for sweepers."""
    return monitored_value(train_run(cfg, run_dir, overrides, hooks, locked=locked))


def train_run(
    cfg: DictConfig,
    run_dir: Path | None = None,
    overrides: list[str] | None = None,
    hooks: Sequence[EpochHook] = (),
    *,
    locked: bool = False,
) -> dict:
    """Validate, then train in run_dir (Hydra's run dir by default) holding its lock (`locked`: the caller
    holds it already, as a sweep job does); the summary. `hooks` see each epoch and may end the run (an
    Optuna trial's pruner, engine/epoch_hooks.py)."""
    if run_dir is None:
        if not HydraConfig.initialized():
            raise ConfigError(
                "train_run(cfg) without run_dir= takes Hydra's run dir, and no Hydra app is running: "
                "give run_dir=, or call cnnlab.train([overrides], run_dir=None), which picks one."
            )
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        overrides = list(hydra_cfg.overrides.task)
    validate(cfg, overrides or [])
    with nullcontext() if locked else hold_run_dir(run_dir), disk_full_as_error(run_dir):
        summary = fit(cfg, run_dir, overrides or [], hooks)
    if summary["status"] == COMPLETED:
        log.info("results in %s  (tensorboard --logdir %s)", run_dir, run_dir)
    return summary


@reports_composition_errors("python -m cnnlab.train")
@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run_sweep_job(cfg, partial(run, locked=True))
    try:
        summary = train_run(cfg)
    except CnnlabError as error:
        log.error("%s", error)
        remove_unused_run_dir(Path(HydraConfig.get().runtime.output_dir), Path(cfg.paths.output_dir))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    refresh_after_run(Path(summary["run_dir"]), Path(cfg.paths.output_dir))
    if summary["status"] == DIVERGED:
        sys.exit(1)  # its message is logged; a script or CI running it alone must notice
    return monitored_value(summary)


def cli() -> None:
    """`cnnlab-train` and `python -m cnnlab.train`: Hydra's main, after a bare resume command got its
    run's saved overrides (a sweep resumes each job itself)."""
    if not {"-m", "--multirun"} & set(sys.argv[1:]):
        try:
            sys.argv[1:] = resumed_overrides(sys.argv[1:])
        except CnnlabError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
    main()


def train(overrides: Sequence[str] = (), run_dir: str | Path | None = None) -> Result:
    """`python -m cnnlab.train <overrides>` from Python: trains in run_dir (default: Hydra's
    outputs/runs/<name>/<time>) showing each epoch's line, and returns the run's Result. Bad input raises
    ConfigError (one paragraph); after an interrupt, `trainer.resume=true` with the same run_dir continues
    the run with its own settings."""
    overrides = resumed_overrides(list(overrides), None if run_dir is None else Path(run_dir))
    cfg = compose_train(overrides)
    run_dir = Path(run_dir if run_dir is not None else cfg.hydra.run.dir)
    with as_hydra_job(cfg, run_dir) as job:
        train_run(job, run_dir, list(cfg.hydra.overrides.task))
    refresh_after_run(run_dir, Path(job.paths.output_dir))
    return Result.read(run_dir)


make_callable(__name__, train)

if __name__ == "__main__":
    cli()
