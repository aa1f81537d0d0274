"""Reading Hydra override strings, and telling the ones that say where or how a job ran apart
from the ones that say what it trained (kept free of pandas, so training does not import it)."""

from __future__ import annotations

PLUMBING_PREFIXES = ("paths.", "hydra.", "hydra/")
PLUMBING_KEYS = frozenset(
    {"trainer.resume", "trainer.resume_allow_changes", "trainer.num_threads", "trainer.device"}
)


def is_plumbing(key: str) -> bool:
    """True for keys that are never columns, labels or part of a job's identity."""
    return key in PLUMBING_KEYS or key.startswith(PLUMBING_PREFIXES)


def split_override(override: str) -> tuple[str, str]:
    """`+optimizer.lr=0.01` -> (`optimizer.lr`, `0.01`)."""
    key, _, value = override.lstrip("+~").partition("=")
    return key, value


def parse_overrides(overrides: list[str]) -> dict[str, str]:
    """`["optimizer.lr=0.01", "+x=1"]` -> `{"optimizer.lr": "0.01", "x": "1"}` (plumbing dropped)."""
    pairs = map(split_override, overrides)
    return {key: value for key, value in pairs if not is_plumbing(key)}
