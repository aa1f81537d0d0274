"""The `runs` analysis: training runs as a table, their curves and a reading per run, ranked; over
recipes trained with seeds, mean ± std per recipe and Welch's test on each gap. Spec: {kind: runs,
runs: [<folder>, ...], compare: false, table: false, figure: true}."""

from __future__ import annotations

import math
from typing import Any

from cnnlab.labs.book import seeded_runs
from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.block import NOT_RUN, Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.figures import curve, plot_curves
from cnnlab.labs.book.formatting import seconds
from cnnlab.labs.book.kind import Kind, fetched
from cnnlab.labs.book.readings import SCORE_NAMES, loss_reading, metric_text
from cnnlab.labs.book.seeds import spread_text


def _curve_reading(label: str, run: CollectedRun) -> list[str]:
    """Final and best score, chance level, and whether the evaluation loss turns up again."""
    score = run.score
    if score is None:
        return []
    series = run.metrics.set_index("epoch")[score].dropna()
    epochs = len(run.metrics)
    final = metric_text(score, series.iloc[-1])
    if run.at_chance(score):
        out = [
            f"{label} stays at chance level: {SCORE_NAMES[score]} {final} after {epochs} epochs, against "
            f"{run.chance:.0f}% for guessing among {run.num_classes} classes."
        ]
    else:
        best = series.idxmax() if not score.endswith("loss") else series.idxmin()
        out = [
            f"{label}: {SCORE_NAMES[score]} {final} after {epochs} epochs "
            f"(highest {metric_text(score, series[best])} "
            f"at epoch {best})."
        ]
    return out + loss_reading(run.metrics, run.eval_split)


def _ranking(labelled: list[tuple[str, CollectedRun]]) -> str | None:
    """The runs ordered by their final score, with the gap in points (or dB) to the next."""
    scores = {r.score for _, r in labelled}
    if len(labelled) < 2 or len(scores) != 1 or None in scores:
        return None
    score = scores.pop()
    ranked = sorted(labelled, key=lambda lr: -float(lr[1].metrics[score].iloc[-1]))
    parts = []
    for i, (label, run) in enumerate(ranked):
        value = float(run.metrics[score].iloc[-1])
        if i:
            before = float(ranked[i - 1][1].metrics[score].iloc[-1])
            gap = (before - value) * (100 if score.endswith("acc") else 1)
            unit = "points" if score.endswith("acc") else "dB"
            if round(gap, 2) == 0:
                parts.append(f"= {label} {metric_text(score, value)}")
            else:
                parts.append(
                    f"> {label} {metric_text(score, value)} ({gap:.2f} {unit} below {ranked[i - 1][0]})"
                )
        else:
            parts.append(f"{label} {metric_text(score, value)}")
    return f"Final {SCORE_NAMES[score]}: " + " ".join(parts) + "."


def _present(art: LabArtefacts, folders: list[str], block: Block) -> list[tuple[str, list[CollectedRun]]]:
    """The landed runs (one, or a seeded recipe's seeds) of these folders that are in experiments/;
    the others are noted as missing."""
    found = [(folder, fetched(art.trained, folder, block)) for folder in folders]
    return [(folder, runs) for folder, runs in found if runs is not None]


def _row(label: str, run: CollectedRun) -> list[str]:
    """One run's row: epochs, final train accuracy, final and best score, lowest and final eval loss,
    parameters, wall time and device."""
    score = run.score or "train_loss"
    train = "train_" + score.split("_", 1)[1]
    loss = f"{run.eval_split}_loss"
    metrics = run.metrics.set_index("epoch")
    best = metrics[score].idxmin() if score == "train_loss" else metrics[score].idxmax()
    low = metrics[loss].idxmin() if loss in metrics and metrics[loss].notna().any() else None
    return [
        label,
        str(len(metrics)),
        metric_text(train, metrics[train].iloc[-1]) if train in metrics else "",
        f"{SCORE_NAMES[score]} {metric_text(score, metrics[score].iloc[-1])}",
        f"{metric_text(score, metrics[score][best])} (epoch {best})",
        f"{metrics[loss][low]:.3g} (epoch {low})" if low is not None else "",
        f"{metrics[loss].iloc[-1]:.3g}" if low is not None else "",
        f"{run.summary.get('n_params', 0):,}",
        seconds(float(run.summary.get("wall_s", math.nan))),
        str(run.summary.get("device", "")),
    ]


