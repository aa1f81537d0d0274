"""Sweeps: resumable, fault-isolated multirun jobs and the report written when a multirun ends."""

from cnnlab.sweep.jobs import job_dirname, run_sweep_job

__all__ = ["job_dirname", "run_sweep_job"]
