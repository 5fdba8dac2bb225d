"""Round 54: a card refund from the console is confirmed before Stripe is asked, on a
page that says the amount, the card, and what the invoice owes and owes back after it;
the confirming press carries a value signed under SECRET_KEY binding what was shown
(the credit note's confirmation's mechanism, `licensing.confirmations`). A confirming
post that is not that (edited, forged, another clerk's, stale) is refused 400; the
invoice or the card payment moved since, 409 saying what changed. Either way nothing
is sent to Stripe: localstripe holds no refund (docs/billing.md, "Card refunds
confirmed")."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from licensing.errors import BadRequest
from tests.support import factories, settings
from tests.support.factories import billing_clerk
from tests.support.page_days import in_words
from tests.support.pages import text_of
from tests.support.servers import LocalStripe

from .refund_support import paid_by_card
from .stripe_support import _call, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _card_paid_and_credited(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> tuple[CreditNote, Payment]:
    """A 250.00 invoice paid by card, credited 100.00: 100.00 owed back."""
    invoice = invoice_for(vendor, ("250.00",))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("100.00"), reason="Seat removed", actor=billing_clerk()
    )
    return credit, payment


def _at_stripe(localstripe: LocalStripe, payment: Payment) -> list[int]:
    """The amounts of the refunds Stripe holds on the payment's PaymentIntent."""
    found = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )["data"]
    return [refund["amount"] for refund in found]


def _nothing_refunded(localstripe: LocalStripe, payment: Payment) -> None:
    assert _at_stripe(localstripe, payment) == []
    assert db.session().scalar(select(func.count()).select_from(Refund)) == 0
    started = select(func.count()).where(AuditEvent.action == "refund.started")
    assert db.session().scalar(started) == 0


def _fields(credit: CreditNote, amount: str, note: str = "") -> dict[str, str]:
    prefix = f"refund-{credit.id}-"
    return {f"{prefix}method": "card", f"{prefix}amount": amount, f"{prefix}note": note}


def _asked(
    client: FlaskClient, credit: CreditNote, amount: str, note: str = ""
) -> tuple[str, dict[str, str]]:
    """The refund form posted for the card: the confirmation page, and what it posts."""
    page = client.post(
        f"/console/credit-notes/{credit.id}/refunds", data=_fields(credit, amount, note)
    )
    assert page.status_code == 200, text_of(page)[:2000]
    shown = re.search(r'name="confirmation" value="([^"]*)"', page.get_data(as_text=True))
    assert shown
    confirming = {**_fields(credit, amount, note), "confirmation": shown.group(1)}
    return text_of(page), {**confirming, "confirmed": "yes"}


def test_a_card_refund_is_shown_with_the_card_and_what_the_invoice_owes_after_then_confirmed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    signed_in(client, billing_staff)

    shown, confirming = _asked(client, credit, "40.00", "Asked by phone")
    card = payment.card_label
    assert card
    invoice = f"Invoice {credit.invoice.number}"
    assert f"Refund 40.00 USD to {card}?" in shown
    assert (
        f"Stripe refunds 40.00 USD of credit note {credit.number} to {card}, which paid "
        f"{invoice} (its card payment of 250.00 USD received on {payment.paid_date})."
    ) in shown
    assert (
        f"{invoice} owes 0.00 USD and owes back 100.00 USD now; once Stripe confirms the "
        "refund it owes 0.00 USD and owes back 60.00 USD."
    ) in shown
    assert "Note recorded in the audit log: Asked by phone" in shown
    # Asking sends nothing to Stripe and stores nothing (round 53: the press refunded).
    _nothing_refunded(localstripe, payment)

    done = client.post(f"/console/credit-notes/{credit.id}/refunds", data=confirming)
    assert done.status_code == 302, text_of(done)[:2000]
    (refund,) = db.session().scalars(select(Refund)).all()
    assert (refund.method, refund.amount, refund.payment_id) == (
        "card",
        Decimal("40.00"),
        payment.id,
    )
    assert _at_stripe(localstripe, payment) == [4000]


def test_a_confirming_post_without_the_confirmation_sends_nothing_to_stripe(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    signed_in(client, billing_staff)
    answer = client.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={**_fields(credit, "40.00"), "confirmed": "yes"},
    )
    assert answer.status_code == 400
    said = text_of(answer)
    assert "Not refunded: the confirmation of what was shown is missing." in said
    assert "Nothing was sent to Stripe" in said
    _nothing_refunded(localstripe, payment)


