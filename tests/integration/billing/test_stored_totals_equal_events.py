"""Round 54: what an invoice owes is one rule, its stored totals (`Invoice.owed`,
`billing.queries.owed_of`): total - amount_paid - amount_credited + amount_refunded.
The Finance page and the statement's balances on past days add up the invoice's dated
events instead (payments collected, the bank's returns of them, credit notes, refunds
sent), for a stored total says only what is owed now. Both can be one rule only if,
once every event is in, the stored totals ARE the sums of the events.

Every history below is driven through the services (the webhook, the API, the
use cases), never by writing rows, and after each step the invoice's stored totals
are held to the sums of its dated events, and `Invoice.owed` to what the Finance
ledger (`finance.receivables`) and the Finance sums (`period_end_balances`) say it
owes, or owes back, once every event has happened:

    flagged   a card payment flagged, given back, its give-back failed, accepted; one
              disputed before Stripe said it succeeded (flagged), the dispute won, accepted
    disputes  withdrawn and lost; withdrawn, won and reinstated; won with no money
              moved; a refund to the card, then the rest disputed and lost
    remainder a flagged payment disputed in part and lost, its remainder accepted with
              the excess given back offline (paid meanwhile, and void meanwhile)
    returns   a wire returned before a credit note and its refund, and one after
    beyond    credit notes beyond the balance, refunded in parts
    refunds   a card refund sent and then returned by the card's bank, sent again
    reversed  offline payments reversed, paid again
    march     a card refund sent in March and returned by the card's bank in April
              (round 54): every figure of March (the Finance page's, the statement's,
              the receivables and refunds exports') the same before and after the
              return, April's taking it, and the daily cross-check of the Finance
              sums every day of both months; Stripe's day dating a card refund's
              return (round 56) and its sending (refundlist56) when the event is late
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice, Payment, PaymentReversal, Refund
from licensing.billing.queries import (
    collected_between,
    owed_of,
    refund_returned_between,
    refunded_between,
)
from licensing.billing.statements import statement_of_account
from licensing.billing.states import RECEIVED, VOID
from licensing.errors import ExternalServiceError
from licensing.finance import queries as finance
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue, sums_are_the_ledger_every_day
from tests.support import factories, settings
from tests.support.billing import (
    credited,
    paid_offline,
    refund_by_id,
    refunded_offline,
    reversed_offline,
    said,
)
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import (
    REINSTATED,
    WITHDRAWN,
    charge_of,
    dispute_event,
    lost,
    staff_step,
)
from .refund_support import LostAnswer, deliver, paid_by_card
from .stripe_support import (
    _call,
    deliver_event,
    flagged_card_payment,
    pay_by_card,
    refund_failed_event,
    refund_updated_event,
    stripe_config,
    succeeded_event,
)

ZERO = Decimal(0)
# A day after every event of every history: the ledger's balance then is what the
# events say is owed once all of them happened.
AFTER_ALL = date(2099, 12, 31)
SINCE_EVER = date(2000, 1, 1)


def _sum(amounts: Any) -> Decimal:
    return sum(amounts, ZERO)


def _holds(invoice_id: int) -> Invoice:
    """The invoice's stored totals are the sums of its dated events, and what it owes
    (`Invoice.owed`, `owed_of` in SQL) is what the Finance ledger and sums say."""
    session = db.session()
    session.expire_all()
    invoice = session.get(Invoice, invoice_id)
    assert invoice is not None
    collected = session.scalars(
        select(Payment).where(Payment.invoice_id == invoice_id, collected_between(None, None))
    ).all()
    # Every payment that counted has its day (`collected_between` reads it), and none
    # counts that is not received.
    assert all(payment.paid_date is not None for payment in collected)
    every_payment = session.scalars(select(Payment).where(Payment.invoice_id == invoice_id)).all()
    assert {p.id for p in every_payment if p.state in RECEIVED} == {p.id for p in collected}
    returns = session.scalars(
        select(PaymentReversal).where(PaymentReversal.invoice_id == invoice_id)
    ).all()
    # The bank returns only money that came.
    assert {each.payment_id for each in returns} <= {payment.id for payment in collected}
    notes = session.scalars(select(CreditNote).where(CreditNote.invoice_id == invoice_id)).all()
    sent = session.scalars(
        select(Refund).where(Refund.invoice_id == invoice_id, refunded_between(None, None))
    ).all()
    assert all(refund.sent_date is not None for refund in sent)
    # Round 54: a refund the card's bank returned was sent on its day and returned on
    # its own (`refund_returned_between`), as a payment's return: only money sent.
    refunds_returned = session.scalars(
        select(Refund).where(Refund.invoice_id == invoice_id, refund_returned_between(None, None))
    ).all()
    assert {each.id for each in refunds_returned} <= {refund.id for refund in sent}
    assert all(each.returned_date is not None for each in refunds_returned)

    events = (
        _sum(p.amount for p in collected) - _sum(each.amount for each in returns),
        _sum(note.amount for note in notes),
        _sum(refund.amount for refund in sent) - _sum(each.amount for each in refunds_returned),
    )
    stored = (invoice.amount_paid, invoice.amount_credited, invoice.amount_refunded)
    assert stored == events, f"stored {stored} != events {events}"

    owed = session.scalar(select(owed_of(Invoice)).where(Invoice.id == invoice_id))
    assert owed == invoice.owed
    if invoice.state == VOID:
        return invoice  # owes nothing, counted nowhere: the Finance ledger leaves it out
    (ledger,) = (
        each
        for each in finance.receivables(
            session, invoice.currency, None, AFTER_ALL, organization_id=invoice.organization_id
        )
        if each.invoice_id == invoice_id
    )
    assert ledger.balance_on(AFTER_ALL) - ledger.owed_back_on(AFTER_ALL) == invoice.owed
    # The Finance page's sums in SQL (every test has its own organization's invoices
    # only): outstanding and refunds owed once every event happened.
    outstanding, back = finance.period_end_balances(
        session, invoice.currency, [AFTER_ALL], SINCE_EVER
    )
    assert outstanding == [max(invoice.owed, ZERO)]
    credited_beyond = -invoice.owed if invoice.credit_notes else ZERO
    assert back == [max(credited_beyond, ZERO)]
    return invoice


# --- offline histories ------------------------------------------------------------------


def test_stored_totals_are_the_events_when_a_wire_is_returned_before_or_after_a_refund(
    client: FlaskClient,
) -> None:
    days = [date(2027, 3, day) for day in range(2, 20)]
    organization_id = factories.make_organization(db.session()).id
    before = issue(organization_id, "1000.00", days[0])
    wire = paid_offline(before.id, "1000.00", "W-1", received_on=days[1], now=at(days[1]))
    _holds(before.id)
    reversed_offline(wire.id, "Wire recalled", returned_on=days[2], now=at(days[2]))
    _holds(before.id)
    paid_offline(before.id, "1000.00", "W-2", received_on=days[3], now=at(days[3]))
    note = credited(before.id, "150.00", "Seat removed", now=at(days[4]))
    _holds(before.id)
    refunded_offline(note.id, "150.00", "RF-1", sent_on=days[5], now=at(days[5]))
    assert _holds(before.id).owed == ZERO

    after = issue(organization_id, "1000.00", days[0])
    wire = paid_offline(after.id, "1000.00", "W-3", received_on=days[1], now=at(days[1]))
    note = credited(after.id, "150.00", "Seat removed", now=at(days[4]))
    refunded_offline(note.id, "100.00", "RF-2", sent_on=days[5], now=at(days[5]))
    _holds(after.id)
    reversed_offline(wire.id, "Wire recalled", returned_on=days[6], now=at(days[6]))
    invoice = _holds(after.id)
    assert (invoice.state, invoice.owed) == ("open", Decimal("950.00"))


def test_stored_totals_are_the_events_for_credit_notes_beyond_the_balance_refunded_in_parts(
    client: FlaskClient,
) -> None:
    days = [date(2027, 3, day) for day in range(2, 20)]
    organization_id = factories.make_organization(db.session()).id
    invoice = issue(organization_id, "500.00", days[0])
    paid_offline(invoice.id, "400.00", "W-1", received_on=days[1], now=at(days[1]))
    first = credited(invoice.id, "250.00", "Seats removed", now=at(days[2]))
    assert first.refund_due == Decimal("150.00")
    _holds(invoice.id)
    second = credited(invoice.id, "50.00", "Late delivery", now=at(days[3]))
    assert _holds(invoice.id).owed == Decimal("-200.00")
    refunded_offline(first.id, "100.00", "RF-1", sent_on=days[4], now=at(days[4]))
    _holds(invoice.id)
    refunded_offline(first.id, "50.00", "RF-2", method="check", sent_on=days[5], now=at(days[5]))
    refunded_offline(second.id, "50.00", "RF-3", sent_on=days[6], now=at(days[6]))
    invoice = _holds(invoice.id)
    assert (invoice.state, invoice.owed, invoice.refund_outstanding) == ("paid", ZERO, ZERO)


def test_stored_totals_are_the_events_when_offline_payments_are_reversed_and_paid_again(
    client: FlaskClient,
) -> None:
    days = [date(2027, 3, day) for day in range(2, 20)]
    organization_id = factories.make_organization(db.session()).id
    invoice = issue(organization_id, "900.00", days[0])
    check = paid_offline(
        invoice.id, "300.00", "C-1", method="check", received_on=days[1], now=at(days[1])
    )
    ach = paid_offline(
        invoice.id, "600.00", "A-1", method="ach", received_on=days[2], now=at(days[2])
    )
    assert _holds(invoice.id).state == "paid"
    reversed_offline(check.id, "Cheque bounced", returned_on=days[3], now=at(days[3]))
    assert _holds(invoice.id).state == "open"
    reversed_offline(ach.id, "Transfer recalled", returned_on=days[4], now=at(days[4]))
    _holds(invoice.id)
    paid_offline(invoice.id, "900.00", "W-1", received_on=days[5], now=at(days[5]))
    assert _holds(invoice.id).state == "paid"


# --- card histories ---------------------------------------------------------------------


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _staff_step(client: FlaskClient, staff: User, payment: Payment, step: str) -> None:
    response = staff_step(client, staff, payment, step, "Checked with the licensee.")
    assert response.status_code == 200, response.get_json()


@pytest.mark.usefixtures("before_the_disputes")
def test_stored_totals_are_the_events_for_a_card_payment_flagged_given_back_and_accepted(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    _holds(invoice.id)
    _staff_step(client, billing_staff, payment, "give-back")
    db.session().refresh(payment)
    assert payment.state == "given_back"
    _holds(invoice.id)
    found = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    (refund,) = found["data"]
    # The card's bank returned the give-back: the money is with us, flagged again.
    deliver_event(client, refund_failed_event(localstripe, refund["id"]))
    db.session().refresh(payment)
    assert payment.state == "flagged"
    _holds(invoice.id)
    _staff_step(client, billing_staff, payment, "accept")
    invoice = _holds(invoice.id)
    assert (invoice.amount_paid, invoice.owed) == (Decimal("299.99"), Decimal("0.01"))


@pytest.mark.usefixtures("before_the_disputes")
def test_stored_totals_are_the_events_for_a_card_payment_disputed_before_it_succeeded(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("300.00",))
    payment = pay_by_card(invoice, vendor, localstripe)  # pending: its webhook not in
    charge = charge_of(localstripe, payment)
    created = dispute_event(
        "charge.dispute.created", payment, charge, amount=30000, moved=(WITHDRAWN,)
    )
    assert "nothing booked" in deliver(client, created)["outcome"]
    _holds(invoice.id)
    assert deliver(client, succeeded_event(localstripe, payment))["outcome"].startswith("flagged")
    _holds(invoice.id)
    moved = (WITHDRAWN, REINSTATED)
    won = dispute_event(
        "charge.dispute.closed", payment, charge, status="won", amount=30000, moved=moved
    )
    deliver(client, won)
    _holds(invoice.id)
    _staff_step(client, billing_staff, payment, "accept")
    invoice = _holds(invoice.id)
    assert (invoice.state, invoice.amount_paid, invoice.owed) == ("paid", Decimal("300.00"), ZERO)


@pytest.mark.usefixtures("before_the_disputes")
@pytest.mark.parametrize("outcome", ["lost", "won_reinstated", "won_nothing_moved"])
def test_stored_totals_are_the_events_for_a_card_payment_disputed(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    outcome: str,
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    charge = charge_of(localstripe, payment)
    _holds(invoice.id)
    moved = () if outcome == "won_nothing_moved" else (WITHDRAWN,)
    deliver(client, dispute_event("charge.dispute.created", payment, charge, moved=moved))
    assert _holds(invoice.id).owed == (ZERO if not moved else Decimal("250.00"))
    if outcome == "lost":
        closed = dispute_event("charge.dispute.closed", payment, charge, status="lost", moved=moved)
    else:
        moved = moved and (WITHDRAWN, REINSTATED)
        closed = dispute_event("charge.dispute.closed", payment, charge, status="won", moved=moved)
    deliver(client, closed)
    invoice = _holds(invoice.id)
    assert invoice.owed == (Decimal("250.00") if outcome == "lost" else ZERO)
    if outcome == "lost":  # and paid again by wire
        paid_offline(invoice.id, "250.00", "W-1")
        assert _holds(invoice.id).state == "paid"


@pytest.mark.usefixtures("before_the_disputes")
def test_stored_totals_are_the_events_for_a_card_refund_then_the_rest_disputed_and_lost(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    note = services.issue_credit_note(
        invoice.id, amount=Decimal("50.00"), reason="Seat removed", actor=billing_clerk()
    )
    _holds(invoice.id)
    refund = services.refund_card(note.id, actor=billing_clerk(), gateway=settings.gateway())
    assert refund.state == "succeeded"
    _holds(invoice.id)
    lost(client, payment, charge_of(localstripe, payment), amount=20000, at=WITHDRAWN)
    assert _holds(invoice.id).owed == Decimal("200.00")


@pytest.mark.usefixtures("before_the_disputes")
def test_stored_totals_are_the_events_for_a_card_refund_sent_returned_and_sent_again(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("90.00",))
    paid_by_card(client, vendor, localstripe, invoice)
    note = services.issue_credit_note(
        invoice.id, amount=Decimal("90.00"), reason="Cancelled", actor=billing_clerk()
    )
    refund = services.refund_card(note.id, actor=billing_clerk(), gateway=settings.gateway())
    assert _holds(invoice.id).owed == ZERO
    assert refund.stripe_refund_id is not None
    answer = deliver(client, refund_failed_event(localstripe, refund.stripe_refund_id))
    assert answer["outcome"] == f"refund failed: {said(refund)}"
    invoice = _holds(invoice.id)
    assert (invoice.owed, invoice.refund_outstanding) == (Decimal("-90.00"), Decimal("90.00"))
    services.refund_card(note.id, actor=billing_clerk(), gateway=settings.gateway())
    assert _holds(invoice.id).owed == ZERO


def _accept_remainder(client: FlaskClient, staff: User, payment: Payment, **excess: str) -> None:
    response = client.post(
        f"/api/v1/payments/{payment.id}/accept-remainder",
        json={"reason": "The bank kept its part; the rest is ours.", **excess},
        headers=bearer(staff),
    )
    assert response.status_code == 200, response.get_json()


@pytest.mark.usefixtures("before_the_disputes")
@pytest.mark.parametrize("meanwhile", ["paid", "void"])
def test_stored_totals_are_the_events_for_a_remainder_accepted_with_its_excess_given_back(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    meanwhile: str,
) -> None:
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    charge = charge_of(localstripe, payment)
    for kind, status in (("created", "needs_response"), ("closed", "lost")):
        event = dispute_event(
            f"charge.dispute.{kind}", payment, charge, status=status, amount=10000
        )
        deliver(client, copy.deepcopy(event))
    _holds(invoice.id)
    if meanwhile == "paid":
        paid_offline(invoice.id, "250.00", "W-1")
    else:
        services.void_invoice(invoice.id, reason="Issued in error", actor=billing_clerk())
    _holds(invoice.id)
    _accept_remainder(client, billing_staff, payment, excess_method="wire", excess_reference="X-1")
    invoice = _holds(invoice.id)
    assert invoice.balance_due == ZERO


# --- a refund sent in March, returned in April (round 54) -------------------------------

MARCH = (date(2027, 3, 1), date(2027, 3, 31))
APRIL = (date(2027, 4, 1), date(2027, 4, 30))
# Each step at 10:00 at the office; the figures read after the last, in May.
SENT_AT = datetime(2027, 3, 10, 15, tzinfo=UTC)
RETURNED_AT = datetime(2027, 4, 6, 15, tzinfo=UTC)
READ_AT = datetime(2027, 5, 3, 15, tzinfo=UTC)


def _month(
    client: FlaskClient, staff: User, organization_id: int, month: tuple[date, date]
) -> dict[str, Any]:
    """Everything that says what happened in `month`, or was owed at its end: the
    Finance page's figures, the statement of account, the receivables export as of its
    last day and the refunds export of its days (each refund's id, amount and day sent;
    `state` and `returned_date` are the row as it stands)."""
    session = db.session()
    session.expire_all()
    first, last = month
    (figures,) = finance.cash_flow(session, finance.Filters(first, first, currency="USD"))
    organization = session.get(Organization, organization_id)
    assert organization is not None
    statement = statement_of_account(session, organization, "USD", first, last, as_of=READ_AT)
    headers = bearer(staff)

    def export(dataset: str, **filters: str) -> list[dict[str, Any]]:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", "currency": "USD", **filters},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        rows: list[dict[str, Any]] = read_jsonl(response.get_data())[1]
        return rows

    days = {"from": first.isoformat(), "to": last.isoformat()}
    return {
        "finance": (
            figures.refunded,
            figures.outstanding,
            figures.refunds_owed,
            figures.collected,
            figures.credited,
        ),
        "statement": (
            statement.opening,
            statement.closing,
            [(each.movement.kind, each.change, each.balance) for each in statement.lines],
        ),
        "receivables": [
            (row["invoice_number"], row["balance"], row["refunded_to_date"])
            for row in export("receivables", as_of=last.isoformat())
        ],
        "refunds": [
            (row["refund_id"], row["amount"], row["sent_date"])
            for row in export("refunds", by="paid", **days)
        ],
        "returned": [
            (row["refund_id"], row["amount"], row["returned_date"])
            for row in export("refunds", by="reversed", **days)
        ],
    }


def test_a_refund_returned_in_april_leaves_every_figure_of_march_as_it_was(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """A card refund sent on 10 March is returned by the card's bank on 6 April. Until
    round 54 it dropped out of every dated sum from the day it was sent (only
    `succeeded` refunds counted), so March's *Refunded* and *Refunds owed*, March's
    statement and the exports as of March changed in April. Now the return is an event
    of 6 April: March reads the same, April takes the return."""
    with time_machine.travel(SENT_AT, tick=False):
        invoice = invoice_for(vendor, ("90.00",))
        paid_by_card(client, vendor, localstripe, invoice)
        note = services.issue_credit_note(
            invoice.id, amount=Decimal("90.00"), reason="Cancelled", actor=billing_clerk()
        )
        refund = services.refund_card(note.id, actor=billing_clerk(), gateway=settings.gateway())
        assert _holds(invoice.id).owed == ZERO
    invoice_id, organization_id = invoice.id, invoice.organization_id
    refund_id, stripe_refund_id = refund.id, refund.stripe_refund_id
    with time_machine.travel(READ_AT, tick=False):
        march = _month(client, billing_staff, organization_id, MARCH)
    assert march["finance"][0] == Decimal("90.00")  # refunded in March
    assert march["refunds"] == [(refund_id, "90.00", "2027-03-10")]

    assert stripe_refund_id is not None
    with time_machine.travel(RETURNED_AT, tick=False):
        answer = deliver(client, refund_failed_event(localstripe, stripe_refund_id))
    assert answer["outcome"] == f"refund failed: {said(refund_by_id(refund_id))}"
    invoice = _holds(invoice_id)
    assert (invoice.owed, invoice.refund_outstanding) == (Decimal("-90.00"), Decimal("90.00"))

    with time_machine.travel(READ_AT, tick=False):
        assert _month(client, billing_staff, organization_id, MARCH) == march
        april = _month(client, billing_staff, organization_id, APRIL)
    refunded, _outstanding, refunds_owed, _collected, _credited = april["finance"]
    # April: the return takes the refund back off Refunded, and it is owed back again.
    assert (refunded, refunds_owed) == (Decimal("-90.00"), Decimal("90.00"))
    assert april["refunds"] == []
    assert april["returned"] == [(refund_id, "90.00", "2027-04-06")]
    lines = april["statement"][2]
    assert [kind for kind, _change, _balance in lines] == ["refund_returned"]
    # Every day of both months, the database's sums are the ledger's, invoice by invoice.
    days = [MARCH[0] + timedelta(days=n) for n in range(61)]
    sums_are_the_ledger_every_day("USD", days)


def _card_refund_sent_on_10_march(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> tuple[Invoice, Refund]:
    """A 90.00 invoice paid by card, credited in full and refunded to the card on
    10 March (`SENT_AT`), Stripe confirming the refund at once."""
    with time_machine.travel(SENT_AT, tick=False):
        invoice = invoice_for(vendor, ("90.00",))
        paid_by_card(client, vendor, localstripe, invoice)
        note = services.issue_credit_note(
            invoice.id, amount=Decimal("90.00"), reason="Cancelled", actor=billing_clerk()
        )
        refund = services.refund_card(note.id, actor=billing_clerk(), gateway=settings.gateway())
    assert refund.stripe_refund_id is not None
    return invoice, refund


def test_a_card_refund_returned_is_dated_on_stripes_day_when_its_event_is_applied_late(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 56: a card refund sent on 10 March failed at Stripe on 30 March (the card's
    bank returned it), but its signed `refund.failed` reached the webhook only on 6
    April (the endpoint was down; Stripe retries for days). Until round 56 the return
    was dated when the event was applied, 6 April; now on Stripe's day, the event's
    `created`: March nets to nothing and owes the refund back, April has nothing of
    it, in the Finance page, the statement and the exports alike."""
    invoice, refund = _card_refund_sent_on_10_march(client, vendor, localstripe, invoice_for)
    invoice_id, organization_id, refund_id = invoice.id, invoice.organization_id, refund.id
    assert refund.stripe_refund_id is not None
    failed_at_stripe = datetime(2027, 3, 30, 15, tzinfo=UTC)
    event = refund_failed_event(localstripe, refund.stripe_refund_id, created=failed_at_stripe)
    with time_machine.travel(RETURNED_AT, tick=False):
        answer = deliver(client, event)
    assert answer["outcome"] == f"refund failed: {said(refund_by_id(refund_id))}"
    invoice = _holds(invoice_id)
    assert (invoice.owed, invoice.refund_outstanding) == (Decimal("-90.00"), Decimal("90.00"))
    stored = db.session().get(Refund, refund_id)
    assert stored is not None
    # Recorded when applied (the nightly pulls find it by that), dated on Stripe's day.
    assert stored.failed_at == RETURNED_AT
    assert (stored.returned_on, stored.returned_date) == (date(2027, 3, 30), date(2027, 3, 30))

    with time_machine.travel(READ_AT, tick=False):
        march = _month(client, billing_staff, organization_id, MARCH)
        april = _month(client, billing_staff, organization_id, APRIL)
    refunded, _outstanding, refunds_owed, _collected, _credited = march["finance"]
    assert (refunded, refunds_owed) == (ZERO, Decimal("90.00"))
    assert march["refunds"] == [(refund_id, "90.00", "2027-03-10")]
    assert march["returned"] == [(refund_id, "90.00", "2027-03-30")]
    kinds = [kind for kind, _change, _balance in march["statement"][2]]
    assert kinds[-2:] == ["refunded", "refund_returned"]
    assert april["finance"][0] == ZERO
    assert april["finance"][2] == refunds_owed  # still owed back at April's end
    assert (april["refunds"], april["returned"], april["statement"][2]) == ([], [], [])
    days = [MARCH[0] + timedelta(days=n) for n in range(61)]
    sums_are_the_ledger_every_day("USD", days)


