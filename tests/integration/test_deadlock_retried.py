"""Round 59 (locks59): a request whose unit of work loses a deadlock or a serialization
failure is run again (`db.retrying`, around every view in `licensing.app.App`), a few
times with a short jittered wait; after the last try, or where running it again is not
safe, it is answered 503 with Retry-After (problem+json on the API, a page saying to try
again on pages), never 500. A database error of any other kind is not run again.

The deadlock is a real one, on PostgreSQL, between two threads and two connections (as
the lock order's tests run them): the request locks the organization, a second
connection takes the audit chain's head, the request waits for the head at its commit,
and the second connection then asks for the organization. The request waited first, so
its backend's deadlock check fires first and PostgreSQL rolls it back.

Round 60 (retry60): a unit of work that committed without writing anything (a read in a
transaction of its own) no longer stops the retry; one that wrote still does, unless it
says what it writes is the same however often it runs (`transaction(repeatable=True)`)."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import OperationalError

from licensing import access, db
from licensing.accounts.models import Organization
from licensing.accounts.services import organizations, password_reset
from licensing.audit.models import AuditEvent
from tests.support import factories
from tests.support.concurrent_steps import lock_waits_bounded

# How long the second connection looks for the request waiting on a lock.
WAIT_FOR_WAITER = 30.0


@pytest.fixture
def config_changes() -> dict[str, Any]:
    # The budget shared by the forms that send links (`/reset`): a request run again
    # counts against it once.
    return {"auth_rate_limit": "2 per minute"}


def _raise_in_database(session: Any, sqlstate: str) -> None:
    """A real PostgreSQL error with `sqlstate`, raised by the server in the unit of work."""
    session.execute(
        text(f"DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '{sqlstate}'; END $$")
    )


def _needs_postgresql(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the error codes and the deadlock are PostgreSQL's")


def test_a_profile_save_that_loses_a_deadlock_is_run_again_and_saved_once(
    committed_app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_postgresql(backend)
    with committed_app.app_context():
        session = db.session()
        administrator = factories.make_vendor(session)
        organization_id = administrator.organization_id
        session.commit()
        headers = factories.bearer(administrator)

    org_locked, head_taken = threading.Event(), threading.Event()
    tries: list[int] = []
    original = organizations.locked_organization

    def locked_then_held(session: Any, wanted: int) -> Any:
        found = original(session, wanted)
        tries.append(wanted)
        if len(tries) == 1:  # the first try holds the organization until the head is taken
            org_locked.set()
            head_taken.wait(30)
        return found

    monkeypatch.setattr(organizations, "locked_organization", locked_then_held)
    answers: dict[str, Any] = {}
    failures: list[BaseException] = []

    def saving() -> None:
        try:
            client = committed_app.test_client()
            answers["save"] = client.patch(
                f"/api/v1/organizations/{organization_id}",
                json={"address_line1": "12 Quay Street"},
                headers=headers,
            )
        except BaseException as error:
            failures.append(error)
            head_taken.set()

    def the_other_way_round(engine: Any) -> None:
        try:
            org_locked.wait(30)
            with engine.connect() as connection, connection.begin():
                connection.execute(text("SELECT seq FROM audit_chain_head FOR UPDATE"))
                head_taken.set()
                deadline = time.monotonic() + WAIT_FOR_WAITER
                while not connection.scalar(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                ):
                    assert time.monotonic() < deadline, "the request never waited for the head"
                    time.sleep(0.02)
                connection.execute(
                    text("SELECT id FROM organizations WHERE id = :id FOR NO KEY UPDATE"),
                    {"id": organization_id},
                )
        except BaseException as error:
            failures.append(error)

    with lock_waits_bounded(committed_app) as engine:
        threads = [
            threading.Thread(target=saving, name="first"),
            threading.Thread(target=the_other_way_round, args=(engine,), name="second"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    if failures:
        raise failures[0]

    assert answers["save"].status_code == 200, answers["save"].get_data(as_text=True)
    assert tries == [organization_id, organization_id]  # the view ran twice
    with committed_app.app_context():
        session = db.session()
        organization = session.get(Organization, organization_id)
        assert organization is not None
        assert organization.address_line1 == "12 Quay Street"
        events = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "organization.updated")
            .where(AuditEvent.entity_id == str(organization_id))
        )
        assert events == 1  # the lost try's event went with its rollback


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_an_api_request_losing_every_try_is_answered_503_with_retry_after(
    app: Flask, client: FlaskClient, backend: str, monkeypatch: pytest.MonkeyPatch, sqlstate: str
) -> None:
    _needs_postgresql(backend)
    administrator = factories.make_vendor(db.session())
    headers = factories.bearer(administrator)
    tries: list[int] = []
    original = organizations.locked_organization

    def losing(session: Any, wanted: int) -> Any:
        tries.append(wanted)
        found = original(session, wanted)
        _raise_in_database(session, sqlstate)
        return found

    monkeypatch.setattr(organizations, "locked_organization", losing)
    answer = client.patch(
        f"/api/v1/organizations/{administrator.organization_id}",
        json={"address_line1": "12 Quay Street"},
        headers=headers,
    )

    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["Retry-After"] == str(db.RETRY_AFTER_SECONDS)
    problem = answer.get_json()
    assert problem["title"] == "Service unavailable"
    assert "nothing was changed" in problem["detail"]
    assert f"Try again in {db.RETRY_AFTER_SECONDS} seconds" in problem["detail"]
    assert len(tries) == db.ATTEMPTS
    organization = db.session().get(Organization, administrator.organization_id)
    assert organization is not None
    assert organization.address_line1 != "12 Quay Street"


def test_a_page_losing_every_try_says_to_try_again_with_retry_after(
    app: Flask, client: FlaskClient, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_postgresql(backend)
    tries: list[str] = []

    def losing(session: Any, *args: Any, **kwargs: Any) -> int:
        tries.append("reset")
        _raise_in_database(session, "40P01")
        return 0

    monkeypatch.setattr(password_reset, "_recent_mail", losing)
    answer = client.post("/reset", data={"email": "someone@northwind.example"})

    assert answer.status_code == 503
    assert answer.mimetype == "text/html"
    assert answer.headers["Retry-After"] == str(db.RETRY_AFTER_SECONDS)
    page = answer.get_data(as_text=True)
    assert "Busy: please try again" in page
    assert "nothing was changed. Try again in 2 seconds." in page
    assert 'href="/reset"' in page  # the form, to send again
    assert len(tries) == db.ATTEMPTS


def test_a_request_run_again_counts_once_against_its_rate_limit(
    app: Flask, client: FlaskClient, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_postgresql(backend)
    tries: list[str] = []
    original = password_reset._recent_mail

    def losing_once(session: Any, *args: Any, **kwargs: Any) -> int:
        tries.append("reset")
        if len(tries) == 1:
            _raise_in_database(session, "40P01")
        return original(session, *args, **kwargs)

    monkeypatch.setattr(password_reset, "_recent_mail", losing_once)
    sent = [
        client.post("/reset", data={"email": "someone@northwind.example"}).status_code
        for _ in range(3)
    ]

    assert len(tries) == 3  # the first request twice, the second once
    assert sent == [302, 302, 429]  # two a minute: the first request counted once


def test_a_database_error_that_is_not_transient_is_not_run_again(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[str] = []

    def failing(session: Any, *args: Any, **kwargs: Any) -> int:
        tries.append("reset")
        session.execute(text("SELECT no_such_column FROM no_such_table"))
        return 0

    monkeypatch.setattr(password_reset, "_recent_mail", failing)
    answer = client.post("/reset", data={"email": "someone@northwind.example"})

    assert answer.status_code == 500
    assert tries == ["reset"]


def test_sqlite_s_write_lock_held_past_the_busy_timeout_is_answered_503_not_500(
    committed_app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    engine = committed_app.extensions["licensing.db"].engine
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 50)  # read as each connection opens
    engine.dispose()
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer, holding SQLite's write lock
        answer = committed_app.test_client().post(
            "/reset", data={"email": "someone@northwind.example"}
        )
        holder.execute("ROLLBACK")
    finally:
        holder.close()

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(db.RETRY_AFTER_SECONDS)
    assert "Try again in 2 seconds." in answer.get_data(as_text=True)


# --- round 60 (retry60): a unit of work that wrote nothing does not stop a retry -----


class _Deadlocked(Exception):
    sqlstate = "40P01"  # deadlock_detected, as the driver reports it


def _after_an_early_unit(app: Flask, early: Any) -> list[int]:
    """A test page whose first unit of work runs `early(session)` and commits, and whose
    second loses a deadlock on its first try (the error as the driver reports it, so on
    both databases)."""
    tries: list[int] = []

    def two_units() -> str:
        tries.append(len(tries) + 1)
        with db.transaction(repeatable=getattr(early, "repeatable", False)) as session:
            early(session)
        with db.transaction():
            if len(tries) == 1:
                raise OperationalError("UPDATE organizations ...", {}, _Deadlocked())
        return "stored"

    app.add_url_rule(
        "/test-two-units", "test_two_units", access.public(two_units), methods=["POST"]
    )
    return tries


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)


@pytest.mark.usefixtures("no_waiting")
def test_a_read_committed_before_the_unit_that_lost_does_not_stop_the_retry(app: Flask) -> None:
    # The base: any commit counted, so the page answered 503 after one try.
    def reads(session: Any) -> None:
        session.execute(select(func.count()).select_from(Organization)).scalar()
        session.execute(select(Organization.id).limit(1).with_for_update()).all()

    tries = _after_an_early_unit(app, reads)

    answer = app.test_client().post("/test-two-units")

    assert answer.status_code == 200
    assert tries == [1, 2]


@pytest.mark.usefixtures("no_waiting")
def test_a_unit_that_wrote_and_committed_before_the_one_that_lost_still_stops_the_retry(
    app: Flask,
) -> None:
    def writes(session: Any) -> None:
        session.execute(update(Organization).where(Organization.id == -1).values(city="Nowhere"))

    tries = _after_an_early_unit(app, writes)

    answer = app.test_client().post("/test-two-units")

    assert answer.status_code == 503  # run again, it would write a second time
    assert answer.headers["Retry-After"] == str(db.RETRY_AFTER_SECONDS)
    assert tries == [1]


@pytest.mark.usefixtures("no_waiting")
def test_a_repeatable_unit_that_wrote_does_not_stop_the_retry(app: Flask) -> None:
    def deletes_what_is_gone_anyway(session: Any) -> None:
        session.execute(delete(Organization).where(Organization.id == -1))

    deletes_what_is_gone_anyway.repeatable = True  # type: ignore[attr-defined]
    tries = _after_an_early_unit(app, deletes_what_is_gone_anyway)

    answer = app.test_client().post("/test-two-units")

    assert answer.status_code == 200
    assert tries == [1, 2]
