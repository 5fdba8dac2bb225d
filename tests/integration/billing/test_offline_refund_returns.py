"""Round 55: an offline refund the bank returns (a wire refund bounced, a check never
cashed) is recorded by billing staff with the day it came back and why, on the
console (after a confirmation binding what it showed) and over the API (idempotent):
the refund becomes `failed` with its `returned_on`, the invoice's refunds sent go back
down and the credit note owes the refund again. Until round 55 it could not be
recorded at all (docs/billing.md, "An offline refund the bank returns")."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.exports.datasets import refunds as refunds_export
from tests.support import settings
from tests.support.billing import paid_offline, refunded_offline
from tests.support.exports import both, exporter
from tests.support.factories import bearer, billing_clerk
from tests.support.pages import text_of
from tests.support.servers import LocalStripe

from .refund_support import paid_by_card
from .stripe_support import stripe_config

ZERO = Decimal(0)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)  # a card refund, to be refused


def _wire_refund_sent(
    invoice_for: Callable[..., Invoice], vendor: User
) -> tuple[Invoice, CreditNote, Refund]:
    """A 500.00 invoice paid by wire, credited 100.00 (all owed back), and the 100.00
    sent back by wire today: it owes nothing and owes nothing back."""
    invoice = invoice_for(vendor, ("500.00",))
    paid_offline(invoice.id, "500.00", "W-IN-1")
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("100.00"), reason="Seat removed", actor=billing_clerk()
    )
    refund = refunded_offline(credit.id, "100.00", "W-BACK-1")
    return invoice, credit, refund


def _read(refund_id: int) -> tuple[Refund, Invoice, CreditNote]:
    session = db.session()
    session.expire_all()
    refund = session.get(Refund, refund_id)
    assert refund is not None
    return refund, refund.credit_note.invoice, refund.credit_note


def _nothing_recorded(refund_id: int) -> None:
    refund, invoice, credit = _read(refund_id)
    assert (refund.state, refund.returned_on, refund.failed_at) == ("succeeded", None, None)
    assert (invoice.amount_refunded, credit.refund_outstanding) == (Decimal("100.00"), ZERO)
    returned = select(AuditEvent).where(AuditEvent.action == "refund.returned")
    assert db.session().scalars(returned).all() == []


def _fields(refund: Refund, reason: str, day: str) -> dict[str, str]:
    prefix = f"return-{refund.id}-"
    return {f"{prefix}reason": reason, f"{prefix}returned_on": day}


def _asked(client: FlaskClient, refund: Refund, reason: str, day: str) -> tuple[str, dict]:
    """The return's form posted: the confirmation page, and what its button posts."""
    page = client.post(f"/console/refunds/{refund.id}/return", data=_fields(refund, reason, day))
    assert page.status_code == 200, text_of(page)[:2000]
    shown = re.search(r'name="confirmation" value="([^"]*)"', page.get_data(as_text=True))
    assert shown
    confirming = {**_fields(refund, reason, day), "confirmation": shown.group(1)}
    return text_of(page), {**confirming, "confirmed": "yes"}


