"""payments: card payments (with their Stripe ids) and offline payments, one ledger."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.orm import aliased

from licensing.billing.models import (
    Invoice,
    Payment,
    PaymentDispute,
    PaymentReversal,
    StripeCustomer,
)
from licensing.billing.states import PAYMENT_STATES
from licensing.db import Statement
from licensing.exports.base import DATE, DATETIME, INTEGER, MONEY, TEXT, Column
from licensing.exports.columns import (
    BANK_REFERENCE,
    CURRENCY,
    LICENSEE,
    METHOD,
    RECORDED_AT,
    id_of,
    one_of,
)
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import PAID, RECORDED, REVERSED, ExportFilter
from licensing.exports.queries import (
    licensee,
    made_on,
    made_on_days,
    of_licensee,
    on_days,
    person_name,
    recorded_on_days,
)

# The dispute that withdrew a card payment's money, and the one whose reinstated
# money a payment is (each at most one: a unique reversal and reinstatement).
_WITHDREW = aliased(PaymentDispute, name="withdrew")
_REINSTATED = aliased(PaymentDispute, name="reinstated")


def _source(statement: Statement, given: ExportFilter) -> Statement:
    statement = (
        statement.select_from(Payment)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .outerjoin(
            StripeCustomer,
            (StripeCustomer.organization_id == Payment.organization_id)
            & (Payment.method == "card"),
        )
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .outerjoin(_WITHDREW, _WITHDREW.reversal_id == PaymentReversal.id)
        .outerjoin(_REINSTATED, _REINSTATED.reinstatement_id == Payment.id)
    )
    statement = of_licensee(statement, Payment, given, by_state=True)
    if given.date_basis == REVERSED:
        # The Finance page's Reversed: reversals by the day the bank returned them.
        return on_days(statement, PaymentReversal.returned_on, given)
    if given.date_basis == RECORDED:
        # A nightly pull: the payments recorded, applied (a card settled, a flagged
        # one accepted) or reversed on the days, whatever day their money is dated,
        # and since round 33 any other change of status (declined, cancelled,
        # flagged): a ledger mirroring every row no longer keeps them pending.
        changed = (
            Payment.created_at,
            Payment.settled_at,
            PaymentReversal.created_at,
            Payment.status_changed_at,
        )
        return recorded_on_days(statement, changed, given)
    return made_on_days(statement, Payment.received_on, Payment.settled_at, given)


DECLARED = Declared(
    record=Payment,
    table=(
        Field(id_of("payment"), Payment.id),
        Field(Column("invoice_number", TEXT, "The invoice it pays."), Invoice.number),
        *map(Field, LICENSEE, licensee(Payment)),
        METHOD,
        Column("state", TEXT, one_of(PAYMENT_STATES)),
        CURRENCY,
        Column(
            "amount",
            MONEY,
            "Asked for (card; a flagged payment once accepted: what was received and "
            "applied) or received (offline).",
        ),
        Column("amount_received", MONEY, "What Stripe reported, when it differed (flagged)."),
        Field(
            Column(
                "paid_date", DATE, "Day received (offline) or office day Stripe settled it (card)."
            ),
            Payment.received_on,
            made_on,
            (Payment.settled_at,),
        ),
        BANK_REFERENCE,
        Column("stripe_payment_intent_id", TEXT, "Stripe PaymentIntent id (card)."),
        Field(
            Column("stripe_customer_id", TEXT, "The organization's Stripe Customer id (card)."),
            StripeCustomer.stripe_customer_id,
        ),
        Column("recorded_by", TEXT, "Who recorded it (offline) or started it (card)."),
        RECORDED_AT,
        Column("settled_at", DATETIME, "When it was applied to the invoice (UTC)."),
        # A reversed payment counted as collected on its paid date; its reversal
        # counts on `reversed_on` (the Finance page's Reversed; `by=reversed`).
        Field(
            Column("reversed_on", DATE, "Day the bank returned it (state reversed)."),
            PaymentReversal.returned_on,
        ),
        Field(
            Column("reversal_reason", TEXT, "Why it was reversed (state reversed)."),
            PaymentReversal.reason,
        ),
        Field(
            Column("reversed_by", TEXT, "Who reversed it (state reversed)."),
            PaymentReversal.reversed_by,
        ),
        # Round 24: a card payment's dispute. Stripe's withdrawal is the payment's
        # reversal (on `reversed_on`, for `reversed_amount`); money a dispute won
        # reinstates is a payment of its own, paid on the day Stripe gave it back.
        Field(
            Column(
                "reversed_amount",
                MONEY,
                "Amount taken back (state reversed): the payment's amount, or a dispute's "
                "when less was disputed.",
            ),
            PaymentReversal.amount,
        ),
        Field(
            Column(
                "stripe_dispute_id",
                TEXT,
                "Stripe dispute that withdrew its money, or whose reinstated money it is.",
            ),
            func.coalesce(_WITHDREW.stripe_dispute_id, _REINSTATED.stripe_dispute_id),
        ),
        Field(
            Column(
                "reinstates_payment_id",
                INTEGER,
                "The disputed payment whose money Stripe gave back (a dispute won).",
            ),
            _REINSTATED.payment_id,
        ),
        # Round 60 (names60): the names beside `recorded_by` and `reversed_by`, last (so
        # schema_version stays 1: columns are only added at the end).
        Field(
            Column(
                "recorded_by_name",
                TEXT,
                "The name of who recorded or started it (recorded_by is the address as "
                "recorded), as the console names them now; empty for the system and a payer "
                "by an invoice's link without an account.",
            ),
            person_name(Payment.recorded_by_id, Payment.recorded_by),
        ),
        Field(
            Column(
                "reversed_by_name",
                TEXT,
                "The name of who reversed it (state reversed; empty for a dispute's "
                "withdrawal, the system's).",
            ),
            person_name(PaymentReversal.reversed_by_id, PaymentReversal.reversed_by),
        ),
    ),
    source=_source,
    order=(Payment.id,),
)

DATASET = DECLARED.dataset(
    name="payments",
    title="Payments",
    description="Card payments (with Stripe ids) and offline payments, in the order made.",
    schema_version=1,
    date_bases=(PAID, REVERSED, RECORDED),
    filters=frozenset({"organization", "state", "currency"}),
    states=PAYMENT_STATES,
    order=30,
)
