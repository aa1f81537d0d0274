"""The lab's own published figures beside ours (a section's `reference:`), and a sentence for each
that says whether they agree within its tolerance. A value over seeds reads with its spread and n, as
everywhere else; a pick of a sweep (`pick:`) says whether it leads its runner-up beyond the seed spread
or is a tie (ties.py)."""

from __future__ import annotations

import math

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, table
from cnnlab.labs.book.formatting import num, num_and_spread, with_unit
from cnnlab.labs.book.registry import Reference
from cnnlab.labs.book.seeds import Spread, spread_text
from cnnlab.labs.book.ties import Lead, lead


def ours_text(raw: Spread, path: str, unit: str) -> str:
    """Our value over seeds in the reference's unit: mean ± sample std with n (`98.73 ± 0.30% (n=3)`),
    a value once where every seed agrees (`29,029`), with n while seeds are still to land."""
    percent = unit == "%" and "acc" in path.rsplit(".", 1)[-1]
    if percent or not raw.numeric:
        return spread_text(raw, path)
    partial = "" if raw.n >= raw.wanted else f" ({raw.count})"
    if len(set(raw.values)) == 1:
        return with_unit(float(raw.values[0]), unit) + partial
    if math.isnan(raw.mean):
        return spread_text(raw, path)
    shown = (
        f"{num_and_spread(raw.mean, raw.std)} {unit}".rstrip()
        if unit != "%"
        else f"{raw.mean:.2f} ± {raw.std:.2f}%"
    )
    return f"{shown} ({raw.count})"


def _lead(art: LabArtefacts, ref: Reference) -> Lead | None:
    """The pick a reference reports against its runner-up and the seed spread (None without `pick:`)."""
    if not ref.pick:
        return None
    try:
        return lead(art, ref.pick["sweep"], ref.pick["seeds"], ref.pick.get("name"))
    except Missing:
        return None


def _job_label(ref: Reference):
    """How a pick's tie sentence names a job: by the override the reference reads (`batch_size=32`)."""
    path = ref.ours.partition(":")[2]
    key = path.removeprefix("best_override.") if path.startswith("best_override.") else None

    def label(job) -> str:
        if key is None:
            return job.path.name
        return f"{key.rsplit('.', 1)[-1]}={job.overrides.get(key, '-')}"

    return label


def reference_block(art: LabArtefacts, references: tuple) -> Block:
    """The lab's figures beside ours, and a sentence for each that says whether they agree."""
    block = Block()
    rows, matches = [], []
    for ref in references:
        path = ref.ours.partition(":")[2]
        try:
            raw = art.ref(ref.ours)
        except Missing as missing:
            block.missing.append(missing.args[0])
            rows.append([ref.label, with_unit(ref.lab, ref.unit), "not yet measured", ""])
            continue
        scale = 100 if ref.unit == "%" and "acc" in path else 1
        ours = float(raw.mean if isinstance(raw, Spread) else raw) * scale  # over seeds: their mean
        diff = ours - ref.lab
        unit = "points" if ref.unit == "%" else ref.unit
        shown = ours_text(raw, path, ref.unit) if isinstance(raw, Spread) else with_unit(ours, ref.unit)
        theirs = with_unit(ref.lab, ref.unit)
        # points to the two decimals the percentages show; other units to four significant digits
        gap = (f"{diff:+.2f}" if unit == "points" else f"{diff:+.4g}") + f" {unit}".rstrip()
        tolerance = f"{num(ref.tolerance)} {unit}".strip()
        picked = _lead(art, ref)
        rows.append(
            [
                ref.label,
                theirs,
                shown + (" (a tie within the seed spread)" if picked and picked.tie else ""),
                gap,
            ]
        )
        if picked is not None:
            agree = f"equals the lab's {theirs}" if diff == 0 else f"differs from the lab's {theirs} by {gap}"
            but = "but" if picked.tie else "and"
            block.reading.append(f"{ref.label}: ours {shown} {agree}, {but} {picked.text(_job_label(ref))}.")
        elif diff == 0:
            matches.append(ref.label)
        elif abs(diff) <= ref.tolerance:
            block.reading.append(f"{ref.label}: ours {shown} is within {tolerance} of the lab's {theirs}.")
        else:
            block.reading.append(f"{ref.label}: ours {shown} differs from the lab's {theirs} by {gap}.")
    if matches:
        block.reading.insert(0, f"Ours equals the lab's figure for {'; '.join(matches)}.")
    block.lines += table(["figure", "the lab's", "ours", "ours - lab's"], rows)
    block.headline = "; ".join(f"{r[0]} {r[2]}" for r in rows)
    return block
