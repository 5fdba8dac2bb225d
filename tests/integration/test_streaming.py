"""Streamed downloads own a short-lived session and always close it: a client
that stops reading halfway leaves no lock (SQLite) and no transaction open
(PostgreSQL) behind, and writers go on while an export is being read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from licensing import db
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.streaming import stream_rows
from tests.support import factories
from tests.support.locks import write_lock_is_free

# More rows than one chunk of the export, so that "halfway" is a real place.
EVENTS = 450


@pytest.fixture
def admin_client(committed_app: Flask) -> FlaskClient:
    """An admin signed in on a fresh database holding EVENTS audit events."""
    with committed_app.app_context():
        session = db.session()
        admin = factories.make_staff(session, roles=("admin",))
        with db.transaction() as session:
            for number in range(EVENTS):
                audit.record(
                    session,
                    action="test.exported",
                    entity_type="invoice",
                    entity_id=number,
                    before=None,
                    after={"number": number},
                    actor="system",
                )
        email = admin.email
    client = committed_app.test_client()
    response = client.post(
        "/sign-in", data={"email": email, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    return client


def _write_promptly(app: Flask) -> None:
    """One write transaction (an audit event) on a new connection, which finds
    the write lock free (it would not have to wait for it) and then commits."""
    assert write_lock_is_free(app, "audit_events")
    with app.app_context(), db.transaction() as session:
        audit.record(
            session,
            action="test.written",
            entity_type="invoice",
            entity_id=0,
            before=None,
            after=None,
            actor="system",
        )


def _idle_in_transaction(app: Flask) -> int:
    with app.app_context():
        return int(
            db.session().scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%'"
                )
            )
            or 0
        )


def _read_first_chunk(client: FlaskClient, path: str) -> Any:
    response = client.get(path, buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    first = next(chunks)
    assert first.startswith(b"seq,")
    return response


@pytest.mark.parametrize("path", ["/console/audit.csv", "/console/audit.csv?entity_type=invoice"])
def test_an_export_abandoned_halfway_leaves_no_lock_or_transaction_behind(
    committed_app: Flask, admin_client: FlaskClient, backend: str, path: str
) -> None:
    response = _read_first_chunk(admin_client, path)
    response.close()  # what a WSGI server does when the client goes away
    _write_promptly(committed_app)
    if backend == "postgresql":
        assert _idle_in_transaction(committed_app) == 0


def test_writers_go_on_while_an_export_is_being_read(
    committed_app: Flask, admin_client: FlaskClient
) -> None:
    response = _read_first_chunk(admin_client, "/console/audit.csv")
    try:
        _write_promptly(committed_app)
    finally:
        response.close()


def test_a_finished_export_has_every_row_and_leaves_no_transaction_behind(
    committed_app: Flask, admin_client: FlaskClient, backend: str
) -> None:
    response = admin_client.get("/console/audit.csv", query_string={"action": "test.exported"})
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == EVENTS + 1
    _write_promptly(committed_app)
    if backend == "postgresql":
        assert _idle_in_transaction(committed_app) == 0


def test_a_stream_whose_rows_fail_midway_still_closes_its_session(
    committed_app: Flask, backend: str
) -> None:
    def rows(session: Any) -> Iterator[list[object]]:
        yield [session.scalar(select(func.count()).select_from(AuditEvent))]
        raise RuntimeError("a row could not be read")

    with committed_app.test_request_context("/console/audit.csv"):
        response = stream_rows(rows, header=("count",), filename="count.csv", chunk_rows=1)
    chunks = iter(response.response)
    assert next(chunks).startswith("count")
    with pytest.raises(RuntimeError):
        list(chunks)
    response.close()
    _write_promptly(committed_app)
    if backend == "postgresql":
        assert _idle_in_transaction(committed_app) == 0


def test_the_lock_check_sees_a_writer_holding_the_lock(committed_app: Flask, backend: str) -> None:
    """`_write_promptly`'s check answers no, at once, while another connection
    holds what a writer needs."""
    engine = committed_app.extensions["licensing.db"].engine
    assert write_lock_is_free(committed_app, "audit_events")
    with engine.connect() as holder, holder.begin():
        if backend == "sqlite":
            holder.exec_driver_sql("DELETE FROM audit_events WHERE id < 0")  # takes the write lock
        else:
            holder.exec_driver_sql("LOCK TABLE audit_events IN SHARE MODE")
        assert not write_lock_is_free(committed_app, "audit_events")
    assert write_lock_is_free(committed_app, "audit_events")
