"""Who is told a payment arrived (localstripe, and the suite's SMTP server): the
billing contact always, and a vendor user who paid by card too, once."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.access import ADMINISTRATOR, BILLING, MEMBER
from licensing.accounts.models import Organization, User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.words import end_sentence
from tests.support import factories, settings
from tests.support.factories import billing_clerk
from tests.support.pages import text_of
from tests.support.servers import LocalStripe, SMTPServer, message_text

from .stripe_support import deliver_event, pay_by_card, stripe_config, succeeded_event


@pytest.fixture
def config_changes(localstripe: LocalStripe, smtp_server: SMTPServer) -> dict[str, Any]:
    return {**stripe_config(localstripe), "smtp_url": smtp_server.url}


def _organization(invoice: Invoice) -> Organization:
    found = db.session().get(Organization, invoice.organization_id)
    assert found is not None
    return found


def _confirmations() -> dict[str, OutboxMessage]:
    """The payment confirmations queued, by their one recipient."""
    found = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "payment_received")
    )
    by_address: dict[str, OutboxMessage] = {}
    for message in found:
        (address,) = message.to
        assert address not in by_address, f"{address} was sent two confirmations"
        by_address[address] = message
    return by_address


def _colleague(vendor: User, role: str, email: str | None = None) -> User:
    organization = db.session().get(Organization, vendor.organization_id)
    return factories.make_vendor(db.session(), organization, email=email, role=role)


@pytest.mark.parametrize("role", [BILLING, MEMBER, ADMINISTRATOR])
def test_whoever_pays_by_card_is_sent_the_confirmation_besides_the_billing_contact(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    mailbox: SMTPServer,
    role: str,
) -> None:
    payer = _colleague(vendor, role)
    invoice = invoice_for(vendor, ("250.00",))
    payment = pay_by_card(invoice, payer, localstripe)
    assert deliver_event(client, succeeded_event(localstripe, payment)).status_code == 200

    contact = _organization(invoice).billing_email
    assert set(_confirmations()) == {contact, payer.email}
    mail.deliver_due(settings.delivery())
    received = [
        message
        for message in mailbox.wait_for(2)
        if message["Subject"] == f"Payment received for invoice {invoice.number}"
    ]
    assert sorted(message["To"] for message in received) == sorted([contact, payer.email])
    to_payer = message_text(next(m for m in received if m["To"] == payer.email))
    to_payer = to_payer.replace("\r\n", "\n")
    assert to_payer.startswith(f"Hello {payer.full_name},")
    assert f"received 250.00 USD (Visa ending 4242) from you for invoice {invoice.number}." in (
        to_payer
    )
    assert "The invoice is paid in full." in to_payer
    # Their own page, signed in; the signed link is the billing contact's.
    assert f"/portal/invoices/{invoice.id}\n" in to_payer
    assert "/invoice-links/" not in to_payer
    assert f"({contact}), is sent this confirmation too" in to_payer
    to_contact = message_text(next(m for m in received if m["To"] == contact))
    assert to_contact.startswith("Hello Robin Castellanos,")
    assert "/invoice-links/" in to_contact
    # Whose card it was, for a contact who did not pay it.
    assert f"(Visa ending 4242) from {payer.full_name} for invoice {invoice.number}." in (
        to_contact
    )


def test_a_payer_who_is_the_billing_contact_is_sent_one_confirmation(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("90.00",))
    contact = _organization(invoice).billing_email
    payer = _colleague(vendor, BILLING, email=contact.upper())
    payment = pay_by_card(invoice, payer, localstripe)
    deliver_event(client, succeeded_event(localstripe, payment))

    assert list(_confirmations()) == [contact]


def test_a_payment_applied_by_reconcile_still_reaches_its_payer(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    payer = _colleague(vendor, BILLING)
    invoice = invoice_for(vendor, ("64.00",))
    payment = pay_by_card(invoice, payer, localstripe)
    started = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "payment.started", AuditEvent.entity_id == str(payment.id)
            )
        )
        .one()
    )
    assert f'"paid_by_user_id":{payer.id}' in (started.after or "")
    report = services.reconcile_payments(
        gateway=settings.gateway(), now=payment.created_at + services.RECONCILE_AFTER
    )
    assert report.applied == 1
    assert payer.email in _confirmations()


def _left(payer: User, *, moved_to: Organization | None = None) -> None:
    """The payer no longer acts for the organization: their access removed, or (an
    office correction) their account moved to another organization."""
    with db.transaction() as session:
        found = session.get(User, payer.id)
        assert found is not None
        if moved_to is None:
            found.is_active = False
        else:
            found.organization_id = moved_to.id


def _told_without_links(body: str, invoice: Invoice) -> None:
    contact = _organization(invoice)
    assert f"You no longer act for {contact.legal_name} with the" in body
    assert "so this email links none of its pages" in body
    assert (
        f"ask its billing contact, {contact.billing_contact_name} ({contact.billing_email}), who"
        in body
    )
    assert "/portal/" not in body
    assert "/invoice-links/" not in body
    assert "sign in" not in body


@pytest.mark.parametrize("left", ["removed", "moved"])
def test_a_payer_who_no_longer_acts_for_the_organization_is_told_of_the_charge_without_links(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    left: str,
) -> None:
    payer = _colleague(vendor, MEMBER)
    invoice = invoice_for(vendor, ("75.00",))
    payment = pay_by_card(invoice, payer, localstripe)
    elsewhere = factories.make_organization(db.session()) if left == "moved" else None
    _left(payer, moved_to=elsewhere)
    deliver_event(client, succeeded_event(localstripe, payment))

    confirmations = _confirmations()
    assert set(confirmations) == {_organization(invoice).billing_email, payer.email}
    body = confirmations[payer.email].body_text
    assert body.startswith(f"Hello {payer.full_name},")
    assert (
        f"received 75.00 USD (Visa ending 4242) from you for invoice {invoice.number} of "
        f"{end_sentence(_organization(invoice).legal_name)}\n" in body
    )
    assert ".." not in body  # the factories' names end "Inc.": one full stop (round 35)
    _told_without_links(body, invoice)
    assert "), who is sent this confirmation too." in body
    # The contact's copy still names who paid, and keeps its signed link.
    contact_copy = confirmations[_organization(invoice).billing_email].body_text
    assert f"from {payer.full_name} for invoice" in contact_copy
    assert "/invoice-links/" in contact_copy


def test_a_payer_whose_address_was_never_confirmed_is_not_sent_the_confirmation(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    payer = _colleague(vendor, MEMBER)
    invoice = invoice_for(vendor, ("75.00",))
    payment = pay_by_card(invoice, payer, localstripe)
    with db.transaction() as session:
        session.get(User, payer.id).email_verified_at = None  # type: ignore[union-attr]
    deliver_event(client, succeeded_event(localstripe, payment))

    assert list(_confirmations()) == [_organization(invoice).billing_email]


def _refunds_told(
    client: FlaskClient,
    invoice: Invoice,
    payer: User,
    localstripe: LocalStripe,
    *,
    after_paying: Callable[[], None] = lambda: None,
) -> dict[str, str]:
    """`payer` pays `invoice` by card, then (after `after_paying`) billing staff credit
    40.00 of it and refund that to the card: the refund emails' bodies, by recipient."""
    payment = pay_by_card(invoice, payer, localstripe)
    deliver_event(client, succeeded_event(localstripe, payment))
    after_paying()
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Overbilled", actor=billing_clerk()
    )
    services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    return {
        address: message.body_text
        for message in db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "refund_sent")
        )
        for address in message.to
    }


