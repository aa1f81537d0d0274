"""cnnlab: a Hydra-configured experiment runner for convolutional networks.

It also registers the `${cnnlab.<name>:...}` resolvers that conf/ uses. Each answer comes from the
module that owns it, imported on first use, so `import cnnlab` stays light (the report never imports
torch); they live here, at the top of the house, because they name answers from every floor.

From Python: cnnlab.train([overrides], run_dir=None) -> Result, cnnlab.sweep({key: values}),
cnnlab.load_run(run_dir, checkpoint="final"|"last"|"best"). They load on first use, so `import cnnlab` stays
light for the commands that need none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

from omegaconf import OmegaConf

from cnnlab.config.overrides import PLUMBING_KEYS

__version__ = "0.1.0"

# name -> the module that defines it; `train` and `sweep` are the modules themselves, which are callable.
_API = {
    "train": "cnnlab.train",
    "sweep": "cnnlab.sweep",
    "Result": "cnnlab.api",
    "SweepResult": "cnnlab.sweep.grid",
    "load_run": "cnnlab.engine.reopen",
}
__all__ = sorted(_API)


def _task_metric(task: str) -> str:
    """`dataset.metric`: what the named task scores (acc, psnr)."""
    return _task_attribute(task, "metric")


def _task_mode(task: str) -> str:
    """`dataset.metric_mode`: max when a higher metric is better, min when lower is."""
    return _task_attribute(task, "mode")


def _task_attribute(task: str, attribute: str) -> str:
    from cnnlab.engine.tasks import TASKS

    if task not in TASKS:  # validate() reports the bad dataset.task; resolving must not fail first
        return f"(dataset.task={task!r} is not one of {sorted(TASKS)})"
    return getattr(TASKS[task], attribute)


def _job_dirname(override_dirname: str, task: list[str] | None = None, sweep_dir: str | None = None) -> str:
    """A sweep job's subdir (hydra.sweep.subdir) from its overrides and the keys its sweep varies."""
    from cnnlab.sweep import jobs

    return jobs.job_dirname(override_dirname, None if task is None else list(task), sweep_dir)


def _plumbing_keys() -> list[str]:
    """hydra.job.config.override_dirname.exclude_keys: the keys left out of a sweep job's dir name."""
    return sorted(PLUMBING_KEYS)


_RESOLVERS = {
    "task_metric": _task_metric,
    "task_mode": _task_mode,
    "job_dirname": _job_dirname,
    "plumbing_keys": _plumbing_keys,
}


def _register() -> None:
    """Make every resolver above known to OmegaConf as `cnnlab.<name>`."""
    for name, function in _RESOLVERS.items():
        OmegaConf.register_new_resolver(f"cnnlab.{name}", function, replace=True)


_register()


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
    module = importlib.import_module(_API[name])
    return module if module.__name__ == f"cnnlab.{name}" else getattr(module, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
