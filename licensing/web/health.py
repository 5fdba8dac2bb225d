"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from licensing import access, db

bp = Blueprint("health", __name__)

# How long readiness waits for SQLite's write lock (milliseconds): a load
# balancer's probe must answer well within its own timeout.
PROBE_LOCK_WAIT_MS = 1000


class NotWritable(Exception):
    """The database answers but a write transaction cannot begin or commit."""


@bp.route("/healthz")
@access.public
def healthz() -> Response:
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.route("/readyz")
@access.public
def readyz() -> Response | tuple[Response, int]:
    """This instance can take traffic: the database answers, a write
    transaction can begin (not locked, not read-only, not out of disk), and its
    schema has every migration this code needs."""
    engine = db.database().engine
    try:
        connection = engine.raw_connection()
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error):
        current_app.logger.exception("readiness check: database unreachable")
        return _unreachable()
    try:
        if engine.dialect.name == "sqlite":
            _probe_sqlite(connection)
        else:
            _probe_postgresql(connection)
        missing = _schema_behind(connection, engine.dialect.name)
    except (NotWritable, engine.dialect.loaded_dbapi.Error) as error:
        if db.driver_error_is_unavailable(error):
            # Round 61 (outage61b): the connection died under the probe (the server
            # stopped or restarted between the connect and the write): the server is
            # away, not refusing writes, and the alert table reads the two apart.
            current_app.logger.exception("readiness check: database unreachable")
            return _unreachable()
        # The driver's words go to the log, with this answer's request id; the answer
        # (public, unsigned) says which of the known kinds it is (round 40: it
        # repeated the driver's message, which may name a file, a role or a host).
        current_app.logger.warning("readiness check: database not writable: %s", error)
        detail = _not_writable_because(error)
        return jsonify(status="unavailable", database="not writable", detail=detail), 503
    finally:
        connection.close()
    if missing:
        # A server started before `licensing db upgrade` answered 500 on every
        # page whose tables were new, while this said "ok".
        from licensing import migrations

        detail = migrations.behind_message(missing)
        current_app.logger.warning("readiness check: %s", detail)
        return jsonify(status="unavailable", database="schema behind", detail=detail), 503
    # A note may make the status "degraded" (jobs not run lately): still 200.
    return jsonify({"status": "ok", "database": "ok", **_notes()})


def _unreachable() -> tuple[Response, int]:
    return jsonify(status="unavailable", database="unreachable"), 503


# The kinds of "not writable" the answer names, by PostgreSQL's SQLSTATE or by
# SQLite's message; anything else is named by the log only.
_PG_KINDS = {
    "25006": "the database is read-only",  # read_only_sql_transaction
    "55P03": "the database is locked: a write would wait",  # lock_not_available
    "57014": "the database did not answer within a second",  # query_canceled
    "53100": "the database's disk is full",  # disk_full
}
_SQLITE_KINDS = {
    "database is locked": "the database is locked: a write would wait",
    "readonly database": "the database is read-only",
    "disk is full": "the database's disk is full",
}
NOT_WRITABLE_ELSE = (
    "a write transaction failed: the app's log says why, under this answer's X-Request-Id"
)


def _not_writable_because(error: Exception) -> str:
    """What `/readyz` says of a database that refused its write probe: one of the
    known kinds in the service's own words, never the driver's message."""
    if isinstance(error, NotWritable):
        return str(error)
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate in _PG_KINDS:
        return _PG_KINDS[sqlstate]
    message = str(error)
    for words, kind in _SQLITE_KINDS.items():
        if sqlstate is None and words in message:
            return kind
    return NOT_WRITABLE_ELSE


# What features add to a ready answer, each a few named fields (the outbox's:
# `licensing.mail.views`; the periodic jobs': `licensing.worker`, which also
# says `status: degraded`). They say what an operator should look at; they never
# take the instance out of traffic, since requests are still served.
_NOTES: list[Callable[[], dict[str, str]]] = []


def readiness_note(note: Callable[[], dict[str, str]]) -> Callable[[], dict[str, str]]:
    """Register `note` to add its fields to every ready (200) answer."""
    _NOTES.append(note)
    return note


def _notes() -> dict[str, str]:
    fields: dict[str, str] = {}
    for note in _NOTES:
        fields.update(note())
    return fields


def _schema_behind(connection: Any, dialect: str) -> tuple[str, ...]:
    """The migrations this code needs that the database has not had."""
    # Alembic is imported on the first probe of each process, not at start-up
    # (see licensing.commands.db_upgrade).
    from licensing import migrations

    cursor = connection.cursor()
    try:
        cursor.execute(
            "SELECT version_num FROM alembic_version"
            if _has_version_table(cursor, dialect)
            else "SELECT 'base' WHERE 1 = 0"
        )
        recorded = [row[0] for row in cursor.fetchall()]
    finally:
        connection.rollback()
        cursor.close()
    return migrations.behind(recorded)


def _has_version_table(cursor: Any, dialect: str) -> bool:
    """A database never migrated has no `alembic_version` (it is behind on all)."""
    cursor.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'"
        if dialect == "sqlite"
        else "SELECT count(*) FROM pg_tables WHERE tablename = 'alembic_version'"
    )
    return bool(cursor.fetchone()[0])


def _probe_sqlite(connection: Any) -> None:
    """Take the write lock (briefly), then commit a change that changes nothing:
    the header's user version set to itself. A locked database, a read-only
    file and a full disk each refuse one of these steps."""
    cursor = connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {PROBE_LOCK_WAIT_MS}")
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            version = int(cursor.execute("PRAGMA user_version").fetchone()[0])
            cursor.execute(f"PRAGMA user_version = {version}")
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {db.SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()


def _probe_postgresql(connection: Any) -> None:
    """Begin a transaction and take a transaction id, which a read-only
    database (standby, `default_transaction_read_only`) refuses; waits at most
    a second for anything."""
    cursor = connection.cursor()
    try:
        cursor.execute("SET LOCAL statement_timeout = '1s'")
        cursor.execute("SET LOCAL lock_timeout = '1s'")
        read_only = cursor.execute("SHOW transaction_read_only").fetchone()[0]
        if read_only == "on":
            raise NotWritable("the database is read-only")
        cursor.execute("SELECT pg_current_xact_id()")
    finally:
        connection.rollback()
        cursor.close()
