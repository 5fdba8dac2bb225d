"""Invoices from activated agreements: numbering, immutability, terms, PDFs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.errors import Conflict, IllegalTransition
from licensing.mail.models import OutboxMessage
from licensing.signals import agreement_activated
from tests.support.documents import pdf_text
from tests.support.factories import bearer, billing_clerk

from .conftest import activated, send_activation


def test_the_receiver_is_connected_once_when_the_app_is_created(app: Flask) -> None:
    receivers = [
        r
        for r in agreement_activated.receivers.values()
        if getattr(r, "__name__", "") == "invoice_agreement"
    ]
    assert len(receivers) == 1


def test_an_activated_agreement_is_invoiced_open_and_numbered_for_its_up_front_amounts(
    app: Flask, vendor: User
) -> None:
    invoice = send_activation(activated(vendor.organization_id or 0, ("1200.00", "350.50")))
    assert invoice is not None
    assert invoice.state == "open"
    assert invoice.number is not None
    assert invoice.number.startswith("INV-2027-")
    assert invoice.total == Decimal("1550.50")
    assert [line.amount for line in invoice.lines] == [Decimal("1200.00"), Decimal("350.50")]
    assert invoice.lines[0].working == "flat fee 1200.00 x 1 year = 1200.00"
    assert invoice.issue_date == date(2027, 1, 15)
    assert invoice.due_date == date(2027, 2, 14)  # net 30
    assert invoice.late_fee_monthly_percent == Decimal("1.5")
    assert invoice.bill_to_name == vendor.organization.legal_name
    mail = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "invoice_issued"))
        .all()
    )
    assert any(invoice.number in m.subject for m in mail)


def test_an_agreement_with_nothing_up_front_makes_no_invoice(app: Flask, vendor: User) -> None:
    assert send_activation(activated(vendor.organization_id or 0, ("0.00",))) is None


def test_the_same_agreement_signalled_twice_is_invoiced_once(app: Flask, vendor: User) -> None:
    payload = activated(vendor.organization_id or 0)
    first = send_activation(payload)
    second = send_activation(payload)
    assert first is not None
    assert second is not None
    assert first.id == second.id


def test_payment_terms_come_from_the_agreement(app: Flask, vendor: User) -> None:
    invoice = send_activation(activated(vendor.organization_id or 0, terms=45, late_fee="2"))
    assert invoice is not None
    assert invoice.due_date == invoice.issue_date + timedelta(days=45)
    assert invoice.late_fee_monthly_percent == Decimal("2")


def test_numbers_follow_one_another_without_gaps_within_a_year(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    numbers = [invoice_for(vendor).number for _ in range(3)]
    sequence = [int(n.rsplit("-", 1)[1]) for n in numbers if n]
    assert sequence == list(range(sequence[0], sequence[0] + 3))


def test_a_rolled_back_finalization_gives_its_number_back(app: Flask, vendor: User) -> None:
    payload = activated(vendor.organization_id or 0)

    def accept_then_fail() -> None:
        with db.transaction() as session:
            agreement_activated.send(payload, session=session)
            raise RuntimeError("the acceptance failed after invoicing")

    with pytest.raises(RuntimeError):
        accept_then_fail()
    invoice = send_activation(activated(vendor.organization_id or 0))
    taken = db.session().scalars(select(Invoice.number).where(Invoice.number.is_not(None))).all()
    assert invoice is not None
    assert invoice.number is not None
    assert int(invoice.number.rsplit("-", 1)[1]) == len(taken)


def test_an_open_invoice_cannot_be_edited_by_the_service_or_the_orm(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor)
    with pytest.raises(Conflict, match="credit note"):
        services.update_draft(invoice.id, memo="changed", actor=billing_clerk())

    def edit_total() -> None:
        with db.transaction() as session:
            found = session.get(Invoice, invoice.id)
            assert found is not None
            found.total = Decimal("1.00")

    def edit_line() -> None:
        with db.transaction() as session:
            found = session.get(Invoice, invoice.id)
            assert found is not None
            found.lines[0].amount = Decimal("1.00")

    with pytest.raises(Conflict, match="cannot be changed"):
        edit_total()
    with pytest.raises(Conflict):
        edit_line()
    assert db.session().get(Invoice, invoice.id).total == Decimal("1550.50")  # type: ignore[union-attr]


def test_the_api_refuses_to_edit_an_issued_invoice_but_edits_a_draft(
    client: FlaskClient, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    headers = bearer(billing_staff)
    issued = invoice_for(vendor)
    refused = client.patch(f"/api/v1/invoices/{issued.id}", json={"memo": "x"}, headers=headers)
    assert refused.status_code == 409
    assert "credit note" in refused.get_json()["detail"]

    draft = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "lines": [{"description": "Translation of Quillstone Notes", "amount": "99.90"}],
        },
        headers=headers,
    )
    assert draft.status_code == 201, draft.get_json()
    body = draft.get_json()
    assert body["state"] == "draft"
    assert body["number"] is None
    assert body["total"] == "99.90"
    edited = client.patch(
        f"/api/v1/invoices/{body['id']}",
        json={"lines": [{"description": "Translation, corrected", "amount": "120"}]},
        headers=headers,
    )
    assert edited.status_code == 200
    assert edited.get_json()["total"] == "120.00"
    finalized = client.post(f"/api/v1/invoices/{body['id']}/finalize", headers=headers)
    assert finalized.status_code == 200
    assert finalized.get_json()["number"].startswith("INV-")
    again = client.post(f"/api/v1/invoices/{body['id']}/finalize", headers=headers)
    assert again.status_code == 409
    assert "void" in again.get_json()["detail"]


def test_bad_invoice_input_is_a_422_naming_the_field(
    client: FlaskClient, vendor: User, billing_staff: User
) -> None:
    response = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "lines": [{"description": "x", "amount": "1.005"}],
        },
        headers=bearer(billing_staff),
    )
    assert response.status_code == 422
    assert "lines.0.amount" in response.get_json()["errors"]


def test_an_invoice_for_an_organization_that_does_not_exist_is_a_422_naming_the_field(
    client: FlaskClient, billing_staff: User
) -> None:
    """Round 32: a body's reference to no record is the field's problem (422), as
    `POST /users/{id}/move`'s unknown destination is; it was a 404, which a client
    reads as "the route or the resource asked for is not there"."""
    before = db.session().scalars(select(Invoice)).all()
    response = client.post(
        "/api/v1/invoices",
        json={"organization_id": 99999, "lines": [{"description": "x", "amount": "10.00"}]},
        headers=bearer(billing_staff),
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {"organization_id": ["There is no organization 99999."]}
    assert db.session().scalars(select(Invoice)).all() == before


def test_vendors_read_their_invoices_in_the_api_with_two_digit_amounts(
    client: FlaskClient, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000",))
    listed = client.get("/api/v1/invoices", headers=bearer(vendor)).get_json()
    assert [item["number"] for item in listed] == [invoice.number]
    assert listed[0]["total"] == "1000.00"
    assert listed[0]["balance_due"] == "1000.00"
    assert listed[0]["lines"][0]["amount"] == "1000.00"


def test_a_vendor_cannot_change_invoices(
    client: FlaskClient, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor)
    headers = bearer(vendor)
    assert (
        client.post(
            f"/api/v1/invoices/{invoice.id}/void", json={"reason": "x"}, headers=headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/invoices/{invoice.id}/payments",
            json={"method": "wire", "amount": "1", "reference": "x"},
            headers=headers,
        ).status_code
        == 403
    )


def test_the_invoice_pdf_has_the_parties_lines_totals_instructions_and_notice(
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor)
    response = signed_in(client, vendor).get(f"/invoices/{invoice.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    for expected in (
        invoice.number,
        "CPT Licensing Office",  # issuer
        "100 Lakeshore Plaza",
        vendor.organization.legal_name,  # bill to
        "January 15, 2027",  # issued, in words (round 56)
        "February 14, 2027",
        "Net 30 days",
        # Amounts grouped as on the invoice's page, the working too (round 12).
        "flat fee 1,200.00 x 1 year = 1,200.00",
        "1,200.00",
        "1,550.50 USD",
        "Wire or ACH",  # payment instructions
        "1.5% per month",
        "American Medical Association",  # copyright notice
        "Page 1 of 1",
    ):
        assert expected in text, expected
    assert "PAID" not in text


def test_finalizing_and_every_change_are_audited(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor)
    actions = (
        db.session()
        .scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "invoice", AuditEvent.entity_id == str(invoice.id)
            )
        )
        .all()
    )
    assert {"invoice.created", "invoice.finalized"} <= set(actions)


def test_voiding_needs_a_reason_and_refuses_an_invoice_with_payments(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("500.00",))
    services.record_offline_payment(
        invoice.id, method="wire", amount=Decimal("100.00"), reference="W-1", actor=billing_clerk()
    )
    with pytest.raises(Conflict, match="credit note"):
        services.void_invoice(invoice.id, reason="issued in error", actor=billing_clerk())
    other = invoice_for(vendor, ("500.00",))
    voided = services.void_invoice(other.id, reason="issued in error", actor=billing_clerk())
    assert voided.state == "void"
    with pytest.raises(IllegalTransition):
        services.void_invoice(other.id, reason="again", actor=billing_clerk())


def test_a_draft_invoice_is_named_once_in_what_staff_read(
    client: FlaskClient, vendor: User, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The API's 409 read "Invoice Draft invoice 5 is draft: ...", the console
    # page's heading "Invoice Draft invoice 5".
    headers = bearer(billing_staff)
    draft = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "lines": [{"description": "Consulting", "amount": "120.00"}],
        },
        headers=headers,
    ).get_json()
    paid = client.post(
        f"/api/v1/invoices/{draft['id']}/payments",
        json={"method": "wire", "amount": "1.00", "reference": "W-1"},
        headers=headers,
    )
    credited = client.post(
        f"/api/v1/invoices/{draft['id']}/credit-notes",
        json={"amount": "1.00", "reason": "goodwill"},
        headers=headers,
    )
    for refused in (paid, credited):
        assert refused.status_code == 409
        assert refused.get_json()["detail"].startswith(f"Draft invoice {draft['id']} is draft")
    page = signed_in(client, billing_staff).get(f"/console/invoices/{draft['id']}")
    text = page.get_data(as_text=True)
    assert f"<h1>Draft invoice {draft['id']}</h1>" in text
    assert "Invoice Draft invoice" not in text
