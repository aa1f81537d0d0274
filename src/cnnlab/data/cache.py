"""Decode a split once into uint8 tensors and keep it on disk, keyed by everything that shapes it."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from cnnlab.data.imageset import Buckets, ImageSet, as_buckets
from cnnlab.data.protocols import DataSource
from cnnlab.errors import disk_full_as_error, unwritable_as_error

log = logging.getLogger(__name__)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` that replaces it when the block completes, so a crash never leaves
    half a file; on failure the temporary file is removed, a full disk is a DiskFullError and a folder
    that cannot be written (read-only, no permission) a ConfigError naming it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with unwritable_as_error(path), disk_full_as_error(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
        finally:
            if tmp.exists():  # on a read-only file system even unlinking a missing file fails
                tmp.unlink()


def atomic_save(obj: Any, path: Path, *more: Path) -> None:
    """torch.save through `replacing`, to path and each of `more` in turn from one serialisation.
    Serialised in memory first and written by Python, so a full disk is an OSError (torch's own writer
    reports a short write as "inline_container.cc: unexpected pos")."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    for target in (path, *more):
        with replacing(target) as tmp:
            tmp.write_bytes(buffer.getbuffer())


def atomic_write_text(text: str, path: Path) -> None:
    """Write text through `replacing`."""
    with replacing(path) as tmp:
        tmp.write_text(text)


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
