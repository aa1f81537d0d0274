"""Per-epoch hooks: code outside the engine (an Optuna trial's pruner, cnnlab.sweep.pruning) that sees
each epoch's metrics row once it is saved and may end the run there, so fit needs no knowledge of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Stop:
    """A hook's decision to end the run after this epoch, and how summary.json records it."""

    status: str
    reason: str
    message: str
    record: dict[str, Any] = field(default_factory=dict)


class EpochHook(Protocol):
    def record(self) -> dict[str, Any]:
        """Keys summary.json holds from the start of the run (e.g. which trial it is)."""
        ...

    def after_epoch(self, row: dict[str, Any]) -> Stop | None:
        """Take an epoch's metrics row (checkpoint and metrics.csv already written); a Stop ends the run."""
        ...


def first_stop(hooks: list[EpochHook] | tuple[EpochHook, ...], row: dict[str, Any]) -> Stop | None:
    """Every hook sees the row; the first Stop wins."""
    stops = [stop for hook in hooks if (stop := hook.after_epoch(row)) is not None]
    return stops[0] if stops else None
