"""Round 61 (outage61): PostgreSQL restarted while vendors quote and staff approve.

A server of the test's own (the session's is shared by every other test), stopped as
an operator's restart stops it (`pg_ctl stop -m fast`) and started again under the
same app: no app restart. Before, every request while the database was away was a
500, and a page's 500 itself read who was signed in from the database, failed again,
and the client got the server's bare "Internal Server Error"; now the API answers 503
problem+json with Retry-After, pages a 503 saying to try again, nothing is stored, and
`/readyz` says `database: unreachable` until the server is back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from licensing import db, migrations, statemachine
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.api.quotes import REQUEST_EXAMPLE
from licensing.app import create_app
from licensing.audit.models import AuditEvent
from licensing.ratecards import services as ratecards
from licensing.web import health
from tests.conftest import make_config, unavailable
from tests.integration.agreements.conftest import NOW, draft
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.servers import PostgresServer, ServerUnavailable
from tests.support.settings import issuing
from tests.support.uses import STAFF_USE


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, to stop and start."""
    try:
        found = PostgresServer().start()
    except ServerUnavailable as exc:
        unavailable(f"PostgreSQL: {exc}")
    yield found
    found.stop()


@pytest.fixture
def office(server: PostgresServer) -> Iterator[dict[str, Any]]:
    """The app on a fresh database of the server, with a vendor, a licensing clerk and
    an application waiting for the clerk's review; the server running again after."""
    url = server.create_database(f"away_{factories._unique()}")
    migrations.upgrade(url)
    application = create_app(make_config(url))
    with application.app_context():
        session = db.session()
        ratecards.import_card(example_document(), published_by="tests")
        vendor, clerk = factories.make_vendor(session), factories.make_staff(session)
        actor = Actor.of(accounts.principal_for(vendor))
        waiting = agreements.create_draft(actor, draft(STAFF_USE), now=NOW)
        waiting = agreements.submit(waiting.id, actor, policy=issuing(), attest=True, now=NOW)
        assert waiting.state == "submitted"
        found = {
            "app": application,
            "vendor": factories.bearer(vendor),
            "clerk": factories.bearer(clerk),
            "application_id": waiting.id,
            "pages": {
                "vendor": _signed_in(application, vendor.email),
                "clerk": _signed_in(application, clerk.email),
            },
        }
        session.commit()
    try:
        yield found
    finally:
        with contextlib.suppress(ServerUnavailable):  # running already
            server.resume()
        application.extensions["licensing.db"].engine.dispose()


def _signed_in(application: Flask, email: str) -> FlaskClient:
    client = application.test_client()
    answer = client.post("/sign-in", data={"email": email, "password": factories.DEFAULT_PASSWORD})
    assert answer.status_code == 302
    return client


def _stored(application: Flask, application_id: int) -> tuple[str, int, int]:
    """The application's state, how many agreements and audit events there are."""
    with application.app_context():
        session = db.session()
        state = session.get(Application, application_id).state
        agreements_made = session.scalar(select(func.count(Agreement.id)))
        events = session.scalar(select(func.count(AuditEvent.id)))
        session.rollback()
    return state, agreements_made, events


def _said_to_try_again(answer: Any, *, problem: bool) -> str:
    assert answer.status_code == 503, answer.get_data(as_text=True)[:2000]
    assert answer.headers["Retry-After"] == str(db.UNAVAILABLE_RETRY_AFTER_SECONDS)
    text_said = answer.get_data(as_text=True)
    assert "Traceback" not in text_said
    if problem:
        assert answer.content_type == "application/problem+json"
        assert answer.get_json()["title"] == "Service unavailable"
        assert answer.get_json()["detail"] == (
            "The service could not reach its database just now, so this request was not "
            "completed and nothing of it was saved. Try again in 10 seconds."
        )
    else:
        assert answer.content_type.startswith("text/html")
        assert "Unavailable: please try again" in text_said
        assert "nothing of it was saved. Try again in 10 seconds." in text_said
    return text_said


