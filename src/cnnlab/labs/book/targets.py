"""mk/labs.targets, generated from the registry: one make rule per recipe folder and one rule per
section whose targets are the section's question ids (`python -m cnnlab.experiments targets`)."""

from __future__ import annotations

from cnnlab.labs.book.labs import all_labs
from cnnlab.labs.book.registry import Lab, Recipe

HEADER = """\
# Generated from conf/lab/*.yaml by `make lab-targets` (python -m cnnlab.experiments targets):
# do not edit. The macros (lab_run, lab_seeds, lab_sweep, lab_at_best, lab_task, lab_run_task) and the
# variables (BUDGET, LAB_OUT, LAB_DATA, ARGS, CIFAR, VARRES, JOBLIB) are in mk/labs.mk.
"""
DATA = {"cifar10": "$$(CIFAR)", "varres": "$$(VARRES)"}


def _values(values: list) -> str:
    """A Hydra sweep list inside $(call ...): commas become $(,)."""
    return "$(,)".join(str(v) for v in values)


def _args(recipe: Recipe) -> str:
    """The overrides of one recipe, in the order its runs were started with."""
    parts = [f"experiment={_values(list(recipe.preset))}"] if recipe.preset else [f"task={recipe.task}"]
    parts += list(recipe.overrides)
    if recipe.at_best:
        parts.append("$$$$best")
    parts += [f"{key}={_values(values)}" for key, values in recipe.grid.items()]
    if recipe.full_overrides:
        parts.append(f"$$(call FULL_ONLY,{' '.join(recipe.full_overrides)})")
    if recipe.data:
        parts.append(DATA[recipe.data])
    if recipe.kind == "sweep":
        parts.append("$$(JOBLIB)")
    return " ".join(parts)


def recipe_done(lab: Lab, recipe: Recipe) -> str:
    """The stamp file make uses to know a recipe has finished."""
    if recipe.per_budget:
        return f"$(call run_done,{lab.name}/{recipe.folder})"
    return f"$(call task_done,{recipe.folder})"


def _best_args(lab: Lab, recipe: Recipe) -> str:
    """The other sweep's folder and the `python -m cnnlab.experiments best` options that pick its job."""
    best = recipe.at_best or {}
    options = [f"--name {best['name']}"] if best.get("name") else []
    options += [f"--key {key}" for key in recipe.best_keys]
    options.append(f"--by {lab.recipes[best['sweep']].select}")
    return f"{lab.name}/{best['sweep']},{' '.join(options)}"


def _run_rule(lab: Lab, recipe: Recipe, folder: str, args: str) -> str:
    if recipe.at_best:
        at_best = f"{_best_args(lab, recipe)},{args} trainer.resume=true,hydra.run.dir"
        return f"$(eval $(call lab_at_best,{folder},{at_best}))"
    return f"$(eval $(call lab_run,{folder},{args}))"


def _recipe_rule(lab: Lab, recipe: Recipe) -> str:
    folder = f"{lab.name}/{recipe.folder}"
    if recipe.kind == "run" and recipe.seeds:
        return f"$(eval $(call lab_seeds,{folder},{' '.join(recipe.seed_folders)}))\n" + "\n".join(
            _run_rule(lab, recipe, f"{folder}/seed{seed}", f"{_args(recipe)} trainer.seed={seed}")
            for seed in recipe.seeds
        )
    if recipe.kind == "run":
        return _run_rule(lab, recipe, folder, _args(recipe))
    if recipe.kind == "sweep" and recipe.at_best:
        at_best = f"{_best_args(lab, recipe)},-m {_args(recipe)},hydra.sweep.dir"
        return f"$(eval $(call lab_at_best,{folder},{at_best}))"
    if recipe.kind == "sweep":
        return f"$(eval $(call lab_sweep,{folder},{_args(recipe)}))"
    if recipe.reads:
        read = lab.recipes[recipe.reads]
        seed = recipe.read_seed if recipe.read_seed is not None else (read.seeds or (None,))[0]
        run = f"{lab.name}/{read.folder}" + (f"/seed{seed}" if seed is not None else "")
        return f"$(eval $(call lab_run_task,{folder},{run},{_args(recipe)}))"
    return f"$(eval $(call lab_task,{recipe.folder},{_args(recipe)}))"


def lab_rules(lab: Lab) -> list[str]:
    """The recipe rules, the question rules and the whole-lab rule of one lab."""
    lines = [f"# ---- {lab.title} ----"]
    lines += [_recipe_rule(lab, r) for r in lab.recipes.values()]
    targets = []
    for section in lab.sections:
        names = [f"{lab.name}-{i}" for i in section.ids]
        targets += names
        deps = " ".join(recipe_done(lab, lab.recipes[f]) for f in section.recipes)
        lines.append(f"{' '.join(names)}: {deps} ## {section.question}")
    lines += [
        f"LAB_TARGETS_{lab.name} := {' '.join(targets)}",
        f".PHONY: {lab.name} $(LAB_TARGETS_{lab.name})",
        f"{lab.name}: $(LAB_TARGETS_{lab.name}) ## every {lab.name} question, then collect and its README",
        f"\t$(PY) -m cnnlab.experiments collect $(LAB_OUT) --lab {lab.name}",
        "\t$(PY) -m cnnlab.experiments report",
        "",
    ]
    return lines


def make_text(labs: tuple[Lab, ...] | None = None) -> str:
    """The whole of mk/labs.targets."""
    lines = [HEADER]
    for lab in labs or all_labs():
        lines += lab_rules(lab)
    return "\n".join(lines)
