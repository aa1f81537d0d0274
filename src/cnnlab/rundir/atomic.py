"""Files written whole or not at all: a crash, Ctrl-C or a full disk never leaves half a summary.json,
config.yaml, checkpoint or cache file. Torch-free at import (torch.save is imported inside atomic_save),
so the report and the sweep's skip check read and write run dirs without paying for torch."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnnlab.errors import disk_full_as_error, unwritable_as_error


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
    import torch  # here alone: the rest of this module (and so the report) never imports torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    for target in (path, *more):
        with replacing(target) as tmp:
            tmp.write_bytes(buffer.getbuffer())


def atomic_write_text(text: str, path: Path) -> None:
    """Write text through `replacing`."""
    with replacing(path) as tmp:
        tmp.write_text(text)
