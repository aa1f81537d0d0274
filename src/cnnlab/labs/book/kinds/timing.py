"""The `timing` analysis: wall time, time per epoch and final evaluation loss of runs that differ in
speed settings. Spec: {kind: timing, runs: [<folder>, ...]}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.formatting import seconds
from cnnlab.labs.book.kind import Kind, fetched
from cnnlab.labs.book.readings import metric_text


def timing(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Wall time, time per epoch and final evaluation loss of runs that differ in speed settings."""
    block = Block()
    found = [(folder, fetched(art.run, folder, block)) for folder in spec["runs"]]
    present = [(folder, run) for folder, run in found if run is not None]
    if not present:
        return block
    rows, per_epoch = [], {}
    for folder, run in present:
        m = run.metrics
        per_epoch[folder] = float(m["epoch_s"].mean())
        split = run.eval_split
        rows.append(
            [
                folder,
                str(run.config.get("trainer", {}).get("batch_size", "")),
                str(len(m)),
                seconds(float(run.summary["wall_s"])),
                f"{per_epoch[folder]:.1f} s",
                f"{m['images_per_s'].mean():,.0f}",
                f"{m[f'{split}_loss'].iloc[-1]:.4g}",
                metric_text(run.score, m[run.score].iloc[-1]) if run.score else "",
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
            "final score",
        ],
        rows,
    )
    fastest = min(per_epoch, key=per_epoch.get)
    slowest = max(per_epoch, key=per_epoch.get)
    if fastest != slowest:
        block.reading.append(
            f"{fastest} takes {per_epoch[fastest]:.1f} s per epoch against {per_epoch[slowest]:.1f} s for "
            f"{slowest} ({per_epoch[slowest] / per_epoch[fastest]:.2f}x)."
        )
    losses = {f: float(r.metrics[f"{r.eval_split}_loss"].iloc[-1]) for f, r in present}
    if len(set(losses.values())) > 1:
        low = min(losses, key=losses.get)
        others = ", ".join(f"{f} {v:.4g}" for f, v in losses.items() if f != low)
        block.reading.append(f"Final evaluation loss is lowest for {low} ({losses[low]:.4g}; {others}).")
    block.headline = "; ".join(f"{f} {seconds(float(r.summary['wall_s']))}" for f, r in present)
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return list(spec["runs"])


KIND = Kind("timing", timing, reads)
