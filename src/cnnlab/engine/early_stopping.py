"""Early stopping: end a run once its monitored metric has not improved for `patience` epochs, so
`trainer.epochs` is a maximum and a run stops where it has converged rather than where a budget ran out.
Its state is a plain dict that goes into every checkpoint, so a resumed run counts on where it left off."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Why a run ended, in summary.json's `stop_reason` (a completed run stopped by either of the first two;
# `pruned`: an Optuna trial's pruner stopped it, cnnlab.sweep.pruning, and its status is `pruned` too).
MAX_EPOCHS, PLATEAU, DIVERGED, INTERRUPTED, FAILED, PRUNED = (
    "max_epochs",
    "plateau",
    "diverged",
    "interrupted",
    "failed",
    "pruned",
)


@dataclass
class EarlyStopping:
    """Counts the epochs since `monitor` last improved by more than `min_delta` (in `mode`'s direction)."""

    monitor: str
    mode: str
    patience: int
    min_delta: float = 0.0
    best_value: float | None = None
    best_epoch: int = 0

    def update(self, row: dict[str, Any]) -> bool:
        """Take one epoch's metrics row; True when the run should stop after this epoch."""
        value = row.get(self.monitor)
        if (
            value is not None
            and not (isinstance(value, float) and math.isnan(value))
            and self._improves(value)
        ):
            self.best_value, self.best_epoch = float(value), int(row["epoch"])
        return self.update_is_due(int(row["epoch"]))

    def update_is_due(self, epoch: int) -> bool:
        """Whether `patience` epochs have passed without improvement by the end of `epoch`."""
        return epoch - self.best_epoch >= self.patience

    def _improves(self, value: float) -> bool:
        if self.best_value is None:
            return True
        gain = value - self.best_value if self.mode == "max" else self.best_value - value
        return gain > self.min_delta

    def state_dict(self) -> dict[str, Any]:
        return {"best_value": self.best_value, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state:
            self.best_value, self.best_epoch = state["best_value"], int(state["best_epoch"])

    def record(self) -> dict[str, Any]:
        """What summary.json says of the rule: its settings and the epoch it judged best."""
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
        }


def early_stopping_from(cfg: Any) -> EarlyStopping | None:
    """The rule `trainer.early_stopping` configures, or None when it is off (`enabled: false`)."""
    es = cfg.trainer.get("early_stopping")
    if not es or not es.enabled:
        return None
    return EarlyStopping(monitor=es.monitor, mode=es.mode, patience=es.patience, min_delta=es.min_delta)
