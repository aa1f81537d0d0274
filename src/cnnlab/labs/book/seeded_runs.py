"""The `runs` analysis of recipes trained over seeds: one row per recipe with each value as mean ± std
over its seeds, n, and when and why each seed stopped; a reading per recipe; and the recipes ranked by
their means with each gap's Welch test, so that no ordering is read from noise."""

from __future__ import annotations

import pandas as pd

from cnnlab.labs.book.artefacts import Missing, over_seeds
from cnnlab.labs.book.block import table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.formatting import seconds
from cnnlab.labs.book.readings import SCORE_NAMES, loss_reading
from cnnlab.labs.book.registry import Recipe
from cnnlab.labs.book.seeds import MIN_SEEDS, Spread, restored_text, seed_band, spread_text, stop_text
from cnnlab.labs.book.welch import ALPHA, test_text, welch

# (recipe, its landed runs): a seeded recipe's seeds, or an unseeded recipe's one run.
Group = tuple[Recipe, list[CollectedRun]]
HEAD = [
    "run",
    "seeds",
    "epochs (why it stopped)",
    "weights of epoch",
    "final train score",
    "final score",
    "params",
    "wall time, all seeds",
    "device",
]


def wanted(recipe: Recipe) -> int:
    return len(recipe.seeds) or 1


def score_of(runs: list[CollectedRun]) -> str:
    return next((r.score for r in runs if r.score), None) or "train_loss"


def final(group: Group) -> Spread:
    """The final score of each seed: summary.json's `final`, the epoch whose weights the run ended
    with (its best validation epoch when it restored them)."""
    recipe, runs = group
    return over_seeds(runs, f"final.{score_of(runs)}", wanted(recipe))


def scored(groups: list[Group]) -> tuple[list[Group], list[str]]:
    """The groups whose seeds record a final score, and the folders of those that do not (every seed
    diverged before its first epoch)."""
    kept, dropped = [], []
    for group in groups:
        try:
            final(group)
            kept.append(group)
        except Missing:
            dropped.append(f"{group[0].folder} (no seed with a final score)")
    return kept, dropped


def row(group: Group) -> list[str]:
    recipe, runs = group
    score = score_of(runs)
    train = "train_" + score.split("_", 1)[1]

    def shown(path: str) -> str:
        try:
            return spread_text(over_seeds(runs, path, wanted(recipe)), path)
        except Missing:
            return ""

    devices = sorted({str(r.summary.get("device", "")) for r in runs})
    return [
        recipe.caption,
        f"{len(runs)} of {wanted(recipe)}",
        stop_text(runs),
        restored_text(runs),
        shown(f"final.{train}"),
        f"{SCORE_NAMES[score]} {shown(f'final.{score}')}",
        shown("n_params"),
        _wall(runs),
        ", ".join(devices),
    ]


def _wall(runs: list[CollectedRun]) -> str:
    """The seeds' summed wall time, of those that record one."""
    walls = [float(r.summary["wall_s"]) for r in runs if r.summary.get("wall_s") is not None]
    return seconds(sum(walls)) if walls else "-"


def rows(groups: list[Group]) -> list[str]:
    return table(HEAD, [row(g) for g in groups])


def mean_metrics(runs: list[CollectedRun]) -> pd.DataFrame:
    """metrics.csv averaged over the seeds, over the epochs every seed reached."""
    columns = [c for c in runs[0].metrics.columns if c != "epoch"]
    frame = {}
    for column in columns:
        band = seed_band([r.metrics for r in runs], column)
        frame[column] = band["mean"][band["n"] == len(runs)]
    return pd.DataFrame(frame).rename_axis("epoch").reset_index().dropna(how="all", subset=columns)


def reading(group: Group) -> list[str]:
    """The final score over the seeds, which epoch's weights each ended with, when and why each stopped
    (a seed stopped by the maximum has not converged), and the mean evaluation loss's course."""
    recipe, runs = group
    score = score_of(runs)
    first = runs[0]
    monitor = SCORE_NAMES.get(str(first.summary.get("monitor")), str(first.summary.get("monitor")))
    restored = any(r.summary.get("restored_epoch") for r in runs)
    weights = (
        f"with the weights of its best {monitor} epoch ({restored_text(runs)})"
        if restored
        else "with its last epoch's weights"
    )
    out = [
        f"{recipe.folder} over {len(runs)} of {wanted(recipe)} seeds: {SCORE_NAMES[score]} "
        f"{spread_text(final(group), f'final.{score}')} {weights}; epochs trained {stop_text(runs)}."
    ]
    capped = [r.path.name for r in runs if r.summary.get("stop_reason") == "max_epochs"]
    if capped and restored:
        out.append(
            f"{', '.join(capped)} reached the most epochs allowed before the stopping rule ended it: "
            "not known to have converged."
        )
    diverged = [r for r in runs if r.diverged]
    if diverged:
        out.append(
            f"{', '.join(f'{r.path.name} (epoch {r.diverged_in})' for r in diverged)}: the training loss "
            "became non-finite and the run ended; left out of the mean and std, and out of the mean "
            "curve's reading."
        )
    kept = [r for r in runs if not r.diverged]
    common = mean_metrics(kept) if kept else pd.DataFrame()
    if not common.empty:
        last = int(common["epoch"].iloc[-1])
        whose = "Its" if len(kept) == 1 else f"Over the epochs every seed trained (1 to {last}), its mean"
        out += loss_reading(common, first.eval_split, whose)
    return out


def ranking(groups: list[Group]) -> str | None:
    """The recipes ordered by their mean final score, each gap to the next with its Welch test; a recipe
    whose every seed diverged has no score to rank."""
    groups = [g for g in groups if final(g).n]
    scores = {score_of(runs) for _, runs in groups}
    if len(groups) < 2 or len(scores) != 1:
        return None
    score = scores.pop()
    path = f"final.{score}"
    ranked = sorted(groups, key=lambda g: -final(g).mean)
    parts = [f"{ranked[0][0].folder} {spread_text(final(ranked[0]), path)}"]
    for before, group in zip(ranked, ranked[1:], strict=False):
        above, below = final(before), final(group)
        out = [r for r in (above.diverged_out(before[0].folder), below.diverged_out(group[0].folder)) if r]
        if out:
            gap = "; ".join(out)
        elif above.ready and below.ready:
            test = welch(above.values, below.values)
            verdict = "a clear difference" if test.clear else f"no clear difference (not below {ALPHA})"
            gap = f"{test_text(test, path)}: {verdict}"
        else:
            gap = f"the test waits for n ≥ {MIN_SEEDS} seeds on each side"
        parts.append(f"then {group[0].folder} {spread_text(below, path)} ({gap})")
    return f"Mean final {SCORE_NAMES[score]}: " + "; ".join(parts) + "."
