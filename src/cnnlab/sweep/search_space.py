"""An Optuna search space from Hydra's override syntax, as conf/hparams_search/*.yaml write it under
hydra.sweeper.params (and as the command line may add): `interval(a, b)` a float (Hydra reads its ends
as floats; `tag(int, interval(a, b))` an integer), `tag(log, interval(a, b))` the same on a log scale,
`choice(a, b)` or `a,b` a categorical, `range(a, b, step)` evenly spaced values with b excluded as in
Hydra's grids; a plain value is fixed for every trial."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from cnnlab.errors import ConfigError


def search_space(
    params: Mapping[str, Any] | None, arguments: list[str]
) -> tuple[dict[str, BaseDistribution], list[str]]:
    """(the distributions by key, the fixed overrides every trial gets): hydra.sweeper.params first, then
    the command line's overrides, a later one of a key replacing the earlier."""
    lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(lines):
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            fixed[key] = override.input_line
    return space, list(fixed.values())


def _values(override: Override) -> list[Any]:
    values = list(override.sweep_iterator(transformer=Transformer.encode))
    odd = [v for v in values if not isinstance(v, str | int | float | bool | type(None))]
    if odd:
        raise ConfigError(
            f"{override.input_line}: a searched key takes numbers, strings, booleans or null, not {odd[0]!r}."
        )
    return values


def distribution(override: Override) -> BaseDistribution:
    """One sweep override as the Optuna distribution that draws the same kind of values."""
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(_values(override))
    if override.is_range_sweep():
        values = [float(v) for v in override.sweep_iterator()]
        if not values:
            raise ConfigError(f"{override.input_line} holds no value (range's stop is excluded).")
        step = float(value.step)
        if all(isinstance(x, int) for x in (value.start, value.stop, value.step)):
            return IntDistribution(int(values[0]), int(values[-1]), step=int(step))
        return FloatDistribution(values[0], values[-1], step=step if len(values) > 1 else None)
    if override.is_interval_sweep():
        start, end, log = value.start, value.end, "log" in value.tags
        if not start < end or (log and start <= 0):
            raise ConfigError(
                f"{override.input_line} is not a range Optuna can draw from: interval(low, high) needs "
                f"low < high{', both above 0 on a log scale' if log else ''}."
            )
        if "int" in value.tags:
            return IntDistribution(math.ceil(start), math.floor(end), log=log)
        return FloatDistribution(float(start), float(end), log=log)
    raise ConfigError(f"{override.input_line}: the Optuna sweeper takes choice, range and interval sweeps.")


def grid(space: dict[str, BaseDistribution]) -> dict[str, list[Any]]:
    """Every value of each key, for hydra/sweeper/sampler=grid: only finite sets have them."""
    values: dict[str, list[Any]] = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[key] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            values[key] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            n = round((dist.high - dist.low) / dist.step)
            values[key] = [dist.low + i * dist.step for i in range(n + 1)]
        else:
            raise ConfigError(
                f"hydra/sweeper/sampler=grid needs a finite set of values for {key}, which is searched over "
                f"{dist}: give it as choice(...) or range(...), not interval(...), or pick another sampler "
                "(tpe, random, cmaes)."
            )
    return values


def grid_size(values: dict[str, list[Any]]) -> int:
    return math.prod(len(v) for v in values.values())
