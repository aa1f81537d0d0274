"""The `hydra/sweeper=optuna` sweeper (conf/hydra/sweeper/optuna.yaml): Hydra's sweeper interface around
cnnlab.sweep.optuna_search, which holds the search. Hydra imports every hydra_plugins module at start-up,
so Optuna is imported only when a search sets up."""

from __future__ import annotations

import logging
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger("cnnlab.sweep")


class OptunaSweeper(Sweeper):
    """Configured as _target_ in conf/hydra/sweeper/optuna.yaml; Hydra passes its keys, with the sampler
    and pruner already instantiated."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.search: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from cnnlab.errors import ConfigError
        from cnnlab.sweep.jobs import available_cores
        from cnnlab.sweep.optuna_search import OptunaSearch, Settings

        launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        try:
            self.search = OptunaSearch(Settings.of(self.settings), config, launcher, available_cores())
        except ConfigError as error:
            _exit_with(error)

    def sweep(self, arguments: list[str]) -> Any:
        from cnnlab.errors import ConfigError

        try:
            return self.search.run(arguments)
        except ConfigError as error:
            _exit_with(error)


def _exit_with(error: Exception) -> None:
    """A setting the search cannot use: one paragraph and exit status 2, as cnnlab's other errors."""
    log.error("%s", error)
    raise SystemExit(2) from None
