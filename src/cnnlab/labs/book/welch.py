"""Whether two recipes trained over seeds differ: Welch's two-sample t-test (unequal variances, two-sided)
on their per-seed values, called clear only below ALPHA, with the figure each verdict rests on printed
beside it. A fixed margin would let one seed's luck decide; the test weighs a gap against the spread."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnnlab.labs.book.formatting import is_percent
from cnnlab.labs.book.seeds import MIN_SEEDS, Spread, spread_text

# A difference is clear when the two-sided p of Welch's t-test is below this.
ALPHA = 0.05


@dataclass(frozen=True)
class Welch:
    """Welch's t-test of a against b: the difference of their means, t, its degrees of freedom, p."""

    diff: float
    t: float
    df: float
    p: float
    n_a: int
    n_b: int

    @property
    def clear(self) -> bool:
        return not math.isnan(self.p) and self.p < ALPHA


def welch(a: tuple[float, ...], b: tuple[float, ...]) -> Welch:
    """Welch's two-sample t-test (scipy.stats.ttest_ind with equal_var=False) of a against b."""
    from scipy.stats import ttest_ind

    result = ttest_ind(a, b, equal_var=False)
    diff = sum(a) / len(a) - sum(b) / len(b)
    return Welch(diff, float(result.statistic), float(result.df), float(result.pvalue), len(a), len(b))


def gap_text(diff: float, path: str = "", fmt: str | None = None, t: float = math.nan) -> str:
    """A difference of means, signed: in points for accuracies, else a plain number (a difference of two
    ratios is no ratio, so no x). Given Welch's t, to the decimal place of two significant digits of
    the difference's standard error |diff / t|, as a mean beside its spread (0.120 ± 0.020): digits
    below it are noise."""
    if is_percent(float(diff), path, fmt) or fmt == "points":
        return f"{100 * diff:+.2f} points"
    error = abs(diff / t) if t and math.isfinite(t) else math.nan
    if not math.isfinite(error) or error <= 0:
        return f"{diff:+.4g}"
    decimals = max(0, 1 - math.floor(math.log10(error)))
    return f"{diff:+,.{decimals}f}"


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def test_text(test: Welch, path: str = "", fmt: str | None = None, short: bool = False) -> str:
    """The figure a verdict rests on: difference of means, Welch's t, p and n on each side (`short`: a
    table cell's difference, t and p)."""
    if math.isnan(test.p):
        return f"difference of means {gap_text(test.diff, path, fmt)}; no spread on either side, so no test"
    if short:
        return f"{gap_text(test.diff, path, fmt, test.t)}, t = {test.t:.2f}, {p_text(test.p)}"
    return (
        f"difference of means {gap_text(test.diff, path, fmt, test.t)}, Welch's t = {test.t:.2f}, "
        f"{p_text(test.p)} (n = {test.n_a} and {test.n_b})"
    )


def expect_verdict(
    claim: str, names: tuple[str, str], high: Spread, low: Spread, path: str, fmt: str | None
) -> str:
    """What the lab expects (`names[0]` above `names[1]`) against our seeds: a clear agreement or
    disagreement only when p < ALPHA, else agreement in direction only or no clear difference; and
    no verdict at all until each side has MIN_SEEDS seeds."""
    shown = f"{names[0]} {spread_text(high, path, fmt)} against {names[1]} {spread_text(low, path, fmt)}"
    sides = list(zip(names, (high, low), strict=True))
    out = [reason for name, s in sides if (reason := s.diverged_out(name))]
    if out:
        return f"The lab expects that {claim}; ours: {shown}; {'; '.join(out)}."
    waiting = [name for name, s in sides if not s.ready]
    if waiting:
        return (
            f"The lab expects that {claim}; so far {shown}: the verdict waits for n ≥ {MIN_SEEDS} seeds of "
            f"{' and '.join(waiting)}."
        )
    test = welch(high.values, low.values)
    figure = test_text(test, path, fmt)
    if test.clear and test.diff > 0:
        return f"As the lab expects ({claim}): {shown}; {figure}: below {ALPHA}, a clear difference."
    if test.clear:
        return f"Unlike what the lab expects ({claim}): {shown}; {figure}: below {ALPHA}, a clear difference."
    ours = "agrees in direction only" if test.diff > 0 else "shows no clear difference"
    return (
        f"The lab expects that {claim}; ours {ours}: {shown}; {figure}, not below {ALPHA}, so no clear "
        "difference."
    )


def step_verdict(test: Welch) -> str:
    """One step against the one before it, in a few words: a clear gain or loss, or no clear difference."""
    if math.isnan(test.p):
        return "no test (no spread)"
    if not test.clear:
        return "no clear difference"
    return "clear gain" if test.diff > 0 else "clear loss"
