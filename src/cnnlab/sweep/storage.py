"""An Optuna storage URL checked before a study opens it, so a driver that is not installed, a scheme no
database has or an SQLite file that is not a database is one paragraph naming the URL and the fix instead
of SQLAlchemy's or Optuna's traceback. The sweep's callback calls `check_storage_url` before the sweep dir
is locked; the Optuna sweeper and each trial's job open a study's storage through cnnlab.sweep.study's
`open_storage`, which calls it first."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from cnnlab.errors import ConfigError

IN_MEMORY = ("", ":memory:")
STORAGE_KEY = "hydra.sweeper.storage"


def check_storage_url(url: str, key: str = STORAGE_KEY) -> None:
    """ConfigError naming `key` when the RDB storage `url` cannot be opened: malformed, a dialect SQLAlchemy
    does not know, a driver that is not installed, or an SQLite file that is not a database, a folder, or in
    a folder that does not exist. Checks without creating or changing anything."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError(
            f"{key}={url!r} is not a database URL ({error}); write it as dialect[+driver]://..., e.g. "
            f"{key}=sqlite:///outputs/optuna.db (a file) or null (the study in memory)."
        ) from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(
            f"{key}={url!r} names the database {parsed.drivername!r}, which SQLAlchemy does not know; use "
            f"sqlite:///<file>, postgresql://..., mysql://... (see SQLAlchemy's database URLs), or null."
        ) from None
    import_driver = getattr(dialect, "import_dbapi", None) or dialect.dbapi  # SQLAlchemy 2 or 1.4
    try:
        import_driver()
    except ImportError as error:
        module = error.name or str(error)
        raise ConfigError(
            f"{key}={url!r} needs the Python module {module!r} (the {parsed.get_backend_name()} driver), "
            f"which is not installed: pip install it into this environment, or use "
            f"{key}=sqlite:///<file>, which needs no driver."
        ) from None
    if parsed.get_backend_name() == "sqlite" and (parsed.database or "") not in IN_MEMORY:
        _check_sqlite_file(Path(parsed.database), url, key)


def _check_sqlite_file(path: Path, url: str, key: str) -> None:
    if path.is_dir():
        raise ConfigError(f"{key}={url!r}: {path} is a folder, not an SQLite file; name a file in it.")
    if not path.exists():
        if not path.parent.is_dir():
            raise ConfigError(
                f"{key}={url!r}: the folder {path.parent} does not exist, so the study's file cannot be made "
                f"there; create it (mkdir -p {path.parent}) or name a file in an existing folder."
            )
        return
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header and schema
    except sqlite3.Error as error:
        raise ConfigError(
            f"{key}={url!r}: {path} is not a readable SQLite database ({error}); it is damaged or another "
            "kind of file. Move it away (Optuna starts a new study file there) or name another file."
        ) from None
