"""The lab's own published figures beside ours (a section's `reference:`), and a sentence for each
that says whether they agree within its tolerance."""

from __future__ import annotations

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, table
from cnnlab.labs.book.formatting import num, with_unit
from cnnlab.labs.book.seeds import Spread


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
        raw = raw.mean if isinstance(raw, Spread) else raw  # over seeds: their mean
        ours = float(raw) * (100 if ref.unit == "%" and "acc" in path else 1)
        diff = ours - ref.lab
        unit = "points" if ref.unit == "%" else ref.unit
        shown, theirs = with_unit(ours, ref.unit), with_unit(ref.lab, ref.unit)
        # points to the two decimals the percentages show; other units to four significant digits
        gap = (f"{diff:+.2f}" if unit == "points" else f"{diff:+.4g}") + f" {unit}".rstrip()
        tolerance = f"{num(ref.tolerance)} {unit}".strip()
        rows.append([ref.label, theirs, shown, gap])
        if diff == 0:
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
