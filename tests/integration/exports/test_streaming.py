"""A streamed export owns a short-lived session: writers are never kept waiting
while it streams, and nothing is left open when its client stops reading."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services as billing
from licensing.billing.models import Payment
from tests.support import factories
from tests.support.locks import write_lock_is_free
from tests.support.settings import invoice_terms

LINES = 1500


def test_a_write_succeeds_right_after_a_client_stops_reading_an_export_midway(
    committed_app: Flask,
) -> None:
    app = committed_app
    with app.app_context():
        session = db.session()
        organization = factories.make_organization(session)
        clerk = factories.staff_actor(("billing",))
        headers = factories.bearer(session.get(User, clerk.user_id))
        charges = [
            billing.Charge(f"Seat bundle {n}, Harborlight Coder annual support", Decimal("1.00"))
            for n in range(LINES)
        ]
        draft = billing.create_draft(
            organization_id=organization.id,
            currency="USD",
            charges=charges,
            standard=invoice_terms(),
            actor=clerk,
        )
        invoice_id = billing.finalize_invoice(draft.id, actor=clerk).id
    engine = app.extensions["licensing.db"].engine
    client = app.test_client()

    response = client.get(
        "/api/v1/exports/invoice_lines",
        query_string={"format": "csv"},
        headers=headers,
        buffered=False,
    )
    assert response.status_code == 200
    first = next(iter(response.response))
    assert first.startswith(b"schema_version,invoice_id,")
    # The client reads no further. A billing clerk records a payment meanwhile,
    # which need not queue behind the export:
    assert write_lock_is_free(app, "payments")
    paid = client.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"method": "wire", "amount": "10.00", "reference": "WIRE-STALL-1"},
        headers=headers,
    )
    assert paid.status_code == 201, paid.get_data(as_text=True)

    response.close()  # the server closes the response when the client goes away
    assert engine.pool.checkedout() == 0  # no session or transaction left behind
    with app.app_context():
        session = db.session()
        assert session.scalars(select(Payment.reference)).all() == ["WIRE-STALL-1"]
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "export")).one()
        after = json.loads(event.after or "{}")
        assert event.action == "export.interrupted"
        assert after["complete"] is False
        assert 0 < after["rows"] < LINES
        assert after["bytes"] == len(first)


def test_an_export_reads_one_snapshot_and_holds_no_write_lock(
    committed_app: Flask, backend: str
) -> None:
    from sqlalchemy import text

    from licensing.streaming import reading_session

    engine = committed_app.extensions["licensing.db"].engine
    with committed_app.app_context(), reading_session(snapshot=True) as session:
        session.execute(text("SELECT count(*) FROM invoices")).scalar_one()
        if backend == "postgresql":
            level = session.execute(text("SHOW transaction_isolation")).scalar_one()
            assert level == "repeatable read"
        else:  # a WAL reader: a writer takes the lock at once, without waiting
            with engine.connect() as other:
                other.exec_driver_sql("PRAGMA busy_timeout = 0")
                other.commit()
                with other.begin():  # BEGIN IMMEDIATE: fails at once if the lock is held
                    other.exec_driver_sql("UPDATE invoices SET memo = memo WHERE 0")
