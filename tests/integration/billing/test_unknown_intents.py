"""Round 61 (payments61): a card payment's PaymentIntent that Stripe does not know (made
with another Stripe account's keys, or test keys where the service now has live ones).

Until round 61 `payments reconcile` stopped at such a payment still pending, every hour
(Stripe's refusal raised out of the run, the payments after it never asked about), and
`payments fill-charge-ids` asked about it again on every run. Now the job that meets the
refusal reports it once (the audit log, `stripe_payment_intent.unknown`), goes on with
the rest, and no job asks Stripe about it again while its payment names it; *Stripe's
events* lists it until billing staff mark it looked at with a note. Against localstripe
on loopback (its own 404 for a PaymentIntent it never made), never a mock of Stripe: the
gateway is localstripe's, wrapped only to count what it is asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import UNKNOWN_INTENT_ACTION, Invoice, Payment
from licensing.billing.states import PENDING, SUCCEEDED
from licensing.db import utcnow
from tests.support import settings
from tests.support.console_lists import words
from tests.support.servers import LocalStripe

from .stripe_support import (
    STRIPE_EVENTS,
    CountingIntents,
    pay_by_card,
    put_pending,
    stripe_config,
)

ANOTHER_ACCOUNTS = "pi_another_accounts_intent"


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _reports() -> list[AuditEvent]:
    db.session().expire_all()
    return list(
        db.session().scalars(select(AuditEvent).where(AuditEvent.action == UNKNOWN_INTENT_ACTION))
    )


def test_reconcile_reports_a_payment_intent_stripe_does_not_know_once_and_goes_on(
    app: Flask,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    # The oldest pending payment names a PaymentIntent this Stripe account never made.
    unknown = put_pending(
        pay_by_card(invoice_for(vendor, ("50.00",)), vendor, localstripe), ANOTHER_ACCOUNTS, 5
    )
    known = put_pending(pay_by_card(invoice_for(vendor, ("80.00",)), vendor, localstripe))
    counting = CountingIntents(settings.gateway())

    report = services.reconcile_payments(gateway=counting, now=utcnow())

    # The base: StripeRefused out of the run, the known payment never applied.
    assert counting.asked == [ANOTHER_ACCOUNTS, known.stripe_payment_intent_id]
    (said_unknown,) = [line for line in report.outcomes if ANOTHER_ACCOUNTS in line]
    assert "not asked again: Stripe does not know PaymentIntent" in said_unknown
    assert any(line.endswith(f"applied to {known.invoice.number}") for line in report.outcomes)
    db.session().expire_all()
    assert db.session().get(Payment, known.id).state == SUCCEEDED
    assert db.session().get(Payment, unknown.id).state == PENDING  # left as it is
    (reported,) = _reports()
    assert reported.entity_type == "stripe_payment_intent"
    assert reported.entity_id == ANOTHER_ACCOUNTS
    assert reported.after_data["payment_id"] == unknown.id
    assert reported.after_data["job"] == "payments reconcile"

    # The next runs ask Stripe nothing about it, and report it no more.
    counting.asked.clear()
    again = services.reconcile_payments(gateway=counting, now=utcnow())
    assert counting.asked == []
    assert again.outcomes == []
    ran = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert ran.exit_code == 0, ran.output
    assert len(_reports()) == 1

    # fill-charge-ids does not ask about it either (reported already).
    filled = services.fill_charge_ids(counting)
    assert ANOTHER_ACCOUNTS not in counting.asked
    assert filled.unknown == []

    # Something changed: the payment names another PaymentIntent, and is asked about.
    put_pending(db.session().get(Payment, unknown.id), "pi_mended_by_hand")
    counting.asked.clear()
    services.reconcile_payments(gateway=counting, now=utcnow())
    assert counting.asked == ["pi_mended_by_hand"]
    assert len(_reports()) == 2


def test_fill_charge_ids_reports_one_once_and_billing_staff_mark_it_looked_at_with_a_note(
    app: Flask,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment = pay_by_card(invoice_for(vendor, ("60.00",)), vendor, localstripe)
    payment.stripe_payment_intent_id = ANOTHER_ACCOUNTS
    payment.stripe_charge_id = None
    payment.state = SUCCEEDED
    db.session().commit()
    counting = CountingIntents(settings.gateway())

    first = services.fill_charge_ids(counting)
    assert counting.asked == [ANOTHER_ACCOUNTS]
    (line,) = first.unknown
    assert "listed on Stripe's events and not asked about again" in line
    assert services.without_charge_id() == 0  # nothing left to ask about
    counting.asked.clear()
    second = services.fill_charge_ids(counting)
    assert counting.asked == []
    assert second.unknown == []
    assert len(_reports()) == 1

    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(STRIPE_EVENTS)
    assert page.status_code == 200
    said = words(page.get_data(as_text=True))
    assert "1 PaymentIntent named by card payments is not known to Stripe" in said
    assert ANOTHER_ACCOUNTS in said
    assert "payments fill-charge-ids" in said
    assert f"/console/payments/{payment.id}" in page.get_data(as_text=True)
    mark = f"{STRIPE_EVENTS}/unknown-intents/{ANOTHER_ACCOUNTS}/looked-at"
    assert f'action="{mark}"' in page.get_data(as_text=True)

    # Licensing staff read the page, without the form, and may not mark it.
    reader = signed_in(app.test_client(), licensing_staff)
    read = reader.get(STRIPE_EVENTS)
    assert ANOTHER_ACCOUNTS in read.get_data(as_text=True)
    assert f'action="{mark}"' not in read.get_data(as_text=True)
    assert reader.post(mark, data={"intent-note": "x"}).status_code == 403

    # A blank note is the field's message, with the page again; nothing marked.
    blank = staff.post(mark, data={"intent-note": "  ", "confirmed": "yes"})
    assert blank.status_code == 422
    assert services.INTENT_NOTE_REQUIRED in words(blank.get_data(as_text=True))
    # Asked first, then confirmed: marked, audited with the note, off the count.
    note = "Made with the old test keys; checked in the test dashboard."
    asked = staff.post(mark, data={"intent-note": note})
    assert asked.status_code == 200
    assert f"Mark the PaymentIntent {ANOTHER_ACCOUNTS} looked at?" in words(
        asked.get_data(as_text=True)
    )
    done = staff.post(mark, data={"intent-note": note, "confirmed": "yes"})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    db.session().expire_all()
    (marked,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "stripe_payment_intent.marked_looked_at")
    )
    assert (marked.entity_id, marked.note) == (ANOTHER_ACCOUNTS, note)
    assert marked.actor_user_id == billing_staff.id
    after = words(staff.get(STRIPE_EVENTS).get_data(as_text=True))
    assert "None: Stripe knows the PaymentIntent of every card payment" in after
    # A second mark is the machine's 409; a PaymentIntent no job reported, 404.
    assert staff.post(mark, data={"intent-note": note, "confirmed": "yes"}).status_code == 409
    other = f"{STRIPE_EVENTS}/unknown-intents/pi_never_reported/looked-at"
    assert staff.post(other, data={"intent-note": note, "confirmed": "yes"}).status_code == 404
    # Still not asked about: a person looked, Stripe does not know it any better.
    counting.asked.clear()
    services.fill_charge_ids(counting)
    assert counting.asked == []
