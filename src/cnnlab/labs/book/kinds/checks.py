"""The `checks` analysis: numerical checks, every error against a tolerance. Spec: {kind: checks,
tol: <float>, values: {<label>: <folder>:<path>, ...}}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.formatting import fmt_value
from cnnlab.labs.book.kind import Kind


def checks(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Numerical checks: every error against a tolerance."""
    block = Block()
    rows, bad, worst = [], [], (None, -1.0)
    for label, ref in spec["values"].items():
        try:
            value = float(art.ref(ref))
        except Missing as missing:
            block.missing.append(missing.args[0])
            continue
        rows.append([label, fmt_value(value, fmt="sci")])
        if value > spec["tol"]:
            bad.append(f"{label} ({value:.1e})")
        if value > worst[1]:
            worst = (label, value)
    if not rows:
        return block
    block.lines += table(["check", "max error"], rows)
    if bad:
        block.reading.append(f"Above the tolerance {spec['tol']:.0e}: {', '.join(bad)}.")
    else:
        largest = fmt_value(worst[1], fmt="sci")
        agree = "The check agrees" if len(rows) == 1 else f"All {len(rows)} checks agree"
        block.reading.append(
            f"{agree} within {spec['tol']:.0e}; the largest error is {largest} ({worst[0]})."
        )
    block.headline = f"max error {fmt_value(worst[1], fmt='sci')}"
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [ref.partition(":")[0] for ref in spec["values"].values()]


KIND = Kind("checks", checks, reads)
