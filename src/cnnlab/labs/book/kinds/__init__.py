"""Every analysis kind a registry section may name by its `kind:`, one module each in this package,
each ending in `KIND = Kind(<name>, <draw>, <reads>)`: adding a kind is adding its module (and naming
it in a lab's registry); conf/lab/README.md lists them."""

from __future__ import annotations

import importlib
import pkgutil

from cnnlab.errors import ConfigError
from cnnlab.labs.book.kind import Kind, Spec


def _modules() -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for module in pkgutil.iter_modules(__path__):
        kind = importlib.import_module(f"{__name__}.{module.name}").KIND
        kinds[kind.name] = kind
    return kinds


KINDS = _modules()


def kind_of(spec: Spec, where: str = "") -> Kind:
    """The kind a spec names; a ConfigError naming the known ones otherwise."""
    name = spec.get("kind") if isinstance(spec, dict) else None
    if name not in KINDS:
        raise ConfigError(
            f"{where}: analysis {spec!r} names kind {name!r}, which is not an analysis kind; "
            f"use one of {sorted(KINDS)} (src/cnnlab/labs/book/kinds/)."
        )
    return KINDS[name]


def folders_read(spec: Spec, where: str = "") -> list[str]:
    """The recipe folders an analysis spec reads, as its kind declares them."""
    return kind_of(spec, where).reads(spec)
