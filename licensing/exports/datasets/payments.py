"""payments: card payments (with their Stripe ids) and offline payments, one ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from licensing.billing.models import Invoice, Payment, StripeCustomer
from licensing.billing.states import PAYMENT_STATES
from licensing.db import Statement
from licensing.exports.base import (
    DATE,
    DATETIME,
    INTEGER,
    MONEY,
    TEXT,
    Column,
    Dataset,
    Row,
    register,
)
from licensing.exports.columns import CURRENCY, LICENSEE
from licensing.exports.filters import PAID, ExportFilter
from licensing.exports.queries import (
    Listing,
    amount,
    day_of,
    licensee,
    of_licensee,
    payment_paid_between,
)

COLUMNS = (
    Column("payment_id", INTEGER, "The payment's id in the service."),
    Column("invoice_number", TEXT, "The invoice it pays."),
    *LICENSEE,
    Column("method", TEXT, "card, wire, ach or check."),
    Column("state", TEXT, "pending, succeeded, failed, flagged or canceled."),
    CURRENCY,
    Column("amount", MONEY, "Asked for (card) or received (offline)."),
    Column("amount_received", MONEY, "What Stripe reported, when it differed (flagged)."),
    Column("paid_date", DATE, "Day received (offline) or office day Stripe settled it (card)."),
    Column("reference", TEXT, "Bank or check reference (offline)."),
    Column("stripe_payment_intent_id", TEXT, "Stripe PaymentIntent id (card)."),
    Column("stripe_customer_id", TEXT, "The organization's Stripe Customer id (card)."),
    Column("recorded_by", TEXT, "Who recorded it (offline) or started it (card)."),
    Column("created_at", DATETIME, "When it was recorded or started (UTC)."),
    Column("settled_at", DATETIME, "When it was applied to the invoice (UTC)."),
)


def _statement(given: ExportFilter) -> Statement:
    statement: Statement = (
        select(
            Payment.id,
            Invoice.number,
            *licensee(Payment),
            Payment.method,
            Payment.state,
            Payment.currency,
            Payment.amount,
            Payment.amount_received,
            Payment.received_on,
            Payment.reference,
            Payment.stripe_payment_intent_id,
            StripeCustomer.stripe_customer_id,
            Payment.recorded_by,
            Payment.created_at,
            Payment.settled_at,
        )
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .outerjoin(
            StripeCustomer,
            (StripeCustomer.organization_id == Payment.organization_id)
            & (Payment.method == "card"),
        )
    )
    statement = of_licensee(statement, Payment, given, by_state=True)
    if given.date_from or given.date_to:
        statement = statement.where(payment_paid_between(given.date_from, given.date_to))
    return statement


def _row(r: Any) -> Row:
    return (
        r.id,
        r.number,
        r.organization_id,
        r.legal_name,
        r.method,
        r.state,
        r.currency,
        amount(r.amount, r.currency),
        amount(r.amount_received, r.currency),
        r.received_on or day_of(r.settled_at),
        r.reference,
        r.stripe_payment_intent_id,
        r.stripe_customer_id,
        r.recorded_by,
        r.created_at,
        r.settled_at,
    )


LISTING = Listing(_statement, (Payment.id,), _row)

DATASET = register(
    Dataset(
        name="payments",
        title="Payments",
        description="Card payments (with Stripe ids) and offline payments, in the order made.",
        schema_version=1,
        columns=COLUMNS,
        rows=LISTING.rows,
        count=LISTING.count,
        date_bases=(PAID,),
        filters=frozenset({"organization", "state", "currency"}),
        states=PAYMENT_STATES,
        order=30,
    )
)
