"""Billing staff withdraw an invoice's emailed links (an email forwarded, or sent to
the wrong person): the links sent so far stop working, with a message saying so, and
the billing contact is emailed a new one. The invoice itself is not changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.billing import links, services
from licensing.billing.models import Invoice, InvoiceLinkRevocation
from licensing.errors import InvalidInput, PermissionDenied
from licensing.mail.models import OutboxMessage
from tests.support.factories import bearer, billing_clerk, staff_actor


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _renewal_emails() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "invoice_link_renewed")
        )
    )


def test_withdrawn_links_stop_working_and_the_contact_gets_a_new_one(
    client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any
) -> None:
    invoice = invoice_for(vendor)
    state, total, seal = invoice.state, invoice.total, invoice.snapshot()
    sent = _path(links.invoice_url(invoice))
    assert client.get(sent).status_code == 200

    services.withdraw_invoice_links(
        invoice.id, reason="The email was forwarded outside finance", actor=billing_clerk()
    )

    for old in (sent, f"{sent}/invoice.pdf", f"{sent}/pay"):
        refused = client.get(old)
        assert refused.status_code == 403, old
        assert "was withdrawn by the licensing office" in refused.get_data(as_text=True)
    (email,) = _renewal_emails()
    assert email.to == [vendor.organization.billing_email]
    new = links.invoice_url(invoice)
    assert new in email.body_text
    assert _path(new) != sent
    page = client.get(_path(new))
    assert page.status_code == 200
    assert invoice.number in page.get_data(as_text=True)
    assert client.get(f"{_path(new)}/invoice.pdf").status_code == 200
    # A made-up link is still just "not valid", not "withdrawn".
    wrong = client.get(f"/invoice-links/{invoice.id}/not-the-token")
    assert wrong.status_code == 404
    db.session().refresh(invoice)
    assert (invoice.state, invoice.total, invoice.snapshot()) == (state, total, seal)
    (event,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "invoice.links_withdrawn")
    )
    assert event.entity_id == str(invoice.id)
    assert event.note == "The email was forwarded outside finance"


def test_each_withdrawal_retires_the_links_before_it(
    client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any
) -> None:
    invoice = invoice_for(vendor)
    first = _path(links.invoice_url(invoice))
    services.withdraw_invoice_links(invoice.id, reason="Forwarded", actor=billing_clerk())
    second = _path(links.invoice_url(invoice))
    services.withdraw_invoice_links(invoice.id, reason="Forwarded again", actor=billing_clerk())
    third = _path(links.invoice_url(invoice))
    assert len({first, second, third}) == 3
    assert client.get(first).status_code == 403
    assert client.get(second).status_code == 403
    assert client.get(third).status_code == 200
    generations = db.session().scalars(
        select(InvoiceLinkRevocation.generation).where(
            InvoiceLinkRevocation.invoice_id == invoice.id
        )
    )
    assert sorted(generations) == [1, 2]


def test_only_billing_staff_withdraw_links_and_a_reason_is_required(
    client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any
) -> None:
    invoice = invoice_for(vendor)
    sent = _path(links.invoice_url(invoice))
    with pytest.raises(PermissionDenied):
        services.withdraw_invoice_links(
            invoice.id, reason="Forwarded", actor=staff_actor(("licensing",))
        )
    with pytest.raises(InvalidInput) as refused:
        services.withdraw_invoice_links(invoice.id, reason="  ", actor=billing_clerk())
    assert "reason" in refused.value.errors
    assert client.get(sent).status_code == 200
    assert _renewal_emails() == []
    assert db.session().scalars(select(InvoiceLinkRevocation)).all() == []


def test_the_console_asks_first_then_withdraws_and_lists_the_withdrawal(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    licensing_staff: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor)
    sent = _path(links.invoice_url(invoice))
    url = f"/console/invoices/{invoice.id}/link-withdrawals"
    anonymous = client.post(url, data={"links-reason": "Forwarded", "confirmed": "yes"})
    assert anonymous.status_code in (302, 401)
    signed_in(client, licensing_staff)
    confirmed = {"links-reason": "Forwarded", "confirmed": "yes"}
    assert client.post(url, data=confirmed).status_code == 403
    signed_in(client, billing_staff)
    assert client.post(url, data={"links-reason": ""}).status_code == 422
    asked = client.post(url, data={"links-reason": "Sent to the wrong person"})
    assert asked.status_code == 200
    assert f"Withdraw the links to invoice {invoice.number}?" in asked.get_data(as_text=True)
    assert client.get(sent).status_code == 200  # nothing yet
    done = client.post(url, data={"links-reason": "Sent to the wrong person", "confirmed": "yes"})
    assert done.status_code == 302
    assert client.get(sent).status_code == 403
    page = client.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    assert "Withdrawn before:" in page
    assert "Sent to the wrong person" in page


def test_the_api_withdraws_links_for_billing_staff_only(
    client: FlaskClient,
    invoice_for: Callable[..., Invoice],
    vendor: Any,
    billing_staff: Any,
    licensing_staff: Any,
) -> None:
    invoice = invoice_for(vendor)
    sent = _path(links.invoice_url(invoice))
    url = f"/api/v1/invoices/{invoice.id}/link-withdrawals"
    body = {"reason": "Forwarded to a supplier"}
    for refused_caller in (vendor, licensing_staff):
        refused = client.post(url, json=body, headers=bearer(refused_caller))
        assert refused.status_code == 403
        assert refused.mimetype == "application/problem+json"
    missing = client.post(url, json={}, headers=bearer(billing_staff))
    assert missing.status_code == 422
    assert "reason" in missing.get_json()["errors"]
    unknown = client.post(
        "/api/v1/invoices/999999/link-withdrawals", json=body, headers=bearer(billing_staff)
    )
    assert unknown.status_code == 404
    assert client.get(sent).status_code == 200
    done = client.post(url, json=body, headers=bearer(billing_staff))
    assert done.status_code == 201
    answer = done.get_json()
    assert answer["invoice_id"] == invoice.id
    assert answer["generation"] == 1
    assert answer["reason"] == "Forwarded to a supplier"
    assert client.get(sent).status_code == 403
