"""Two steps run at once on two threads and two connections, for the lock order's
tests (`licensing/billing/services/__init__.py` and the other packages' services
`__init__`): the runner that starts the second step once the first holds its first
lock.

On PostgreSQL each connection waits at most `LOCK_TIMEOUT` for a row lock, so a step
stuck behind another fails the test ("canceling statement due to lock timeout")
instead of hanging it; two steps waiting for each other fail sooner, with
PostgreSQL's "deadlock detected". On SQLite one writer at a time makes the steps
take turns: the tests check that both finish there too.

The first step, holding its lock, waits for the second to come to a point the test
names (`held_until`, `wait_for_second`): there the second holds what the first will
ask for next, so a wrong order deadlocks. In the right order the second never comes
there: it waits for the first's lock instead. The hold then ends as soon as the
second is seen waiting (round 63, locks63): on PostgreSQL a third connection sees one
of the second thread's backends in `pg_stat_activity` with `wait_event_type` 'Lock';
on SQLite the second thread is in its `BEGIN IMMEDIATE` while the first holds the
write lock (it began IMMEDIATE and has not ended), so SQLite's busy handler has it.
Either way the second can go on only once the first does, so holding longer proves
nothing; and a second step that has finished (or failed) ends the hold too.
`HOLD_SECONDS` stays the bound for a second that neither comes nor waits. Until
round 63 every hold waited its whole `HOLD_SECONDS` in the right order: three
seconds of each such test, on both databases.

PostgreSQL ends a deadlock by failing the waiter whose check (`deadlock_timeout`, a
second after it began to wait) comes first. A step `db.retrying` runs again (a batch
job's row, a request's view) then survives a wrong order, and the test passed: with
the old three-second hold the held first step lost, and the overdue run, run again,
finished. So `run_at_once` fails on any "deadlock detected" in either step, run again
or not (round 63)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

from licensing.accounts import services as accounts_services
from licensing.accounts.services import (
    invitations,
    members,
    moves,
    organizations,
    roles,
    standing,
    two_step,
)
from licensing.audit import services as audit_services

# How long the first step, holding its lock, waits at most for the second to come to
# its awaited point or to wait for a lock.
HOLD_SECONDS = 3
LOCK_TIMEOUT = "15s"
# How often the held first step looks whether the second waits.
LOOK_SECONDS = 0.005
# PostgreSQL's SQLSTATE for "deadlock detected".
DEADLOCK_DETECTED = "40P01"


@contextmanager
def lock_waits_bounded(app: Flask) -> Iterator[Engine]:
    """The app's engine, whose PostgreSQL connections wait at most `LOCK_TIMEOUT` for
    a lock while the block runs (the pool is emptied, so every connection is new)."""
    engine: Engine = app.extensions["licensing.db"].engine

    def bounded(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.close()
        dbapi_connection.commit()

    if engine.dialect.name != "postgresql":
        yield engine
        return
    engine.dispose()
    event.listen(engine, "connect", bounded)
    try:
        yield engine
    finally:
        event.remove(engine, "connect", bounded)
        engine.dispose()


class _Watch:
    """What the held first step asks while `run_at_once` runs: has the second step
    finished, or is it waiting for a lock (`waiting`)? Listens to the app's engine
    while the steps run (`watching`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.second_done = threading.Event()
        # PostgreSQL: the backends thread "second" has used; the third connection.
        self.second_backends: set[int] = set()
        self.observer: Connection | None = None
        # SQLite: thread "second" in its BEGIN IMMEDIATE; the connections thread
        # "first" began IMMEDIATE (holding the write lock while in that transaction).
        self.second_beginning = False
        self.first_writers: set[Any] = set()
        # PostgreSQL's "deadlock detected" in either step, even one `db.retrying` ran
        # again (a batch job's row, a request's view): the order was wrong.
        self.deadlocks: list[str] = []

    @contextmanager
    def watching(self) -> Iterator[_Watch]:
        engine = self.engine
        listeners: list[tuple[str, Callable[..., None]]]
        if engine.dialect.name == "postgresql":
            listeners = [("checkout", self._checked_out), ("handle_error", self._deadlocked)]
        else:
            listeners = [
                ("before_cursor_execute", self._before),
                ("after_cursor_execute", self._after),
                ("handle_error", self._failed),
            ]
        for name, listener in listeners:
            event.listen(engine, name, listener)
        try:
            yield self
        finally:
            for name, listener in listeners:
                event.remove(engine, name, listener)
            if self.observer is not None:
                self.observer.close()
                self.observer.engine.dispose()

    def _checked_out(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if threading.current_thread().name == "second":
            self.second_backends.add(dbapi_connection.info.backend_pid)

    def _deadlocked(self, context: Any) -> None:
        if getattr(context.original_exception, "sqlstate", None) == DEADLOCK_DETECTED:
            thread = threading.current_thread().name
            self.deadlocks.append(f"{thread}: {context.original_exception}".strip())

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name == "second" and statement == "BEGIN IMMEDIATE":
            self.second_beginning = True

    def _after(self, conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        thread = threading.current_thread().name
        if thread == "second" and statement == "BEGIN IMMEDIATE":
            self.second_beginning = False
        elif thread == "first" and statement.startswith("BEGIN"):
            dbapi_connection = conn.connection.dbapi_connection
            if statement == "BEGIN IMMEDIATE":
                self.first_writers.add(dbapi_connection)
            else:
                self.first_writers.discard(dbapi_connection)

    def _failed(self, context: Any) -> None:
        if threading.current_thread().name == "second" and context.statement == "BEGIN IMMEDIATE":
            self.second_beginning = False

    def waiting(self) -> bool:
        """Whether the second step is done, or waits for a lock (on SQLite: for the
        write lock the first holds)."""
        if self.second_done.is_set():
            return True
        if self.engine.dialect.name != "postgresql":
            first_writes = any(writer.in_transaction for writer in list(self.first_writers))
            return self.second_beginning and first_writes
        if not self.second_backends:
            return False
        if self.observer is None:
            apart = create_engine(self.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            self.observer = apart.connect()
        waiting = self.observer.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE pid = ANY(:backends) AND wait_event_type = 'Lock'"
            ),
            {"backends": sorted(self.second_backends)},
        ).scalar_one()
        return bool(waiting)


# The watch of the steps `run_at_once` is running (one pair at a time in a process).
_watch: _Watch | None = None


def wait_for_second(reached: threading.Event) -> None:
    """In thread "first", holding its lock: wait until `reached` is set (the second
    step came to the point the test awaits), the second step waits for a lock or has
    finished, or `HOLD_SECONDS` pass. Outside `run_at_once`: `reached` or the bound."""
    watch = _watch
    if watch is None:
        reached.wait(HOLD_SECONDS)
        return
    bound = time.monotonic() + HOLD_SECONDS
    while not reached.wait(LOOK_SECONDS):
        if watch.waiting() or time.monotonic() >= bound:
            return


def run_at_once(
    app: Flask,
    first: Callable[[], Any],
    second: Callable[[], Any],
    first_holds: threading.Event,
) -> dict[str, Any]:
    """Run `first` and `second` on threads named "first" and "second", each in the
    app's context, `second` started once `first_holds` is set (by the test's hook,
    when `first` holds its lock; or when `first` fails). While they run, a hold in
    thread "first" (`wait_for_second`) can see whether the second waits for a lock.
    Returns what each returned, by name; any thread's error (a deadlock, a lock
    timeout) is raised, and a deadlock the losing step survived (`db.retrying` ran it
    again: a batch job's row, a request's view) fails too (round 63)."""
    global _watch
    failures: list[BaseException] = []
    results: dict[str, Any] = {}
    watch = _Watch(app.extensions["licensing.db"].engine)

    def running(name: str, step: Callable[[], Any]) -> None:
        try:
            if name == "second":
                first_holds.wait(30)
            with app.app_context():
                results[name] = step()
        except BaseException as error:  # raised below, with the thread's own traceback
            failures.append(error)
            first_holds.set()
        finally:
            if name == "second":
                watch.second_done.set()

    threads = [
        threading.Thread(target=running, args=(name, step), name=name)
        for name, step in (("first", first), ("second", second))
    ]
    with lock_waits_bounded(app), watch.watching():
        _watch = watch
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
        finally:
            _watch = None
    if failures:
        raise failures[0]
    if watch.deadlocks:
        raise AssertionError(
            "the steps deadlocked, and the one that lost was run again: "
            + "; ".join(watch.deadlocks)
        )
    return results


def held_until(
    monkeypatch: Any,
    holding: tuple[Any, str],
    until: tuple[Any, str],
    *,
    before: bool = False,
) -> threading.Event:
    """The usual hold of a lock-order test: `holding` (an object and the name of a
    function on it) patched so that, in thread "first", once it has run (`before`:
    before it runs), it sets the event returned and waits until `until` is called
    (in any thread), the second step waits for a lock or has finished, or
    `HOLD_SECONDS` pass (`wait_for_second`); `run_at_once` starts the second step
    on that event. `monkeypatch` is pytest's fixture."""
    holds, reached = threading.Event(), threading.Event()
    held, awaited = getattr(*holding), getattr(*until)

    def hold() -> None:
        if threading.current_thread().name == "first":
            holds.set()
            wait_for_second(reached)

    def holding_step(*args: Any, **kwargs: Any) -> Any:
        if before:
            hold()
        answer = held(*args, **kwargs)
        if not before:
            hold()
        return answer

    def awaited_step(*args: Any, **kwargs: Any) -> Any:
        reached.set()
        return awaited(*args, **kwargs)

    monkeypatch.setattr(*holding, holding_step)
    monkeypatch.setattr(*until, awaited_step)
    return holds


def first_event_stored() -> None:
    """Called in thread "second" once its step comes to its first event, with what it
    wrote before flushed (`at_first_event`)."""


def at_first_event(monkeypatch: Any) -> tuple[Any, str]:
    """`held_until`'s `until` for the step in thread "second" coming to its first
    event: what it wrote before is flushed first (round 57), so a row it stores naming
    a parent holds the parent's key share (PostgreSQL's foreign-key check) before the
    first step goes on. Every audited step's event is kept for its commit there
    (`audit.services._pend`; round 58: the log's head is locked only at commit)."""
    pend = audit_services._pend
    module = sys.modules[__name__]

    def stored_then_kept(session: Any, pending: Any) -> None:
        if threading.current_thread().name == "second":
            session.flush()
            module.first_event_stored()
        pend(session, pending)

    monkeypatch.setattr(audit_services, "_pend", stored_then_kept)
    return module, "first_event_stored"


def log_taken() -> None:
    """Called in thread "second" once its step holds the audit log's head
    (`having_the_log`)."""


def having_the_log(monkeypatch: Any) -> tuple[Any, str]:
    """`held_until`'s `until` for the step in thread "second" holding the audit log's
    head: since round 58 as it commits, its events chained, after every other lock it
    takes (round 57: what it wrote after its first event came after the log)."""
    head_locked = audit_services._head_locked
    module = sys.modules[__name__]

    def locked_then_told(session: Any, *moving: Any) -> Any:
        locked = head_locked(session, *moving)
        if threading.current_thread().name == "second":
            module.log_taken()
        return locked

    monkeypatch.setattr(audit_services, "_head_locked", locked_then_told)
    return module, "log_taken"


def organization_to_lock() -> None:
    """Called in any thread just before a step locks an organization through
    `accounts.locked_organization` (`before_organization_lock`)."""


def before_organization_lock(monkeypatch: Any) -> tuple[Any, str]:
    """`held_until`'s `holding` for a step in thread "first" about to lock the
    organization (`accounts.locked_organization`, wherever its callers name it): until
    round 58 it took its turn on the audit log there (`audit.take_turn`), and the lock
    order's tests held it at that turn."""
    original = roles.locked_organization
    module = sys.modules[__name__]

    def announced(session: Any, organization_id: int) -> Any:
        module.organization_to_lock()
        return original(session, organization_id)

    callers = (accounts_services, roles, invitations, members, moves, organizations, standing)
    for caller in (*callers, two_step):
        if getattr(caller, "locked_organization", None) is original:
            monkeypatch.setattr(caller, "locked_organization", announced)
    return module, "organization_to_lock"
