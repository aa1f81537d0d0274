"""The `expect` analysis: what the lab text expects of two runs, checked (Welch's test over seeds, a
margin between single runs). Spec: {kind: expect, claim: <text>, higher: <ref>, lower: <ref>,
format: <format>, margin: <points>}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, Figures
from cnnlab.labs.book.formatting import fmt_value, is_percent
from cnnlab.labs.book.kind import Kind
from cnnlab.labs.book.seeds import Spread
from cnnlab.labs.book.welch import expect_verdict


def expect(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """What the lab text expects of two runs (`higher` ends above `lower` in `value`), checked. Where a
    side is trained over seeds, Welch's t-test over the seeds decides (welch.expect_verdict); between
    two single runs, `margin` (in points for accuracies) is the smallest gap that counts as clear."""
    block = Block()
    try:
        high, low = art.ref(spec["higher"]), art.ref(spec["lower"])
    except Missing as missing:
        block.missing.append(missing.args[0])
        return block
    path = spec["higher"].split(":", 1)[1]
    names = [spec[k].split(":", 1)[0] for k in ("higher", "lower")]
    fmt = spec.get("format")
    if isinstance(high, Spread) or isinstance(low, Spread):
        high, low = (v if isinstance(v, Spread) else Spread((float(v),), 1) for v in (high, low))
        block.reading.append(expect_verdict(spec["claim"], (names[0], names[1]), high, low, path, fmt))
        return block
    high, low = float(high), float(low)
    shown = f"{names[0]} {fmt_value(high, path, fmt)} against {names[1]} {fmt_value(low, path, fmt)}"
    percent = is_percent(high, path, fmt) or fmt == "points"
    margin = float(spec.get("margin", 0)) / (100 if percent else 1)
    gap = abs(high - low)
    if gap < margin:
        as_gap = "points" if percent else fmt
        verdict, way = (
            ("agrees in direction only", "apart")
            if high > low
            else ("shows no clear difference", "the other way")
        )
        block.reading.append(
            f"The lab expects that {spec['claim']}; ours {verdict}: {shown}, {fmt_value(gap, path, as_gap)} "
            f"{way}, less than the {fmt_value(margin, path, as_gap)} this section counts as a clear "
            "difference."
        )
    elif high > low:
        block.reading.append(f"As the lab expects ({spec['claim']}): {shown}.")
    else:
        block.reading.append(f"Unlike what the lab expects ({spec['claim']}): {shown}.")
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [spec[key].partition(":")[0] for key in ("higher", "lower")]


KIND = Kind("expect", expect, reads)