@pytest.mark.parametrize(
    ("made", "dated"),
    [
        # Stripe's clock an hour ahead of this one, across the office's midnight
        # (US Central): the return is booked today, never on a day not yet come.
        (datetime(2027, 4, 6, 5, 30, tzinfo=UTC), date(2027, 4, 5)),
        # An event dated before the refund was confirmed sent: returned the day sent.
        (datetime(2027, 3, 9, 15, tzinfo=UTC), date(2027, 3, 10)),
    ],
)
def test_a_card_refunds_return_is_never_dated_after_now_nor_before_it_was_sent(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    made: datetime,
    dated: date,
) -> None:
    """Stripe's day, clamped as a dispute's steps are: never after the moment the event
    is applied (5 April, 23:30 at the office), nor before the refund was sent."""
    _invoice, refund = _card_refund_sent_on_10_march(client, vendor, localstripe, invoice_for)
    refund_id = refund.id
    assert refund.stripe_refund_id is not None
    event = refund_failed_event(localstripe, refund.stripe_refund_id, created=made)
    with time_machine.travel(datetime(2027, 4, 6, 4, 30, tzinfo=UTC), tick=False):
        assert (
            deliver(client, event)["outcome"] == f"refund failed: {said(refund_by_id(refund_id))}"
        )
    db.session().expire_all()
    stored = db.session().get(Refund, refund_id)
    assert stored is not None
    assert stored.returned_date == dated


