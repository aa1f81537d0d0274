"""One finished full-budget run as the lab book reads it back from experiments/<lab>/<folder>/: its
summary.json, metrics.csv and config.yaml, and what the answers ask of it (its score, chance level)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cnnlab.config.overrides import parse_overrides
from cnnlab.rundir.status import DIVERGED

# A run within this many points of 100 / num_classes is reported as at chance level.
CHANCE_MARGIN = 3.0


@dataclass
class CollectedRun:
    """One finished full-budget run: summary.json, metrics.csv and config.yaml."""

    path: Path
    summary: dict[str, Any]
    metrics: pd.DataFrame
    config: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.summary.get("name") or self.path.name)

    @property
    def num_classes(self) -> int | None:
        return (self.config.get("dataset") or {}).get("num_classes")

    @property
    def chance(self) -> float | None:
        """Accuracy of guessing, in percent, for classification runs."""
        return 100.0 / self.num_classes if self.num_classes else None

    @property
    def score(self) -> str | None:
        """The metric column that answers: test accuracy, else validation accuracy, else PSNR."""
        for column in ("test_acc", "val_acc", "val_psnr", "test_psnr"):
            if column in self.metrics and self.metrics[column].notna().any():
                return column
        return None

    @property
    def eval_split(self) -> str:
        """The split a run is judged on: test where measured, else validation."""
        return "test" if self.score and self.score.startswith("test") else "val"

    @property
    def overrides(self) -> dict[str, str]:
        return parse_overrides(self.summary.get("overrides") or [])

    @property
    def diverged(self) -> bool:
        """Whether its training loss went non-finite: what it measured is from before, not a result."""
        return self.summary.get("status") == DIVERGED

    @property
    def diverged_in(self) -> int:
        """The epoch its loss went non-finite in: the one after its last completed epoch."""
        return int(self.summary.get("epochs_completed") or 0) + 1

    @property
    def on_gpu(self) -> bool:
        return str(self.summary.get("device", "cpu")).startswith("cuda")

    def at_chance(self, column: str = "test_acc") -> bool:
        """Whether the final accuracy in `column` is within CHANCE_MARGIN points of guessing."""
        if (
            self.chance is None
            or column not in self.metrics
            or not column.endswith("acc")
            or self.metrics.empty
        ):
            return False
        return abs(100 * float(self.metrics[column].iloc[-1]) - self.chance) <= CHANCE_MARGIN
