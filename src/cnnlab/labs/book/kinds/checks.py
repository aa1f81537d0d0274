"""The `checks` analysis: numerical checks, every error against a tolerance. Spec: {kind: checks,
tol: <float>, values: {<label>: <folder>:<path>, ...}}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.formatting import fmt_value, subject
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
        block.reading.append(_agree(len(rows), spec["tol"], worst))
    block.headline = f"max error {fmt_value(worst[1], fmt='sci')}"
    return block


def _agree(n: int, tol: float, worst: tuple[str, float]) -> str:
    """That `n` checks all lie within the tolerance, and the largest error (exactly 0: say so)."""
    agree = f"{subject(n, 'check')} {'agrees' if n == 1 else 'agree'}"
    if worst[1] == 0:
        every = "its error is" if n == 1 else "both errors are" if n == 2 else "every error is"
        return f"{agree} exactly: {every} 0."
    largest = fmt_value(worst[1], fmt="sci")
    if n == 1:
        return f"{agree} within {tol:.0e}: its error is {largest}."
    return f"{agree} within {tol:.0e}; the largest error is {largest} ({worst[0]})."


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [ref.partition(":")[0] for ref in spec["values"].values()]


KIND = Kind("checks", checks, reads)
