"""The `tuned` analysis: two-step tuning (vu3a q3.17), each net's best lr in a first sweep and best
batch size at that lr in a second, each by its sweep's `select:` rule; with `lr_seeds:` / `bs_seeds:`
(a seeded recipe at that step's setting), whether each pick leads its runner-up by more than the
spread between those seeds or is a tie (ties.py). Spec: {kind: tuned, nets: [{name: <job name>,
label: <text>, lr_sweep: <folder>, bs_sweep: <folder>, lr_seeds: <folder>, bs_seeds: <folder>}, ...]}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing, selected_value
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.formatting import pct
from cnnlab.labs.book.kind import Kind
from cnnlab.labs.book.readings import SCORE_NAMES, metric_text
from cnnlab.labs.book.ties import Lead, lead

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


# How each step names a job in its tie sentence: by the key it tunes.
STEPS = (("lr", "optimizer.lr", "lr"), ("bs", "trainer.batch_size", "batch"))


def _leads(art: LabArtefacts, net: dict[str, Any]) -> dict[str, Lead | None]:
    """Each step's pick against its runner-up beside the seed spread, for the steps whose spec names a
    seeded recipe (`lr_seeds`, `bs_seeds`); a step whose seeds are not yet in is left out."""
    out: dict[str, Lead | None] = {}
    for step, _, _ in STEPS:
        if net.get(f"{step}_seeds"):
            name = net["name"] if step == "lr" else None
            try:
                out[step] = lead(art, net[f"{step}_sweep"], net[f"{step}_seeds"], name)
            except Missing:
                continue
    return out


def _tie_reading(label: str, leads: dict[str, Lead | None]) -> str | None:
    """A sentence on whether each step's pick leads its runner-up beyond the seed spread or is a tie."""
    parts = [
        found.text(lambda job, key=key, word=word: f"{word} {job.overrides.get(key)}")
        for step, key, word in STEPS
        if (found := leads.get(step)) is not None
    ]
    if not parts:
        return None
    return f"{label[:1].upper()}{label[1:]}'s picks against the spread between seeds: {'; '.join(parts)}."


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
        leads = _leads(art, net)
        tie = {step: "; a tie" if found is not None and found.tie else "" for step, found in leads.items()}
        lr_value = f"{pct(selected_value(step1, by1))}{tie.get('lr', '')}"
        rows.append(
            [
                net["label"],
                f"{step1.overrides.get('optimizer.lr')} ({lr_value})",
                f"{step2.overrides.get('trainer.batch_size')} ({pct(selected_value(step2, by2))}, "
                f"epoch {step2.summary['best']['epoch'] if by2 == 'best' else len(step2.metrics)}"
                f"{tie.get('bs', '')})",
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
        block.reading += [r for r in [_tie_reading(net["label"], leads)] if r]
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
    keys = ("lr_sweep", "bs_sweep", "lr_seeds", "bs_seeds")
    return [net[key] for net in spec["nets"] for key in keys if net.get(key)]


KIND = Kind("tuned", tuned, reads)
