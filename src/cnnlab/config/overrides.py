"""The one list of plumbing keys, and reading Hydra override strings.

Plumbing says where or how a job runs (paths, device, threads, resuming), never what it trains, so
it is left out of everything that tells runs apart: sweep job dir names (conf/train.yaml reads
PLUMBING_KEYS through the cnnlab.plumbing_keys resolver), a sweep job's identity when it is rerun,
the resume check, report columns and TensorBoard hparams. A resume takes its run's own overrides
(resumed_overrides). Kept free of pandas and torch, so training does not import the one and the
report not the other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

from cnnlab.config.build import TRUSTED_TARGETS
from cnnlab.errors import ConfigError
from cnnlab.rundir.files import SUMMARY, RunFileError, read_summary

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


def quoted_value(value: str) -> str:
    """`value` for the right of an override's `=`: bare when it is only characters Hydra's parser reads
    as they are (so `0.1` stays a number, as a sweep's values must), else quoted, which it reads back
    verbatim (the `=` and `,` of a sweep job's dir name would otherwise be syntax; a `~` an error)."""
    if re.fullmatch(r"[\w./:@%+-]+", value):
        return value
    quote = '"' if '"' not in value else "'"
    return f"{quote}{value}{quote}"


def resumed_overrides(args: list[str], run_dir: Path | None = None) -> list[str]:
    """With `trainer.resume=true` among `args`: the resumed run's own overrides (its summary.json), those
    in `args` winning, inserted before the first override of `args` (which may be a whole command line);
    so `hydra.run.dir=<dir> trainer.resume=true` alone continues the run as it was configured (its
    epochs, lr, model, ...). run_dir defaults to the hydra.run.dir in `args`. Otherwise `args` as given."""
    parsed = {i: override for i, override in enumerate(map(_parsed, args)) if override is not None}
    given = {_identity(override): override for override in parsed.values()}
    resume = given.get(("trainer.resume", None))
    if resume is None or resume.value() is not True:
        return args
    if run_dir is None:
        named = given.get(("hydra.run.dir", None))
        run_dir = Path(str(named.value())) if named is not None else None
    saved = _saved_overrides(run_dir) if run_dir is not None else []
    taken = [s for s in saved if (o := _parsed(s)) is not None and _identity(o) not in given]
    for override in taken:
        key, value = split_override(override)
        if key.startswith("hydra") or (key.endswith("_target_") and not value.startswith(TRUSTED_TARGETS)):
            raise ConfigError(
                f"{run_dir / SUMMARY} records the override {override!r}, which names code to run or "
                "Hydra's own settings; a resume takes a run dir's settings, never code from it (the dir may "
                f"come from someone else). If you trust it, give {override!r} on the command line yourself."
            )
    first = min(parsed)
    return [*args[:first], *taken, *args[first:]]


def _parsed(arg: str) -> Override | None:
    """One command-line argument as a Hydra override; None for a flag or what Hydra will itself refuse."""
    if arg.startswith("-") or "=" not in arg:
        return None
    try:
        return OverridesParser.create().parse_override(arg)
    except HydraException:  # OverrideParseException, or a bare one for some syntax errors ("a=[0.1")
        return None


def _identity(override: Override) -> tuple[str, str | None]:
    return override.key_or_group, override.package


def _saved_overrides(run_dir: Path) -> list[str]:
    """The overrides a run dir's summary.json records (every run and resume writes the full list); none
    for a dir without one (a first run given trainer.resume=true, as a resumable queue starts each run)."""
    try:
        saved = (read_summary(run_dir) or {}).get("overrides", [])
    except (OSError, RunFileError):
        return []
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise ConfigError(
            f"{run_dir / SUMMARY} records overrides that are not a list of strings ({saved!r}), so "
            "the run cannot be resumed with its own settings. Give them on the command line with "
            "trainer.resume=true, or train a new run dir."
        )
    return saved
