"""hydra.utils.instantiate with the user's mistake surfaced instead of Hydra's wrapped traceback."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from cnnlab.errors import CnnlabError, ConfigError


def build(cfg: Any, *args: Any, key: str = "", **kwargs: Any) -> Any:
    """Instantiate `cfg`; a CnnlabError raised inside comes out as is, any other failure as a
    ConfigError naming the config key and the target's own complaint (e.g. an unknown argument)."""
    try:
        return instantiate(cfg, *args, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, CnnlabError):
            raise cause from None
        target = cfg.get("_target_", "?") if hasattr(cfg, "get") else "?"
        raise ConfigError(
            f"{key or 'a config'} could not be built (_target_: {target}): {cause or error}. "
            f"Check its keys against the class's arguments (print the config with --cfg job)."
        ) from error
