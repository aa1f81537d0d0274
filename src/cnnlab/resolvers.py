"""The `${cnnlab.<name>:...}` resolvers that conf/ uses, registered when cnnlab is imported.

Each answer comes from the module that owns it, imported on first use, so `import cnnlab` stays
light (the report, for one, never imports torch).
"""

from __future__ import annotations

from omegaconf import OmegaConf

from cnnlab.overrides import PLUMBING_KEYS


def task_metric(task: str) -> str:
    """`dataset.metric`: what the named task scores (acc, psnr)."""
    return _task_attribute(task, "metric")


def task_mode(task: str) -> str:
    """`dataset.metric_mode`: max when a higher metric is better, min when lower is."""
    return _task_attribute(task, "mode")


def _task_attribute(task: str, attribute: str) -> str:
    from cnnlab.engine.tasks import TASKS

    if task not in TASKS:  # validate() reports the bad dataset.task; resolving must not fail first
        return f"(dataset.task={task!r} is not one of {sorted(TASKS)})"
    return getattr(TASKS[task], attribute)


def job_dirname(override_dirname: str, task: list[str] | None = None, sweep_dir: str | None = None) -> str:
    """A sweep job's subdir (hydra.sweep.subdir) from its overrides and the keys its sweep varies."""
    from cnnlab.sweep import jobs

    return jobs.job_dirname(override_dirname, None if task is None else list(task), sweep_dir)


def plumbing_keys() -> list[str]:
    """hydra.job.config.override_dirname.exclude_keys: the keys left out of a sweep job's dir name."""
    return sorted(PLUMBING_KEYS)


RESOLVERS = {
    "task_metric": task_metric,
    "task_mode": task_mode,
    "job_dirname": job_dirname,
    "plumbing_keys": plumbing_keys,
}


def register() -> None:
    """Make every resolver above known to OmegaConf as `cnnlab.<name>`."""
    for name, function in RESOLVERS.items():
        OmegaConf.register_new_resolver(f"cnnlab.{name}", function, replace=True)
