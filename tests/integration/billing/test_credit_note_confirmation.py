"""Round 53: a credit note is confirmed before it is issued. The console's form shows
what will be credited (the amount, the invoice, its balance after, the refund that
becomes owed) and a confirming press issues it; a confirmation the invoice changed
since (a payment recorded meanwhile) is refused with what changed, nothing stored
(docs/billing.md, "Credit notes confirmed").

Round 54: the confirmation carries a value signed under SECRET_KEY binding what it
showed (the invoice, the amount, the reason, the invoice's figures, who was shown it
and when). A confirming post that is not that (edited between the steps, forged,
another invoice's or person's, or older than 15 minutes) is refused 400; the
invoice's figures changed since, 409 saying what changed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db, problems, signing
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.errors import BadRequest
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.pages import text_of

REASON = "Royalty report amended: 2,900 end users, not 3,000."


def _count(model: type, *where: object) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _nothing_issued() -> None:
    assert _count(CreditNote) == 0
    assert _count(AuditEvent, AuditEvent.action == "credit_note.issued") == 0
    assert _count(OutboxMessage, OutboxMessage.template == "invoice_credit_note") == 0


def _asked(client: FlaskClient, invoice: Invoice, amount: str) -> tuple[str, dict[str, str]]:
    """The credit note form posted: the confirmation page, and the fields it posts."""
    fields = {"amount": amount, "reason": REASON}
    page = client.post(f"/console/invoices/{invoice.id}/credit-notes", data=fields)
    assert page.status_code == 200
    shown = re.search(r'name="confirmation" value="([^"]*)"', page.get_data(as_text=True))
    assert shown
    return text_of(page), {**fields, "confirmation": shown.group(1), "confirmed": "yes"}


def test_a_credit_note_is_shown_with_the_balance_after_and_the_refund_owed_then_confirmed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    paid_offline(invoice.id, "900.00", "FEDWIRE 1")
    signed_in(client, billing_staff)

    shown, confirming = _asked(client, invoice, "150.00")
    assert f"Issue a credit note of 150.00 USD on Invoice {invoice.number}?" in shown
    assert (
        f"Invoice {invoice.number} (total 1,000.00 USD, paid 900.00 USD, credited so far "
        "0.00 USD) is credited 150.00 USD."
    ) in shown
    assert "Its balance due goes from 100.00 USD to 0.00 USD." in shown
    assert (
        "50.00 USD of it is more than the invoice still owes: it becomes a refund owed to the "
        "licensee"
    ) in shown
    assert f"Reason printed on the credit note: {REASON}" in shown
    assert "A credit note is never undone or edited" in shown
    _nothing_issued()  # asking stores nothing

    issued = client.post(
        f"/console/invoices/{invoice.id}/credit-notes", data=confirming, follow_redirects=True
    )
    assert issued.status_code == 200
    credit = db.session().scalars(select(CreditNote)).one()
    assert f"Credit note {credit.number} issued." in text_of(issued)
    assert (credit.amount, credit.refund_due) == (Decimal("150.00"), Decimal("50.00"))


def test_a_credit_note_all_off_the_balance_says_no_refund_becomes_owed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.50",))
    signed_in(client, billing_staff)
    shown, _ = _asked(client, invoice, "0.50")
    assert "Its balance due goes from 1,000.50 USD to 1,000.00 USD." in shown
    assert "No refund becomes owed: all of it comes off the balance due." in shown
    _nothing_issued()


def test_a_confirmation_the_invoice_changed_since_is_refused_saying_what_changed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    paid_offline(invoice.id, "900.00", "FEDWIRE 1")
    signed_in(client, billing_staff)
    _, confirming = _asked(client, invoice, "150.00")
    # Meanwhile a colleague records the rest: 150.00 would now be all refund, not 50.00.
    paid_offline(invoice.id, "100.00", "FEDWIRE 2")

    stale = client.post(f"/console/invoices/{invoice.id}/credit-notes", data=confirming)
    assert stale.status_code == 409
    said = text_of(stale)
    assert (
        f"Not issued: Invoice {invoice.number} changed after the credit note was shown to "
        "confirm (it was open and is paid now; amount paid 900.00 USD then, 1,000.00 USD "
        "now; balance due 100.00 USD then, 0.00 USD now), so the balance and refund shown "
        "no longer hold. Nothing was issued"
    ) in said
    assert 'value="150.00"' in stale.get_data(as_text=True)  # the form keeps what was typed
    _nothing_issued()

    # Asked again, it shows the figures as they are now, and goes.
    shown, confirming = _asked(client, invoice, "150.00")
    assert "Its balance due goes from 0.00 USD to 0.00 USD." in shown
    assert "150.00 USD of it is more than the invoice still owes" in shown
    answer = client.post(f"/console/invoices/{invoice.id}/credit-notes", data=confirming)
    assert answer.status_code == 302
    assert db.session().scalars(select(CreditNote)).one().refund_due == Decimal("150.00")


def test_a_confirming_post_without_the_confirmation_it_was_shown_is_refused(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    answer = client.post(
        f"/console/invoices/{invoice.id}/credit-notes",
        data={"amount": "150.00", "reason": REASON, "confirmed": "yes"},
    )
    assert answer.status_code == 400
    said = text_of(answer)
    assert "Not issued: the confirmation of what was shown is missing." in said
    assert "Nothing was issued" in said
    _nothing_issued()


def test_an_amount_edited_between_the_steps_is_refused_not_issued(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    _, confirming = _asked(client, invoice, "150.00")
    # The confirmation's hidden amount edited (by hand, or a tool) before the press:
    # round 53 issued 900.00, which no one was shown.
    answer = client.post(
        f"/console/invoices/{invoice.id}/credit-notes", data={**confirming, "amount": "900.00"}
    )
    assert answer.status_code == 400
    assert (
        "Not issued: the amount or reason posted is not the one shown to confirm (the "
        "confirmation was of 150.00). Nothing was issued"
    ) in text_of(answer)
    _nothing_issued()


def test_a_reason_edited_between_the_steps_is_refused_not_issued(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    _, confirming = _asked(client, invoice, "150.00")
    edited = {**confirming, "reason": "Goodwill."}
    answer = client.post(f"/console/invoices/{invoice.id}/credit-notes", data=edited)
    assert answer.status_code == 400
    assert "the amount or reason posted is not the one shown to confirm" in text_of(answer)
    _nothing_issued()


@pytest.mark.parametrize(
    "forged",
    [
        "open:0.00:0.00",  # round 53's plain `seen`, as anyone could write it
        "not a signed value",
        "eyJpbnZvaWNlIjoxfQ.forged-signature",
    ],
)
def test_a_forged_confirmation_is_refused_not_issued(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    forged: str,
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    answer = client.post(
        f"/console/invoices/{invoice.id}/credit-notes",
        data={"amount": "150.00", "reason": REASON, "confirmed": "yes", "confirmation": forged},
    )
    assert answer.status_code == 400
    assert "Not issued: the confirmation is not one this service made." in text_of(answer)
    _nothing_issued()


def test_a_confirmation_altered_by_one_character_is_refused(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    _, confirming = _asked(client, invoice, "150.00")
    token = confirming["confirmation"]
    altered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    answer = client.post(
        f"/console/invoices/{invoice.id}/credit-notes",
        data={**confirming, "confirmation": altered},
    )
    assert answer.status_code == 400
    _nothing_issued()


def test_a_confirmation_shown_for_another_invoice_is_refused(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    shown_for = invoice_for(vendor, ("1000.00",))
    other = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    _, confirming = _asked(client, shown_for, "150.00")
    answer = client.post(f"/console/invoices/{other.id}/credit-notes", data=confirming)
    assert answer.status_code == 400
    assert "the confirmation was shown for another invoice" in text_of(answer)
    _nothing_issued()


def test_a_confirmation_shown_to_another_clerk_is_refused(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    _, confirming = _asked(client, invoice, "150.00")
    colleague = factories.make_staff(db.session(), roles=("billing",))
    other_client = signed_in(app.test_client(), colleague)
    answer = other_client.post(f"/console/invoices/{invoice.id}/credit-notes", data=confirming)
    assert answer.status_code == 400
    assert "the confirmation was shown to someone else" in text_of(answer)
    _nothing_issued()


def test_a_confirmation_pressed_more_than_15_minutes_after_it_was_shown_is_refused(
    vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    clerk = Actor.of(accounts.principal_for(billing_staff))
    shown_at = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
    asked = {"amount": Decimal("150.00"), "reason": REASON, "actor": clerk}
    preview = billing.check_credit_note(invoice.id, **asked, now=shown_at)

    with pytest.raises(BadRequest, match="shown more than 15 minutes ago"):
        billing.issue_credit_note(
            invoice.id,
            **asked,
            confirmation=preview.confirmation,
            now=shown_at + timedelta(minutes=15, seconds=1),
        )
    _nothing_issued()
    # Within the 15 minutes, the same confirmation issues it.
    credit = billing.issue_credit_note(
        invoice.id,
        **asked,
        confirmation=preview.confirmation,
        now=shown_at + timedelta(minutes=15),
    )
    assert credit.amount == Decimal("150.00")


def test_a_confirmation_under_a_former_secret_key_kept_as_fallback_still_issues(
    app: Flask, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    """Rotating SECRET_KEY with the old one in SECRET_KEY_FALLBACKS does not refuse a
    confirmation shown a moment before the restart."""
    invoice = invoice_for(vendor, ("1000.00",))
    clerk = Actor.of(accounts.principal_for(billing_staff))
    asked = {"amount": Decimal("150.00"), "reason": REASON, "actor": clerk}
    signing.install(app, signing.Signer("an old secret of at least 32 characters!!"))
    preview = billing.check_credit_note(invoice.id, **asked)
    signing.install(app, signing.Signer("a new secret, also of 32 characters or more"))
    with pytest.raises(BadRequest, match="not one this service made"):
        billing.issue_credit_note(invoice.id, **asked, confirmation=preview.confirmation)
    signing.install(
        app,
        signing.Signer(
            "a new secret, also of 32 characters or more",
            ["an old secret of at least 32 characters!!"],
        ),
    )
    credit = billing.issue_credit_note(invoice.id, **asked, confirmation=preview.confirmation)
    assert credit.amount == Decimal("150.00")


def test_the_api_answers_a_forged_confirmation_as_a_400_problem(app: Flask) -> None:
    """The domain error the console's confirmation raises is a 400 wherever it is
    met: the problem table maps it (no route of the API confirms credit notes)."""
    with app.test_request_context("/api/v1/invoices/1/credit-notes"):
        answer = problems.from_domain_error(
            billing.ConfirmationRefused("the confirmation is not one this service made")
        )
    assert answer.status_code == 400
    assert answer.get_json()["title"] == "Bad request"
