"""The `tuned` analysis: two-step tuning (vu3a q3.17), each net's best lr in a first sweep and best
batch size at that lr in a second, each by its sweep's `select:` rule. Spec: {kind: tuned, nets:
[{name: <job name>, label: <text>, lr_sweep: <folder>, bs_sweep: <folder>}, ...]}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing, selected_value
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.formatting import pct
from cnnlab.labs.book.kind import Kind
from cnnlab.labs.book.readings import SCORE_NAMES, metric_text

# How each selection rule (a sweep recipe's `select:`) reads in a table head and in a reading.
RULE_NAMES = {"best": "best val acc", "final": "final val acc"}


RULE_WORDS = {
    "best": "best validation accuracy (any epoch)",
    "final": "validation accuracy at the last epoch",
}


def _spread(jobs: list[CollectedRun], by: str) -> str:
    """How far apart the jobs' ranking values lie: a choice inside a narrow spread is a weak one."""
    values = [v for v in (selected_value(j, by) for j in jobs) if v is not None]
    low, high = min(values), max(values)
    return f"lie within {100 * (high - low):.2f} points, {pct(low)} to {pct(high)}"


def tuned(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Two-step tuning: each net's best lr in the first sweep, best batch size at that lr in the second,
    each picked by its sweep's rule (`select:`)."""
    block = Block()
    rows, heads = [], []
    for net in spec["nets"]:
        by1, by2 = art.recipe(net["lr_sweep"]).select, art.recipe(net["bs_sweep"]).select
        try:
            step1 = art.best(net["lr_sweep"], net["name"])
            step2_jobs = art.sweep(net["bs_sweep"])
            step2 = art.best(net["bs_sweep"])
        except Missing:
            block.missing.append(net["bs_sweep"])
            continue
        score = step2.score
        rows.append(
            [
                net["label"],
                f"{step1.overrides.get('optimizer.lr')} ({pct(selected_value(step1, by1))})",
                f"{step2.overrides.get('trainer.batch_size')} ({pct(selected_value(step2, by2))}, "
                f"epoch {step2.summary['best']['epoch'] if by2 == 'best' else len(step2.metrics)})",
                pct(float(step2.metrics["test_acc"].iloc[-1])) if "test_acc" in step2.metrics else "",
            ]
        )
        heads.append(f"{net['label']} {rows[-1][-1]}")
        lr_jobs = [j for j in art.sweep(net["lr_sweep"]) if j.name == net["name"]]
        lr, batch = step1.overrides.get("optimizer.lr"), step2.overrides.get("trainer.batch_size")
        block.reading.append(
            f"{net['label'][:1].upper()}{net['label'][1:]}: by {RULE_WORDS[by1]}, lr {lr} is best at "
            f"batch {step1.config.get('trainer', {}).get('batch_size')} (the {len(lr_jobs)} lrs "
            f"{_spread(lr_jobs, by1)}), then by {RULE_WORDS[by2]} batch {batch} at that lr (the "
            f"{len(step2_jobs)} batch sizes {_spread(step2_jobs, by2)}); that job's "
            f"{SCORE_NAMES[score]} at its last epoch is {metric_text(score, step2.metrics[score].iloc[-1])}."
        )
    if rows:
        rules = [RULE_NAMES[art.recipe(spec["nets"][0][k]).select] for k in ("lr_sweep", "bs_sweep")]
        block.lines += table(
            ["net", f"best lr ({rules[0]})", f"best batch size ({rules[1]}, epoch)", "test acc of that job"],
            rows,
        )
        block.headline = "; ".join(heads)
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [net[key] for net in spec["nets"] for key in ("lr_sweep", "bs_sweep")]


KIND = Kind("tuned", tuned, reads)
