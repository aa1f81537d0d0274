"""A sweep's worker processes stop when the sweep's parent dies: joblib's loky workers would otherwise
train on, unseen, after a `kill -9` of the `python -m cnnlab.train -m` process."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

log = logging.getLogger("cnnlab.sweep")

POLL_S = 1.0
# Time an orphaned worker gives its job to write the checkpoint and summary before it exits anyway.
GRACE_S = 60.0
_watching: list[int] = []
_orphaned = threading.Event()


def stop_when_parent_dies(poll_s: float = POLL_S) -> None:
    """In a worker process: interrupt the job, as Ctrl-C would, once the parent is gone.

    The job then writes its checkpoint and status `interrupted` (a rerun of the sweep resumes it) and
    the worker exits (`exit_if_orphaned`), at the latest GRACE_S later. Called from the worker's main
    thread (signal handlers can only be set there); once per process.
    """
    if _watching == [os.getpid()]:
        return
    _watching[:] = [os.getpid()]
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a worker may have been started ignoring it

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        log.warning("the sweep's parent process %d is gone: interrupting this job", parent)
        _orphaned.set()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(GRACE_S)
        os._exit(130)

    threading.Thread(target=watch, name="cnnlab-parent-watch", daemon=True).start()


def exit_if_orphaned() -> None:
    """End the worker process now if its parent is gone (a loky worker would otherwise wait for work)."""
    if _orphaned.is_set():
        logging.shutdown()
        os._exit(130)
