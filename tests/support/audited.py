"""Round 50: every state change is written to the audit log, held in whole journeys.

`unaudited_state_changes(app)` watches the SQL a journey runs on the test's
connection: each service's unit of work (`db.transaction()`, whose commit releases
the session's savepoint; a test's own set-up is not watched) that UPDATEs a
state-like column (`STATE_COLUMNS`) of a row must write, before it commits, an
audit event on that record (its entity type naming the table, `ENTITY_TABLES`, and
its id), or, for a one-time link, one that lists it in `links_withdrawn`; a bulk
UPDATE, whose rows its parameters do not name, an event on a record of its table.
Each change that has none is named (table, columns, ids), so a journey asserts the
list is empty. Units rolled back are forgotten; inserting a record in a state is
its making, audited or not by its own rules, and is not watched.

Round 51: it runs under the whole integration tier (`tests/integration/conftest.py`).
A unit of work a test opens itself (`db.transaction()` called from a test module or
`tests/support`, to put a record in a state by hand) is the test's own set-up and is
not watched; one a service opens is, wherever the test called the service from. An
UPDATE ... RETURNING (a bulk step that reads back what it changed, or one the ORM
synchronizes with `fetch`) is read through once here and handed back unchanged: its
rows say how many it changed, which SQLite's row count does not until they are read,
and, when they carry the `id`, which records each need an event.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from unittest import mock

from flask import Flask
from sqlalchemy import Insert, Update, event
from sqlalchemy.orm import Session

from licensing import db as db_module
from licensing.db import writing

AUDIT_TABLE = "audit_events"

# The columns that say where a record is in its life (a state machine's field, or a
# moment that ends or withdraws it). A one-time link's `used_at` is not one: its use
# is the step its own event records (`user.password_reset`, `user.email_verified`,
# `invitation.accepted`).
STATE_COLUMNS = frozenset(
    {
        "state",
        "status",
        "standing",
        "revoked_at",
        "withdrawn_at",
        "deactivated_at",
        "closed_at",
        "is_active",
        "reconsideration_closed_at",
    }
)

# Tables whose state changes are their own record, not the audit log's (why).
EXEMPT_TABLES = {
    # Delivery attempts are kept on the message itself (attempts, last_error, sent_at);
    # a staff retry is audited (`outbox_message.retried`).
    "outbox_messages": "the outbox records its own deliveries",
    # The scheduler's bookkeeping of its own runs.
    "job_runs": "a job's runs are its own record",
    "past_runs": "a job's runs are its own record",
}

# An audit event's entity type where it is not its table's name in the singular.
# A card payment's dispute is audited `dispute.*` (round 51: the watch read those
# events as another table's, and named every dispute's steps unaudited).
ENTITY_TABLES = {"invitation": "one_time_tokens", "dispute": "payment_disputes"}


# The test suite's own code: a unit of work opened from here is a test's set-up.
TESTS = Path(__file__).resolve().parents[1]

# True while a unit of work a test opened itself is under way (round 51).
_OPENED_BY_TEST: ContextVar[bool] = ContextVar("audited_opened_by_test", default=False)


def _opened_by_test(frame: FrameType | None) -> bool:
    """Whether the code that called `db.transaction()` (`frame`, or the frame that
    called this module's, when one watch runs inside another) is the suite's."""
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return frame is not None and Path(frame.f_code.co_filename).is_relative_to(TESTS)


@contextmanager
def _unit_of(opened: AbstractContextManager[Session], by_test: bool) -> Iterator[Session]:
    token = _OPENED_BY_TEST.set(by_test)
    try:
        with opened as session:  # its commit, at the end, is still the opener's
            yield session
    finally:
        _OPENED_BY_TEST.reset(token)


def _telling_its_opener(
    transaction: Callable[[], AbstractContextManager[Session]],
) -> Callable[[], AbstractContextManager[Session]]:
    """`db.transaction` that notes whether a test or a service opened the unit (a
    nested one belongs to the unit around it, as its commit does)."""

    def opened() -> AbstractContextManager[Session]:
        if writing():
            return transaction()
        return _unit_of(transaction(), _opened_by_test(sys._getframe(1)))

    return opened


def _table_of(entity_type: str) -> str:
    return ENTITY_TABLES.get(entity_type) or (
        f"{entity_type[:-1]}ies" if entity_type.endswith("y") else f"{entity_type}s"
    )


@dataclass(frozen=True)
class _Change:
    table: str
    columns: frozenset[str]
    ids: frozenset[str] | None  # None: a bulk UPDATE, its rows not named in its parameters


@dataclass
class _Unit:
    changes: list[_Change] = field(default_factory=list)
    # (table, entity id) of each audit event; a step's event may name one-time
    # links it withdrew (`links_withdrawn`, round 50).
    audited: set[tuple[str, str]] = field(default_factory=set)

    def merge(self, other: _Unit) -> None:
        self.changes.extend(other.changes)
        self.audited |= other.audited

    def unaudited(self) -> list[_Change]:
        tables = {table for table, _ in self.audited}
        return [change for change in self.changes if not self._audits(change, tables)]

    def _audits(self, change: _Change, tables: set[str]) -> bool:
        if change.ids is None:  # a bulk UPDATE: an event on a record of its table
            return change.table in tables
        return all((change.table, id_) in self.audited for id_ in change.ids)


def _rows(multiparams: Any, params: Any) -> list[dict[str, Any]]:
    """The parameter sets of a statement, as dictionaries."""
    if multiparams:
        first = multiparams[0]
        if isinstance(first, list | tuple):
            return [dict(row) for row in first if isinstance(row, dict)]
        return [dict(row) for row in multiparams if isinstance(row, dict)]
    return [dict(params)] if params else []


def _audited(row: dict[str, Any]) -> set[tuple[str, str]]:
    """What one audit event row names: its record, and the links it says it withdrew."""
    named = {(_table_of(str(row.get("entity_type"))), str(row.get("entity_id")))}
    try:
        after = json.loads(row.get("after") or "null")
    except ValueError:
        after = None
    if isinstance(after, dict):
        for link in after.get("links_withdrawn") or ():
            named.add(("one_time_tokens", str(link["id"])))
    return named


def _returned(result: Any) -> list[Any] | None:
    """The rows of an UPDATE ... RETURNING, read through and handed back to its caller
    as SQLAlchemy hands back the rows of an INSERT it read (`CursorResult._rewind`):
    SQLite counts such an UPDATE's rows only as they are read (0 until then). None for
    an UPDATE that returns no rows: its row count is known at once."""
    if not result.returns_rows:
        return None
    rows: list[Any] = list(result.all())
    result._rewind(rows)
    return rows


@dataclass
class Watch:
    """What the journey's units of work changed without an audit event."""

    gaps: list[str] = field(default_factory=list)
    units: int = 0
    audited_units: int = 0


@contextmanager
def unaudited_state_changes(app: Flask, *, tests_own_units: bool = False) -> Iterator[Watch]:
    """Watch the state changes of every unit of work a service runs inside the block
    (and, with `tests_own_units`, of those the test opens itself: the watch's own
    tests, standing for a service)."""
    connection = app.extensions["licensing.db"].sessionmaker.kw["bind"]
    watch = Watch()
    stack: list[_Unit] = []

    def current() -> _Unit:
        if not stack:  # a unit already open when the watch began
            stack.append(_Unit())
        return stack[-1]

    def after_execute(
        conn: Any, clause: Any, multiparams: Any, params: Any, options: Any, result: Any
    ) -> None:
        if not writing() or not isinstance(clause, Insert | Update):
            return  # a test's own set-up (outside a unit of work) is not watched
        if _OPENED_BY_TEST.get() and not tests_own_units:
            return  # nor is a unit of work the test opened itself
        table = clause.table.name
        rows = _rows(multiparams, params)
        if isinstance(clause, Insert):
            if table == AUDIT_TABLE:
                for row in rows or [{}]:
                    current().audited |= _audited(row)
            return
        if table in EXEMPT_TABLES:
            return
        set_here = {getattr(key, "key", key) for key in (clause._values or {})}
        for row in rows:
            set_here |= set(row)
        columns = frozenset(set_here) & STATE_COLUMNS
        if not columns:
            return
        returned = _returned(result)
        if returned is not None:  # its rows are those it changed
            if not returned:
                return
            named = "id" in returned[0]._fields
            ids = frozenset(str(row.id) for row in returned) if named else None
            current().changes.append(_Change(table, columns, ids))
            return
        if result.rowcount == 0:
            return  # it changed no row (a bulk UPDATE of none: an account with no tokens)
        key = f"{table}_id"
        named = bool(rows) and all(key in row for row in rows)
        ids = frozenset(str(row[key]) for row in rows) if named else None
        current().changes.append(_Change(table, columns, ids))

    def savepoint(conn: Any, name: str) -> None:
        stack.append(_Unit())

    def rollback_savepoint(conn: Any, name: str, context: Any) -> None:
        if stack:
            stack.pop()

    def release_savepoint(conn: Any, name: str, context: Any) -> None:
        unit = stack.pop() if stack else _Unit()
        if stack:  # a nested savepoint: what it wrote belongs to the unit around it
            stack[-1].merge(unit)
            return
        watch.units += 1
        if unit.changes and unit.audited:
            watch.audited_units += 1
        for change in unit.unaudited():
            rows = "some rows" if change.ids is None else ", ".join(sorted(change.ids))
            watch.gaps.append(f"{change.table}.{'/'.join(sorted(change.columns))} of {rows}")

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("after_execute", after_execute),
        ("savepoint", savepoint),
        ("rollback_savepoint", rollback_savepoint),
        ("release_savepoint", release_savepoint),
    ]
    for name, listener in listeners:
        event.listen(connection, name, listener)
    opened = _telling_its_opener(db_module.transaction)
    try:
        with mock.patch.object(db_module, "transaction", opened):
            yield watch
    finally:
        for name, listener in listeners:
            event.remove(connection, name, listener)
