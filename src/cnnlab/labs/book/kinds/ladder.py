"""The `ladder` analysis: cumulative steps (rdfia q15 -> q19 -> ... -> q34), each trained over seeds, in
one table: what each step adds (its recipe's `label:`), its final score as mean ± std with n, each seed's
stop epoch and why, and its Welch test against the step before; and the steps' curves with seed bands.
Spec: {kind: ladder, runs: [<folder>, ...]} in the ladder's order."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import NOT_RUN, Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.figures import curve, plot_curves
from cnnlab.labs.book.kind import Kind
from cnnlab.labs.book.readings import SCORE_NAMES
from cnnlab.labs.book.registry import Recipe
from cnnlab.labs.book.seeded_runs import final, score_of, wanted
from cnnlab.labs.book.seeded_runs import scored as scored_groups
from cnnlab.labs.book.seeds import MIN_SEEDS, spread_text, stop_text
from cnnlab.labs.book.welch import step_verdict, test_text, welch

WAITS = f"waits for n ≥ {MIN_SEEDS}"
NO_TEST = "no test (diverged seeds)"


def _step(
    before: tuple[Recipe, list[CollectedRun]] | None, group: tuple[Recipe, list[CollectedRun]], path: str
) -> list[str]:
    """The test of one step against the one before it and its verdict in a few words."""
    if before is None:
        return ["-", "-"]
    sides = (before, group)
    out = [r.removeprefix("no test: ") for g in sides if (r := final(g).diverged_out(g[0].folder))]
    if out:
        return ["; ".join(out), NO_TEST]
    if not (final(before).ready and final(group).ready):
        return [f"{before[0].folder} n={final(before).n}, {group[0].folder} n={final(group).n}", WAITS]
    test = welch(final(group).values, final(before).values)
    return [test_text(test, path, short=True), step_verdict(test)]


def ladder(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    block = Block()
    groups: list[tuple[Recipe, list[CollectedRun]]] = []
    for folder in spec["runs"]:
        try:
            groups.append((art.recipe(folder), art.trained(folder)))
        except Missing:
            block.missing.append(folder)
            groups.append((art.recipe(folder), []))
    scored, unscored = scored_groups([g for g in groups if g[1]])
    block.missing += unscored
    kept = {id(g) for g in scored}
    groups = [g if id(g) in kept else (g[0], []) for g in groups]
    landed = [g for g in groups if g[1]]
    if not landed:
        return block
    score = score_of(landed[0][1])
    path = f"final.{score}"
    rows, verdicts = [], {}
    before = None
    for recipe, runs in groups:
        if not runs:
            rows.append(
                [recipe.folder, recipe.label or "", f"{NOT_RUN} (0 of {wanted(recipe)} seeds)", "", "-", "-"]
            )
            before = None
            continue
        test, verdict = _step(before, (recipe, runs), path)
        rows.append(
            [
                recipe.folder,
                recipe.label or "",
                spread_text(final((recipe, runs)), path),
                stop_text(runs),
                test,
                verdict,
            ]
        )
        if before is not None:
            verdicts.setdefault(verdict, []).append(
                f"{recipe.folder} ({test})" if verdict not in (WAITS, NO_TEST) else recipe.folder
            )
        before = (recipe, runs)
    block.lines += table(
        [
            "step",
            "adds",
            f"final {SCORE_NAMES[score]} (mean ± std)",
            "epochs (why it stopped)",
            "against the step before",
            "verdict",
        ],
        rows,
    )
    figure, link = figures.next()
    plot_curves(
        [curve(recipe.caption, runs) for recipe, runs in landed],
        figure,
        f"the ladder {' -> '.join(r.folder for r, _ in landed)}: test split",
        splits=("test",),
    )
    block.lines += ["", f"![test curves of the ladder {', '.join(r.folder for r, _ in landed)}]({link})"]
    block.reading += [f"{verdict.capitalize()}: {'; '.join(steps)}." for verdict, steps in verdicts.items()]
    if block.missing:
        block.reading.append(f"Not in the ladder yet, {NOT_RUN}: {', '.join(block.missing)}.")
    last_recipe, last_runs = landed[-1]
    block.headline = f"{last_recipe.folder} {SCORE_NAMES[score]} {spread_text(final(landed[-1]), path)}"
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return list(spec["runs"])


KIND = Kind("ladder", ladder, reads)