def test_a_wire_refund_the_bank_returned_counts_on_the_banks_day_whenever_it_is_recorded(
    client: FlaskClient, billing_staff: User
) -> None:
    """Round 55: a wire refund sent on 10 March bounced; the bank returned it on 30
    March and billing staff recorded it on 6 April. Until round 55 it could not be
    recorded, so every figure said the money had left. Now the return is an event of
    the bank's day, 30 March (not the day recorded): March's *Refunded* nets to
    nothing and March owes the refund back again; April, when it was recorded, has
    nothing of it (the Finance page, the statement, the refunds export) but what is
    owed back at its end."""
    organization_id = factories.make_organization(db.session()).id
    sent_on, returned_on = date(2027, 3, 10), date(2027, 3, 30)
    invoice = issue(organization_id, "90.00", date(2027, 3, 2))
    paid_offline(
        invoice.id, "90.00", "W-IN", received_on=date(2027, 3, 3), now=at(date(2027, 3, 3))
    )
    note = credited(invoice.id, "90.00", "Cancelled", now=at(date(2027, 3, 5)))
    refund_id = refunded_offline(note.id, "90.00", "W-BACK", sent_on=sent_on, now=at(sent_on)).id
    invoice_id = invoice.id
    assert _holds(invoice_id).owed == ZERO
    with time_machine.travel(READ_AT, tick=False):
        april_before = _month(client, billing_staff, organization_id, APRIL)

    services.return_offline_refund(
        refund_id,
        reason="Beneficiary account closed",
        returned_on=returned_on,
        now=RETURNED_AT,
        actor=billing_clerk(),
    )
    invoice = _holds(invoice_id)
    assert (invoice.owed, invoice.refund_outstanding) == (Decimal("-90.00"), Decimal("90.00"))

    with time_machine.travel(READ_AT, tick=False):
        march = _month(client, billing_staff, organization_id, MARCH)
        april = _month(client, billing_staff, organization_id, APRIL)
    refunded, _outstanding, refunds_owed, _collected, _credited = march["finance"]
    # Sent and returned in March, each on its day: nothing refunded net, 90.00 owed back.
    assert (refunded, refunds_owed) == (ZERO, Decimal("90.00"))
    assert march["refunds"] == [(refund_id, "90.00", "2027-03-10")]
    assert march["returned"] == [(refund_id, "90.00", "2027-03-30")]
    kinds = [kind for kind, _change, _balance in march["statement"][2]]
    assert kinds[-2:] == ["refunded", "refund_returned"]
    # April, in which the return was recorded, has nothing of it but the balance at
    # its end: nothing refunded or returned, no statement line, no export row.
    assert april["finance"][0] == april_before["finance"][0] == ZERO
    assert april["finance"][2] == refunds_owed  # still owed back at April's end
    assert (april["refunds"], april["returned"], april["statement"][2]) == ([], [], [])
    days = [MARCH[0] + timedelta(days=n) for n in range(61)]
    sums_are_the_ledger_every_day("USD", days)


