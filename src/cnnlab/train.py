"""Training entry point: `python -m cnnlab.train [group=option ...] [key=value ...]`.

Hydra composes the config; `run` does the work and is what tests and sweeps call.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from cnnlab.engine.fit import fit, monitored_value
from cnnlab.errors import CnnlabError
from cnnlab.sweep import run_sweep_job
from cnnlab.validate import validate

log = logging.getLogger("cnnlab.train")


def run(cfg: DictConfig, run_dir: Path | None = None, overrides: list[str] | None = None) -> float:
    """Train one configuration; returns the monitored metric (best over epochs) for sweepers."""
    validate(cfg)
    if run_dir is None:
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        overrides = list(hydra_cfg.overrides.task)
    summary = fit(cfg, run_dir, overrides or [])
    if summary["status"] == "completed":
        log.info("results in %s  (tensorboard --logdir %s)", run_dir, run_dir)
    return monitored_value(summary)


@hydra.main(config_path="../../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run_sweep_job(cfg, run)
    try:
        return run(cfg)
    except CnnlabError as error:
        log.error("%s", error)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