def test_while_postgresql_restarts_every_caller_is_told_to_try_again_and_nothing_is_stored(
    server: PostgresServer, office: dict[str, Any]
) -> None:
    application, application_id = office["app"], office["application_id"]
    api = application.test_client()
    before = _stored(application, application_id)
    assert api.get("/readyz").status_code == 200

    server.halt()

    quote = api.post("/api/v1/quotes", json=REQUEST_EXAMPLE, headers=office["vendor"])
    _said_to_try_again(quote, problem=True)
    approval = api.post(
        f"/api/v1/applications/{application_id}/approve", json={}, headers=office["clerk"]
    )
    _said_to_try_again(approval, problem=True)
    dashboard = office["pages"]["vendor"].get("/portal/")
    assert "Open it again" in _said_to_try_again(dashboard, problem=False)
    approved_on_the_page = office["pages"]["clerk"].post(
        f"/console/applications/{application_id}/approve", data={}
    )
    assert "Open the form again" in _said_to_try_again(approved_on_the_page, problem=False)
    ready = api.get("/readyz")
    assert (ready.status_code, ready.get_json()) == (
        503,
        {"status": "unavailable", "database": "unreachable"},
    )

    server.resume()

    # The same app, not restarted: its pool connects afresh.
    ready = api.get("/readyz")
    assert (ready.status_code, ready.get_json()["database"]) == (200, "ok")
    assert _stored(application, application_id) == before  # nothing of the 503s kept
    assert (
        api.post("/api/v1/quotes", json=REQUEST_EXAMPLE, headers=office["vendor"]).status_code
        == 200
    )
    assert office["pages"]["vendor"].get("/portal/").status_code == 200
    approved = api.post(
        f"/api/v1/applications/{application_id}/approve", json={}, headers=office["clerk"]
    )
    assert approved.status_code == 200, approved.get_json()
    assert _stored(application, application_id)[:2] == ("approved", before[1] + 1)


def test_a_step_whose_connection_is_ended_under_it_is_told_to_try_again_and_nothing_is_kept(
    office: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restart reaching a request in the middle of its unit of work: its session is
    ended by the server (as `pg_ctl stop -m fast` ends each) after the approval's
    state change was written, before the commit."""
    application, application_id = office["app"], office["application_id"]
    before = _stored(application, application_id)
    original = statemachine.StateMachine.apply
    ended: list[str] = []

    def then_ended(self: Any, session: Any, record: Any, action: str, **kwargs: Any) -> Any:
        done = original(self, session, record, action, **kwargs)
        if not ended:
            ended.append(action)
            session.flush()
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return done

    monkeypatch.setattr(statemachine.StateMachine, "apply", then_ended)
    api = application.test_client()
    approval = api.post(
        f"/api/v1/applications/{application_id}/approve", json={}, headers=office["clerk"]
    )
    _said_to_try_again(approval, problem=True)
    assert ended == ["approve"]
    assert _stored(application, application_id) == before

    # Tried again, as the answer says: the pool has thrown the ended connection away.
    again = api.post(
        f"/api/v1/applications/{application_id}/approve", json={}, headers=office["clerk"]
    )
    assert again.status_code == 200, again.get_json()
    assert _stored(application, application_id)[:2] == ("approved", before[1] + 1)


def test_a_connection_ended_as_the_request_ends_leaves_its_answer_as_it_was(
    server: PostgresServer, office: dict[str, Any]
) -> None:
    """A restart reaching a request after its answer was made, before its session was
    closed: closing rolled back on the ended connection and raised, and the WSGI
    server got that error instead of the answer (seen under load, one request in a
    thousand). The answer stands; the pool connects afresh for the next."""
    application = office["app"]
    ended: list[int] = []

    def end_its_connection(_error: BaseException | None) -> None:
        current = g.get("db_session")
        if ended or current is None or not current.in_transaction():
            return
        pid = current.execute(text("SELECT pg_backend_pid()")).scalar_one()
        server.execute(f"SELECT pg_terminate_backend({int(pid)})")
        ended.append(pid)

    # Run before the app's own teardown, which closes the session (reversed order).
    application.teardown_appcontext_funcs.append(end_its_connection)
    try:
        answer = application.test_client().get("/api/v1/me", headers=office["vendor"])
    finally:
        application.teardown_appcontext_funcs.remove(end_its_connection)
    assert ended
    assert answer.status_code == 200
    assert application.test_client().get("/api/v1/me", headers=office["vendor"]).status_code == 200


def test_readyz_says_unreachable_when_the_server_stops_in_the_middle_of_its_probe(
    server: PostgresServer,
    office: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Round 61 (outage61b): the probe connected, then the server stopped under its
    write (a restart between the two): before, the lost connection was answered
    `not writable` ("a write transaction failed"), which the alert table reads as a
    read-only standby, a full disk or a lock, not as the server being away."""
    application = office["app"]
    original = health._probe_postgresql

    def stopped_first(connection: Any) -> None:
        server.halt()
        original(connection)

    monkeypatch.setattr(health, "_probe_postgresql", stopped_first)
    answer = application.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert "readiness check: database unreachable" in caplog.text
    assert "not writable" not in caplog.text

    monkeypatch.setattr(health, "_probe_postgresql", original)
    server.resume()
    assert application.test_client().get("/readyz").status_code == 200
