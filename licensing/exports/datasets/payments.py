"""payments: card payments (with their Stripe ids) and offline payments, one ledger."""

from __future__ import annotations

from collections.abc import Generator

from sqlalchemy import select

from licensing.accounts.models import Organization
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
    ExportContext,
    Row,
    register,
)
from licensing.exports.filters import PAID, ExportFilter
from licensing.exports.queries import (
    amount,
    count_rows,
    day_of,
    each,
    matching,
    payment_paid_between,
)

COLUMNS = (
    Column("payment_id", INTEGER, "The payment's id in the service."),
    Column("invoice_number", TEXT, "The invoice it pays."),
    Column("organization_id", INTEGER, "The licensee's id."),
    Column("organization", TEXT, "The licensee's legal name (today's)."),
    Column("method", TEXT, "card, wire, ach or check."),
    Column("state", TEXT, "pending, succeeded, failed, flagged or canceled."),
    Column("currency", TEXT, "ISO 4217 code."),
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
            Payment.organization_id,
            Organization.legal_name,
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
        .join(Organization, Organization.id == Payment.organization_id)
        .outerjoin(
            StripeCustomer,
            (StripeCustomer.organization_id == Payment.organization_id)
            & (Payment.method == "card"),
        )
    )
    statement = matching(
        statement,
        given,
        organization=Payment.organization_id,
        currency=Payment.currency,
        state=Payment.state,
    )
    if given.date_from or given.date_to:
        statement = statement.where(payment_paid_between(given.date_from, given.date_to))
    return statement


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    statement = _statement(given).order_by(Payment.id)
    for r in each(context.session, statement):
        yield (
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


def count(context: ExportContext, given: ExportFilter) -> int:
    return count_rows(context.session, _statement(given))


DATASET = register(
    Dataset(
        name="payments",
        title="Payments",
        description="Card payments (with Stripe ids) and offline payments, in the order made.",
        schema_version=1,
        columns=COLUMNS,
        rows=rows,
        count=count,
        date_bases=(PAID,),
        filters=frozenset({"organization", "state", "currency"}),
        states=PAYMENT_STATES,
        order=30,
    )
)
