"""A recipe trained once per seed, read as one measurement: each value as the mean and sample standard
deviation of its seeds (with n), each curve as a mean with a band, and when and why each seed stopped,
so that one seed's luck never reads as an effect."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnlab.labs.book.formatting import fmt_value, is_percent, num_and_spread

if TYPE_CHECKING:
    import pandas as pd

    from cnnlab.labs.book.collected_run import CollectedRun

# A verdict over seeds waits until each side has at least this many.
MIN_SEEDS = 3


@dataclass(frozen=True)
class Spread:
    """One value measured on each landed seed of a recipe that lists `wanted` seeds."""

    values: tuple[Any, ...]
    wanted: int
    # Seeds whose training loss went non-finite: what they measured before is no result of the
    # recipe, so they are left out of `values` and counted here.
    diverged: int = 0

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def landed(self) -> int:
        return self.n + self.diverged

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values)

    @property
    def mean(self) -> float:
        """nan where no seed has a value (every one diverged)."""
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def std(self) -> float:
        """The sample standard deviation (n - 1 in the denominator); nan for a single seed, or where a seed's
        value is nan (a diverged run), which statistics.stdev cannot take."""
        if self.n < 2 or any(math.isnan(v) for v in self.values):
            return math.nan
        return statistics.stdev(self.values)

    @property
    def ready(self) -> bool:
        """Whether enough seeds have landed for a test over them."""
        return self.n >= MIN_SEEDS

    @property
    def count(self) -> str:
        """n, how many the recipe lists while seeds are still to land or diverged, and how many diverged."""
        return (
            f"n={self.n}"
            + ("" if self.n >= self.wanted else f" of {self.wanted}")
            + (f", {self.diverged} diverged" if self.diverged else "")
        )

    def diverged_out(self, name: str) -> str | None:
        """Why `name` never enters a test over seeds, when every seed has landed and too few of them
        did not diverge; None otherwise (it is ready, or waits for seeds)."""
        if self.ready or self.landed < self.wanted:
            return None
        return f"no test: {self.diverged} of {name}'s {self.wanted} seeds diverged, leaving n={self.n}"


def spread_text(spread: Spread, path: str = "", fmt: str | None = None) -> str:
    """How a value over seeds reads: `72.10 ± 0.45% (n=3)` for a measurement (`70.72% (n=1 of 3)` while
    seeds are still to land), each seed's integer (`31, 35, 28`) for a count such as an epoch, and a
    value once where every seed agrees."""
    values = spread.values
    if not values:
        if spread.landed < spread.wanted:
            return f"diverged in each seed landed so far ({spread.diverged} of {spread.wanted})"
        return f"diverged in every seed ({spread.diverged} of {spread.wanted})"
    if not spread.numeric or all(isinstance(v, int) for v in values):  # counts, names: seed by seed
        shown = [fmt_value(v, path, fmt) for v in values]
        return shown[0] if len(set(shown)) == 1 else ", ".join(shown)
    if len(set(values)) == 1:
        return fmt_value(values[0], path, fmt) + _partial(spread)
    if fmt == "error":
        spread, fmt = Spread(tuple(1 - v for v in values), spread.wanted), "pct"
    mean, std = spread.mean, spread.std
    if is_percent(mean, path, fmt) or fmt == "points":
        shown = " ± ".join("n/a" if math.isnan(v) else f"{100 * v:.2f}" for v in (mean, std))
        shown += " points" if fmt == "points" else "%"
    elif fmt == "s":  # both in the mean's unit, so the spread is not rounded away (4 min ± 22 s)
        scale, unit = (3600, "h") if mean >= 3600 else (60, "min") if mean >= 120 else (1, "s")
        shown = f"{num_and_spread(mean / scale, std / scale)} {unit}"
    elif fmt == "sci":
        shown = f"{mean:.1e} ± {std:.1e}"
    else:
        shown = num_and_spread(mean, std) + ("x" if fmt == "x" else "")
    return f"{shown} ({spread.count})"


def _partial(spread: Spread) -> str:
    return "" if spread.n >= spread.wanted else f" ({spread.count})"


def seed_band(metrics: list[pd.DataFrame], column: str) -> pd.DataFrame:
    """Per epoch (the index): the mean of `column` over the seeds that reached that epoch, its lowest
    and highest value among them, and their number n. Seeds stop at different epochs, so n falls
    towards the end; epochs no seed measured are left out."""
    import pandas as pd

    # a seed that diverged in its first epoch has no rows, and its empty column no numeric type
    columns = [m.set_index("epoch")[column].astype(float) for m in metrics if column in m and not m.empty]
    if not columns:
        return pd.DataFrame(columns=["mean", "low", "high", "n"])
    table = pd.concat(columns, axis=1, ignore_index=True).sort_index()
    band = pd.DataFrame(
        {
            "mean": table.mean(axis=1),
            "low": table.min(axis=1),
            "high": table.max(axis=1),
            "n": table.count(axis=1),
        }
    )
    return band[band["n"] > 0]


def stop_text(runs: list[CollectedRun]) -> str:
    """When and why each seed stopped: `31, 35, 28 (plateau)`, or each its own reason where they differ."""
    epochs = [str(r.summary.get("epochs_completed", len(r.metrics))) for r in runs]
    reasons = [_stop_reason(r) for r in runs]
    if len(set(reasons)) == 1:
        return f"{', '.join(epochs)} ({reasons[0]})"
    return ", ".join(f"{e} ({why})" for e, why in zip(epochs, reasons, strict=True))


def _stop_reason(run: CollectedRun) -> str:
    """Why a run stopped; a run from before stop_reason was recorded, completed at its configured
    epochs, stopped for the same reason as one after: max_epochs. A diverged run names the epoch its
    loss went non-finite in, since its epoch count is that of the epochs before."""
    summary = run.summary
    if run.diverged:
        return f"diverged in epoch {run.diverged_in}"
    if summary.get("stop_reason"):
        return str(summary["stop_reason"])
    epochs = summary.get("epochs_completed", len(run.metrics))
    if summary.get("status") == "completed" and epochs == run.config.get("trainer", {}).get("epochs"):
        return "max_epochs"
    return str(summary.get("status", ""))


def restored_text(runs: list[CollectedRun]) -> str:
    """The epoch whose weights each seed ended with (its best validation epoch when it restored them)."""
    return ", ".join(
        str(r.summary.get("restored_epoch") or r.summary.get("epochs_completed", len(r.metrics)))
        for r in runs
    )
