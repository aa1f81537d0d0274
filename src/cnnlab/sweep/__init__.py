"""Sweeps: resumable, fault-isolated multirun jobs and the report written when a multirun ends."""

from omegaconf import OmegaConf

from cnnlab.sweep.jobs import job_dirname, run_sweep_job

OmegaConf.register_new_resolver("cnnlab.job_dirname", job_dirname, replace=True)

__all__ = ["job_dirname", "run_sweep_job"]
