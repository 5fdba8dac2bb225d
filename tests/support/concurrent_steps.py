"""Two steps run at once on two threads and two connections, for the lock order's
tests (`licensing/billing/services/__init__.py` and the other packages' services
`__init__`): the runner that starts the second step once the first holds its first
lock.

On PostgreSQL each connection waits at most `LOCK_TIMEOUT` for a row lock, so a step
stuck behind another fails the test ("canceling statement due to lock timeout")
instead of hanging it; two steps waiting for each other fail sooner, with
PostgreSQL's "deadlock detected". On SQLite one writer at a time makes the steps
take turns: the tests check that both finish there too."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event

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

# How long the first step, holding its lock, waits for the second's first lock.
HOLD_SECONDS = 3
LOCK_TIMEOUT = "15s"


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


def run_at_once(
    app: Flask,
    first: Callable[[], Any],
    second: Callable[[], Any],
    first_holds: threading.Event,
) -> dict[str, Any]:
    """Run `first` and `second` on threads named "first" and "second", each in the
    app's context, `second` started once `first_holds` is set (by the test's hook,
    when `first` holds its lock; or when `first` fails). Returns what each returned,
    by name; any thread's error (a deadlock, a lock timeout) is raised."""
    failures: list[BaseException] = []
    results: dict[str, Any] = {}

    def running(name: str, step: Callable[[], Any]) -> None:
        try:
            if name == "second":
                first_holds.wait(30)
            with app.app_context():
                results[name] = step()
        except BaseException as error:  # raised below, with the thread's own traceback
            failures.append(error)
            first_holds.set()

    threads = [
        threading.Thread(target=running, args=(name, step), name=name)
        for name, step in (("first", first), ("second", second))
    ]
    with lock_waits_bounded(app):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    if failures:
        raise failures[0]
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
    (in any thread), or `HOLD_SECONDS` pass; `run_at_once` starts the second step
    on that event. `monkeypatch` is pytest's fixture."""
    holds, reached = threading.Event(), threading.Event()
    held, awaited = getattr(*holding), getattr(*until)

    def hold() -> None:
        if threading.current_thread().name == "first":
            holds.set()
            reached.wait(HOLD_SECONDS)

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

    def locked_then_told(session: Any) -> bool:
        locked = head_locked(session)
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