# --- a card refund sent on Stripe's day (round 56, refundlist56) -------------------------


def _card_refund_pending_since_10_march(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> tuple[Invoice, int, str]:
    """A 90.00 invoice paid by card, credited in full and refunded to the card on 10
    March (`SENT_AT`), Stripe's answer to the request lost: the refund stays
    `pending` until an event says what became of it. The invoice, the refund's id
    and Stripe's id of it."""
    with time_machine.travel(SENT_AT, tick=False):
        invoice = invoice_for(vendor, ("90.00",))
        payment = paid_by_card(client, vendor, localstripe, invoice)
        note = services.issue_credit_note(
            invoice.id, amount=Decimal("90.00"), reason="Cancelled", actor=billing_clerk()
        )
        with pytest.raises(ExternalServiceError):
            services.refund_card(
                note.id, actor=billing_clerk(), gateway=LostAnswer(settings.gateway())
            )
    (refund,) = db.session().scalars(select(Refund).where(Refund.credit_note_id == note.id))
    assert refund.state == "pending"
    [at_stripe] = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )["data"]
    return invoice, refund.id, at_stripe["id"]


def test_a_card_refund_is_dated_sent_on_stripes_day_when_its_event_is_applied_late(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """A card refund asked of Stripe on 10 March, whose answer was lost, was sent by
    Stripe that day; its `refund.updated` reached the webhook only on 6 April (the
    endpoint was down). Until round 56's refundlist56 the refund was dated sent when
    the event was applied, 6 April: March's *Net refunds* said nothing went back and
    its *Refunds owed* kept the 90.00, as did March's statement and the refunds
    export. Now it is dated on Stripe's day, the event's `created`: March has it sent,
    April nothing of it, in the Finance page, the statement and the exports alike;
    `settled_at` stays when it was applied (the nightly pulls find it by that)."""
    invoice, refund_id, stripe_refund_id = _card_refund_pending_since_10_march(
        client, vendor, localstripe, invoice_for
    )
    invoice_id, organization_id = invoice.id, invoice.organization_id
    sent_at_stripe = datetime(2027, 3, 10, 15, 5, tzinfo=UTC)
    event = refund_updated_event(localstripe, stripe_refund_id, created=sent_at_stripe)
    with time_machine.travel(RETURNED_AT, tick=False):
        assert deliver(client, event)["outcome"] == f"refunded: {said(refund_by_id(refund_id))}"
    assert _holds(invoice_id).owed == ZERO
    stored = db.session().get(Refund, refund_id)
    assert stored is not None
    assert (stored.state, stored.settled_at) == ("succeeded", RETURNED_AT)
    assert (stored.sent_on, stored.sent_date) == (date(2027, 3, 10), date(2027, 3, 10))

    with time_machine.travel(READ_AT, tick=False):
        march = _month(client, billing_staff, organization_id, MARCH)
        april = _month(client, billing_staff, organization_id, APRIL)
    refunded, _outstanding, refunds_owed, _collected, _credited = march["finance"]
    assert (refunded, refunds_owed) == (Decimal("90.00"), ZERO)
    assert march["refunds"] == [(refund_id, "90.00", "2027-03-10")]
    assert [kind for kind, _change, _balance in march["statement"][2]][-1] == "refunded"
    assert april["finance"][0] == april["finance"][2] == ZERO
    assert (april["refunds"], april["returned"], april["statement"][2]) == ([], [], [])
    days = [MARCH[0] + timedelta(days=n) for n in range(61)]
    sums_are_the_ledger_every_day("USD", days)


@pytest.mark.parametrize(
    ("made", "dated"),
    [
        # Stripe's clock an hour ahead of this one, across the office's midnight
        # (US Central): the refund is booked sent today, never on a day not yet come.
        (datetime(2027, 4, 6, 5, 30, tzinfo=UTC), date(2027, 4, 5)),
        # An event dated before the refund was asked of Stripe: sent the day asked.
        (datetime(2027, 3, 9, 15, tzinfo=UTC), date(2027, 3, 10)),
    ],
)
def test_a_card_refund_is_never_dated_sent_after_now_nor_before_it_was_asked(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    made: datetime,
    dated: date,
) -> None:
    """Stripe's day, clamped as the return's is (`_common.not_after_now`): never after
    the moment the event is applied (5 April, 23:30 at the office), nor before the
    refund was asked of Stripe (10 March)."""
    _invoice, refund_id, stripe_refund_id = _card_refund_pending_since_10_march(
        client, vendor, localstripe, invoice_for
    )
    event = refund_updated_event(localstripe, stripe_refund_id, created=made)
    with time_machine.travel(datetime(2027, 4, 6, 4, 30, tzinfo=UTC), tick=False):
        assert deliver(client, event)["outcome"] == f"refunded: {said(refund_by_id(refund_id))}"
    db.session().expire_all()
    stored = db.session().get(Refund, refund_id)
    assert stored is not None
    assert stored.sent_date == dated
