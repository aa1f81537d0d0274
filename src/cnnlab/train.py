"""Training entry point: `python -m cnnlab.train [group=option ...] [key=value ...]`.

Hydra composes the config; `run` does the work and is what tests and sweeps call.
"""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from cnnlab.composition_errors import reports_composition_errors
from cnnlab.engine.fit import fit, monitored_value
from cnnlab.engine.run_lock import hold_run_dir
from cnnlab.errors import CnnlabError, disk_full_as_error
from cnnlab.sweep import run_sweep_job
from cnnlab.tensorboard_root import refresh_after_run
from cnnlab.validate import validate

log = logging.getLogger("cnnlab.train")


def run(
    cfg: DictConfig, run_dir: Path | None = None, overrides: list[str] | None = None, *, locked: bool = False
) -> float:
    """Train one configuration; returns the monitored metric (best over epochs) for sweepers."""
    return monitored_value(train_run(cfg, run_dir, overrides, locked=locked))


def train_run(
    cfg: DictConfig, run_dir: Path | None = None, overrides: list[str] | None = None, *, locked: bool = False
) -> dict:
    """Validate, then train in run_dir (Hydra's run dir by default) holding its lock (`locked`: the caller
    holds it already, as a sweep job does); the summary."""
    if run_dir is None:
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        overrides = list(hydra_cfg.overrides.task)
    validate(cfg, overrides or [])
    with nullcontext() if locked else hold_run_dir(run_dir), disk_full_as_error(run_dir):
        summary = fit(cfg, run_dir, overrides or [])
    if summary["status"] == "completed":
        log.info("results in %s  (tensorboard --logdir %s)", run_dir, run_dir)
    return summary


@reports_composition_errors("python -m cnnlab.train")
@hydra.main(config_path="../../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run_sweep_job(cfg, partial(run, locked=True))
    try:
        summary = train_run(cfg)
    except CnnlabError as error:
        log.error("%s", error)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    refresh_after_run(Path(summary["run_dir"]), Path(cfg.paths.output_dir))
    if summary["status"] == "diverged":
        sys.exit(1)  # its message is logged; a script or CI running it alone must notice
    return monitored_value(summary)


if __name__ == "__main__":
    main()
