"""The `timing` analysis: wall time, time per epoch and final evaluation loss of runs that differ in
speed settings, each over its seeds. Spec: {kind: timing, runs: [<folder>, ...]}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.kind import Kind, fetched
from cnnlab.labs.book.readings import SCORE_NAMES
from cnnlab.labs.book.seeds import Spread, spread_text
from cnnlab.labs.book.welch import test_text, welch


def timing(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Wall time, time per epoch and final evaluation loss of runs that differ in speed settings: each a
    mean ± std over the recipe's seeds; the loss compared by Welch's test once both sides have seeds."""
    block = Block()
    found = [(folder, fetched(art.trained, folder, block)) for folder in spec["runs"]]
    present = [(folder, runs) for folder, runs in found if runs is not None]
    if not present:
        return block
    rows, walls, per_epoch, losses, scores = [], {}, {}, {}, set()
    for folder, runs in present:
        wanted = max(1, len(art.recipe(folder).seeds))
        spread = {
            name: Spread(tuple(float(read(r)) for r in runs), wanted)
            for name, read in (
                ("wall", lambda r: r.summary["wall_s"]),
                ("epoch", lambda r: r.metrics["epoch_s"].mean()),
                ("images", lambda r: r.metrics["images_per_s"].mean()),
                ("loss", lambda r: r.metrics[f"{r.eval_split}_loss"].iloc[-1]),
            )
        }
        scores.add(runs[0].score)
        walls[folder], per_epoch[folder], losses[folder] = spread["wall"], spread["epoch"], spread["loss"]
        rows.append(
            [
                folder,
                str(runs[0].config.get("trainer", {}).get("batch_size", "")),
                spread_text(Spread(tuple(len(r.metrics) for r in runs), wanted)),
                spread_text(spread["wall"], fmt="s"),
                spread_text(spread["epoch"]),
                spread_text(spread["images"]),
                spread_text(spread["loss"]),
                _final_score(runs, wanted),
            ]
        )
    block.lines += table(
        [
            "run",
            "batch size",
            "epochs",
            "wall time",
            "s per epoch",
            "images/s",
            "final eval loss",
            _score_header(scores),
        ],
        rows,
    )
    fastest = min(per_epoch, key=lambda f: per_epoch[f].mean)
    slowest = max(per_epoch, key=lambda f: per_epoch[f].mean)
    if fastest != slowest:
        fast, slow = per_epoch[fastest].mean, per_epoch[slowest].mean
        block.reading.append(
            f"{fastest} takes {fast:.1f} s per epoch against {slow:.1f} s for {slowest} ({slow / fast:.2f}x, "
            "means over the seeds)."
        )
    if len(losses) == 2 and all(loss.ready for loss in losses.values()):
        (a, loss_a), (b, loss_b) = losses.items()
        test = welch(loss_a.values, loss_b.values)
        shown = f"{a} {spread_text(loss_a)} against {b} {spread_text(loss_b)}"
        verdict = f"is lower for {a if test.diff < 0 else b}" if test.clear else "shows no clear difference"
        block.reading.append(f"Final evaluation loss {verdict}: {shown}; {test_text(test)}.")
    block.headline = "; ".join(f"{f} {spread_text(wall, fmt='s')}" for f, wall in walls.items())
    return block


def _final_score(runs: list[CollectedRun], wanted: int) -> str:
    score = runs[0].score
    if not score:
        return ""
    return spread_text(Spread(tuple(float(r.metrics[score].iloc[-1]) for r in runs), wanted), score)


def _score_header(scores: set[str | None]) -> str:
    """The score column named by what it holds (`final test PSNR (dB)`) where every run has the same."""
    if len(scores) != 1 or None in scores:
        return "final score"
    (score,) = scores
    return f"final {SCORE_NAMES.get(score, score)}" + (" (dB)" if score.endswith("_psnr") else "")


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return list(spec["runs"])


KIND = Kind("timing", timing, reads)
