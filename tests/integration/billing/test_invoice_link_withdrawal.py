"""Billing staff withdraw an invoice's emailed links (an email forwarded, or sent to
the wrong person): the links sent so far stop working, with a message saying so, and
the billing contact is emailed a new one. The invoice itself is not changed."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.audit.models import AuditEvent
from licensing.billing import links, services
from licensing.billing.models import Invoice, InvoiceLinkRevocation
from licensing.errors import InvalidInput, PermissionDenied
from licensing.mail.models import OutboxMessage
from tests.support.factories import bearer, billing_clerk, billing_contact_form, staff_actor
from tests.support.pages import confirmation_carried


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
    # Round 54: the confirming post carries the billing contact the confirmation named.
    contact = vendor.organization.billing_email
    assert f"The billing contact, {contact}, is emailed a new link." in html.unescape(
        asked.get_data(as_text=True)
    )
    done = client.post(
        url,
        data={
            "links-reason": "Sent to the wrong person",
            "confirmed": "yes",
            "confirmation": confirmation_carried(asked),  # round 55: signed
        },
    )
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


def test_links_withdrawn_after_the_billing_contact_changed_are_refused_naming_both(
    app: Any,
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Round 54: the confirmation named the contact as it was; a member changed it
    # before the press, and the press sent the new link to an address no one confirmed.
    organization = vendor.organization
    old_email = organization.billing_email
    invoice = invoice_for(vendor)
    url = f"/console/invoices/{invoice.id}/link-withdrawals"
    signed_in(client, billing_staff)
    fields = {"links-reason": "Sent to the wrong person"}
    asked = confirmation_carried(client.post(url, data=fields))
    member = signed_in(app.test_client(), vendor)
    changed = billing_contact_form(organization, "Dana Whitfield", "dana.w@example.org")
    assert member.post("/organization/profile", data=changed).status_code == 302
    withdrawals_before = len(db.session().scalars(select(InvoiceLinkRevocation)).all())
    emails_before = len(_renewal_emails())

    answer = client.post(url, data={**fields, "confirmed": "yes", "confirmation": asked})

    assert answer.status_code == 409
    said = " ".join(html.unescape(answer.get_data(as_text=True)).split())
    assert (
        f"Not withdrawn: the billing contact of Invoice {invoice.number} changed after the "
        f"withdrawal was shown to confirm (it named {old_email}; it is dana.w@example.org now"
    ) in said
    assert len(db.session().scalars(select(InvoiceLinkRevocation)).all()) == withdrawals_before
    assert len(_renewal_emails()) == emails_before
    withdrawn_by_staff = select(AuditEvent).where(
        AuditEvent.action == "invoice.links_withdrawn",
        AuditEvent.note == "Sent to the wrong person",
    )
    assert db.session().scalars(withdrawn_by_staff).all() == []
    # Asked again, it names the new contact and withdraws.
    again = client.post(url, data=fields)
    assert "The billing contact, dana.w@example.org, is emailed" in html.unescape(
        again.get_data(as_text=True)
    )
    done = client.post(
        url, data={**fields, "confirmed": "yes", "confirmation": confirmation_carried(again)}
    )
    assert done.status_code == 302
    assert _renewal_emails()[-1].to == ["dana.w@example.org"]


def test_changing_the_billing_contacts_address_moves_the_invoice_links_to_the_new_one(
    app: Any,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The links emailed to the old billing contact kept opening the organization's
    # invoices after it named another: someone who had left finance could still read
    # and pay them, and the new contact had no link of their own.
    organization = vendor.organization
    old_email = organization.billing_email
    still_owed, paid, void, void_long_ago = (invoice_for(vendor) for _ in range(4))
    services.record_offline_payment(
        paid.id, method="wire", amount=paid.total, reference="W-1", actor=billing_clerk()
    )
    for voided in (void, void_long_ago):
        services.void_invoice(voided.id, reason="Issued in error", actor=billing_clerk())
    expired = db.session().get(Invoice, void_long_ago.id)
    assert expired is not None
    assert expired.voided_at is not None
    expired.voided_at -= links.VALID_AFTER_CLOSE + timedelta(days=1)
    db.session().flush()
    sent = {invoice.id: _path(links.invoice_url(invoice)) for invoice in (still_owed, paid, void)}
    client = signed_in(app.test_client(), vendor)
    for url in sent.values():
        assert client.get(url).status_code == 200

    fields = billing_contact_form(organization, "Dana Whitfield", "dana.w@example.org")
    assert client.post("/organization/profile", data=fields).status_code == 302

    for url in sent.values():
        refused = client.get(url)
        assert refused.status_code == 403, url
        assert "was withdrawn by the licensing office" in refused.get_data(as_text=True)
    (renewed,) = _renewal_emails()  # only the invoice still to pay is sent again
    assert renewed.to == ["dana.w@example.org"]
    assert f"The links to invoice {still_owed.number} sent to {old_email} no longer" in (
        renewed.body_text
    )
    fresh = links.invoice_url(still_owed)
    assert fresh in renewed.body_text
    assert client.get(_path(fresh)).status_code == 200
    events = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "invoice.links_withdrawn")
    )
    assert sorted((event.entity_id, event.note) for event in events) == sorted(
        (str(invoice_id), f"Billing contact changed from {old_email} to dana.w@example.org")
        for invoice_id in sent
    )
    (told,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "billing_contact_changed")
    )
    numbers = ", ".join(str(invoice.number) for invoice in (still_owed, paid, void))
    assert f"The links in emails sent to {old_email} no longer open invoices {numbers}." in (
        " ".join(told.body_text.split())
    )
    assert (
        f"dana.w@example.org is sent a new link to each invoice still to pay ({still_owed.number})"
        in (" ".join(told.body_text.split()))
    )


def test_an_invoice_link_past_its_year_says_when_it_expired_at_the_office(
    app: Any, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 34's walk: the refusal named a UTC date ("expired on 2027-03-01"),
    where every other expired link says the office's day and time."""
    invoice = invoice_for(vendor)
    services.void_invoice(invoice.id, reason="Issued in error", actor=billing_clerk())
    stored = db.session().get(Invoice, invoice.id)
    assert stored is not None
    assert stored.voided_at is not None
    stored.voided_at -= links.VALID_AFTER_CLOSE + timedelta(days=1)
    db.session().flush()
    refused = app.test_client().get(_path(links.invoice_url(stored)))
    assert refused.status_code == 403
    ended = stored.voided_at + links.VALID_AFTER_CLOSE
    assert (
        f"This link to invoice {stored.number} expired {calendar.when_text(ended)}: "
        "sign in to the vendor portal to see it."
    ) in html.unescape(refused.get_data(as_text=True))
    assert "(US Central time)" in calendar.when_text(ended)
