"""Round 50: every state change is written to the audit log, held in whole journeys.

`unaudited_state_changes(app)` watches the SQL a journey runs on the test's
connection: each service's unit of work (`db.transaction()`, whose commit releases
the session's savepoint; a test's own set-up is not watched) that UPDATEs a
state-like column (`STATE_COLUMNS`) of a row must write, before it commits, an
audit event on that record (its entity type naming the table, `ENTITY_TABLES`, and
its id), or, for a one-time link, one that lists it in `links_withdrawn`; a bulk
UPDATE, whose rows its parameters do not name, an event on a record of its table.
Each change that has none is named (table, columns, ids), so a journey asserts the
list is empty. Units rolled back are forgotten. (Round 50 watched neither a record
made in a state nor a deletion: round 52 does, below.)

Round 51: it runs under the whole integration tier (`tests/integration/conftest.py`).
A unit of work a test opens itself (`db.transaction()` called from a test module or
`tests/support`, to put a record in a state by hand) is the test's own set-up and is
not watched; one a service opens is, wherever the test called the service from. An
UPDATE ... RETURNING (a bulk step that reads back what it changed, or one the ORM
synchronizes with `fetch`) is read through once here and handed back unchanged: its
rows say how many it changed, which SQLite's row count does not until they are read,
and, when they carry the `id`, which records each need an event.

Round 52: it watches the two other ways a record's state changes.
- A DELETE ends the rows it removes: each must have an event on itself or, for the
  rows that are part of another record (`OWNERS`: an account's passkeys, recovery
  codes and remembered browsers, an agreement's reporting periods, a draft's lines
  and uses), on that record. The rows are read just before the statement runs, with
  its own condition and parameters, so an ORM delete, a bulk `delete()` and one
  with a subquery are all named by id. `DELETE_EXEMPT` lists the deletions that end
  nothing anyone would look for in the audit log, each with why.
- An INSERT may make a record straight into a state (a payment made given back, a
  request made submitted, a token made revoked): a state its table's machine does
  not begin in (`BEGINNINGS`, read from the machines), a moment of `MOMENTS` set, an
  account made inactive. Each such record must have an event on itself; one made
  where its life begins is not watched (its making is audited by its own rules).
Both are set aside in a test's own unit of work, as an UPDATE is.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any
from unittest import mock

from flask import Flask
from sqlalchemy import Delete, Insert, Update, event, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from licensing import db as db_module
from licensing.accounts import states as accounts_states
from licensing.agreements import states as agreements_states
from licensing.billing import states as billing_states
from licensing.db import writing
from licensing.permissions import states as permissions_states
from licensing.royalties import states as royalties_states
from licensing.statemachine import StateMachine

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
        # Round 52: a royalty report's review (`royalties.states.REVIEW`: flagged,
        # reviewed, sent back for correction), a machine's field the list had missed.
        "review_state",
    }
)

# Tables whose state changes are their own record, not the audit log's (why).
EXEMPT_TABLES = {
    # Delivery attempts are kept on the message itself (attempts, last_error, sent_at);
    # a staff retry is audited (`outbox_message.retried`).
    "outbox_messages": "the outbox records its own deliveries",
    # The scheduler's bookkeeping of its own runs.
    "job_runs": "a job's runs are its own record",
    # Round 52: named `past_runs` until now, the model's name, not its table's; the
    # watch first met it when it saw a DELETE (the oldest runs pruned).
    "job_run_history": "a job's runs are its own record, the oldest pruned as it runs",
}

# An audit event's entity type where it is not its table's name in the singular.
# A card payment's dispute is audited `dispute.*` (round 51: the watch read those
# events as another table's, and named every dispute's steps unaudited).
ENTITY_TABLES = {"invitation": "one_time_tokens", "dispute": "payment_disputes"}

# Round 52: the moments among them, which a record made already ended sets at its
# making (a token made revoked); `is_active` made False is a user made deactivated.
MOMENTS = frozenset(STATE_COLUMNS - {"state", "status", "standing", "review_state", "is_active"})

# Round 52: a DELETE ends the rows it removes. Each is audited by an event on itself
# or, where the row is part of a record whose step removes it, on that record: its
# table and the column naming it (a passkey, the recovery codes and a remembered
# browser are the account's: `user.passkey_removed`, `user.two_step_disabled`,
# `user.recovery_codes_regenerated`, `user.browser_forgotten`; a terminated
# agreement's reporting periods are its own, `agreement.terminated`,
# `agreement.periods_restored`; a draft invoice's lines and a draft application's
# uses are their draft's, `invoice.draft_updated`, `application.updated`).
OWNERS = {
    "passkeys": ("users", "user_id"),
    "recovery_codes": ("users", "user_id"),
    "remembered_browsers": ("users", "user_id"),
    "reporting_periods": ("agreements", "agreement_id"),
    "invoice_lines": ("invoices", "invoice_id"),
    "application_uses": ("applications", "application_id"),
}

# Round 52: the deletions that end nothing anyone would look for in the audit log,
# each with why: a table, or a table and the service function that deletes from it
# where the table's other deletions are audited. (The exempt tables above too.)
DELETE_EXEMPT: dict[str | tuple[str, str], str] = {
    "idempotent_requests": (
        "an idempotency key's remembered answer: a replay cache, forgotten when it "
        "expires or when its request failed (the key is free again)"
    ),
    "passkey_challenges": (
        "a passkey ceremony's one-time challenge, spent when answered (right or "
        "wrong) or expired: the ceremony's outcome is the audited step"
    ),
    "outbox_attachments": "part of an outbox message, which records its own deliveries",
    ("remembered_browsers", "delete_expired_browsers"): (
        "the daily housekeeping of browsers no longer trusted (past their date, or "
        "the setting lowered): they decide nothing any more, and the account does "
        "not change; forgetting one is audited"
    ),
}


# The test suite's own code: a unit of work opened from here is a test's set-up.
TESTS = Path(__file__).resolve().parents[1]

# True while a unit of work a test opened itself is under way (round 51).
_OPENED_BY_TEST: ContextVar[bool] = ContextVar("audited_opened_by_test", default=False)


def _opened_by_test(frame: FrameType | None) -> bool:
    """Whether the code that called `db.transaction()` (`frame`, or the frame that
    called this module's, when one watch runs inside another) is the suite's."""
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return frame is not None and _is_the_suites(frame.f_code.co_filename)


@functools.cache
def _is_the_suites(filename: str) -> bool:
    """Whether the source file `filename` is the suite's. Asked at every unit of
    work (every API request's token look-up is one), so each file is asked once a
    process: a `Path` made and compared every time was about 2% of what an API
    request cost in the hostile-input fuzz, under cProfile (round 63)."""
    return Path(filename).is_relative_to(TESTS)


@contextmanager
def _unit_of(opened: AbstractContextManager[Session], by_test: bool) -> Iterator[Session]:
    token = _OPENED_BY_TEST.set(by_test)
    try:
        with opened as session:  # its commit, at the end, is still the opener's
            yield session
    finally:
        _OPENED_BY_TEST.reset(token)


def _telling_its_opener(
    transaction: Callable[..., AbstractContextManager[Session]],
) -> Callable[..., AbstractContextManager[Session]]:
    """`db.transaction` that notes whether a test or a service opened the unit (a
    nested one belongs to the unit around it, as its commit does)."""

    def opened(**kwargs: Any) -> AbstractContextManager[Session]:
        if writing():
            return transaction(**kwargs)
        return _unit_of(transaction(**kwargs), _opened_by_test(sys._getframe(1)))

    return opened


def _table_of(entity_type: str) -> str:
    return ENTITY_TABLES.get(entity_type) or (
        f"{entity_type[:-1]}ies" if entity_type.endswith("y") else f"{entity_type}s"
    )


def _beginnings() -> dict[tuple[str, str], frozenset[str]]:
    """(table, state column) -> the states its machine begins in: those no step
    leads to (an application's `draft`, a payment's `pending`). A record made in
    another is made straight into a state, and its making must be audited."""
    machines = [
        machine
        for module in (
            accounts_states,
            agreements_states,
            billing_states,
            permissions_states,
            royalties_states,
        )
        for machine in vars(module).values()
        if isinstance(machine, StateMachine)
    ]
    return {
        (_table_of(machine.entity_type), machine.field): frozenset(
            state for state in machine.states if state not in set(machine.transitions.values())
        )
        for machine in machines
    }


BEGINNINGS = _beginnings()


def _begins(table: str, column: str, value: Any) -> bool:
    """Whether a record made with `column` at `value` is at the start of its life: a
    moment not yet set, an account active, a state its machine begins in. A state
    column no machine of ours moves (a copy of Stripe's status) begins anywhere: its
    record's making is audited by its table's own rules."""
    if column in MOMENTS:
        return value is None
    if column == "is_active":
        return value is None or bool(value)
    begins = BEGINNINGS.get((table, column))
    return value is None or begins is None or value in begins


def _deleting_exempt(table: str) -> bool:
    """Whether a DELETE from `table` is exempt: the table's, or the deleting
    function's (a frame of the service's own code names it)."""
    if table in EXEMPT_TABLES or table in DELETE_EXEMPT:
        return True
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if (table, frame.f_code.co_name) in DELETE_EXEMPT:
            return True
        frame = frame.f_back
    return False


@dataclass(frozen=True)
class _Change:
    table: str
    columns: frozenset[str]
    ids: frozenset[str] | None  # None: a bulk UPDATE, its rows not named in its parameters
    # How: "changed" (an UPDATE), "deleted" or "made" (an INSERT straight into a state).
    how: str = "changed"
    # id -> (table, id) of the record whose event may tell of the row's deletion
    # (`OWNERS`), as pairs.
    owners: tuple[tuple[str, tuple[str, str]], ...] = ()

    def said(self) -> str:
        rows = "some rows" if self.ids is None else ", ".join(sorted(self.ids, key=_by_number))
        if self.how == "deleted":
            return f"{self.table} deleted: {rows}"
        columns = "/".join(sorted(self.columns))
        if self.how == "made":
            return f"{self.table}.{columns} made in a state: {rows}"
        return f"{self.table}.{columns} of {rows}"


def _by_number(id_: str) -> tuple[int, str]:
    return (int(id_), "") if id_.isdigit() else (0, id_)


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
        """Each change's rows that no event of the unit tells of (a change with some
        rows audited is named by the others alone)."""
        tables = {table for table, _ in self.audited}
        left = []
        for change in self.changes:
            if change.ids is None:  # a bulk UPDATE: an event on a record of its table
                if change.table not in tables:
                    left.append(change)
                continue
            owners = dict(change.owners)
            ids = frozenset(
                id_
                for id_ in change.ids
                if (change.table, id_) not in self.audited and owners.get(id_) not in self.audited
            )
            if ids:
                left.append(replace(change, ids=ids))
        return left


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


def _values_of(clause: Insert) -> dict[str, Any]:
    """The values an INSERT's statement sets itself (`insert(...).values(...)`)."""
    values: dict[str, Any] = {}
    for key, value in (clause._values or {}).items():
        values[getattr(key, "key", key)] = (
            value.value if isinstance(value, BindParameter) else value
        )
    return values


def _inserted_ids(result: Any, count: int) -> list[str] | None:
    """The ids of the rows an INSERT made, in the order of its parameter sets (None
    where the driver does not say: an executemany without RETURNING)."""
    try:
        keys = result.inserted_primary_key_rows
    except InvalidRequestError:  # an executemany whose keys SQLAlchemy did not keep
        return None
    if len(keys) != count or any(key is None or key[0] is None for key in keys):
        return None
    return [str(key[0]) for key in keys]


def _made_in_a_state(
    table: str, clause: Insert, rows: list[dict[str, Any]], result: Any
) -> _Change | None:
    """An INSERT of records straight into a state (`_begins`: a payment made given
    back, an application made approved, a token made revoked): the change its making
    is, to be audited on each record made so; None when every row begins its life."""
    given = _values_of(clause)
    made: list[int] = []
    columns: set[str] = set()
    for index, row in enumerate(rows or [{}]):
        values = {**given, **row}
        late = {
            column
            for column in STATE_COLUMNS & set(values)
            if not _begins(table, column, values[column])
        }
        if late:
            made.append(index)
            columns |= late
    if not made:
        return None
    ids = _inserted_ids(result, len(rows or [{}]))
    named = None if ids is None else frozenset(ids[index] for index in made)
    return _Change(table, frozenset(columns), named, how="made")


def _about_to_delete(conn: Any, clause: Delete, rows: list[dict[str, Any]]) -> _Change | None:
    """The rows `clause` is about to delete, by id, with the record owning each
    (`OWNERS`); None when it deletes none. A table without an `id` column (none
    today) is named "some rows" and held to an event on its table."""
    table = clause.table
    if "id" not in table.c:
        return _Change(table.name, frozenset(), None, how="deleted")
    owner = OWNERS.get(table.name)
    columns = [table.c.id] + ([table.c[owner[1]]] if owner else [])
    query = select(*columns)
    if clause.whereclause is not None:
        query = query.where(clause.whereclause)
    found = []
    for row in rows or [{}]:
        found.extend(conn.execute(query, row).all())
    if not found:
        return None
    owners = tuple(
        (str(row[0]), (owner[0], str(row[1])))
        for row in found
        if owner is not None and row[1] is not None
    )
    ids = frozenset(str(row[0]) for row in found)
    return _Change(table.name, frozenset(), ids, how="deleted", owners=owners)


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
            # (a DELETE is looked at before it runs, below)
        if _OPENED_BY_TEST.get() and not tests_own_units:
            return  # nor is a unit of work the test opened itself
        table = clause.table.name
        rows = _rows(multiparams, params)
        if isinstance(clause, Insert):
            if table == AUDIT_TABLE:
                for row in rows or [{}]:
                    current().audited |= _audited(row)
            elif table not in EXEMPT_TABLES:
                made = _made_in_a_state(table, clause, rows, result)
                if made is not None:
                    current().changes.append(made)
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

    def before_execute(conn: Any, clause: Any, multiparams: Any, params: Any, options: Any) -> None:
        """A DELETE: the rows it is about to remove (and their owners), read with its
        own condition and parameters just before it runs, in its transaction: after
        it they are gone, and its own parameters name them only by its condition."""
        if not writing() or not isinstance(clause, Delete):
            return
        if _OPENED_BY_TEST.get() and not tests_own_units:
            return
        if _deleting_exempt(clause.table.name):
            return
        deleted = _about_to_delete(conn, clause, _rows(multiparams, params))
        if deleted is not None:
            current().changes.append(deleted)

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
            watch.gaps.append(change.said())

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("before_execute", before_execute),
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