def _seeded(
    art: LabArtefacts,
    spec: dict[str, Any],
    figures: Figures,
    present: list[tuple[str, list[CollectedRun]]],
    block: Block,
) -> Block:
    """`runs` over recipes trained with seeds: mean ± std, n and stop epochs per recipe, curves as a mean
    line with a min-max band (figures.BAND), a reading per recipe and the ranking by means with each gap's
    Welch test; with `compare: true` the joint figure (and `table: true` the rows) only."""
    groups, unscored = seeded_runs.scored([(art.recipe(folder), found) for folder, found in present])
    block.missing += unscored
    if not groups:
        return block
    folders = ", ".join(recipe.folder for recipe, _ in groups)
    compare = spec.get("compare")
    if compare and len(groups) < 2:
        block.reading.append(f"Nothing to compare yet, {NOT_RUN}: {', '.join(block.missing)}.")
        return block
    if not compare or spec.get("table"):
        block.lines += [*seeded_runs.rows(groups), ""]
    if spec.get("figure", True):
        path, link = figures.next()
        plot_curves([curve(recipe.caption, found) for recipe, found in groups], path, folders)
        block.lines += [f"![curves of {folders}]({link})"]
    if not compare:  # a compared pair's verdict is its section's `expect`, tested over the seeds
        for group in groups:
            block.reading += seeded_runs.reading(group)
        block.reading += [r for r in [seeded_runs.ranking(groups)] if r]
    if compare and block.missing:
        block.reading.append(f"Not in the figure, {NOT_RUN}: {', '.join(block.missing)}.")
    if not compare:
        block.headline = "; ".join(
            f"{recipe.folder} {SCORE_NAMES[seeded_runs.score_of(found)]} "
            f"{spread_text(seeded_runs.final((recipe, found)), 'final.' + seeded_runs.score_of(found))}"
            for recipe, found in groups
        )
    return block


def runs(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Training runs: a table, curves (unless `figure: false`, where another section draws them) and a
    reading per run; with `compare: true` (runs whose own sections hold their tables) only the joint
    figure and the ranking, with `table: true` a compact table too."""
    block = Block()
    present = _present(art, spec["runs"], block)
    if not present:
        return block
    if any(art.recipe(folder).seeds for folder, _ in present):
        return _seeded(art, spec, figures, present, block)
    labelled = [(folder, found[0]) for folder, found in present]
    if spec.get("compare"):
        if len(labelled) < 2:  # one run alone is its own section's figure; drawing it again repeats it
            block.reading.append(f"Nothing to compare yet, {NOT_RUN}: {', '.join(block.missing)}.")
            return block
        if spec.get("table"):
            block.lines += table(
                ["run", "epochs", "final train score", "final score", "best (epoch)"],
                [_row(f, r)[:5] for f, r in labelled],
            )
            block.lines.append("")
        path, link = figures.next()
        plot_curves([curve(f, [r]) for f, r in labelled], path, ", ".join(label for label, _ in labelled))
        block.lines += [f"![curves of {', '.join(label for label, _ in labelled)}]({link})"]
        block.reading += [r for r in [_ranking(labelled)] if r]
        if block.missing:
            block.reading.append(f"Not in the figure, {NOT_RUN}: {', '.join(block.missing)}.")
        return block
    rows = [_row(label, run) for label, run in labelled]
    block.lines += table(
        [
            "run",
            "epochs",
            "final train score",
            "final score",
            "best (epoch)",
            "lowest eval loss (epoch)",
            "final eval loss",
            "params",
            "wall time",
            "device",
        ],
        rows,
    )
    if spec.get("figure", True):
        path, link = figures.next()
        plot_curves([curve(f, [r]) for f, r in labelled], path, ", ".join(label for label, _ in labelled))
        block.lines += ["", f"![curves of {', '.join(label for label, _ in labelled)}]({link})"]
    for label, run in labelled:
        block.reading += _curve_reading(label, run)
    ranking = _ranking(labelled)
    if ranking:
        block.reading.append(ranking)
    block.headline = "; ".join(
        f"{label} {SCORE_NAMES[r.score]} {metric_text(r.score, r.metrics[r.score].iloc[-1])}"
        for label, r in labelled
        if r.score
    )
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return list(spec["runs"])


KIND = Kind("runs", runs, reads)
