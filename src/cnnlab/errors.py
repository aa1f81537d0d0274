"""Errors a user can fix: the entry points print their message as one paragraph, no traceback."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Mapping
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


def said(error: BaseException) -> str:
    """What an exception says, on one line: its type and its message with every run of whitespace (newlines
    too) made one space; its type alone when it says nothing (an empty file's EOFError)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# The most of an underlying error that a message quotes: enough to name the cause, short enough that the
# advice after it is still read.
QUOTED_CHARS = 300


def quoted(error: BaseException) -> str:
    """said(error), cut to QUOTED_CHARS, for quoting inside a message of our own."""
    return said(error)[:QUOTED_CHARS]


# What the OS says when a path is of the wrong kind (a file where a folder belongs, or the reverse) or may not
# be written (permissions, a read-only file system).
WRONG_KIND = (errno.EEXIST, errno.ENOTDIR, errno.EISDIR)
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def unusable_path(error: BaseException, settings: Mapping[str, str | Path]) -> CnnlabError | None:
    """The one-paragraph error for an OSError (or one that caused `error`) on a path of the wrong kind or one
    that may not be written: the path, the setting that chose it (`settings`: setting -> the path it
    names; the nearest one wins) and the fix. None for any other error."""
    while error is not None and not isinstance(error, OSError):
        error = error.__cause__ or error.__context__
    if error is None or error.errno not in WRONG_KIND + NOT_WRITABLE or not error.filename:
        return None
    failed = Path(os.path.abspath(error.filename))
    there = failed  # the deepest part of the path that exists
    while not os.path.lexists(there) and there != there.parent:
        there = there.parent
    chosen = sorted(
        (len(Path(os.path.abspath(path)).parts), name)
        for name, path in settings.items()
        if path and failed.is_relative_to(os.path.abspath(path))
    )
    setting = chosen[-1][1] if chosen else "hydra.run.dir, hydra.sweep.dir or paths.*"
    if error.errno in NOT_WRITABLE:
        what = (
            f"{there} is read-only" if there == failed else f"{failed} cannot be made: {there} is read-only"
        )
        fix = (
            "at a folder you can write to; to resume or evaluate a run kept read-only, copy its run dir "
            "somewhere writable and use the copy (hydra.run.dir=<copy> trainer.resume=true, or run=<copy>)."
        )
    else:
        kind = (
            "a folder, where cnnlab writes a file"
            if there.is_dir()
            else "a file, where cnnlab needs a folder"
        )
        what, fix = f"{there} is {kind}", "at another path, or move it out of the way."
    return ConfigError(f"{what} ({error.strerror}); {setting} leads there. Point {setting} {fix}")


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
