"""The one list of plumbing keys, and reading Hydra override strings.

Plumbing says where or how a job runs (paths, device, threads, resuming), never what it trains, so
it is left out of everything that tells runs apart: sweep job dir names (conf/train.yaml reads
PLUMBING_KEYS through the cnnlab.plumbing_keys resolver), a sweep job's identity when it is rerun,
the resume check, report columns and TensorBoard hparams. Kept free of pandas and torch, so
training does not import the one and the report not the other.
"""

from __future__ import annotations

from typing import Any

# Exact keys; Hydra's exclude_keys matches whole keys only, so paths' own keys are listed as well.
PLUMBING_KEYS = frozenset(
    {
        "paths.data_root",
        "paths.cache_dir",
        "paths.output_dir",
        "dataset.image_folder",
        "dataset.source.root",
        "dataset.source.image_folder",
        "dataset.source.workers",
        "trainer.device",
        "trainer.num_threads",
        "trainer.resume",
        "trainer.resume_allow_changes",
        "trainer.evaluate_at_end",
        "hparams_search",
        "logger",
        "logger.name",
        "logger.mlflow",
        "logger.mlflow.tracking_uri",
        "logger.mlflow.experiment",
        "logger.mlflow.artifact_location",
        "logger.mlflow.log_checkpoints",
    }
)
PLUMBING_PREFIXES = ("paths.", "hydra.", "hydra/", "logger.")


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


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as {dotted key: leaf value}."""
    if isinstance(node, dict) and node:
        return {k: v for key, value in node.items() for k, v in flatten(value, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): node}


def changed_settings(old: dict[str, Any], new: dict[str, Any], ignore: frozenset[str] = frozenset()) -> dict:
    """{key: (old value, new value)} for the keys both resolved configs have whose values differ,
    plumbing and `ignore` left out. A key only one side has is a newer cnnlab's addition (or an
    older one's leftover), not a changed setting."""
    before, after = flatten(old), flatten(new)
    return {
        key: (before[key], after[key])
        for key in sorted(before.keys() & after.keys())
        if not is_plumbing(key) and key not in ignore and before[key] != after[key]
    }
