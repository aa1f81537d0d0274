"""Where an Optuna search keeps its study, for the sweeper and for its jobs in other processes: the
storage URL (hydra.sweeper.storage, or a SQLite file in the sweep dir when that is null, so every study
lasts and can be continued and looked at) opened with a clear error, and the variable that tells a job
which trial it is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.errors import ConfigError

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
    """The study storage at `url`, or a ConfigError naming it and saying what works. A SQLite file's
    folder is created; the file must be a database, and an existing study's schema must be current.
    (Optuna and SQLAlchemy are imported here: sweep jobs import this module for TRIAL_ENV alone.)"""
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url)
    except (ArgumentError, SQLAlchemyError, ImportError, ValueError, RuntimeError, OSError) as error:
        said = " ".join(str(error).split("\n")[0].split())
        raise ConfigError(
            f"hydra.sweeper.storage={url} cannot hold an Optuna study ({type(error).__name__}: {said}). Give "
            "an SQLAlchemy URL whose driver is installed, e.g. sqlite:///outputs/optuna.db (a new file is "
            "made; an existing one must be an Optuna database; one made by Optuna 2 needs `optuna storage "
            "upgrade --storage <url>` first), or null for a SQLite file in the sweep dir."
        ) from None
