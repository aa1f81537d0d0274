"""The lab registry, conf/lab/<lab>.yaml: each lab's recipes and question sections, read and checked
once, so that make targets, artefact collection and the experiments READMEs all come from one place."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cnnlab.errors import ConfigError

LABS = ("dd2427", "keras7", "mainf6", "vu3a", "rdfia")
# What an analysis spec reads: (spec, where it is) -> the recipe folders (labs.py asks its kind).
Reads = Callable[[dict[str, Any], str], list[str]]
RECIPE_KINDS = ("run", "sweep", "task")
# How a sweep's best job is picked: its monitored value at its best epoch, or at its last epoch.
SELECT = ("best", "final")
# A reference to a measured value inside a template: {<recipe folder>:<path>[|<format>]}.
REF = re.compile(r"\{([A-Za-z0-9_./]+):([^{}|]+)(?:\|([a-z]+))?\}")


@dataclass(frozen=True)
class Recipe:
    """How one folder of results is made: a training run, a sweep, or a lab task."""

    folder: str
    kind: str
    preset: tuple[str, ...] = ()
    task: str | None = None
    grid: dict[str, list[Any]] = field(default_factory=dict)
    at_best: dict[str, str] | None = None
    reads: str | None = None
    read_seed: int | None = None
    data: str | None = None
    overrides: tuple[str, ...] = ()
    full_overrides: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    label: str | None = None
    select: str = "best"

    @property
    def best_keys(self) -> tuple[str, ...]:
        """The override keys taken from the best job of the `at_best` sweep."""
        return _tuple((self.at_best or {}).get("key"))

    @property
    def seed_folders(self) -> tuple[str, ...]:
        """A run recipe with seeds trains one run per seed, each in <folder>/seed<N>."""
        return tuple(f"seed{seed}" for seed in self.seeds)

    @property
    def caption(self) -> str:
        """How tables and figures name it: the folder and, where the registry gives a label, what the
        recipe adds (`q19: + standardisation`)."""
        return f"{self.folder}: {self.label}" if self.label else self.folder

    @property
    def trains(self) -> bool:
        """Runs and sweeps depend on the budget; tasks do not (unless they read a trained run)."""
        return self.kind in ("run", "sweep")

    @property
    def jobs(self) -> int:
        """How many jobs it launches: one per preset and grid point for a sweep, else one."""
        if self.kind != "sweep":
            return 1
        return len(self.preset) * math.prod(len(values) for values in self.grid.values())

    @property
    def per_budget(self) -> bool:
        """Whether the results live under <budget>/<lab>/ rather than tasks/."""
        return self.trains or self.reads is not None


@dataclass(frozen=True)
class Reference:
    """One figure the lab's authors reported, in its unit, and the ref of ours to set beside it; where
    ours is a sweep's pick, `pick: {sweep: <folder>, name: <job name>, seeds: <seeded recipe>}` names
    the sweep (and jobs) it was picked from and the seeds whose spread tells a pick from a tie."""

    label: str
    lab: float
    unit: str
    ours: str
    tolerance: float = 0.0
    pick: dict[str, str] | None = None


@dataclass(frozen=True)
class Section:
    """One section of a lab's README: the ids it answers (one row each), how, and with what."""

    ids: tuple[str, ...]
    question: str
    recipes: tuple[str, ...]
    answers: dict[str, str]
    analyses: tuple[dict[str, Any], ...] = ()
    references: tuple[Reference, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)
    # What the scoreboard shows as ours (a template, as an answer): by default the last analysis's
    # headline; given where that headline reads another metric than the section's answer does.
    scoreboard: str | None = None

    @property
    def slug(self) -> str:
        """A file-name-safe name for the section's generated figures."""
        return self.ids[0].replace(".", "_")


@dataclass(frozen=True)
class SetupRow:
    """One way our setup differs from the lab's (or follows it): what, the lab's, ours, and why."""

    what: str
    lab: str
    ours: str
    why: str


@dataclass(frozen=True)
class Lab:
    """One lab: its title, the lab text it follows, its recipes by folder and its sections."""

    name: str
    title: str
    text: str
    recipes: dict[str, Recipe]
    sections: tuple[Section, ...]
    setup: tuple[SetupRow, ...] = ()

    @property
    def ids(self) -> list[str]:
        """Every question id of the lab, in README order."""
        return [i for s in self.sections for i in s.ids]


