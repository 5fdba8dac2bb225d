"""The SQLite file the service creates is its owner's alone (round 61).

It holds password hashes and unsent one-time links; under the usual umask of 022
SQLite would have made it, and its WAL beside it, readable by every user.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from licensing.db import make_engine


@pytest.fixture
def usual_umask() -> Iterator[None]:
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_are_readable_by_their_owner_alone(
    tmp_path: Path, usual_umask: None
) -> None:
    database = tmp_path / "instance" / "licensing.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE kept (note TEXT)"))
            connection.execute(text("INSERT INTO kept VALUES ('a one-time link')"))
        beside = [Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(path.exists() for path in beside)
        assert {path.name: _mode(path) for path in [database, *beside]} == {
            "licensing.db": 0o600,
            "licensing.db-wal": 0o600,
            "licensing.db-shm": 0o600,
        }
    finally:
        engine.dispose()


def test_an_existing_database_keeps_the_permissions_its_owner_gave_it(
    tmp_path: Path, usual_umask: None
) -> None:
    database = tmp_path / "licensing.db"
    database.touch()
    database.chmod(0o640)
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE kept (note TEXT)"))
        assert _mode(database) == 0o640
    finally:
        engine.dispose()
