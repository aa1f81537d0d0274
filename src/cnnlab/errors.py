"""Errors a user can fix: the entry points print their message as one paragraph, no traceback."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class CnnlabError(Exception):
    """Base class for mistakes in configuration or data that a user can fix."""


class ConfigError(CnnlabError):
    """A config value is out of its allowed range or of the wrong type."""


class DataError(CnnlabError):
    """A data set cannot be found or read."""


class CheckpointError(CnnlabError):
    """A checkpoint is unreadable, or holds objects that could run code when loaded."""


class DiskFullError(CnnlabError):
    """A file could not be written because its disk, or the user's quota on it, is full."""


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def disk_full_as_error(where: Path) -> Iterator[None]:
    """Turn the OS's "no space left" into a DiskFullError that names `where` (and the file being written)
    and says what to do."""
    try:
        yield
    except OSError as error:
        if error.errno not in NO_SPACE:
            raise
        written = f" ({error.filename})" if error.filename and Path(error.filename) != where else ""
        raise DiskFullError(
            f"cannot write {where}{written}: the disk holding it is full (or your quota on it is used up). "
            "Free space there, or point paths.output_dir and paths.cache_dir at a disk with room; a run "
            "resumes from its last complete checkpoint with hydra.run.dir=<its dir> trainer.resume=true."
        ) from None


# The OS's "you may not write here": a read-only mount (a shared data folder), or no write permission.
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextmanager
def unwritable_as_error(where: Path) -> Iterator[None]:
    """Turn a write refused by the OS (read-only file system, no permission) into a ConfigError naming
    the file and the paths.* key that moves it somewhere writable."""
    try:
        yield
    except OSError as error:
        if error.errno not in NOT_WRITABLE:
            raise
        raise ConfigError(
            f"cannot write {error.filename or where}: {error.strerror.lower()} there. cnnlab writes its "
            "decoded-data cache to paths.cache_dir (default <paths.data_root>/cache) and its runs to "
            "paths.output_dir: point the one that holds it at a folder you can write, e.g. "
            "paths.cache_dir=$HOME/.cache/cnnlab (a shared read-only data folder can stay paths.data_root)."
        ) from None
