"""The `by_value` analysis: one score against a hyper-parameter set at training time, each value its own
recipe trained over seeds (rdfia q32's dropout p): a row per value with mean ± std, n and the stop
epochs, the means drawn against the value with each one's lowest-to-highest seed, and the best value's
Welch test against each other value. Spec: {kind: by_value, key: <name of the value>,
path: <run path, e.g. final.test_acc>, points: [[<value>, <folder>], ...]}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing, over_seeds
from cnnlab.labs.book.block import NOT_RUN, Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.figures import plot_against
from cnnlab.labs.book.formatting import is_percent
from cnnlab.labs.book.kind import Kind
from cnnlab.labs.book.registry import Recipe
from cnnlab.labs.book.seeded_runs import wanted
from cnnlab.labs.book.seeds import MIN_SEEDS, Spread, spread_text, stop_text
from cnnlab.labs.book.welch import ALPHA, test_text, welch


def by_value(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    block = Block()
    key, path = spec["key"], spec["path"]
    found: list[tuple[Any, Recipe, list[CollectedRun], Spread]] = []
    for value, folder in spec["points"]:
        try:
            runs = art.trained(folder)
            found.append(
                (value, art.recipe(folder), runs, over_seeds(runs, path, wanted(art.recipe(folder))))
            )
        except Missing:
            block.missing.append(folder)
    if not found:
        return block
    what = path.rsplit(".", 1)[-1].replace("_", " ").replace("acc", "accuracy")
    block.lines += table(
        [key, "run", f"{what} (mean ± std)", "epochs (why it stopped)"],
        [[str(v), recipe.folder, spread_text(s, path), stop_text(runs)] for v, recipe, runs, s in found],
    )
    scored = [f for f in found if f[3].n]  # a value whose every seed diverged has no point to draw
    if not scored:
        block.reading.append(f"Every seed of every {key} diverged: nothing to draw or test.")
        return block
    figure, link = figures.next()
    percent = is_percent(scored[0][3].mean, path)
    plot_against(
        [float(v) for v, *_ in scored],
        [s for *_, s in scored],
        figure,
        key,
        what + (" (%)" if percent else ""),
    )
    block.lines += [
        "",
        f"![{what} against {key}]({link})",
        "",
        "Points: the mean over the seeds; bars: their lowest to highest value."
        + "".join(f" Not drawn: {key} = {v}, {spread_text(sp, path)}." for v, *_, sp in found if not sp.n),
    ]
    best = max(scored, key=lambda f: f[3].mean)
    block.reading.append(
        f"The highest mean {what} is at {key} = {best[0]} ({best[1].folder}, {spread_text(best[3], path)})."
    )
    for value, recipe, _, spread in found:
        if recipe is best[1]:
            continue
        out = spread.diverged_out(f"{key} = {value}") or best[3].diverged_out(f"{key} = {best[0]}")
        if out:
            block.reading.append(f"Against {key} = {value}: {out}.")
            continue
        if not (spread.ready and best[3].ready):
            block.reading.append(
                f"Against {key} = {value}: the test waits for n ≥ {MIN_SEEDS} seeds of each."
            )
            continue
        test = welch(best[3].values, spread.values)
        verdict = (
            f"below {ALPHA}, a clear difference" if test.clear else f"not below {ALPHA}, no clear difference"
        )
        block.reading.append(f"Against {key} = {value}: {test_text(test, path)}: {verdict}.")
    if block.missing:
        block.reading.append(f"Not yet in the table, {NOT_RUN}: {', '.join(block.missing)}.")
    block.headline = "; ".join(f"{key} = {v}: {spread_text(s, path)}" for v, _, _, s in found)
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [folder for _, folder in spec["points"]]


KIND = Kind("by_value", by_value, reads)
