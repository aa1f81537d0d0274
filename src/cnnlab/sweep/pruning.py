"""The job side of an Optuna search (hydra/sweeper=optuna): after every epoch the run reports its
monitored metric to its trial through the study's storage, and the search's pruner, rebuilt here from the
sweeper's config (jobs may run in other processes or on other machines), decides whether the run stops
there: checkpoint written, status `pruned`, stop_reason `pruned`, the epoch in `pruned_epoch`."""

from __future__ import annotations

import logging
import math
from typing import Any

import optuna
from hydra.utils import instantiate
from omegaconf import DictConfig
from sqlalchemy.exc import SQLAlchemyError

from cnnlab.engine.early_stopping import PRUNED
from cnnlab.engine.epoch_hooks import Stop
from cnnlab.rundir import status as statuses
from cnnlab.sweep.study import TRIAL_ENV, open_storage, storage_url, study_name

log = logging.getLogger("cnnlab.sweep")


class TrialPruning:
    """An epoch hook (cnnlab.engine.epoch_hooks) bound to one trial of a study."""

    def __init__(self, study: optuna.Study, trial_id: int, monitor: str) -> None:
        self.study = study
        self.trial = optuna.trial.Trial(study, trial_id)
        self.monitor = monitor
        # Optuna prunes single-objective studies only; a multi-objective trial just records its number.
        self.reports = len(study.directions) == 1

    def record(self) -> dict[str, Any]:
        return {"trial": {"number": self.trial.number, "study": self.study.study_name}}

    def _report(self, row: dict[str, Any]) -> bool:
        """Report the row's monitored value; False when there is none to report."""
        value = row.get(self.monitor)
        if not self.reports or value is None or math.isnan(float(value)):
            return False
        self.trial.report(float(value), int(row["epoch"]))
        return True

    def after_epoch(self, row: dict[str, Any]) -> Stop | None:
        try:
            if not (self._report(row) and self.trial.should_prune()):
                return None
        except SQLAlchemyError as error:  # the storage is busy or gone: train on rather than lose the run
            log.warning("trial %d: the study's storage failed (%s); not pruned", self.trial.number, error)
            return None
        epoch = int(row["epoch"])
        pruner = type(self.study.pruner).__name__
        return Stop(
            status=statuses.PRUNED,
            reason=PRUNED,
            message=(
                f"pruned after epoch {epoch} by {pruner}: {self.monitor}={row[self.monitor]:.4g} against the "
                f"other trials of study {self.study.study_name} at that epoch (trial {self.trial.number})"
            ),
            record={"pruned_epoch": epoch},
        )

    def replay(self, rows: list[dict[str, Any]]) -> None:
        """A finished run dir that a new trial asked for again: its epochs become the trial's values."""
        for row in rows:
            self._report(row)


def trial_of_job(hydra_cfg: DictConfig, monitor: str) -> TrialPruning | None:
    """The trial this job runs, from the id its sweeper set (hydra.job.env_set), with the study's pruner;
    None for a job of any other sweep."""
    trial_id = (hydra_cfg.job.get("env_set") or {}).get(TRIAL_ENV)
    if trial_id is None:
        return None
    sweeper = hydra_cfg.sweeper
    study = optuna.load_study(
        study_name=study_name(sweeper.get("study_name"), hydra_cfg.sweep.dir),
        storage=open_storage(storage_url(sweeper.get("storage"), hydra_cfg.sweep.dir)),
        sampler=optuna.samplers.RandomSampler(),  # a job draws nothing; this sampler costs nothing
        pruner=instantiate(sweeper.pruner) if sweeper.get("pruner") else optuna.pruners.NopPruner(),
    )
    return TrialPruning(study, int(trial_id), monitor)