def _tuple(value: Any) -> tuple:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _recipe(folder: str, spec: dict[str, Any], where: str) -> Recipe:
    kinds = [k for k in RECIPE_KINDS if k in spec]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: recipe {folder!r} must name exactly one of run: <preset>, sweep: <preset(s)> or "
            f"task: <task>; it names {kinds or 'none'}."
        )
    kind = kinds[0]
    known = {
        "run",
        "sweep",
        "task",
        "grid",
        "at_best",
        "reads",
        "read_seed",
        "data",
        "overrides",
        "full_overrides",
        "seeds",
        "label",
        "select",
    }
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(f"{where}: recipe {folder!r} has unknown keys {unknown}; known: {sorted(known)}.")
    if spec.get("data") not in (None, "cifar10", "varres"):
        raise ConfigError(f"{where}: recipe {folder!r} has data={spec['data']!r}; use cifar10 or varres.")
    seeds = _tuple(spec.get("seeds"))
    if seeds and (
        kind != "run" or len(set(seeds)) != len(seeds) or not all(isinstance(x, int) for x in seeds)
    ):
        raise ConfigError(
            f"{where}: recipe {folder!r} has seeds={list(seeds)}; seeds are distinct integers of a run."
        )
    at_best = spec.get("at_best")
    if at_best is not None and (
        kind == "task"
        or not isinstance(at_best, dict)
        or not {"sweep", "key"} <= set(at_best) <= {"sweep", "key", "name"}
    ):
        raise ConfigError(
            f"{where}: recipe {folder!r} has at_best={at_best!r}; a run or sweep takes at_best: {{sweep: "
            "<sweep folder>, key: <override key or list of keys>, name: <run name, optional>}."
        )
    select = spec.get("select", "best")
    if select not in SELECT or (kind != "sweep" and "select" in spec):
        raise ConfigError(
            f"{where}: recipe {folder!r} has select={select!r}; a sweep takes select: best (its highest "
            "monitored value at any epoch) or final (at its last epoch)."
        )
    read_seed = spec.get("read_seed")
    if read_seed is not None and (not isinstance(read_seed, int) or "reads" not in spec):
        raise ConfigError(
            f"{where}: recipe {folder!r} has read_seed={read_seed!r}; a task that reads a seeded run "
            "takes read_seed: <one of that run's seeds> (without it, it reads the first seed)."
        )
    return Recipe(
        folder=folder,
        kind=kind,
        preset=_tuple(spec.get("run") or spec.get("sweep")),
        task=spec.get("task"),
        grid=dict(spec.get("grid") or {}),
        at_best=at_best,
        reads=spec.get("reads"),
        read_seed=read_seed,
        data=spec.get("data"),
        overrides=_tuple(spec.get("overrides")),
        full_overrides=_tuple(spec.get("full_overrides")),
        seeds=seeds,
        label=spec.get("label"),
        select=select,
    )


def refs_in(text: str) -> list[tuple[str, str, str | None]]:
    """The (folder, path, format) of every {folder:path|format} in a template."""
    return [m.groups() for m in REF.finditer(text)]


def _section(spec: dict[str, Any], recipes: dict[str, Recipe], where: str, reads: Reads) -> Section:
    ids = _tuple(spec.get("ids"))
    if not ids or not spec.get("question"):
        raise ConfigError(f"{where}: every section needs ids: [...] and question: <one line>; got {spec}.")
    answers = dict(spec.get("answers") or {})
    if sorted(answers) != sorted(ids):
        raise ConfigError(
            f"{where}: section {list(ids)} must have one answer template per id; answers has "
            f"{sorted(answers)}."
        )
    section_recipes = _tuple(spec.get("recipes"))
    references = tuple(Reference(**r) for r in spec.get("reference") or [])
    reasons = dict(spec.get("reasons") or {})
    stray = sorted(set(reasons) - set(ids))
    if stray or not all(isinstance(t, str) and t.strip() for t in reasons.values()):
        raise ConfigError(
            f"{where}: section {list(ids)} has reasons for {sorted(reasons)}; give each of its own ids "
            f"at most one non-empty text (not its ids: {stray})."
        )
    scoreboard = spec.get("scoreboard")
    if scoreboard is not None and (not isinstance(scoreboard, str) or not refs_in(scoreboard)):
        raise ConfigError(
            f"{where}: section {list(ids)} has scoreboard={scoreboard!r}; give a template with at least one "
            "{folder:path} reference, as an answer."
        )
    referenced = [
        f for t in [*answers.values(), *reasons.values(), scoreboard or ""] for f, _, _ in refs_in(t)
    ]
    referenced += [r.ours.partition(":")[0] for r in references]
    for ref in references:
        _check_pick(ref, recipes, where)
    referenced += [f for a in spec.get("analysis") or [] for f in reads(a, where)]
    for folder in [*section_recipes, *referenced]:
        if folder not in recipes:
            raise ConfigError(
                f"{where}: section {list(ids)} names recipe {folder!r}, which is not in recipes:."
            )
    for analysis in spec.get("analysis") or []:
        seeds = analysis.get("seeds") if isinstance(analysis, dict) else None
        if seeds is not None and not _seeded(recipes, seeds):
            raise ConfigError(
                f"{where}: section {list(ids)} has a {analysis.get('kind')} analysis with seeds={seeds!r}; "
                "name a recipe trained over seeds (seeds: [0, 1, 2]), whose spread tells a pick from a tie."
            )
    return Section(
        ids=ids,
        question=spec["question"],
        recipes=section_recipes,
        answers=answers,
        analyses=tuple(spec.get("analysis") or []),
        references=references,
        reasons={i: reasons[i].strip() for i in ids if i in reasons},
        scoreboard=scoreboard,
    )


