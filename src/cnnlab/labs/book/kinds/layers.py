"""The `layers` analysis: a per-layer table from an exercise's results, with the layer holding the most
of `share` and how `trend` moves from layer to layer. Spec: {kind: layers, rows: <folder>:<path>,
columns: [...], label: name, percent: false, share: <column>, trend: <column>}."""

from __future__ import annotations

from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.formatting import fmt_value
from cnnlab.labs.book.kind import Kind


def _fmt(column: str, percent: bool = False) -> str | None:
    """A column's format: percent when the spec asks for it or the column holds a fraction."""
    return "pct" if percent or "fraction" in column else None


def _name(key: str) -> str:
    """A column's key as words: fraction_active -> active fraction."""
    words = key.split("_")
    if words[0] == "fraction" and len(words) > 1:
        words = [*words[1:], "fraction"]
    return " ".join(words)


def _trend(items: list[tuple[str, dict[str, Any]]], key: str, percent: bool = False) -> str:
    """How a per-layer value moves from the first layer to the last, and whether it does at every step."""
    (first, a), (last, b) = items[0], items[-1]
    value = {name: fmt_value(row[key], key, _fmt(key, percent)) for name, row in items}
    shown = {name: f"{name} ({value[name]})" for name in value}
    if b[key] == a[key]:
        text = f"The {_name(key)} is {value[first]} at both {first} and {last}"
        moved = [name for name, row in items if row[key] != a[key]]
        if moved:
            return f"{text}, but not at every layer: {moved[0]} has {value[moved[0]]}."
        return f"{text}, and at every layer between."
    sign = 1 if b[key] > a[key] else -1
    verb = "rises" if sign > 0 else "falls"
    text = f"The {_name(key)} {verb} from {value[first]} at {first} to {value[last]} at {last}"
    for (before, x), (name, y) in zip(items, items[1:], strict=False):
        if sign * (y[key] - x[key]) < 0:
            way = "below" if sign > 0 else "above"
            return f"{text}, but not at every layer: {shown[name]} is {way} {shown[before]}."
    return f"{text}, {'rising' if sign > 0 else 'falling'} at every layer."


def layers(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """A per-layer table from a task's results (a list of rows or a mapping of name to row)."""
    block = Block()
    try:
        found = art.ref(spec["rows"])
    except Missing as missing:
        block.missing.append(missing.args[0])
        return block
    key = spec.get("label", "name")
    items = (
        list(found.items()) if isinstance(found, dict) else [(fmt_value(r.get(key, "")), r) for r in found]
    )
    columns = spec["columns"]
    percent = bool(spec.get("percent"))
    block.lines += table(
        [key if key != "name" else "layer", *(c.replace("_", " ") for c in columns)],
        [[name, *(fmt_value(row.get(c), c, _fmt(c, percent)) for c in columns)] for name, row in items],
    )
    share = spec.get("share")
    if share:
        total = sum(row.get(share) or 0 for _, row in items)
        name, row = max(items, key=lambda item: item[1].get(share) or 0)
        block.reading.append(
            f"{name} holds {row[share]:,} of the {total:,} {share} ({100 * row[share] / total:.1f}%)."
        )
    trend = spec.get("trend")
    if trend:
        block.reading.append(_trend(items, trend, percent))
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [spec["rows"].partition(":")[0]]


KIND = Kind("layers", layers, reads)
