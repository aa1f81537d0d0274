"""Which overrides say where or how a job ran rather than what it trained (kept free of pandas,
so the training entry point does not pay for importing it)."""

PLUMBING_PREFIXES = ("paths.", "hydra.", "hydra/")
PLUMBING_KEYS = frozenset({"trainer.resume", "trainer.num_threads", "trainer.device"})


def is_plumbing(key: str) -> bool:
    """True for keys that are never columns, labels or part of a job's identity."""
    return key in PLUMBING_KEYS or key.startswith(PLUMBING_PREFIXES)
