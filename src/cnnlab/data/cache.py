"""Decode a split once into uint8 tensors and keep it on disk, keyed by everything that shapes it."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import torch

from cnnlab.data.imageset import Buckets, ImageSet, as_buckets
from cnnlab.data.protocols import DataSource
from cnnlab.rundir.atomic import atomic_save, atomic_write_text

log = logging.getLogger(__name__)


def cached_split(source: DataSource, split: str, cache_dir: str | Path) -> Buckets:
    """`source.load(split)` as size buckets, read from the cache when a previous run stored it."""
    path = Path(cache_dir) / f"{source.cache_key}-{split}.pt"
    if path.exists():
        try:
            stored = torch.load(path, weights_only=True)
            return [ImageSet(b["x"], b["y"]) for b in stored]
        except (RuntimeError, EOFError, OSError, KeyError, TypeError, pickle.UnpicklingError) as error:
            log.warning("cache file %s is unreadable (%s): decoding the split again", path, error)
    buckets = as_buckets(source.load(split))
    atomic_save([{"x": b.x, "y": b.y} for b in buckets], path)
    return buckets


def cached_json(path: Path, compute) -> Any:
    """A small JSON value computed once and stored at `path`."""
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    atomic_write_text(json.dumps(value), path)
    return value


def cached_tensors(path: Path, compute) -> dict[str, torch.Tensor]:
    """A dict of tensors computed once and stored at `path` (read back weights-only)."""
    if path.exists():
        return torch.load(path, weights_only=True)
    value = compute()
    atomic_save(value, path)
    return value
