"""The committed artefacts of a lab (experiments/<lab>/<folder>/): full-budget runs, sweeps and task
results read back, and {folder:path|format} references resolved to formatted measured values."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.formatting import fmt_value
from cnnlab.labs.book.registry import Lab, Recipe, refs_in
from cnnlab.labs.book.seeds import Spread, spread_text
from cnnlab.rundir.files import METRICS, RUN_FILES, find_runs, read_config, read_summary
from cnnlab.rundir.status import FINISHED

FULL = "full"
# Beside a collected run or sweep: its total wall time per kind of device it was ever collected from.
WALLS = "wall_times.json"
# A sweep reference to one job: job[<key>=<value> ...].<run path>.
JOB = re.compile(r"job\[([^\]]+)\]\.(.+)")


class Missing(LookupError):
    """A referenced artefact or value is not (yet) in experiments/."""


def read_run(path: Path, budget: str | None = FULL) -> CollectedRun | None:
    """The run in `path` if it finished at `budget` (None: any); None otherwise, so that a smoke run
    is never read as an answer."""
    if not all((path / name).is_file() for name in RUN_FILES):
        return None
    summary, config = read_summary(path) or {}, read_config(path) or {}
    if summary.get("status") not in FINISHED or (budget and config.get("budget") != budget):
        return None
    return CollectedRun(path, summary, pd.read_csv(path / METRICS, float_precision="round_trip"), config)


def read_sweep(path: Path, budget: str | None = FULL) -> list[CollectedRun]:
    """The finished jobs of a sweep at `budget` (None: any), in job order."""
    if not path.is_dir():
        return []
    runs = [read_run(p, budget) for p in find_runs([path])]
    return sorted((r for r in runs if r is not None), key=lambda r: _job_key(r.path, path))


def _job_key(job: Path, sweep: Path) -> tuple:
    """Jobs ordered by their overrides with numbers compared by value, so that batch_size=4 comes
    before batch_size=16 and job 2 before job 10."""
    return tuple(
        tuple(_piece_key(p) for p in re.split(r"([=,])", part)) for part in job.relative_to(sweep).parts
    )


def _piece_key(piece: str) -> tuple[int, float, str]:
    try:
        return (0, float(piece), "")
    except ValueError:
        return (1, 0.0, piece)


def _walk(node: Any, path: str) -> Any:
    for key in path.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise Missing(path)
    return node


def run_value(run: CollectedRun, path: str) -> Any:
    """A value of one run: a summary.json path, or <stat>.<column> of metrics.csv
    (stat: last, min, max, argmin, argmax, epoch<N>; maxfall: the largest fall from one epoch to
    the next, a measure of how unsteady learning is; firstoverlast: the first epoch's value over
    the last's, how near the end one epoch already gets; trainminus: the last epoch's train value
    less this one, how far the net fits its training set beyond it), or `epochs`."""
    head, _, column = path.partition(".")
    metrics = run.metrics
    if path == "epochs":
        return len(metrics)
    if column in metrics.columns and (
        head in ("last", "min", "max", "argmin", "argmax", "maxfall", "firstoverlast", "trainminus")
        or head[:5] == "epoch"
    ):
        series = metrics.set_index("epoch")[column].dropna()
        if series.empty:
            raise Missing(path)
        if head.startswith("epoch"):
            epoch = int(head[5:])
            if epoch not in series.index:
                raise Missing(path)
            return float(series[epoch])
        return {
            "last": lambda: float(series.iloc[-1]),
            "min": lambda: float(series.min()),
            "max": lambda: float(series.max()),
            "argmin": lambda: int(series.idxmin()),
            "argmax": lambda: int(series.idxmax()),
            "maxfall": lambda: max(0.0, -float(series.diff().min())) if len(series) > 1 else 0.0,
            "firstoverlast": lambda: float(series.iloc[0] / series.iloc[-1]),
            "trainminus": lambda: _train_minus(metrics, column, series),
        }[head]()
    return _walk(run.summary, path)


def over_seeds(runs: list[CollectedRun], path: str, wanted: int) -> Spread:
    """A run value (run_value's paths) on each of a recipe's seeds that records it, of `wanted` seeds;
    a seed that diverged is counted, not read: its values are from before its loss went non-finite."""
    values = []
    for run in runs:
        if run.diverged:
            continue
        try:
            values.append(run_value(run, path))
        except Missing:
            continue
    diverged = sum(r.diverged for r in runs)
    if not values and not diverged:
        raise Missing(path)
    return Spread(tuple(values), wanted, diverged)


def _train_minus(metrics: pd.DataFrame, column: str, series: pd.Series) -> float:
    train = "train_" + column.split("_", 1)[-1]
    if train not in metrics.columns or train == column:
        raise Missing(f"trainminus.{column}")
    return float(metrics.set_index("epoch")[train].dropna().iloc[-1] - series.iloc[-1])


def device_walls(runs: list[CollectedRun]) -> dict[str, float]:
    """Wall time of these runs per device kind ("cpu" or "gpu")."""
    kinds: dict[str, list[CollectedRun]] = {}
    for run in runs:
        kinds.setdefault("gpu" if run.on_gpu else "cpu", []).append(run)
    return {kind: elapsed(group) for kind, group in kinds.items()}


def elapsed(runs: list[CollectedRun]) -> float:
    """Their summed wall time or, where they trained side by side (a joblib sweep trains two jobs at
    once), the time from the first one's start to the last one's end: whichever is shorter."""
    total = sum(float(r.summary.get("wall_s") or 0) for r in runs)
    spans = [_span(r) for r in runs]
    if len(runs) < 2 or None in spans:
        return total
    return min(total, max(end for _, end in spans) - min(start for start, _ in spans))


def _span(run: CollectedRun) -> tuple[float, float] | None:
    """When a run started and ended, in seconds since the epoch: its last heartbeat (written after each
    epoch) less its wall time, so that a resumed run counts as one stretch."""
    try:
        started = datetime.fromisoformat(run.summary["started"]).timestamp()
        beat = datetime.fromisoformat(run.summary["heartbeat"]).timestamp()
        wall = float(run.summary["wall_s"])
    except (KeyError, TypeError, ValueError):
        return None
    end = beat if beat > started else started + wall
    return end - wall, end


def read_walls(folder: Path, runs: list[CollectedRun]) -> dict[str, float]:
    """The wall times recorded in folder/wall_times.json, updated with those of `runs`."""
    path = folder / WALLS
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    return recorded | device_walls(runs)


def selected_value(job: CollectedRun, by: str = "best") -> float | None:
    """The value a job is ranked by (a sweep recipe's `select:`): its monitored value at its best epoch
    (summary.json best.value) or at its last epoch (final.<monitor>: what the final weights, whose
    test figure is reported, were judged by). None when it has none."""
    if by == "final":
        monitor = job.summary.get("monitor") or (job.summary.get("best") or {}).get("metric")
        value = (job.summary.get("final") or {}).get(monitor)
    else:
        value = (job.summary.get("best") or {}).get("value")
    return None if value is None or math.isnan(value) else float(value)


def best_job(jobs: list[CollectedRun], name: str | None = None, by: str = "best") -> CollectedRun:
    """The job ranked highest by the rule `by` (best or final), optionally among those of one run name."""
    scored = [j for j in jobs if (name is None or j.name == name) and selected_value(j, by) is not None]
    if not scored:
        raise Missing(f"best job{f' named {name}' if name else ''}")
    return max(scored, key=lambda j: selected_value(j, by))


def job_at(jobs: list[CollectedRun], selector: str, folder: str) -> CollectedRun:
    """The one job whose overrides match every `key=value` of the selector, where a key may be
    shortened to its last part (`lr=0.1 batch_size=32`)."""
    wanted = dict(pair.partition("=")[::2] for pair in selector.split())
    matches = [
        job
        for job in jobs
        if all(
            any(key in (k, k.rsplit(".", 1)[-1]) and v == value for k, v in job.overrides.items())
            for key, value in wanted.items()
        )
    ]
    if len(matches) != 1:
        labels = "; ".join(" ".join(f"{k}={v}" for k, v in j.overrides.items()) for j in jobs)
        raise ValueError(
            f"job[{selector}] in a {folder} reference matches {len(matches)} of its {len(jobs)} jobs, "
            f"not one: name one job by its override values (the jobs: {labels})."
        )
    return matches[0]


class LabArtefacts:
    """What experiments/<lab>/ holds for one lab's recipes, read once."""

    def __init__(self, lab: Lab, root: Path) -> None:
        self.lab = lab
        self.root = root / lab.name

    def recipe(self, folder: str) -> Recipe:
        return self.lab.recipes[folder]

    @cached_property
    def _runs(self) -> dict[str, CollectedRun | None]:
        return {
            f: read_run(self.root / f) for f, r in self.lab.recipes.items() if r.kind == "run" and not r.seeds
        }

    @cached_property
    def _seeds(self) -> dict[str, list[CollectedRun]]:
        """The landed seeds of each seeded run recipe, in the recipe's seed order."""
        return {
            f: [run for s in r.seed_folders if (run := read_run(self.root / f / s)) is not None]
            for f, r in self.lab.recipes.items()
            if r.seeds
        }

    @cached_property
    def _sweeps(self) -> dict[str, list[CollectedRun]]:
        return {f: read_sweep(self.root / f) for f, r in self.lab.recipes.items() if r.kind == "sweep"}

    def run(self, folder: str) -> CollectedRun:
        """The one run of an unseeded run recipe (a seeded one is read with `trained`)."""
        if self.recipe(folder).seeds:
            raise ValueError(
                f"recipe {folder!r} of {self.lab.name} trains {len(self.recipe(folder).seeds)} seeds; this "
                "analysis reads one run: give it an unseeded recipe, or use an analysis that reads seeds "
                "(runs, expect, initial, ladder, by_value)."
            )
        run = self._runs.get(folder)
        if run is None:
            raise Missing(folder)
        return run

    def trained(self, folder: str) -> list[CollectedRun]:
        """The runs a run recipe has landed: its one run, or each landed seed's; Missing when none."""
        if not self.recipe(folder).seeds:
            return [self.run(folder)]
        runs = self._seeds.get(folder) or []
        if not runs:
            raise Missing(folder)
        return runs

    def sweep(self, folder: str) -> list[CollectedRun]:
        """Its finished jobs, once all of them have finished: a part of a sweep does not answer."""
        jobs = self._sweeps.get(folder) or []
        if len(jobs) < self.recipe(folder).jobs:
            raise Missing(folder)
        return jobs

    def best(self, folder: str, name: str | None = None) -> CollectedRun:
        """A finished sweep's best job by the recipe's own rule (`select:`)."""
        return best_job(self.sweep(folder), name, self.recipe(folder).select)

    def task(self, folder: str) -> dict[str, Any]:
        path = self.root / folder / "results.json"
        if not path.is_file():
            raise Missing(folder)
        return json.loads(path.read_text())

    def has(self, folder: str) -> bool:
        """Whether the recipe's artefacts are present (for a sweep: every job finished)."""
        try:
            self.value(folder, None)
        except Missing:
            return False
        return True

    def runs_of(self, folder: str) -> list[CollectedRun]:
        """The finished runs of a run or sweep recipe ([] when absent)."""
        recipe = self.recipe(folder)
        if recipe.seeds:
            return list(self._seeds.get(folder) or [])
        if recipe.kind == "run":
            return [self._runs[folder]] if self._runs.get(folder) else []
        return list(self._sweeps.get(folder) or []) if recipe.kind == "sweep" else []

    def walls(self, folder: str) -> dict[str, float]:
        """Wall time per device kind of a training recipe, on every machine it was collected from."""
        runs = self.runs_of(folder)
        return read_walls(self.root / folder, runs) if runs else {}

    def value(self, folder: str, path: str | None) -> Any:
        """The value a reference {folder:path} names; the artefact itself when path is None."""
        kind = self.recipe(folder).kind
        if kind == "task":
            results = self.task(folder)
            return results if path is None else _walk(results, path)
        if kind == "run" and self.recipe(folder).seeds:
            return self._spread(folder, path)
        if kind == "run":
            run = self.run(folder)
            return run if path is None else run_value(run, path)
        jobs = self.sweep(folder)
        if path is None:
            return jobs
        head, _, rest = path.partition(".")
        if head == "jobs":
            return len(jobs)
        if head == "best":
            return run_value(self.best(folder), rest)
        if head == "best_override":
            return self.best(folder).overrides.get(rest, "")
        selected = JOB.fullmatch(path)
        if selected:
            return run_value(job_at(jobs, selected[1], folder), selected[2])
        raise Missing(path)

    def _spread(self, folder: str, path: str | None) -> Any:
        """A value of a seeded recipe: its landed runs (path None), else a Spread of the value on each
        landed seed that records it."""
        runs = self.trained(folder)
        return runs if path is None else over_seeds(runs, path, len(self.recipe(folder).seeds))

    def ref(self, text: str) -> Any:
        """The value a "<folder>:<path>" reference names (Missing carries the folder)."""
        folder, _, path = text.partition(":")
        try:
            return self.value(folder, path)
        except Missing:
            raise Missing(folder, path) from None

    def fill(self, template: str) -> str:
        """The template with every {folder:path|format} replaced by its formatted value; Missing if any
        value is absent."""
        text = template
        for folder, path, fmt in refs_in(template):
            try:
                value = self.value(folder, path)
            except Missing:
                raise Missing(folder, path) from None
            spelled = f"{{{folder}:{path}{'|' + fmt if fmt else ''}}}"
            shown = (
                spread_text(value, path, fmt) if isinstance(value, Spread) else fmt_value(value, path, fmt)
            )
            text = text.replace(spelled, shown, 1)
        return text
