"""Copy the small artefacts of finished full-budget runs and of lab tasks from LAB_OUT into
experiments/<lab>/<folder>/ (a seeded recipe's runs into <folder>/seed<N>/), so that `make report`
needs nothing outside the repository, with the machine paths they record rewritten
(book/machine_paths.py). Checkpoints, TensorBoard events, logs and smoke-budget runs are never copied."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cnnlab.labs.book.artefacts import FULL, WALLS, device_walls, read_run, read_sweep, read_walls
from cnnlab.labs.book.machine_paths import strip_file, stripper
from cnnlab.labs.book.registry import Lab, Recipe
from cnnlab.rundir.files import RUN_FILES

TASK_FILES = ("results.json",)


def _copy(src: Path, dest: Path, names: tuple[str, ...]) -> list[Path]:
    """Copy the named files and the PNG figures of one dir; returns the files written."""
    dest.mkdir(parents=True, exist_ok=True)
    files = [src / n for n in names if (src / n).is_file()] + sorted(src.glob("*.png"))
    for file in files:
        shutil.copyfile(file, dest / file.name)
    return [dest / f.name for f in files]


def _source(lab: Lab, recipe: Recipe, lab_out: Path) -> Path:
    if recipe.per_budget:
        return lab_out / FULL / lab.name / recipe.folder
    return lab_out / "tasks" / recipe.folder


def collect_recipe(lab: Lab, recipe: Recipe, lab_out: Path, out_root: Path) -> list[Path]:
    """Replace experiments/<lab>/<folder>/ with the recipe's finished artefacts; [] (and nothing
    touched) when LAB_OUT holds none of them. Every copied file has its machine paths rewritten."""
    written = (_collect_seeds if recipe.seeds else _collect_one)(lab, recipe, lab_out, out_root)
    fix = stripper(lab_out, out_root)
    for path in written:
        strip_file(path, fix)
    return written


def _collect_seeds(lab: Lab, recipe: Recipe, lab_out: Path, out_root: Path) -> list[Path]:
    """Each finished seed of a seeded run recipe into <folder>/seed<N>/, replacing that seed's earlier
    copy; seeds collected before (from this or another machine) and not finished here are kept."""
    src, dest = _source(lab, recipe, lab_out), out_root / lab.name / recipe.folder
    found = [(s, run) for s in recipe.seed_folders if (run := read_run(src / s)) is not None]
    if not found:
        return []
    previous = _previous_walls(recipe, dest)
    written = []
    for seed, run in found:
        if (dest / seed).is_dir():
            shutil.rmtree(dest / seed)
        written += _copy(run.path, dest / seed, RUN_FILES)
    landed = [r for s in recipe.seed_folders if (r := read_run(dest / s)) is not None]
    (dest / WALLS).write_text(json.dumps(previous | device_walls(landed), indent=2, sort_keys=True) + "\n")
    return [*written, dest / WALLS]


def _collect_one(lab: Lab, recipe: Recipe, lab_out: Path, out_root: Path) -> list[Path]:
    src, dest = _source(lab, recipe, lab_out), out_root / lab.name / recipe.folder
    runs = ([read_run(src)] if recipe.kind == "run" else read_sweep(src)) if recipe.trains else []
    runs = [r for r in runs if r is not None]
    task_found = [src] if (src / "results.json").is_file() else []
    found = [r.path for r in runs] if recipe.trains else task_found
    if not found:
        return []
    previous = _previous_walls(recipe, dest)
    if dest.is_dir():
        shutil.rmtree(dest)
    written = []
    names = RUN_FILES if recipe.trains else TASK_FILES
    for job in found:
        written += _copy(job, dest / job.relative_to(src), names)
    if recipe.kind == "sweep" and (src / "summary.csv").is_file():
        shutil.copyfile(src / "summary.csv", dest / "summary.csv")
        written.append(dest / "summary.csv")
    if recipe.trains:
        (dest / WALLS).write_text(
            json.dumps(previous | read_walls(dest, runs), indent=2, sort_keys=True) + "\n"
        )
        written.append(dest / WALLS)
    return written


def _previous_walls(recipe: Recipe, dest: Path) -> dict[str, float]:
    """The wall times already collected for this recipe, so that a run collected from a GPU machine
    keeps the CPU time of an earlier collect (and the other way round)."""
    if not recipe.trains or not dest.is_dir():
        return {}
    if recipe.seeds:
        runs = [read_run(dest / s) for s in recipe.seed_folders]
    else:
        runs = [read_run(dest)] if recipe.kind == "run" else read_sweep(dest)
    return read_walls(dest, [r for r in runs if r is not None])


def collect_lab(lab: Lab, lab_out: Path, out_root: Path) -> dict[str, int]:
    """Collect every recipe of one lab; returns the number of files copied per folder."""
    counts = {}
    for recipe in lab.recipes.values():
        written = collect_recipe(lab, recipe, lab_out, out_root)
        if written:
            counts[recipe.folder] = len(written)
    return counts
