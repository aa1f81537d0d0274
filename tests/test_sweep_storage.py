"""check_storage_url on its own (the sweepers call it before a study opens its storage): what Optuna can
open passes untouched, what it cannot is one ConfigError naming the setting, the URL and the fix."""

from __future__ import annotations

import builtins
import sqlite3

import optuna
import pytest

from cnnlab.errors import ConfigError
from cnnlab.sweep.storage import check_storage_url


def test_storages_optuna_opens_pass_and_are_left_as_they_were(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_file = tmp_path / "study.db"
    optuna.create_study(storage=f"sqlite:///{study_file}", study_name="s").optimize(lambda t: 1.0, n_trials=1)
    before = study_file.read_bytes()
    (tmp_path / "empty.db").touch()  # sqlite takes an empty file as an empty database
    for url in (
        f"sqlite:///{study_file}",
        f"sqlite:///{tmp_path / 'empty.db'}",
        f"sqlite:///{tmp_path / 'new.db'}",
        "sqlite://",
        "sqlite:///:memory:",
    ):
        check_storage_url(url)
    assert study_file.read_bytes() == before and not (tmp_path / "new.db").exists()
    assert len(optuna.load_study(study_name="s", storage=f"sqlite:///{study_file}").trials) == 1


def _damaged(tmp_path):
    path = tmp_path / "study.db"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    return f"sqlite:///{path}", f"{path} is not a readable SQLite database"


def _text(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not a database\n")
    return f"sqlite:///{path}", "file is not a database"


def _folder(tmp_path):
    return f"sqlite:///{tmp_path}", f"{tmp_path} is a folder"


def _missing_folder(tmp_path):
    return f"sqlite:///{tmp_path / 'no' / 'study.db'}", f"the folder {tmp_path / 'no'} does not exist"


REFUSED = {
    "damaged_sqlite_file": _damaged,
    "text_file": _text,
    "a_folder": _folder,
    "a_missing_folder": _missing_folder,
    "unknown_scheme": lambda tmp: ("sqlitee:///x.db", "'sqlitee', which SQLAlchemy does not know"),
    "not_a_url": lambda tmp: ("outputs/optuna.db", "is not a database URL"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_storages_optuna_cannot_open_are_named_with_the_fix(case, tmp_path):
    url, said = REFUSED[case](tmp_path)
    with pytest.raises(ConfigError) as refused:
        check_storage_url(url, key="hydra.sweeper.storage")
    message = str(refused.value)
    assert message.startswith(f"hydra.sweeper.storage={url!r}") and said in message
    assert "\n" not in message


def test_a_driver_that_is_not_installed_is_named(monkeypatch):
    """psycopg2 made unimportable, as on a machine without it (whether or not this one has it)."""
    real_import = builtins.__import__

    def without_psycopg2(name, *args, **kwargs):
        if name.split(".")[0] == "psycopg2":
            raise ModuleNotFoundError(f"No module named {name!r}", name="psycopg2")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_psycopg2)
    with pytest.raises(ConfigError, match=r"needs the Python module 'psycopg2' \(the postgresql driver\)"):
        check_storage_url("postgresql+psycopg2://user@localhost/cnnlab")


def test_a_damaged_file_is_what_sqlite_itself_refuses(tmp_path):
    """The check agrees with SQLite: the file it refuses is one sqlite3 cannot read either."""
    url, _ = _damaged(tmp_path)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(tmp_path / "study.db").execute("SELECT count(*) FROM sqlite_master").fetchone()
    with pytest.raises(ConfigError):
        check_storage_url(url)
