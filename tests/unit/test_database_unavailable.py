"""Round 61 (outage61): which database errors say the database is away
(`db.is_unavailable`), answered 503 with Retry-After, and which are not."""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy.exc import IntegrityError, OperationalError

from licensing import db


class _Said(Exception):
    """A driver's error carrying a SQLSTATE, as PostgreSQL sends it."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _wrapped(orig: BaseException, *, invalidated: bool = False) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


def test_a_connection_refused_or_lost_is_the_database_away() -> None:
    assert db.is_unavailable(_wrapped(psycopg.OperationalError("connection failed")))
    assert db.is_unavailable(_wrapped(Exception("server closed"), invalidated=True))


def test_a_server_shutting_down_starting_up_or_a_broken_connection_is_the_database_away() -> None:
    for sqlstate in ("57P01", "57P02", "57P03", "08006", "08001"):
        assert db.is_unavailable(_wrapped(_Said(sqlstate))), sqlstate


def test_a_deadlock_a_timeout_or_a_constraint_is_not_the_database_away() -> None:
    for sqlstate in ("40P01", "40001", "57014", "55P03", "53100"):
        assert not db.is_unavailable(_wrapped(_Said(sqlstate))), sqlstate
    assert not db.is_unavailable(IntegrityError("INSERT", {}, _Said("23505")))


def test_sqlites_errors_and_errors_of_no_driver_are_not_the_database_away() -> None:
    assert not db.is_unavailable(_wrapped(sqlite3.OperationalError("database is locked")))
    assert not db.is_unavailable(_wrapped(Exception("something else")))
    assert not db.is_unavailable(RuntimeError("not a database error"))


def test_the_drivers_own_error_of_a_lost_connection_is_read_alike_for_readyz() -> None:
    """Round 61 (outage61b): `/readyz` probes on a raw connection, whose errors are the
    driver's own, not SQLAlchemy's."""
    assert db.driver_error_is_unavailable(psycopg.OperationalError("consuming input failed"))
    assert db.driver_error_is_unavailable(_Said("57P01"))
    assert not db.driver_error_is_unavailable(_Said("25006"))  # read-only: not writable
    assert not db.driver_error_is_unavailable(psycopg.errors.ReadOnlySqlTransaction("no"))
    assert not db.driver_error_is_unavailable(sqlite3.OperationalError("database is locked"))
