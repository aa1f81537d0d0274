"""hydra.utils.instantiate (and call: a `_target_` may be a function) with the user's mistake surfaced
instead of Hydra's wrapped traceback."""

from __future__ import annotations

import os
from collections.abc import Iterable
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


# What cnnlab builds from a run dir's config without being asked: its own classes and torch.nn.
TRUSTED_TARGETS = ("cnnlab.", "torch.nn.")
# More prefixes a user trusts on purpose (their own models), comma-separated: torchvision.models.,mypkg.
TRUST_ENV = "CNNLAB_TRUSTED_TARGETS"


def trusted_prefixes(extra: Iterable[str] | str | None = None) -> tuple[str, ...]:
    """The allow-list for configs read from run dirs: cnnlab's own, then $CNNLAB_TRUSTED_TARGETS, then
    `extra` (the `trusted_targets` of evaluate, lab and load_run). The default stays closed: nothing
    outside cnnlab and torch.nn unless a user names it."""
    if isinstance(extra, str):
        extra = extra.split(",")
    named = [*os.environ.get(TRUST_ENV, "").split(","), *(extra or ())]
    added = []
    for prefix in (str(p).strip() for p in named):
        if not prefix:
            continue
        if not prefix.rstrip(".") or not all(part.isidentifier() for part in prefix.rstrip(".").split(".")):
            raise ConfigError(
                f"trusted target prefix {prefix!r} (from trusted_targets or ${TRUST_ENV}) is not a dotted "
                "module path: name the package or class you trust, e.g. torchvision.models. or mypkg."
            )
        added.append(prefix)
    return (*TRUSTED_TARGETS, *dict.fromkeys(added))


def is_trusted(target: str, prefixes: Iterable[str]) -> bool:
    """`target` equals a prefix or lies under it as a module path (torch. never covers torchvision.)."""
    return any(target == p.rstrip(".") or target.startswith(p.rstrip(".") + ".") for p in prefixes)


def require_trusted_targets(
    spec: Any, source: str, where: str = "", trusted: tuple[str, ...] = TRUSTED_TARGETS
) -> None:
    """Refuse any `_target_` outside the allow-list `trusted` in a config read from a file someone handed
    in, so that rebuilding a model from a copied run dir never calls code nobody chose to trust."""
    if isinstance(spec, dict):
        target = spec.get("_target_")
        if target is not None and not is_trusted(str(target), trusted):
            raise ConfigError(
                f"{source} names _target_: {target!r} at {where or 'its top level'}, which is not on the "
                f"allow-list of targets cnnlab builds from a run dir ({', '.join(p + '*' for p in trusted)}),"
                " so it built nothing: a run dir someone hands you could otherwise run any code. If the run"
                " is yours and you trust that code (your own model, torchvision.models, ...), allow its "
                f"prefix on purpose: trusted_targets=[{_suggested(str(target))}] (cnnlab.evaluate, "
                f"cnnlab.export, cnnlab.lab), load_run(..., trusted_targets=[...]) in Python, or "
                f"{TRUST_ENV}={_suggested(str(target))} in the environment."
            )
        for key, value in spec.items():
            require_trusted_targets(value, source, f"{where}.{key}" if where else str(key), trusted)
    elif isinstance(spec, list):
        for i, value in enumerate(spec):
            require_trusted_targets(value, source, f"{where}[{i}]", trusted)


def _suggested(target: str) -> str:
    """The package of a target, as the prefix to trust: torchvision.models.resnet18 -> torchvision.models."""
    module = target.rpartition(".")[0]
    return f"{module}." if module else target
