"""The `gap` analysis: running train accuracy (train mode) against evaluation accuracy (eval mode) per
epoch. Spec: {kind: gap, run: <folder>}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.formatting import pct
from cnnlab.labs.book.kind import Kind, fetched


def gap(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Train accuracy (running mean, train mode) against evaluation accuracy (eval mode) per epoch."""
    block = Block()
    run = fetched(art.run, spec["run"], block)
    if run is None:
        return block
    split = run.eval_split
    metrics = run.metrics
    diff = (metrics["train_acc"] - metrics[f"{split}_acc"]) * 100
    rows = [
        [str(e), pct(t), pct(v), f"{d:+.2f}"]
        for e, t, v, d in zip(
            metrics["epoch"], metrics["train_acc"], metrics[f"{split}_acc"], diff, strict=True
        )
    ]
    block.lines += table(
        ["epoch", "train acc (running, train mode)", f"{split} acc (eval mode)", "train - eval, points"], rows
    )
    first, last = diff.iloc[0], diff.iloc[-1]
    block.reading.append(
        f"At epoch 1 the running train accuracy is {abs(first):.2f} points "
        f"{'below' if first < 0 else 'above'} "
        f"the {split} accuracy; at epoch {len(metrics)} it is {abs(last):.2f} points "
        f"{'below' if last < 0 else 'above'}."
    )
    block.headline = f"train - {split}: {first:+.2f} points at epoch 1, {last:+.2f} at epoch {len(metrics)}"
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [spec["run"]]


KIND = Kind("gap", gap, reads)
