"""How measured values read in the experiments READMEs: accuracies in percent, wall times in
s/min/h, integers with thousands separators, tensor shapes as A x B x C."""

from __future__ import annotations

import math
from typing import Any

# Lists of 2-4 integers read as tensor shapes (A x B x C) when their key names a shape or, for
# 3-4 integers, unless it names a list of separate values.
SHAPE_WORDS = ("shape", "HxW", "WxH", "CxHxW", "NxKxHxW", "size", "input", "output", "pixels")
LIST_WORDS = ("per_", "ops", "flops", "mul_adds", "range", "passes", "sizes", "probabilities")


def pct(fraction: float) -> str:
    """A fraction in [0, 1] as a percentage with two decimals."""
    return "n/a" if fraction is None or math.isnan(fraction) else f"{100 * fraction:.2f}%"


def num(value: float) -> str:
    """A float with four significant digits, thousands separated when large."""
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 1e4 and abs(value) < 1e9:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def num_and_spread(mean: float, std: float) -> str:
    """A mean and its spread, the spread to two significant digits and the mean to the same decimal place
    (0.1828 ± 0.0041): digits below the spread's are noise."""
    if not math.isfinite(std) or std <= 0:  # no spread to round to (a diverged seed's nan, equal seeds)
        return f"{num(mean)} ± {num(std)}"
    decimals = max(0, 1 - math.floor(math.log10(std)))
    return f"{mean:,.{decimals}f} ± {std:,.{decimals}f}"


def with_unit(value: float, unit: str) -> str:
    """A figure in its unit: percentages as everywhere else (98.80%), other units after a space."""
    return f"{value:.2f}%" if unit == "%" else f"{num(value)} {unit}".strip()


def seconds(value: float) -> str:
    """A wall time: seconds below two minutes, minutes below an hour (118 min), else hours and minutes
    (1 h 58 min); minutes rounded to the nearest, so a column of wall times never mixes 118 min with
    2 h 00 min."""
    if math.isnan(value):
        return "-"
    if value < 10:
        return f"{value:.2g} s"
    if value < 120:
        return f"{value:.0f} s"
    minutes = math.floor(value / 60 + 0.5)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def subject(n: int, noun: str) -> str:
    """`n` of a countable noun as a sentence's subject: the check, both checks, all 3 checks."""
    if n == 1:
        return f"The {noun}"
    return f"Both {noun}s" if n == 2 else f"All {n} {noun}s"


def is_percent(value: Any, path: str = "", fmt: str | None = None) -> bool:
    """Whether a value is a fraction shown in percent: asked for, or an accuracy or share by its key."""
    last = path.rsplit(".", 1)[-1]
    percent_key = ("acc" in last and "fraction" not in last) or last.startswith("share")
    return fmt == "pct" or (fmt is None and isinstance(value, float) and percent_key)


def fmt_value(value: Any, path: str = "", fmt: str | None = None) -> str:
    """Format one measured value: accuracies in percent, integers with separators, shapes as AxB."""
    last = path.rsplit(".", 1)[-1]
    if fmt == "error":
        return pct(1 - float(value))
    if fmt == "points":
        return f"{100 * float(value):.2f} points"
    if fmt == "x":
        return f"{num(float(value))}x"
    if is_percent(value, path, fmt):
        return pct(float(value))
    if fmt == "s":
        return seconds(float(value))
    if fmt == "int":
        return f"{int(value):,}"
    if fmt == "len":
        return str(len(value))
    if fmt == "pctrange":
        return f"{pct(min(value))} to {pct(max(value))}"
    if fmt == "sci":
        return f"{float(value):.1e}" if value else "0"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return num(value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {fmt_value(v, path)}" for k, v in value.items())
    if isinstance(value, list):
        named = any(w in last for w in SHAPE_WORDS) or (
            len(value) > 2 and not any(w in last for w in LIST_WORDS)
        )
        if "range" in last and len(value) == 2:
            return f"{fmt_value(value[0], last)} to {fmt_value(value[1], last)}"
        if _is_shape(value) and len(value) <= 4 and named:
            return " x ".join(str(v) for v in value)
        if all(isinstance(v, list) for v in value) and not all(_is_shape(v) and named for v in value):
            return " ".join(f"[{', '.join(fmt_value(x, last) for x in v)}]" for v in value)
        return "; ".join(fmt_value(v, last) for v in value)
    return str(value)


def _is_shape(value: list) -> bool:
    return bool(value) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