def test_a_refund_to_the_card_of_a_payer_removed_since_reaches_them_without_links(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    payer = _colleague(vendor, BILLING)
    invoice = invoice_for(vendor, ("250.00",))
    told = _refunds_told(client, invoice, payer, localstripe, after_paying=lambda: _left(payer))

    body = told[payer.email]
    assert "to the card you paid with (Visa ending 4242)" in body
    _told_without_links(body, invoice)
    assert "), who is sent this too." in body


def test_money_recorded_by_billing_staff_is_confirmed_to_the_billing_contact_only(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("500.00",))
    payment = services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal("500.00"),
        reference="WIRE-9",
        actor=billing_clerk(),
    )

    assert payment.paid_by_user_id is None
    assert list(_confirmations()) == [_organization(invoice).billing_email]


def test_a_refund_to_the_card_is_told_to_whoever_paid_with_it(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    payer = _colleague(vendor, BILLING)
    invoice = invoice_for(vendor, ("250.00",))

    told = _refunds_told(client, invoice, payer, localstripe)

    contact = _organization(invoice).billing_email
    assert set(told) == {contact, payer.email}
    assert "to the card you paid with (Visa ending 4242)" in told[payer.email]
    assert f"/portal/invoices/{invoice.id}\n" in told[payer.email]
    assert "to the card that paid it" in told[contact]


def test_the_audit_log_names_who_started_a_card_payment(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    admin: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # It read "Paid by user id: — → 7", an id the console shows nowhere else.
    payer = _colleague(vendor, BILLING)
    invoice = invoice_for(vendor, ("120.00",))
    pay_by_card(invoice, payer, localstripe)

    page = text_of(signed_in(client, admin).get("/console/audit?action=payment.started"))
    assert f"Paid by: — → {payer.full_name}" in page
    assert "Paid by user id" not in page


@pytest.mark.parametrize("state", ["issued", "paid"])
def test_the_payer_is_told_the_pdf_is_their_receipt_only_once_the_invoice_is_paid(
    app: Flask, state: str
) -> None:
    """A card payment that leaves a balance (the invoice changed after the attempt
    began) must not call the PDF a receipt marked paid."""
    organization = SimpleNamespace(
        legal_name="Northwind Health Software",
        billing_contact_name="Ada Ortiz",
        billing_email="billing@northwind.example",
    )
    context = {
        "invoice": SimpleNamespace(number="INV-2027-000042", state=state),
        "organization": organization,
        "payment": SimpleNamespace(method="card", card_label="Visa ending 4242", reference=None),
        "payer": SimpleNamespace(full_name="Pat Lee"),
        "amount": "USD 1,200.00",
        "balance_due": "USD 300.00",
        "invoice_url": "https://licensing.example/portal/invoices/42",
    }
    with app.test_request_context():
        text, _ = mail._render("payment_received", context)

    assert ("its PDF, marked paid, is your receipt" in text) is (state == "paid")
    assert "sign in to open it" in text
