"""One run per run dir: a run holds an flock on `<run dir>/.lock` while it trains, so a second run into
the same dir is refused, and a `running` run whose lock is free is known to have died (SIGKILL, power
loss, a full disk): report, sweeps and resume then say `died` instead of waiting for it forever.
A sweep holds the same lock on its sweep dir while it runs: one sweep per sweep dir at a time.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from cnnlab.errors import ConfigError
from cnnlab.rundir.files import RunFileError, read_summary
from cnnlab.rundir.status import DIED, RUNNING

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
# A report or sweep probing the lock holds it for microseconds; a starting run waits this long for it.
ACQUIRE_PATIENCE_S = 2.0


def now() -> str:
    """The local time with its offset, as summary.json records start and heartbeat times."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def process_record() -> dict[str, Any]:
    """Who is training: what summary.json and the lock file record, so a dead run can be named."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": now(), "heartbeat": now()}


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class DirBusy(ConfigError):
    """Another live process holds the lock of the run or sweep dir: nothing may be written there."""


@contextmanager
def hold_run_dir(run_dir: Path) -> Iterator[None]:
    """Hold run_dir's lock for the block; DirBusy naming the holder when another run has it."""
    fd = lock_dir(
        run_dir,
        lambda holder: (
            f"{run_dir} is in use by another run ({holder}): two runs in one dir would mix their metrics, "
            "summary and checkpoint. Wait for it to finish or stop it, or give this run its own dir "
            "(hydra.run.dir=<another dir>)."
        ),
    )
    try:
        _warn_if_died(run_dir)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock, as the kernel does when a process dies


def lock_sweep_dir(sweep_dir: Path) -> int:
    """The held lock of a sweep dir (its descriptor; closing it releases the lock), so that one sweep at a
    time writes a sweep dir; DirBusy naming the holder when another sweep has it."""
    return lock_dir(
        sweep_dir,
        lambda holder: (
            f"{sweep_dir} is in use by another sweep ({holder}): two sweeps in one sweep dir would train "
            "the same jobs twice and mix their records. Wait for it to finish or stop it, or give this sweep "
            "its own dir (hydra.sweep.dir=<another dir>)."
        ),
        patience=0.0,
    )


def lock_dir(directory: Path, busy: Callable[[str], str], patience: float = ACQUIRE_PATIENCE_S) -> int:
    """Take the lock of `directory` (made if missing), waiting up to `patience` seconds, and record this
    process in it; its descriptor. DirBusy with busy(<who holds it>) when another process keeps it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + patience
        while not _try_lock(fd, fcntl.LOCK_EX):
            if time.monotonic() > deadline:
                raise DirBusy(busy(_describe(_holder(path))))
            time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(process_record()).encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(record: dict[str, Any]) -> str:
    who = f"pid {record.get('pid', '?')} on {record.get('host', '?')}"
    return f"{who}, started {record['started']}" if record.get("started") else who


def is_held(run_dir: Path) -> bool | None:
    """Whether a live process holds run_dir's lock; None for a run dir written before locks existed."""
    path = run_dir / LOCK_NAME
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        if not _try_lock(fd, fcntl.LOCK_SH):
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def run_status(run_dir: Path, summary: dict[str, Any]) -> str:
    """summary.json's status, except that a `running` run whose process is gone is `died`."""
    status = str(summary.get("status"))
    if status != RUNNING:
        return status
    held = is_held(run_dir)
    if held is None and summary.get("host") == socket.gethostname() and summary.get("pid"):
        held = _pid_alive(int(summary["pid"]))
    return DIED if held is False else status


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def died_message(run_dir: Path, summary: dict[str, Any]) -> str:
    """One line on a run that died: who ran it, when it was last seen, and how to continue it."""
    return (
        f"its process ({_describe(summary)}) is gone without finishing; last heartbeat "
        f"{summary.get('heartbeat', 'unknown')} after epoch {summary.get('epochs_completed', 0)}. "
        f"Continue it with hydra.run.dir={run_dir} trainer.resume=true"
    )


def _warn_if_died(run_dir: Path) -> None:
    try:
        summary = read_summary(run_dir)
    except (OSError, RunFileError):
        return
    if summary and summary.get("status") == RUNNING:  # we hold the lock: it is not
        log.warning("the previous run in %s died: %s", run_dir, died_message(run_dir, summary))


# What a run dir holds before any training: Hydra's files and the run lock.
BEFORE_TRAINING = frozenset({".hydra", "train.log", ".lock"})


def remove_unused_run_dir(run_dir: Path, output_dir: Path) -> bool:
    """Remove a run dir that a refused config left holding nothing of a run (only Hydra's .hydra/ and
    train.log, and a .lock no process holds), and its parents up to `output_dir` that are left empty,
    so a typo leaves no dir to mistake for a run; True when it went. A dir with any run file stays."""
    if not run_dir.is_dir() or not {p.name for p in run_dir.iterdir()} <= BEFORE_TRAINING or is_held(run_dir):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    output_dir = output_dir.resolve()
    parent = run_dir.resolve().parent
    while parent != output_dir and output_dir in parent.parents and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    return not run_dir.exists()
