"""The `initial` analysis: the untrained net's loss and error (summary.json `initial`) against those after
epoch 1, over the seeds of a seeded recipe as mean ± std. Spec: {kind: initial, run: <folder>}."""

from __future__ import annotations

import math
from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.formatting import pct
from cnnlab.labs.book.kind import Kind
from cnnlab.labs.book.seeds import Spread, spread_text


def initial(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """The error of the untrained net (summary.json `initial`) against the one after epoch 1; over the
    seeds of a seeded recipe, as mean ± std."""
    block = Block()
    try:
        found = art.trained(spec["run"])
        starts = [r.summary["initial"] for r in found]
    except (Missing, KeyError):
        block.missing.append(spec["run"])
        return block
    run = found[0]
    firsts = [r.metrics.iloc[0] for r in found]
    wanted = len(art.recipe(spec["run"]).seeds)

    def error(rows: list[Any], key: str) -> str:
        if not wanted:
            return pct(1 - rows[0][key])
        return spread_text(Spread(tuple(1 - float(r[key]) for r in rows), wanted), fmt="pct")

    def loss(rows: list[Any], key: str) -> str:
        if not wanted:
            return f"{rows[0][key]:.3f}"
        return spread_text(Spread(tuple(float(r[key]) for r in rows), wanted))

    split = run.eval_split
    rows = [
        [when, *(f"{loss(r, f'{s}_loss')}, {error(r, f'{s}_acc')}" for s in ("train", split))]
        for when, r in (("before any step", starts), ("after epoch 1", firsts))
    ]
    block.lines += table(["when", "train loss, error", f"{split} loss, error"], rows)
    n = run.num_classes or 0
    chance_error = 100 - (run.chance or 0)
    nets = "untrained nets'" if wanted else "untrained net's"
    text = (
        f"Before any step the error is {error(starts, 'train_acc')} on train and "
        f"{error(starts, f'{split}_acc')} on {split}; guessing among {n} classes errs {chance_error:.0f}% "
        f"of the time and has loss ln({n}) = {math.log(n):.3f}, against the {nets} "
        f"{loss(starts, 'train_loss')}."
    )
    block.reading.append(text)
    block.reading.append(
        f"After epoch 1 the train error, averaged over the epoch while the weights moved, is "
        f"{error(firsts, 'train_acc')}; the {split} error of the weights at the end of it is "
        f"{error(firsts, f'{split}_acc')}."
    )
    block.headline = (
        f"start {error(starts, 'train_acc')} / {error(starts, f'{split}_acc')} error, "
        f"epoch 1 {error(firsts, 'train_acc')} / {error(firsts, f'{split}_acc')}"
    )
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [spec["run"]]


KIND = Kind("initial", initial, reads)
