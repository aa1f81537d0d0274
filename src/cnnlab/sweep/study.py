"""Where an Optuna search keeps its study, for the sweeper and for its jobs in other processes: the
storage URL (hydra.sweeper.storage, or a SQLite file in the sweep dir when that is null, so every study
lasts and can be continued and looked at), checked and opened with a clear error, and the variable
that tells a job which trial it is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.errors import ConfigError, said
from cnnlab.sweep.storage import STORAGE_KEY, check_storage_url

if TYPE_CHECKING:
    import optuna

# A study's default home: <sweep dir>/optuna.db.
STUDY_FILE = "optuna.db"
# Set for each trial's job through hydra.job.env_set (a Hydra override of the job, so neither its config,
# its dir name nor the rerun check sees it): the trial's id in the study's storage.
TRIAL_ENV = "CNNLAB_OPTUNA_TRIAL_ID"


def storage_url(storage: str | None, sweep_dir: str | Path) -> str:
    """hydra.sweeper.storage, or sqlite:///<sweep dir>/optuna.db when it is null."""
    if storage:
        return str(storage)
    return f"sqlite:///{Path(sweep_dir).absolute() / STUDY_FILE}"


def study_name(name: str | None, sweep_dir: str | Path) -> str:
    """hydra.sweeper.study_name, or the sweep dir's name: the same sweep dir continues the same study."""
    return str(name) if name else Path(sweep_dir).absolute().name


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The study storage at `url`, after check_storage_url (cnnlab.sweep.storage: malformed, unknown scheme,
    driver missing, an SQLite file that is not a database or has no folder), so every search opens its
    storage through that one check; a database Optuna still cannot use (e.g. one made by Optuna 2) is a
    ConfigError as well. (Optuna and SQLAlchemy are imported here: sweep jobs import this module for
    TRIAL_ENV alone.)"""
    check_storage_url(url, STORAGE_KEY)
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return optuna.storages.RDBStorage(url)
    except (SQLAlchemyError, ImportError, ValueError, RuntimeError, OSError) as error:
        raise ConfigError(
            f"{STORAGE_KEY}={url!r} cannot hold an Optuna study ({said(error)}). An "
            "existing database must be an Optuna one at the current schema (one made by Optuna 2, as "
            "hydra-optuna-sweeper wrote it, needs `optuna storage upgrade --storage <url>` first); or give "
            f"another URL, or {STORAGE_KEY}=null for a SQLite file in the sweep dir."
        ) from None