def _seeded(recipes: dict[str, Recipe], folder: str) -> bool:
    """Whether `folder` is a recipe trained over seeds: what a tie is judged against."""
    return bool(getattr(recipes.get(folder), "seeds", None))


def _check_pick(ref: Reference, recipes: dict[str, Recipe], where: str) -> None:
    """A reference's `pick:` names a sweep recipe, a seeded run recipe and, optionally, a job name."""
    pick = ref.pick
    if pick is None:
        return
    if (
        not isinstance(pick, dict)
        or not {"sweep", "seeds"} <= set(pick) <= {"sweep", "seeds", "name"}
        or getattr(recipes.get(pick["sweep"]), "kind", None) != "sweep"
        or not _seeded(recipes, pick["seeds"])
    ):
        raise ConfigError(
            f"{where}: reference {ref.label!r} has pick={pick!r}; give pick: {{sweep: <sweep recipe>, seeds: "
            "<recipe trained over seeds>, name: <job name, optional>}."
        )


def _setup(rows: Any, recipes: dict[str, Recipe], where: str) -> tuple[SetupRow, ...]:
    """The lab-level setup table: rows of what / lab / ours / why, refs naming known recipes."""
    fields = ["what", "lab", "ours", "why"]
    checked = []
    for row in rows or []:
        if not isinstance(row, dict) or sorted(row) != sorted(fields):
            raise ConfigError(f"{where}: each setup row needs exactly the keys {fields}; got {row}.")
        for folder, _, _ in refs_in(" ".join(map(str, row.values()))):
            if folder not in recipes:
                raise ConfigError(
                    f"{where}: setup row {row['what']!r} names recipe {folder!r}, not in recipes:."
                )
        checked.append(SetupRow(**{k: str(row[k]).strip() for k in fields}))
    return tuple(checked)


def parse_lab(name: str, lab_dir: Path, reads: Reads) -> Lab:
    """Read and check conf/lab/<name>.yaml; `reads` names the recipe folders an analysis spec reads (its
    kind's, labs.py)."""
    path = lab_dir / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no lab registry {path}; the labs are {', '.join(LABS)}.")
    spec = yaml.safe_load(path.read_text())
    recipes = {folder: _recipe(folder, r, str(path)) for folder, r in (spec.get("recipes") or {}).items()}
    for recipe in recipes.values():
        for other in (recipe.reads, (recipe.at_best or {}).get("sweep")):
            if other is not None and other not in recipes:
                raise ConfigError(f"{path}: recipe {recipe.folder!r} reads {other!r}, which is not a recipe.")
        if recipe.read_seed is not None and recipe.read_seed not in recipes[recipe.reads].seeds:
            raise ConfigError(
                f"{path}: recipe {recipe.folder!r} reads seed {recipe.read_seed} of {recipe.reads!r}, whose "
                f"seeds are {list(recipes[recipe.reads].seeds)}; name one of them."
            )
        if recipe.at_best and recipes[recipe.at_best["sweep"]].kind != "sweep":
            raise ConfigError(
                f"{path}: recipe {recipe.folder!r} takes at_best from {recipe.at_best['sweep']!r}, "
                "which is not a sweep."
            )
    sections = tuple(_section(s, recipes, str(path), reads) for s in spec.get("sections") or [])
    ids = [i for s in sections for i in s.ids]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"{path}: ids {repeated} appear in more than one section; give each id one row.")
    return Lab(
        name=name,
        title=spec["title"],
        text=spec["text"],
        recipes=recipes,
        sections=sections,
        setup=_setup(spec.get("setup"), recipes, str(path)),
    )
