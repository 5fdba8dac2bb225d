"""Whether a writer would have to wait, asked without a clock; and a batch job's
claim held still mid-statement, to let another host commit under it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import ColumnElement, Select, String, func, select, text
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage

T = TypeVar("T")


def write_lock_is_free(app: Flask, table: str) -> bool:
    """True if a writer to `table` can start now, without queueing behind any
    other connection: SQLite's write lock taken with no busy timeout at all,
    PostgreSQL's row-writer lock on the table taken with NOWAIT. Either is
    refused at once, not after a wait, when another connection holds the lock."""
    engine = app.extensions["licensing.db"].engine
    if engine.dialect.name == "sqlite":
        connection = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return False
            raise
        finally:
            connection.close()
        return True
    with engine.connect() as connection, connection.begin() as transaction:
        try:
            connection.execute(text(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE NOWAIT"))
        except Exception as exc:  # psycopg's LockNotAvailable, wrapped by SQLAlchemy
            if "could not obtain lock" in str(exc):
                return False
            raise
        finally:
            transaction.rollback()
    return True


# The advisory lock a paused claim waits on (any number no other test takes).
CLAIM_PAUSE_KEY = 184_218


@contextmanager
def claims_paused(app: Flask, monkeypatch: Any, reading: str) -> Iterator[Callable[[], None]]:
    """PostgreSQL: every `db.claim` whose statement reads the table `reading` (a
    once-only email's marker in `audit_events`) waits, once its statement has begun
    and taken its snapshot and before it locks any row, until the caller calls the
    function it is given (or the block ends). A host's claim is held at the moment
    another host's commit can slip in, without a clock: the caller waits for the
    statement to be waiting (`wait_until_claim_waits`), commits, then lets it go."""
    engine = app.extensions["licensing.db"].engine
    holder = engine.connect()
    held = holder.begin()
    holder.execute(select(func.pg_advisory_xact_lock(CLAIM_PAUSE_KEY)))
    original = db.claim

    def paused(statement: Select[Any]) -> Select[Any]:
        if reading in str(statement):
            # Per row, in the scan, so after the statement's snapshot; volatile,
            # so the planner cannot run it once up front. Always true.
            waits = func.pg_advisory_xact_lock_shared(CLAIM_PAUSE_KEY).cast(String) == ""
            statement = statement.where(waits)
        return original(statement)

    def release() -> None:
        if held.is_active:
            held.commit()

    monkeypatch.setattr(db, "claim", paused)
    try:
        yield release
    finally:
        release()
        holder.close()
        monkeypatch.setattr(db, "claim", original)


def wait_until_claim_waits(app: Flask, *, polls: int = 6000) -> None:
    """Poll `pg_stat_activity` until a session of this database waits on the claim
    pause's advisory lock (`claims_paused`); fail if none ever does."""
    engine = app.extensions["licensing.db"].engine
    with engine.connect() as connection:
        for _ in range(polls):
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
            ).scalar_one()
            if waiting:
                return
            connection.rollback()  # a new snapshot of the activity for the next look
            time.sleep(0.01)
    raise AssertionError("no claim ever waited on the pause")


def run_as_another_host_commits(
    app: Flask,
    monkeypatch: Any,
    other_host: Session,
    job: Callable[[], T],
    *,
    reading: str = "audit_events",
) -> T:
    """PostgreSQL: run `job` (a batch job) on a thread of its own, its claims that
    read the table `reading` (the audit log, by default) paused mid-statement
    (`claims_paused`), commit `other_host`'s open transaction while it waits, let it
    go, and return what it returned: the job's claim began before the commit and
    locks its rows after."""
    results: list[T] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                results.append(job())
        except BaseException as exc:  # reported below, with the thread's own error
            failures.append(exc)

    with claims_paused(app, monkeypatch, reading=reading) as release:
        thread = threading.Thread(target=run)
        thread.start()
        wait_until_claim_waits(app)
        other_host.commit()
        other_host.close()
        release()
        thread.join(120)
    assert not thread.is_alive()
    assert failures == []
    (result,) = results
    return result


def another_host_marking(app: Flask, model: Any, entity_id: int, marker: str) -> Session:
    """Another host's open transaction (on a session of its own) that has claimed
    the row `entity_id` of `model` and written the once-only email's audit
    `marker`, not yet committed: hand it to `run_as_another_host_commits`."""
    other_host = Session(app.extensions["licensing.db"].engine)
    other_host.scalars(db.claim(select(model).where(model.id == entity_id))).one()
    audit.record_event(other_host, marker, entity_id, actor=Actor.SYSTEM, after={"host": "A"})
    other_host.flush()
    return other_host


def emails_and_markers(app: Flask, subject: ColumnElement[bool], marker: str) -> tuple[int, int]:
    """How many outbox emails match `subject` (a condition on `OutboxMessage`), and
    how many audit events are `marker`: a once-only email's copies and records."""
    with app.app_context():
        session = db.session()
        sent = session.scalar(select(func.count()).select_from(OutboxMessage).where(subject))
        marked = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == marker)
        )
    return int(sent or 0), int(marked or 0)
