"""Whether a sweep's pick stands out from its runner-up: a grid trains one seed per cell, so a pick that
leads the next cell by less than the spread between seeds of a run at that setting is a tie, not a
finding. The spread is measured (the sample standard deviation over a seeded recipe's seeds of the
value the pick ranks by), never typed in. Used by the `tuned` analysis and by references to a pick."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from cnnlab.labs.book.artefacts import LabArtefacts, best_job, selected_value
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.readings import SCORE_NAMES
from cnnlab.labs.book.seeds import Spread

# How each selection rule (a sweep recipe's `select:`) names the value it ranks jobs by.
RULE_VALUES = {"best": "{metric} at its best epoch", "final": "{metric} at the last epoch"}


def monitor_of(job: CollectedRun) -> str | None:
    """The metric a job's pick ranks it by: its summary's `monitor` (or `best.metric`)."""
    return job.summary.get("monitor") or (job.summary.get("best") or {}).get("metric") or None


def rule_path(by: str, monitor: str) -> str:
    """The run path of the value the rule `by` ranks a job by (what artefacts.selected_value reads)."""
    return f"final.{monitor}" if by == "final" else "best.value"


def gap_text(value: float, monitor: str) -> str:
    """A gap between two values of `monitor`: in points for accuracies, dB for PSNR."""
    if monitor.endswith("_acc"):
        return f"{100 * value:.2f} points"
    return f"{value:.2f} dB" if monitor.endswith("_psnr") else f"{value:.4g}"


@dataclass(frozen=True)
class Lead:
    """A sweep's pick against its runner-up, by the sweep's rule, beside the seed spread of that value."""

    pick: CollectedRun
    runner_up: CollectedRun
    by: str
    monitor: str
    spread: Spread
    seeds: str

    @property
    def margin(self) -> float:
        return float(selected_value(self.pick, self.by)) - float(selected_value(self.runner_up, self.by))

    @property
    def tie(self) -> bool:
        """Whether the pick leads by less than one sample standard deviation of the seeds."""
        return self.margin < self.spread.std

    def text(self, label: Callable[[CollectedRun], str]) -> str:
        """`lr 0.001 leads lr 0.0015 by 0.11 points of validation accuracy at the last epoch, less than the
        0.16-point sample standard deviation of q3_17/tuned/gp's 3 seeds: a tie within the seed spread, not
        a finding`."""
        value = RULE_VALUES[self.by].format(metric=SCORE_NAMES.get(self.monitor, self.monitor))
        std = gap_text(self.spread.std, self.monitor).replace(" points", "-point").replace(" dB", "-dB")
        return (
            f"{label(self.pick)} leads {label(self.runner_up)} by {gap_text(self.margin, self.monitor)} of "
            f"{value}, {'less' if self.tie else 'more'} than the {std} sample standard deviation of "
            f"{self.seeds}'s {self.spread.n} seeds: "
            + ("a tie within the seed spread, not a finding" if self.tie else "a lead beyond the seed spread")
        )


def lead(art: LabArtefacts, sweep: str, seeds: str, name: str | None = None) -> Lead | None:
    """The pick of `sweep` (among the jobs named `name`) against its runner-up, by the sweep's `select:`
    rule, with the spread over the seeds of the seeded recipe `seeds` of the value that rule ranks by;
    None while fewer than two jobs or than MIN_SEEDS seeds have a value; Missing while either is absent."""
    by = art.recipe(sweep).select
    jobs = [
        j for j in art.sweep(sweep) if (name is None or j.name == name) and selected_value(j, by) is not None
    ]
    if len(jobs) < 2:
        return None
    pick = best_job(jobs, by=by)
    runner_up = best_job([j for j in jobs if j is not pick], by=by)
    monitor = monitor_of(pick)
    if monitor is None:
        return None
    spread = art.ref(f"{seeds}:{rule_path(by, monitor)}")  # a seeded recipe: registry.py checks it
    if not spread.ready or math.isnan(spread.std):
        return None
    return Lead(pick, runner_up, by, monitor, spread, seeds)
