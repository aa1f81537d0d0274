"""Sweeps: resumable, fault-isolated multirun jobs, the report written when a multirun ends, and
`cnnlab.sweep(...)`, a grid from Python (this package is callable: calling it calls grid.sweep)."""

from cnnlab.api import make_callable
from cnnlab.sweep.grid import SweepResult, sweep
from cnnlab.sweep.jobs import job_dirname, run_sweep_job

__all__ = ["SweepResult", "job_dirname", "run_sweep_job", "sweep"]

make_callable(__name__, sweep)
