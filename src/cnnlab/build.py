"""hydra.utils.instantiate (and call: a `_target_` may be a function) with the user's mistake surfaced
instead of Hydra's wrapped traceback."""

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
            f"Check its keys against {target}'s arguments (print the config with --cfg job)."
        ) from error


TRUSTED_TARGETS = ("cnnlab.", "torch.nn.")


def require_trusted_targets(spec: Any, source: str, where: str = "") -> None:
    """Refuse any `_target_` outside cnnlab and torch.nn in a config read from a file someone handed in,
    so that rebuilding a model from a copied run dir can never call arbitrary code."""
    if isinstance(spec, dict):
        target = spec.get("_target_")
        if target is not None and not str(target).startswith(TRUSTED_TARGETS):
            raise ConfigError(
                f"{source} names _target_: {target!r} at {where or 'its top level'}, which is neither a "
                f"cnnlab nor a torch.nn class; cnnlab rebuilds models from a run dir only from those "
                f"({', '.join(p + '*' for p in TRUSTED_TARGETS)}), so it did not build anything. "
                "Use a run dir written by `python -m cnnlab.train`, or rebuild the model from conf/ instead."
            )
        for key, value in spec.items():
            require_trusted_targets(value, source, f"{where}.{key}" if where else str(key))
    elif isinstance(spec, list):
        for i, value in enumerate(spec):
            require_trusted_targets(value, source, f"{where}[{i}]")
