"""The words summary.json's `status` takes, once: what training writes and what the sweep, the report,
the lab book and MLflow read back."""

from __future__ import annotations

RUNNING = "running"  # written at the start, with a heartbeat each epoch
COMPLETED = "completed"
DIVERGED = "diverged"  # the loss went non-finite: the run ended, with what it measured until then
INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM: resumable
FAILED = "failed"  # an exception (the sweep records one for a job that never wrote a summary)
DIED = "died"  # never written: `running` in a summary whose process is gone (rundir/lock.run_status)
PRUNED = "pruned"  # an Optuna search's pruner stopped it (cnnlab.sweep.pruning): its files are complete

# A run that reached its end: a result to read, and a sweep job that is not trained again (a pruned one was
# stopped on purpose by its search, so it is not retried either).
FINISHED = (COMPLETED, DIVERGED, PRUNED)
# A run whose result is missing: a sweep fails over them, and trains them again when rerun.
NOT_FINISHED = (FAILED, RUNNING, DIED, INTERRUPTED)
# What a sweep's report names as failing: the unfinished and the diverged.
FAILING = (*NOT_FINISHED, DIVERGED)

# summary.json's status -> the state of the Optuna trial the run was (hydra/sweeper=optuna tells its study
# this, and the sweep report shows it); every other status (failed, diverged, ...) is a failed trial.
TRIAL_STATES = {COMPLETED: "COMPLETE", PRUNED: "PRUNED"}


def trial_state(status: str | None) -> str:
    return TRIAL_STATES.get(str(status), "FAIL")