def test_billing_staff_record_a_bounced_wire_refund_from_the_invoice_page_after_confirming(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice, credit, refund = _wire_refund_sent(invoice_for, vendor)
    today = office_date(utcnow()).isoformat()
    signed_in(client, billing_staff)
    page = text_of(client.get(f"/console/invoices/{invoice.id}"))
    assert "Record refund W-BACK-1 returned" in page

    shown, confirming = _asked(client, refund, "Beneficiary account closed", today)
    assert "Record the wire refund of 100.00 USD as returned by the bank?" in shown
    assert (
        f"The wire refund of 100.00 USD (reference W-BACK-1) of credit note {credit.number}, "
        f"sent {day_text(date.fromisoformat(str(refund.sent_on)))}, is recorded "
        "as returned by the bank on "
        f"{day_text(date.fromisoformat(str(today)))}"
    ) in shown
    assert (
        f"Invoice {invoice.number} owes 0.00 USD and owes back 0.00 USD now; after it, it "
        "owes 0.00 USD and owes back 100.00 USD, sent again as a new refund."
    ) in shown
    assert "Reason recorded in the audit log: Beneficiary account closed" in shown
    _nothing_recorded(refund.id)  # asking records nothing

    done = client.post(f"/console/refunds/{refund.id}/return", data=confirming)
    assert done.status_code == 302, text_of(done)[:2000]
    refund, invoice, credit = _read(refund.id)
    assert (refund.state, refund.returned_on.isoformat() if refund.returned_on else None) == (
        "failed",
        today,
    )
    assert (refund.return_reason, refund.returned_by) == (
        "Beneficiary account closed",
        billing_staff.email,
    )
    assert refund.failed_at is not None
    assert (invoice.amount_refunded, invoice.state) == (ZERO, "paid")
    assert (invoice.refund_outstanding, credit.refund_outstanding) == (
        Decimal("100.00"),
        Decimal("100.00"),
    )
    actions = set(db.session().scalars(select(AuditEvent.action)))
    assert {"refund.returned", "invoice.refund_returned"} <= actions
    page = text_of(client.get(f"/console/invoices/{invoice.id}", follow_redirects=True))
    assert f"Returned by the bank on {today}: Beneficiary account closed" in page
    assert "Record refund W-BACK-1 returned" not in page  # once only
    # The refund owed again is sent anew as a new refund.
    again = refunded_offline(credit.id, "100.00", "W-BACK-2")
    assert again.state == "succeeded"


def test_billing_staff_record_a_bounced_wire_refund_from_the_payments_page_and_come_back_to_it(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 56: the clerk who opens the wire payment a refund gave back (an offline
    refund has no payment of its own: it is made against a credit note) finds the
    refund listed there and records its return from that page, with the invoice
    page's confirmation and service, and is brought back to it; until round 56 only
    the invoice's page listed it or offered the form. The invoice's *Refunds* table
    links each refund with a form to it."""
    invoice, _credit, refund = _wire_refund_sent(invoice_for, vendor)
    payment_id = (
        db.session().scalars(select(Payment.id).where(Payment.invoice_id == invoice.id)).one()
    )
    today = office_date(utcnow()).isoformat()
    signed_in(client, billing_staff)
    on_invoice = client.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    assert (
        f'<a href="#return-heading-{refund.id}">Record refund W-BACK-1 returned</a>' in on_invoice
    )
    page_url = f"/console/payments/{payment_id}"
    markup = client.get(page_url).get_data(as_text=True)
    assert "Refunds sent offline (wire, ACH or check)" in markup
    assert f'<a href="#return-heading-{refund.id}">Record refund W-BACK-1 returned</a>' in markup
    assert f'id="return-heading-{refund.id}">Record refund W-BACK-1 returned</h2>' in markup
    assert f'name="from_payment" value="{payment_id}"' in markup

    url = f"/console/refunds/{refund.id}/return"
    fields = {**_fields(refund, "", today), "from_payment": str(payment_id)}
    refused = client.post(url, data=fields)  # the payment's page again, with the message
    assert refused.status_code == 422
    assert "Say why the bank returned the refund." in text_of(refused)
    assert f'name="from_payment" value="{payment_id}"' in refused.get_data(as_text=True)
    _nothing_recorded(refund.id)

    fields = {
        **_fields(refund, "Beneficiary account closed", today),
        "from_payment": str(payment_id),
    }
    asked = client.post(url, data=fields)
    assert asked.status_code == 200
    asking = asked.get_data(as_text=True)
    assert "Record the wire refund of 100.00 USD as returned by the bank?" in text_of(asked)
    # "Do not record it" goes back to the payment, to its button (round 61).
    assert f'href="{page_url}#record-return-{refund.id}"' in asking
    shown = re.search(r'name="confirmation" value="([^"]*)"', asking)
    assert shown
    done = client.post(url, data={**fields, "confirmation": shown.group(1), "confirmed": "yes"})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(page_url)
    refund, invoice, credit = _read(refund.id)
    assert (refund.state, refund.return_reason) == ("failed", "Beneficiary account closed")
    assert credit.refund_outstanding == Decimal("100.00")
    after = text_of(client.get(page_url))
    assert f"Returned by the bank on {today}: Beneficiary account closed" in after
    assert "Record refund W-BACK-1 returned" not in after  # once only


def test_a_return_confirmation_missing_or_edited_is_refused_and_nothing_recorded(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    _invoice, _credit, refund = _wire_refund_sent(invoice_for, vendor)
    today = office_date(utcnow()).isoformat()
    signed_in(client, billing_staff)
    url = f"/console/refunds/{refund.id}/return"

    missing = client.post(url, data={**_fields(refund, "Bounced", today), "confirmed": "yes"})
    assert missing.status_code == 400
    assert "Not recorded as returned: the confirmation of what was shown is missing." in text_of(
        missing
    )
    _, confirming = _asked(client, refund, "Bounced", today)
    edited = {**confirming, f"return-{refund.id}-reason": "Something else"}
    answer = client.post(url, data=edited)
    assert answer.status_code == 400
    assert "the day or reason posted is not the one shown to confirm" in text_of(answer)
    _nothing_recorded(refund.id)


def test_a_return_confirmed_after_the_invoice_moved_is_409_saying_what_changed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice, _credit, refund = _wire_refund_sent(invoice_for, vendor)
    today = office_date(utcnow()).isoformat()
    signed_in(client, billing_staff)
    _, confirming = _asked(client, refund, "Bounced", today)
    # A colleague issues another credit note meanwhile: 50.00 more is owed back.
    services.issue_credit_note(
        invoice.id, amount=Decimal("50.00"), reason="Another seat", actor=billing_clerk()
    )
    answer = client.post(f"/console/refunds/{refund.id}/return", data=confirming)
    assert answer.status_code == 409
    said = text_of(answer)
    # Round 58: the refund named as the pages name it, not by its row id, and the page
    # says the day it was sent in words (days58) where the service's message has ISO.
    named = re.sub(
        r"\d{4}-\d{2}-\d{2}",
        lambda day: day_text(date.fromisoformat(day.group())),
        refund.named(in_sentence=True),
    )
    assert named != refund.named(in_sentence=True)
    assert (
        f"Not recorded as returned: Invoice {invoice.number} changed after the return of "
        f"the {named} was shown to confirm"
    ) in said
    assert f"refund {refund.id}" not in said
    assert "amount credited 100.00 USD then, 150.00 USD now" in said
    refund, invoice, _ = _read(refund.id)
    assert (refund.state, invoice.amount_refunded) == ("succeeded", Decimal("100.00"))


def test_the_page_form_says_what_is_wrong_with_the_day_and_reason_and_records_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    _invoice, _credit, refund = _wire_refund_sent(invoice_for, vendor)
    signed_in(client, billing_staff)
    url = f"/console/refunds/{refund.id}/return"
    empty = client.post(url, data=_fields(refund, "", ""))
    assert empty.status_code == 422
    assert "Say why the bank returned the refund." in text_of(empty)
    assert "Give the day the bank returned it." in text_of(empty)
    tomorrow = (office_date(utcnow()) + timedelta(days=1)).isoformat()
    future = client.post(url, data=_fields(refund, "Bounced", tomorrow))
    assert future.status_code == 422
    assert "Cannot be in the future." in text_of(future)
    assert refund.sent_on is not None
    before = (refund.sent_on - timedelta(days=1)).isoformat()
    early = client.post(url, data=_fields(refund, "Bounced", before))
    assert early.status_code == 422
    assert f"Cannot be before the refund was sent ({day_text(refund.sent_on)})." in text_of(early)
    _nothing_recorded(refund.id)


def test_the_api_records_the_return_once_and_a_retry_with_its_key_is_answered_the_same(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, credit, refund = _wire_refund_sent(invoice_for, vendor)
    today = office_date(utcnow()).isoformat()
    url = f"/api/v1/refunds/{refund.id}/return"
    body = {"reason": "Check never cashed", "returned_on": today}
    headers = {**bearer(billing_staff), "Idempotency-Key": "return-1"}

    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert (answer["state"], answer["returned_on"], answer["returned_date"]) == (
        "failed",
        today,
        today,
    )
    assert (answer["return_reason"], answer["returned_by"]) == (
        "Check never cashed",
        billing_staff.email,
    )
    replay = client.post(url, json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.get_json() == answer

    again = client.post(url, json=body, headers=bearer(billing_staff))
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"
    assert again.get_json()["detail"] == (
        "A refund that is failed cannot be recorded as returned by the bank: no further "
        "step is possible."
    )
    read = client.get(f"/api/v1/refunds/{refund.id}", headers=bearer(vendor)).get_json()
    assert (read["returned_on"], read["return_reason"]) == (today, "Check never cashed")
    assert "returned_by" not in read
    credit_read = client.get(
        f"/api/v1/credit-notes/{credit.id}", headers=bearer(billing_staff)
    ).get_json()
    assert credit_read["refund_outstanding"] == "100.00"


def test_the_refunds_export_says_why_the_bank_returned_a_refund_and_who_recorded_it_last(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, _credit, refund = _wire_refund_sent(invoice_for, vendor)
    kept = refunded_offline(
        services.issue_credit_note(
            _invoice.id, amount=Decimal("50.00"), reason="Seat removed", actor=billing_clerk()
        ).id,
        "50.00",
        "W-BACK-2",
    )
    today = office_date(utcnow()).isoformat()
    answer = client.post(
        f"/api/v1/refunds/{refund.id}/return",
        json={"reason": "Account closed at the receiving bank", "returned_on": today},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 200, answer.get_json()
    export = exporter(client, billing_staff, "refunds")

    rows = list(csv.DictReader(io.StringIO(export("csv").decode("utf-8"))))
    # Round 59 added `payment_id` after them (closewalk59), round 60 two names (names60).
    assert list(rows[0])[-6:-3] == ["returned_date", "return_reason", "returned_by"]
    by_id = {int(row["refund_id"]): row for row in rows}
    assert (by_id[refund.id]["return_reason"], by_id[refund.id]["returned_by"]) == (
        "Account closed at the receiving bank",
        billing_staff.email,
    )
    assert (by_id[kept.id]["return_reason"], by_id[kept.id]["returned_by"]) == ("", "")
    lines = [json.loads(line) for line in export("jsonl").decode("utf-8").splitlines()[1:]]
    returned = next(line for line in lines if line["refund_id"] == refund.id)
    assert list(returned)[-5:-3] == ["return_reason", "returned_by"]
    assert (returned["return_reason"], returned["returned_by"]) == (
        "Account closed at the receiving bank",
        billing_staff.email,
    )
    by_database, by_python = both(dataset=refunds_export.DATASET)
    assert by_database == by_python
    assert b"Account closed at the receiving bank" in by_database


def test_the_api_refuses_a_bad_day_a_missing_reason_and_a_vendor_and_records_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, _credit, refund = _wire_refund_sent(invoice_for, vendor)
    url = f"/api/v1/refunds/{refund.id}/return"
    today = office_date(utcnow())
    staff = bearer(billing_staff)

    blank = client.post(url, json={"reason": "  ", "returned_on": today.isoformat()}, headers=staff)
    assert blank.status_code == 422
    assert blank.get_json()["errors"]["reason"] == ["Say why the bank returned the refund."]
    future = client.post(
        url,
        json={"reason": "Bounced", "returned_on": (today + timedelta(days=1)).isoformat()},
        headers=staff,
    )
    assert future.status_code == 422
    assert future.get_json()["errors"]["returned_on"] == ["Cannot be in the future."]
    by_vendor = client.post(
        url, json={"reason": "Bounced", "returned_on": today.isoformat()}, headers=bearer(vendor)
    )
    assert by_vendor.status_code == 403
    _nothing_recorded(refund.id)


def test_a_card_refund_is_not_recorded_as_returned_here_its_return_comes_from_stripe(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    paid_by_card(client, vendor, localstripe, invoice)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("50.00"), reason="Seat removed", actor=billing_clerk()
    )
    refund = services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    assert refund.state == "succeeded"
    answer = client.post(
        f"/api/v1/refunds/{refund.id}/return",
        json={"reason": "Bounced", "returned_on": office_date(utcnow()).isoformat()},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 409
    detail = answer.get_json()["detail"]
    # Round 58: named as the pages name it, not "Refund 5".
    assert detail.startswith(f"The {refund.named(in_sentence=True)} went to the card through")
    stored, _, _ = _read(refund.id)
    assert (stored.state, stored.returned_on) == ("succeeded", None)