@pytest.mark.parametrize(("field", "value"), [("amount", "100.00"), ("note", "Goodwill")])
def test_a_refund_edited_between_the_steps_is_refused_and_nothing_sent(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    field: str,
    value: str,
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    signed_in(client, billing_staff)
    _, confirming = _asked(client, credit, "40.00")
    # The confirmation's hidden amount or note edited before the press: round 53's
    # single press would have refunded 100.00, which no one was shown.
    edited = {**confirming, f"refund-{credit.id}-{field}": value}
    answer = client.post(f"/console/credit-notes/{credit.id}/refunds", data=edited)
    assert answer.status_code == 400, text_of(answer)[:2000]
    # The page says the payment's start in words (round 58, days58).
    assert in_words(
        "Not refunded: the amount, card payment or note posted is not the one shown to "
        "confirm (the confirmation was of 40.00 to the "
        f"{payment.named(credit.invoice.number, in_sentence=True)})."
    ) in text_of(answer)
    assert f"card payment {payment.id}" not in text_of(answer)  # round 56: not its row id
    _nothing_refunded(localstripe, payment)


@pytest.mark.parametrize("forged", ["not a signed value", "eyJmb3IiOjF9.forged-signature"])
def test_a_forged_refund_confirmation_is_refused_and_nothing_sent(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    forged: str,
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    signed_in(client, billing_staff)
    answer = client.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={**_fields(credit, "40.00"), "confirmed": "yes", "confirmation": forged},
    )
    assert answer.status_code == 400
    assert "Not refunded: the confirmation is not one this service made." in text_of(answer)
    _nothing_refunded(localstripe, payment)


def test_a_credit_notes_confirmation_does_not_pass_for_a_card_refunds(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    clerk = Actor.of(accounts.principal_for(billing_staff))
    of_a_credit_note = services.check_credit_note(
        credit.invoice_id, amount=Decimal("40.00"), reason="Seat removed", actor=clerk
    ).confirmation
    signed_in(client, billing_staff)
    answer = client.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={**_fields(credit, "40.00"), "confirmed": "yes", "confirmation": of_a_credit_note},
    )
    assert answer.status_code == 400
    _nothing_refunded(localstripe, payment)


def test_a_refund_confirmation_shown_to_another_clerk_is_refused(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    signed_in(client, billing_staff)
    _, confirming = _asked(client, credit, "40.00")
    colleague = factories.make_staff(db.session(), roles=("billing",))
    answer = signed_in(app.test_client(), colleague).post(
        f"/console/credit-notes/{credit.id}/refunds", data=confirming
    )
    assert answer.status_code == 400
    assert "the confirmation was shown to someone else" in text_of(answer)
    _nothing_refunded(localstripe, payment)


def test_a_refund_confirmation_pressed_more_than_15_minutes_later_is_refused(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    clerk = Actor.of(accounts.principal_for(billing_staff))
    shown_at = datetime.now(UTC)
    asked: dict[str, Any] = {"amount": Decimal("40.00"), "actor": clerk}
    gateway = settings.gateway()
    preview = services.check_card_refund(credit.id, **asked, gateway=gateway, now=shown_at)
    with pytest.raises(BadRequest, match="shown more than 15 minutes ago"):
        services.refund_card(
            credit.id,
            **asked,
            gateway=gateway,
            confirmation=preview.confirmation,
            now=shown_at + timedelta(minutes=15, seconds=1),
        )
    _nothing_refunded(localstripe, payment)


def test_a_refund_confirmed_after_the_invoice_moved_is_409_saying_what_changed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit, payment = _card_paid_and_credited(client, vendor, localstripe, invoice_for)
    signed_in(client, billing_staff)
    _, confirming = _asked(client, credit, "40.00")
    # A colleague records 70.00 sent by wire meanwhile: 30.00 is left to send back.
    services.record_offline_refund(
        credit.id,
        method="wire",
        amount=Decimal("70.00"),
        reference="W-BACK-1",
        actor=billing_clerk(),
    )
    answer = client.post(f"/console/credit-notes/{credit.id}/refunds", data=confirming)
    assert answer.status_code == 409
    said = text_of(answer)
    assert (
        f"Not refunded: Invoice {credit.invoice.number} changed after the card refund of "
        f"credit note {credit.number} was shown to confirm (amount refunded 0.00 USD then, "
        "70.00 USD now; owed back 100.00 USD then, 30.00 USD now; credit note's refund "
        "outstanding 100.00 USD then, 30.00 USD now)"
    ) in said
    assert "Nothing was sent to Stripe" in said
    assert _at_stripe(localstripe, payment) == []
    assert [r.method for r in db.session().scalars(select(Refund))] == ["wire"]
