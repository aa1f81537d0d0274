"""cnnlab from Python scripts and notebooks: what `cnnlab.train(...)` composes, how it runs a job as
Hydra would (.hydra/, train.log, each epoch's line shown in a terminal and in Jupyter alike) and the
Result it returns; and how `cnnlab.train` and `cnnlab.sweep`, modules, are also the functions.

train() itself lives in cnnlab/train.py beside the command line it mirrors, sweep() in
cnnlab/sweep/grid.py; this module imports neither.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import setup_globals
from hydra.errors import ConfigCompositionException, OverrideParseException
from omegaconf import DictConfig, OmegaConf, open_dict

from cnnlab.config.composition_errors import as_config_error
from cnnlab.config.paths import CONF_DIR
from cnnlab.engine.reopen import TrainedRun, load_run
from cnnlab.rundir.files import SUMMARY, read_summary

if TYPE_CHECKING:
    import pandas as pd

# Hydra's job log format, for the run dir's train.log; the lines shown while training are bare.
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


@dataclass
class Result:
    """A training run as its run dir holds it: summary.json, metrics.csv (one row per epoch)."""

    run_dir: Path
    summary: dict[str, Any]
    metrics: pd.DataFrame

    @classmethod
    def read(cls, run_dir: str | Path) -> Result:
        import pandas as pd  # on use: a training process never imports pandas (tests/test_speed_paths.py)

        run_dir = Path(run_dir)
        metrics_csv = run_dir / "metrics.csv"
        metrics = (
            pd.read_csv(metrics_csv, float_precision="round_trip")
            if metrics_csv.is_file()
            else pd.DataFrame()
        )
        summary = read_summary(run_dir)
        if summary is None:
            raise FileNotFoundError(f"{run_dir / SUMMARY} does not exist: {run_dir} is not a run dir")
        return cls(run_dir, summary, metrics)

    def load(self, checkpoint: str = "final", device: str = "cpu") -> TrainedRun:
        """The trained model (eval mode) with its config: `last`, `best`, or `final` (the weights the run
        ended with: its best epoch's when early stopping restored them)."""
        return load_run(self.run_dir, map_location=device, checkpoint=checkpoint)


def compose_train(overrides: list[str]) -> DictConfig:
    """conf/train.yaml composed as the command line would (with the hydra node, its run dir resolved);
    a misspelt option or key is a ConfigError paragraph."""
    setup_globals()  # Hydra's ${now:...}, which the default run and sweep dirs use
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="train"):
            cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    except (ConfigCompositionException, OverrideParseException) as error:
        raise as_config_error(error, "cnnlab.train") from None
    with open_dict(cfg):
        cfg.hydra.run.dir = str(cfg.hydra.run.dir)
        cfg.hydra.sweep.dir = str(cfg.hydra.sweep.dir)
    return cfg


@contextlib.contextmanager
def as_hydra_job(cfg: DictConfig, run_dir: Path) -> Iterator[DictConfig]:
    """What Hydra does around a job, for a run started from Python: run_dir/.hydra/ (config, hydra,
    overrides), HydraConfig set (for `${hydra:...}`), log lines into run_dir/train.log and, unless the
    caller's logging already shows them, onto stdout (a notebook cell's output). Yields the job's
    config, without the hydra node."""
    hydra_node = cfg.hydra
    with open_dict(cfg):
        hydra_node.runtime.output_dir = str(run_dir.absolute())
        job = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    saved = run_dir / ".hydra"
    saved.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(job, saved / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": hydra_node}), saved / "hydra.yaml")
    OmegaConf.save(hydra_node.overrides.task, saved / "overrides.yaml")
    hydra_config, previous = HydraConfig.instance(), HydraConfig.instance().cfg
    hydra_config.set_config(cfg)
    try:
        with _logging_to(run_dir / "train.log"):
            yield job
    finally:
        hydra_config.cfg = previous


@contextlib.contextmanager
def _logging_to(log_file: Path) -> Iterator[None]:
    logger = logging.getLogger("cnnlab")
    handlers: list[logging.Handler] = [logging.FileHandler(log_file)]
    handlers[0].setFormatter(logging.Formatter(LOG_FORMAT))
    if not logger.hasHandlers():
        handlers.append(logging.StreamHandler(sys.stdout))
    level = logger.level
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(level)


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Calling the module `module_name` calls `function`. `cnnlab.train` and `cnnlab.sweep` are modules
    (`python -m cnnlab.train`; importing a submodule sets the package's attribute to it, whatever was
    there before) and, as the Python API, functions: the module is what answers the call."""

    class CallableModule(types.ModuleType):
        __call__ = staticmethod(function)

    sys.modules[module_name].__class__ = CallableModule
