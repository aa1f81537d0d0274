"""The `equal` analysis: pairs of values that must agree (a closed form and a real layer, ours and the
lab's). Spec: {kind: equal, head: [...], pairs: [[<label>, <ref>, <ref>], ...]}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.formatting import fmt_value, subject
from cnnlab.labs.book.kind import Kind


def equal(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Pairs of values that should agree (a closed form and a real layer, ours and the lab's)."""
    block = Block()
    rows, differ = [], []
    for label, ref_a, ref_b in spec["pairs"]:
        try:
            a, b = art.ref(ref_a), art.ref(ref_b)
        except Missing as missing:
            block.missing.append(missing.args[0])
            continue
        rows.append([label, fmt_value(a), fmt_value(b), "yes" if a == b else "no"])
        if a != b:
            differ.append(f"{label} ({fmt_value(a)} vs {fmt_value(b)})")
    if rows:
        head = spec.get("head", ["value", "a", "b"])
        block.lines += table([*head, "equal"], rows)
        agree = f"{subject(len(rows), 'pair')} {'agrees' if len(rows) == 1 else 'agree'} exactly."
        block.reading.append(f"They differ: {', '.join(differ)}." if differ else agree)
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [ref.partition(":")[0] for pair in spec["pairs"] for ref in pair[1:]]


KIND = Kind("equal", equal, reads)
