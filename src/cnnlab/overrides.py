"""Reading Hydra override strings, and telling the ones that say where or how a job ran apart
from the ones that say what it trained (kept free of pandas, so training does not import it)."""

from __future__ import annotations

PLUMBING_PREFIXES = ("paths.", "hydra.", "hydra/")
PLUMBING_KEYS = frozenset({"trainer.resume", "trainer.num_threads", "trainer.device"})


def is_plumbing(key: str) -> bool:
    """True for keys that are never columns, labels or part of a job's identity."""
    return key in PLUMBING_KEYS or key.startswith(PLUMBING_PREFIXES)


def override_key(override: str) -> str:
    """`+optimizer.lr=0.01` -> `optimizer.lr`."""
    return override.lstrip("+~").partition("=")[0]


def parse_overrides(overrides: list[str]) -> dict[str, str]:
    """`["optimizer.lr=0.01", "+x=1"]` -> `{"optimizer.lr": "0.01", "x": "1"}` (plumbing dropped)."""
    parsed = {}
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if not is_plumbing(key):
            parsed[key] = value
    return parsed
