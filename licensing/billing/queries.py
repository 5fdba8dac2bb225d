"""Reading invoices, credit notes and payments, scoped to what the caller may see."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, TypedDict, TypeVar, Unpack

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Date,
    Exists,
    Integer,
    ScalarSelect,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    inspect,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    InstrumentedAttribute,
    Session,
    aliased,
    contains_eager,
    joinedload,
    selectinload,
    with_expression,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.functions import FunctionElement

from licensing.access import Principal
from licensing.accounts.models import Organization, name_key
from licensing.accounts.queries import Caller, OwnedGetter, ScopedStatement, scoped
from licensing.audit.models import AuditEvent
from licensing.billing.models import (
    STRIPE_EVENT_KINDS,
    UNKNOWN_INTENT_ACTION,
    UNKNOWN_INTENT_LOOKED_AT_ACTION,
    UNKNOWN_INTENT_RECORD,
    UNKNOWN_INTENT_WITHDRAWN_ACTION,
    UNREADABLE_ACTION,
    UNREADABLE_LOOKED_AT_ACTION,
    CreditNote,
    Invoice,
    InvoiceLinkRevocation,
    Payment,
    PaymentDispute,
    PaymentReversal,
    Refund,
    StripeEvent,
    UnmatchedDispute,
)
from licensing.billing.states import AGREEMENT as AGREEMENT_SOURCE
from licensing.billing.states import (
    CANCELED,
    CARD,
    COLLECTIBLE,
    DRAFT,
    FAILED,
    FLAGGED,
    GIVEN_BACK,
    GIVING_BACK,
    LOST,
    OPEN,
    PENDING,
    RECEIVED,
    REFUND_COUNTED,
    REFUND_SENT,
    SUCCEEDED,
    VOID,
)
from licensing.billing.states import INVOICE as INVOICE_MACHINE
from licensing.billing.states import LATE_FEE as LATE_FEE_SOURCE
from licensing.billing.states import ROYALTY_REPORT as ROYALTY_REPORT_SOURCE
from licensing.calendar import office_date, office_day_start
from licensing.db import Money, OfficeDay, Statement, UTCDateTime, money_sum, money_total
from licensing.errors import NotFound
from licensing.money import beyond_largest, quantize

# A console list's totals of one currency (`by_currency`).
_Total = TypeVar("_Total")


class InvoiceFilters(TypedDict, total=False):
    """What a list of invoices may be narrowed to (see `invoices_query`)."""

    state: str | None
    overdue_on: date | None
    to_pay: bool
    organization_id: int | None
    search: str | None
    issued_only: bool
    # Only those a bank's dispute of their card payment holds on that date (round 50:
    # not asked for, so never overdue; `dispute_holds`), for billing staff.
    held_on: date | None
    # Only those to pay whose due date falls in the week from that date (round 52:
    # the clerk's "due this week"), the soonest due first.
    due_week_of: date | None
    # The search matches the invoice's payments' bank references too (round 52: the
    # console's, where a clerk holds a bank statement line and no invoice number),
    # and, where it reads as an amount, the invoice's total, a payment's or a credit
    # note's (round 56: a licensee on the phone names the sum, not the number).
    search_references: bool
    # Round 56: those billed under one agreement (its number): its up-front invoice,
    # its royalty reports' and the late fees charged on them (the agreement's page
    # links them beside its charged to date).
    agreement_number: str | None
    # Round 57 (creditlist57): one currency's (the Finance page's aging links its
    # overdue balances so, and the list then sums what they owe: `invoice_list_owed`).
    currency: str | None
    # Round 58 (financelinks58): issued on the days (a month's, or the Finance page's
    # range of months: its *Invoiced* and *Voided* link them so, with the state
    # `INVOICED` or `void`), by `issue_date` as the invoices export chooses them.
    issued_days: ListDays | None
    # Round 58: only the invoices of one of the Finance page's balances on a day, with
    # the amount each owed (or was owed back) then: a subquery of `invoice_id` and
    # `amount` (`finance.queries.balances_on`: its *Outstanding* or *Refunds owed* at a
    # period's end, a row of its aging), joined; `invoice_list_owed` sums the amounts.
    # Round 59: a materialized CTE with each invoice's `created_at`, the list's order.
    balances: Any


# "Due this week": the day asked and the six after it.
DUE_WEEK_DAYS = 7

# Round 58: the invoice list's state of the invoices the Finance page's *Invoiced*
# counts: issued and not void (open, paid or uncollectible), offered beside each state.
INVOICED = "invoiced"
INVOICED_WORDS = "Invoiced (issued, not void)"


def invoices(
    session: Session,
    principal: Principal | None = None,
    *,
    limit: int = 500,
    **filters: Unpack[InvoiceFilters],
) -> Sequence[Invoice]:
    """At most `limit` invoices, as `invoices_query` selects them."""
    return session.scalars(invoices_query(principal, **filters).limit(limit)).all()


def invoices_query(
    principal: Principal | None = None, **filters: Unpack[InvoiceFilters]
) -> Select[Any]:
    """Invoices newest first; `overdue_on` keeps those overdue on that date
    (`overdue_on`: past due and asked for, the oldest due first), `held_on` only
    those a dispute holds then (`held_on`: past due or not), `due_week_of` those to
    pay due that day or the six after it (the soonest first), `to_pay`
    those with a balance to pay (open or written off: what stays open with a closed
    organization counts); `issued_only` leaves drafts out (in SQL, so they never
    crowd out the limit)."""
    statement = _invoices_listed(**filters)
    # Refund due and outstanding are read from each invoice's credit notes and
    # their refunds: loaded in two queries for the whole list, not two per row.
    statement = statement.options(
        selectinload(Invoice.credit_notes).selectinload(CreditNote.refunds)
    )
    return scoped(statement, Invoice, principal)


@dataclass(frozen=True)
class ListedOwed:
    """What the invoices a list keeps owe now in one currency (`Invoice.owed`, above
    zero), and how many of them there are; round 58: their totals, those not void
    (the Finance page's *Invoiced*) and those void (*Voided*) apart, and, narrowed to
    a balance on a day (`balances`), what they owed (or were owed back) then."""

    currency: str
    count: int
    owed: Decimal
    invoiced: Decimal = Decimal(0)
    voided: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)


def invoice_list_owed(session: Session, **filters: Unpack[InvoiceFilters]) -> list[ListedOwed]:
    """Round 57: what every invoice `invoices_query` keeps (not only a page's) owes now,
    a currency each, summed by the database: the console's list narrowed to a currency
    says it, so the Finance page's overdue balances, which it links, can be read off
    the rows that make them. Round 58: and their totals (void apart) and their
    amounts of `balances`, the Finance page's other figures."""
    owed = owed_of(Invoice)
    nothing = literal(Decimal(0), Money())
    balances = filters.get("balances")
    statement = (
        _invoices_listed(**filters)
        .with_only_columns(
            Invoice.currency,
            func.count(),
            # Round 68 (journeyF68): what a collectible invoice owes, as its own
            # `balance_due` says it: a void one issued with nothing paid read "The 1
            # invoice listed owes 80.00 USD now" (the Finance page's *Voided* link).
            money_sum(
                case(
                    (and_(Invoice.state.in_(sorted(COLLECTIBLE)), owed > Decimal(0)), owed),
                    else_=nothing,
                )
            ),
            money_sum(case((Invoice.state != VOID, Invoice.total), else_=nothing)),
            money_sum(case((Invoice.state == VOID, Invoice.total), else_=nothing)),
            money_sum(nothing if balances is None else balances.c.amount),
        )
        .order_by(None)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    return by_currency(session, statement, ListedOwed)


def _invoices_listed(**filters: Unpack[InvoiceFilters]) -> Select[Any]:
    """`invoices_query`'s rows and order, without its loading options or scope."""
    statement = select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id.desc())
    if currency := filters.get("currency"):
        statement = statement.where(Invoice.currency == currency)
    if state := filters.get("state"):
        statement = statement.where(
            Invoice.state.not_in((DRAFT, VOID)) if state == INVOICED else Invoice.state == state
        )
    if (days := filters.get("issued_days")) is not None:
        first, last = days
        if first is not None:
            statement = statement.where(Invoice.issue_date >= first)
        if last is not None:
            statement = statement.where(Invoice.issue_date <= last)
    if (balances := filters.get("balances")) is not None:
        # Newest first by the balances' own copy of the order (round 59,
        # balanceplan59: `finance.queries.balances_on`), never by walking the
        # invoices' order index against them.
        statement = (
            statement.join(balances, balances.c.invoice_id == Invoice.id)
            .order_by(None)
            .order_by(balances.c.created_at.desc(), balances.c.invoice_id.desc())
        )
    if filters.get("issued_only"):
        statement = statement.where(Invoice.state != DRAFT)
    if filters.get("to_pay"):
        statement = statement.where(Invoice.state.in_(sorted(COLLECTIBLE)))
    if (day := filters.get("overdue_on")) is not None:
        statement = (
            statement.where(overdue_on(day)).order_by(None).order_by(Invoice.due_date, Invoice.id)
        )
    if (day := filters.get("held_on")) is not None:
        statement = statement.where(Invoice.state.in_(sorted(COLLECTIBLE)), held_on(day))
    if (day := filters.get("due_week_of")) is not None:
        statement = (
            statement.where(due_in_week_of(day))
            .order_by(None)
            .order_by(Invoice.due_date, Invoice.id)
        )
    if (organization_id := filters.get("organization_id")) is not None:
        statement = statement.where(Invoice.organization_id == organization_id)
    if number := filters.get("agreement_number"):
        statement = statement.where(billed_under(number))
    if search := filters.get("search"):
        pattern = f"%{search.strip()}%"
        matches = Invoice.number.ilike(pattern) | Organization.name_contains(search)
        if filters.get("search_references"):
            matches = matches | (
                select(Payment.id)
                .where(Payment.invoice_id == Invoice.id, Payment.reference.ilike(pattern))
                .exists()
            )
            if (amount := searched_amount(search)) is not None:
                matches = matches | _of_amount(amount)
        statement = statement.join(Organization, Organization.id == Invoice.organization_id).where(
            matches
        )
    return statement


def billed_under(number: str) -> ColumnElement[bool]:
    """Invoices billed under the agreement numbered `number`: the up-front invoice
    (its reference is the number), its royalty reports' (the number, a space and the
    period's start) and the late fees charged on either."""
    charged = aliased(Invoice)
    late_fee_on = select(charged.id).where(_billed_directly(charged, number)).scalar_subquery()
    return _billed_directly(Invoice, number) | (
        (Invoice.source_type == LATE_FEE_SOURCE) & Invoice.source_id.in_(late_fee_on)
    )


def trail_under(session: Session, number: str) -> list[tuple[str, int]]:
    """The billing records in the audit trail of the agreement numbered `number`
    (round 66: its page's history held the agreement's own three events): the
    invoices billed under it (`billed_under`), their payments and credit notes, and
    those credit notes' refunds, as (entity type, id) pairs."""
    invoices = list(
        session.scalars(select(Invoice.id).where(billed_under(number)).order_by(Invoice.id))
    )
    if not invoices:
        return []
    payments = session.scalars(
        select(Payment.id).where(Payment.invoice_id.in_(invoices)).order_by(Payment.id)
    ).all()
    credits = session.scalars(
        select(CreditNote.id).where(CreditNote.invoice_id.in_(invoices)).order_by(CreditNote.id)
    ).all()
    refunds = (
        session.scalars(
            select(Refund.id).where(Refund.credit_note_id.in_(credits)).order_by(Refund.id)
        ).all()
        if credits
        else []
    )
    return [
        *(("invoice", invoice_id) for invoice_id in invoices),
        *(("payment", payment_id) for payment_id in payments),
        *(("credit_note", credit_id) for credit_id in credits),
        *(("refund", refund_id) for refund_id in refunds),
    ]


def _billed_directly(invoice: type[Invoice], number: str) -> ColumnElement[bool]:
    """`invoice` (the table or an alias) is the agreement's up-front or a royalty
    report's under it."""
    up_front = (invoice.source_type == AGREEMENT_SOURCE) & (invoice.source_reference == number)
    royalty = (invoice.source_type == ROYALTY_REPORT_SOURCE) & invoice.source_reference.startswith(
        f"{number} ", autoescape=True
    )
    return up_front | royalty


# An amount as a clerk types one a licensee reads out: an optional currency sign or
# code, digits grouped by commas or not, at most four decimal places.
_AMOUNT_SEARCHED = re.compile(
    r"^(?:[$€£]|[A-Za-z]{3})?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,4})?\s*(?:[A-Za-z]{3})?$"
)


def searched_amount(search: str) -> Decimal | None:
    """The amount a search reads as ("14,400.00", "$14400", "14400.00 USD"), or None
    when it is no amount (an invoice number, a name, a reference)."""
    found = _AMOUNT_SEARCHED.match(search.strip())
    if found is None:
        return None
    amount = Decimal(found.group(1).replace(",", "") + (found.group(2) or ""))
    return None if beyond_largest(amount) else amount


def _of_amount(amount: Decimal) -> ColumnElement[bool]:
    """Invoices whose total is `amount`, or with a payment or a credit note of it."""
    return (
        (Invoice.total == amount)
        | select(Payment.id)
        .where(Payment.invoice_id == Invoice.id, Payment.amount == amount)
        .exists()
        | select(CreditNote.id)
        .where(CreditNote.invoice_id == Invoice.id, CreditNote.amount == amount)
        .exists()
    )


def upfront_invoice(session: Session, agreement_id: int) -> Invoice | None:
    """The invoice issued when the agreement became active, for what was due up front
    (none when every line is charged on reported usage). At most one is issued
    (`services.invoice_activated_agreement`; the index `uq_invoices_one_per_source`).
    Billing's acceptance and the agreements package's pages both read it here."""
    return session.scalars(
        select(Invoice).where(
            Invoice.source_type == AGREEMENT_SOURCE, Invoice.source_id == agreement_id
        )
    ).one_or_none()


# One record by id, if the caller may see it (`NotFound` otherwise).
get_invoice = OwnedGetter(Invoice, "invoice")
get_credit_note = OwnedGetter(CreditNote, "credit note")
get_refund = OwnedGetter(Refund, "refund")
get_payment = OwnedGetter(Payment, "payment")


def refunds(
    session: Session, principal: Principal | None = None, *, credit_note_id: int | None = None
) -> Sequence[Refund]:
    return session.scalars(_newest_first(Refund, principal, credit_note_id=credit_note_id)).all()


def credit_notes(
    session: Session, principal: Principal | None = None, *, invoice_id: int | None = None
) -> Sequence[CreditNote]:
    return session.scalars(_newest_first(CreditNote, principal, invoice_id=invoice_id)).all()


def credit_notes_query(
    principal: Principal | None = None, *, invoice_id: int | None = None
) -> Select[Any]:
    """Every credit note the caller may see, newest first (id descending): a vendor
    its organization's, staff every one (`GET /api/v1/credit-notes`, round 40); or
    one invoice's (`GET /api/v1/invoices/{id}/credit-notes`, round 42). Each note's
    refunds come with the page, in one statement, not one a note (the answer's
    `refund_outstanding` reads them)."""
    return _newest_first(CreditNote, principal, invoice_id=invoice_id).options(
        selectinload(CreditNote.refunds), *owed_back_options()
    )


def owed_back_options() -> tuple[Any, ...]:
    """Loader options for credit notes whose `refund_outstanding` is read: each note's
    invoice with its credit notes and their refunds (what it owes back is the
    invoice's, round 53), in one statement each for a whole list, not a note."""
    return (
        selectinload(CreditNote.invoice)
        .selectinload(Invoice.credit_notes)
        .selectinload(CreditNote.refunds),
    )


def payer_records(
    session: Session, invoice: Invoice
) -> tuple[Sequence[Payment], Sequence[CreditNote]]:
    """The payments and credit notes of `invoice`, newest first, as its payer's pages
    show them. The caller already holds the invoice (the owner's getter, or the
    emailed link's token), so its own records are read by it: the link's reader is
    no user, and scoping by caller once hid them all from that page. Each payment's
    reversal and each credit note's refunds come in one statement, not one a row,
    and the invoice's refund totals are given the same credit notes."""
    payments = session.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice.id)
        .order_by(Payment.id.desc())
        .options(selectinload(Payment.reversal))
    ).all()
    credit_notes = session.scalars(
        select(CreditNote)
        .where(CreditNote.invoice_id == invoice.id)
        .order_by(CreditNote.id.desc())
        .options(selectinload(CreditNote.refunds))
    ).all()
    set_committed_value(invoice, "credit_notes", list(reversed(credit_notes)))
    return payments, credit_notes


def late_fees_of(session: Session, invoice_id: int) -> Sequence[Invoice]:
    """The late-fee invoices issued on an overdue invoice, oldest first: what
    the licensee owes besides it, for billing staff working the receivables."""
    return session.scalars(
        select(Invoice)
        .where(Invoice.parent_invoice_id == invoice_id, Invoice.number.is_not(None))
        .order_by(Invoice.issue_date, Invoice.id)
    ).all()


def link_withdrawals(session: Session, invoice_id: int) -> Sequence[InvoiceLinkRevocation]:
    """When, by whom and why the invoice's emailed links were withdrawn, oldest first."""
    return session.scalars(
        select(InvoiceLinkRevocation)
        .where(InvoiceLinkRevocation.invoice_id == invoice_id)
        .order_by(InvoiceLinkRevocation.generation)
    ).all()


class PaymentFilters(TypedDict, total=False):
    """What a list of payments may be narrowed to: one invoice's, or one state."""

    invoice_id: int | None
    state: str | None


def payments(
    session: Session, principal: Principal | None = None, **filters: Unpack[PaymentFilters]
) -> Sequence[Payment]:
    return session.scalars(payments_query(principal, **filters)).all()


@dataclass(frozen=True)
class PaymentStory:
    """One payment and what happened to its money, for its console page: the
    refunds counted against it, its reversal, the disputes of its charge, and the
    dispute whose reinstated money it is (a dispute won)."""

    payment: Payment
    refunds: Sequence[Refund]
    disputes: Sequence[PaymentDispute]
    reinstates: PaymentDispute | None
    # A flagged or given-back card payment's money: taken, held, given back.
    taken: MoneyTaken | None = None


@dataclass(frozen=True)
class MoneyTaken:
    """What became of the money Stripe took for a card payment that never counted
    (round 38: its page said "not received"), from its audit events: when it was
    taken and flagged (its first `payment.flagged`), when and how much went back
    to the card (its latest `payment.given_back`), and when Stripe reported that
    give-back failed (`payment.give_back_failed`, only if after it).

    Round 42: a payment being given back (`giving_back`) says since when
    (`asked_at`, its latest `payment.give_back_asked`); one flagged again after a
    give-back that failed before it went (in flight) or that Stripe refused says
    when it was tried (`tried_at`, the ask) and when it failed (`failed_at`, with
    `in_flight`) or was refused (`refused_at`). A give-back that failed after it
    went keeps round 37's words: `tried_at` is the day it was given back."""

    taken_at: datetime | None
    given_back_at: datetime | None = None
    given_back: Decimal | None = None
    given_back_currency: str | None = None
    stripe_refund_id: str | None = None
    failed_at: datetime | None = None
    asked_at: datetime | None = None
    tried_at: datetime | None = None
    in_flight: bool = False
    refused_at: datetime | None = None


GIVE_BACK_FAILED = ("payment.give_back_failed", "payment.give_back_failed_in_flight")
_MONEY_TAKEN_EVENTS = (
    "payment.flagged",
    "payment.give_back_asked",
    "payment.given_back",
    "payment.give_back_refused",
    *GIVE_BACK_FAILED,
)


def money_taken(session: Session, payment: Payment) -> MoneyTaken | None:
    """For a flagged, given-back or being-given-back card payment, what Stripe did
    with its money (`MoneyTaken`); None for any other payment (its money is
    received, or none moved)."""
    if payment.method != CARD or payment.state not in (FLAGGED, GIVEN_BACK, GIVING_BACK):
        return None
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity_type == "payment",
            AuditEvent.entity_id == str(payment.id),
            AuditEvent.action.in_(_MONEY_TAKEN_EVENTS),
        )
        .order_by(AuditEvent.seq)
    ).all()
    taken_at = next((e.occurred_at for e in events if e.action == "payment.flagged"), None)
    given = next((e for e in reversed(events) if e.action == "payment.given_back"), None)
    asked = next((e for e in reversed(events) if e.action == "payment.give_back_asked"), None)
    last = events[-1] if events else None
    if payment.state == GIVING_BACK:
        return MoneyTaken(taken_at, asked_at=asked.occurred_at if asked else None)
    if given is None or (payment.state == FLAGGED and asked is not None and asked.seq > given.seq):
        # Never given back, or flagged again after a later ask: what became of it.
        if last is None or asked is None or last.seq < asked.seq:
            return MoneyTaken(taken_at)
        if last.action in GIVE_BACK_FAILED:
            return MoneyTaken(
                taken_at, failed_at=last.occurred_at, tried_at=asked.occurred_at, in_flight=True
            )
        if last.action == "payment.give_back_refused":
            return MoneyTaken(taken_at, refused_at=last.occurred_at, tried_at=asked.occurred_at)
        return MoneyTaken(taken_at)
    after = given.after_data if isinstance(given.after_data, dict) else {}
    amount, currency = after.get("amount_given_back"), after.get("currency_given_back")
    failed = next((e for e in reversed(events) if e.action == "payment.give_back_failed"), None)
    failed_at = failed.occurred_at if failed is not None and failed.seq > given.seq else None
    return MoneyTaken(
        taken_at,
        given_back_at=given.occurred_at,
        given_back=Decimal(amount) if isinstance(amount, str) else None,
        given_back_currency=currency.upper() if isinstance(currency, str) else None,
        stripe_refund_id=after.get("stripe_refund_id"),
        failed_at=failed_at,
        tried_at=given.occurred_at if failed_at else None,
    )


def payment_story(session: Session, payment_id: int) -> PaymentStory:
    payment = session.scalars(
        select(Payment)
        .where(Payment.id == payment_id)
        .options(joinedload(Payment.invoice), joinedload(Payment.reversal))
    ).one_or_none()
    if payment is None:
        raise NotFound(f"There is no payment {payment_id}.")
    refunds = session.scalars(
        select(Refund)
        .where(Refund.payment_id == payment_id)
        .options(joinedload(Refund.credit_note))
        .order_by(Refund.id)
    ).all()
    disputes = session.scalars(
        disputes_query().where(
            or_(
                PaymentDispute.payment_id == payment_id,
                PaymentDispute.reinstatement_id == payment_id,
            )
        )
    ).all()
    reinstates = next((d for d in disputes if d.reinstatement_id == payment_id), None)
    own = [dispute for dispute in disputes if dispute.payment_id == payment_id]
    return PaymentStory(payment, refunds, own, reinstates, money_taken(session, payment))


def banks_words(session: Session, listed: Sequence[Payment]) -> dict[int, str]:
    """For each declined card attempt of `listed`, the bank's words, as its
    `payment.declined` audit event recorded them (one query for the list). An
    attempt closed before the closing kept them holds the office's note instead."""
    declined = {str(payment.id): payment.id for payment in listed if payment.declined}
    if not declined:
        return {}
    events = session.execute(
        select(AuditEvent.entity_id, AuditEvent.note)
        .where(
            AuditEvent.entity_type == "payment",
            AuditEvent.entity_id.in_(sorted(declined)),
            AuditEvent.action == "payment.declined",
        )
        .order_by(AuditEvent.id)
    )
    return {declined[entity_id]: note for entity_id, note in events if note}


def payments_query(
    principal: Principal | None = None, **filters: Unpack[PaymentFilters]
) -> Select[Any]:
    """Payments newest first, of one invoice or in one state."""
    return _newest_first(Payment, principal, **filters)


def _newest_first(
    model: type[Payment | CreditNote | Refund], principal: Principal | None, **equal: object
) -> Select[Any]:
    """`model`'s rows newest first, where each column named equals its value (None or
    an empty string: that column does not filter), as far as `principal` may see."""
    wanted = {column: value for column, value in equal.items() if value not in (None, "")}
    return scoped(select(model).order_by(model.id.desc()).filter_by(**wanted), model, principal)


def disputed_charge(*states: str) -> ColumnElement[bool]:
    """Payments whose charge has a dispute in one of `states` (round 44: an open or
    lost one holds a flagged payment's accept and give-back back)."""
    return (
        select(PaymentDispute.id)
        .where(PaymentDispute.payment_id == Payment.id, PaymentDispute.state.in_(states))
        .exists()
    )


def lost_in_full() -> ColumnElement[bool]:
    """Payments whose charge's dispute was lost for all the payment received (or in
    another currency): nothing is left of its money (round 47; a dispute lost of part
    of a flagged payment's charge leaves its remainder to accept, `Payment.remainder`)."""
    return (
        select(PaymentDispute.id)
        .where(
            PaymentDispute.payment_id == Payment.id,
            PaymentDispute.state == LOST,
            or_(
                PaymentDispute.amount >= func.coalesce(Payment.amount_received, 0),
                func.upper(PaymentDispute.currency) != func.upper(Payment.currency),
            ),
        )
        .exists()
    )


def _to_review() -> tuple[ColumnElement[bool], ...]:
    """Card payments to review: flagged, and (round 42) being given back, whose
    Stripe answer staff may be waiting on; not (round 44) a flagged payment whose
    charge's dispute was lost, with nothing left to accept or give back (round 47:
    one lost of part of it stays, its remainder to accept)."""
    return (Payment.state.in_((FLAGGED, GIVING_BACK)), ~lost_in_full())


def flagged_payments_query() -> Select[Any]:
    """The card payments to review (`_to_review`), newest first (the id last, unique),
    their disputes loaded with them (what each line says of its dispute): round 49,
    for `paging.read_page` and the invoice list's newest few. Round 50: their invoices
    too (a remainder's line says what its invoice still owes of it)."""
    return (
        select(Payment)
        .where(*_to_review())
        .order_by(Payment.id.desc())
        .options(selectinload(Payment.disputes), selectinload(Payment.invoice))
    )


def flagged_payments(session: Session, limit: int) -> Sequence[Payment]:
    """The newest `limit` card payments to review (the invoice list's panel: round 49,
    it read every one)."""
    return session.scalars(flagged_payments_query().limit(limit)).all()


def flagged_payment_count(session: Session) -> int:
    """How many card payments there are to review, counted in SQL."""
    return int(session.scalar(select(func.count()).select_from(Payment).where(*_to_review())) or 0)


def organization_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Organization.id, Organization.legal_name).where(Organization.id.in_(ids))
    )
    return {row.id: row.legal_name for row in rows}


def _balance_due() -> ColumnElement[Decimal]:
    """`Invoice.owed` in SQL: the balance due of an invoice still collectible, when
    above zero (the refunds sent count, round 53)."""
    return owed_of(Invoice)


def owed_of(invoice: Any) -> ColumnElement[Decimal]:
    """`Invoice.owed` of `invoice` (the entity or an alias) in SQL: its total less
    payments and credit notes, plus the refunds sent (round 53)."""
    owed = invoice.total - invoice.amount_paid - invoice.amount_credited + invoice.amount_refunded
    return type_coerce(owed, Money())


# An organization's invoices still owed (collectible), oldest due first. Kept per
# process, the organization and the window bound parameters: the vendor dashboard
# asks on every visit, and a statement built per call also pays for its cache key.
_OWED = (
    Invoice.organization_id == bindparam("organization_id"),
    Invoice.state.in_(sorted(COLLECTIBLE)),
)
_OLDEST_OWED = (
    select(Invoice)
    .where(*_OWED)
    .order_by(Invoice.due_date, Invoice.id)
    .limit(bindparam("limit", type_=Integer))
)
# `Invoice.balance_due` of a collectible invoice, never below zero, in SQL.
_OWED_BALANCE = case((_balance_due() > Decimal(0), _balance_due()), else_=Decimal(0))
_OWED_SUMS = (
    select(Invoice.currency, func.count(), money_sum(_OWED_BALANCE))
    .where(*_OWED)
    .group_by(Invoice.currency)
    .order_by(Invoice.currency)
)


@dataclass(frozen=True)
class Outstanding:
    """An organization's invoices still owed: the oldest due (as many as asked for),
    how many there are in all, and the balance due in each currency (at the
    currency's digits), read by the database."""

    oldest: Sequence[Invoice]
    count: int
    balances: dict[str, Decimal]


def outstanding_balances(session: Session, organization_id: int) -> tuple[int, dict[str, Decimal]]:
    """How many invoices the organization still owes, and the balance due on them in
    each currency (the currency's digits): one statement, however many there are."""
    rows = session.execute(_OWED_SUMS, {"organization_id": organization_id}).all()
    balances = {currency: quantize(total or Decimal(0), currency) for currency, _, total in rows}
    return sum(count for _, count, _ in rows), balances


def outstanding(session: Session, organization_id: int, limit: int) -> Outstanding:
    """The organization's `limit` invoices still owed that are due soonest (the
    oldest due first, then by id), with the count and balances of them all
    (`outstanding_balances`): two statements, whatever the number owed."""
    oldest = session.scalars(
        _OLDEST_OWED, {"organization_id": organization_id, "limit": limit}
    ).all()
    count, sums = outstanding_balances(session, organization_id)
    return Outstanding(oldest, count, sums)


def overdue_on(today: date) -> ColumnElement[bool]:
    """What "overdue" means everywhere an invoice is listed, counted or chased as
    overdue (round 50: the portal's list, the API's `overdue` filter, the console's
    list and its home's count; round 51: the overdue run's reminders, late fees and
    standing too, which had a rule of their own): still owed, past its due date, and
    not held by a bank's dispute of its card payment (`held_on`)."""
    return and_(Invoice.state.in_(sorted(COLLECTIBLE)), Invoice.due_date < today, ~held_on(today))


def _holding(today: date) -> ColumnElement[bool]:
    """The one rule of a dispute holding its invoice on `today`, for `held_on` (SQL)
    and `dispute_holds` (the pages' records): the dispute is open (the office is
    contesting the money with the bank), or it was lost and its balance is owed again
    on `today` or later. `owed_again_on` is the balance's new due date (the close
    plus the invoice's payment terms), and like any due date the balance is overdue
    only the day after it: until round 51 the overdue run held it through that day
    (`owed_again_on >= today`) while the lists and the payer's pages called it
    overdue on the day itself (`> today`)."""
    return or_(PaymentDispute.state == OPEN, PaymentDispute.owed_again_on >= today)


def due_in_week_of(today: date) -> ColumnElement[bool]:
    """What "due this week" means on the console's list and its home (round 52): still
    owed, due `today` or in the six days after it."""
    return and_(
        Invoice.state.in_(sorted(COLLECTIBLE)),
        Invoice.due_date >= today,
        Invoice.due_date < today + timedelta(days=DUE_WEEK_DAYS),
    )


def held_on(today: date) -> Exists:
    """`dispute_holds`' rule in SQL (`_holding`): the invoice's card payment is
    disputed by the bank (the dispute open), or a lost dispute's balance is owed again
    on `today` or later: not overdue, not chased."""
    return (
        select(PaymentDispute.id)
        .where(PaymentDispute.invoice_id == Invoice.id, _holding(today))
        .exists()
    )


@dataclass(frozen=True)
class FirstAndRest:
    """Invoices the oldest due first (as many as asked for), and how many more there
    are with the balance due on them (the currency's digits), read by the database."""

    named: Sequence[Invoice]
    more: int
    more_balance: Decimal


def _first_and_rest(
    session: Session, where: tuple[ColumnElement[bool], ...], limit: int, currency: str
) -> FirstAndRest:
    """The `limit` invoices matching `where` due first (then by id), and the count and
    balance of the rest: two statements, however many match."""
    order = (Invoice.due_date, Invoice.id)
    named = session.scalars(select(Invoice).where(*where).order_by(*order).limit(limit)).all()
    rest = (
        select(_OWED_BALANCE.label("balance"))
        .where(*where)
        .order_by(*order)
        .offset(limit)
        .subquery()
    )
    more, balance = session.execute(select(func.count(), money_sum(rest.c.balance))).one()
    return FirstAndRest(named, more, quantize(balance or Decimal(0), currency))


@dataclass(frozen=True)
class PastDueNamed:
    """What the monthly statement's email says is past due in its currency: those
    overdue, and apart from them those a bank's dispute of their card payment holds
    (not asked for), each the oldest due first and the rest counted."""

    overdue: FirstAndRest
    held: FirstAndRest


def past_due_named(
    session: Session, organization_id: int, currency: str, today: date, limit: int
) -> PastDueNamed:
    """The organization's invoices in `currency` still owed and due before `today`
    (round 49: asked of the database), bounded (round 50: the email named every
    overdue invoice, hundreds for some organizations): of those not held by a dispute
    and of those held, the `limit` due first, and the count and balance of the rest,
    in SQL. Four statements, however many are past due."""
    where = (
        Invoice.organization_id == organization_id,
        Invoice.state.in_(sorted(COLLECTIBLE)),
        Invoice.currency == currency,
        Invoice.due_date < today,
    )
    held = held_on(today)
    return PastDueNamed(
        _first_and_rest(session, (*where, ~held), limit, currency),
        _first_and_rest(session, (*where, held), limit, currency),
    )


def owes_any(organization_id: ColumnElement[int], _now: ColumnElement[datetime]) -> Exists:
    """Whether `outstanding` finds any invoice, as SQL: the vendor dashboard asks
    it with the other features' conditions before reading the invoices."""
    return (
        select(Invoice.id)
        .where(Invoice.organization_id == organization_id, Invoice.state.in_(sorted(COLLECTIBLE)))
        .exists()
    )


def disputed_on(day: date) -> ColumnElement[bool]:
    """Invoices with a dispute of one of their card payments open at the end of
    `day` (the bank's dispute reached Stripe by then, by Stripe's `created`, and it
    was not closed by then): the office is contesting that balance with the bank
    (the receivables export's `disputed`)."""
    return _dispute_standing(day)


def not_chased_on(day: date) -> ColumnElement[bool]:
    """Invoices not owed on `day` because of a dispute of one of their card payments:
    one open at the end of the day (`disputed_on`), or one lost by then whose
    balance is owed again only after it (`owed_again_on`). Finance counts their
    balances apart from those aged by days past due (the Finance page's aging, its
    monthly report, the receivables export's `aging_bucket`). On the day owed again
    itself the balance is owed, aged from that day (0 days past due, as an invoice on
    its due date), and not yet overdue (`overdue_on`), so not chased.

    Round 55 (statements55): also one lost by then that took money the invoice had
    counted (`reversal_id`) but set no day owed again, the invoice owing nothing at its
    close (a credit note in full booked before Stripe's word of the dispute arrived,
    the money withdrawn on a day before the note), while the invoice was not reopened
    since, by the end of `day`: nothing was asked for again, so the balance it owed by
    the bank's days between the withdrawal and the note was never chased. It aged from
    its due date (1-30 days on the page and in the export alike), as if chased.

    Round 62 (asof62): "not reopened since" is read as booked by the end of `day`
    (the reopening the last taken by then, `last_step_before`), a decision on the day
    the office took it. It was today's state (not open or written off): a past day's
    balance turned chased when the invoice was reopened afterwards, and not chased
    again when it was voided or paid later."""
    reopened = last_step_before("reopen", office_day_start(day + timedelta(days=1)))
    never_owed_again = and_(
        PaymentDispute.state == LOST,
        PaymentDispute.reversal_id.is_not(None),
        PaymentDispute.owed_again_on.is_(None),
        or_(reopened.is_(None), reopened < PaymentDispute.closed_at),
    )
    return _dispute_standing(day, PaymentDispute.owed_again_on > day, never_owed_again)


def _dispute_standing(day: date, *or_closed_but: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether the invoice has a dispute told of by the end of `day` and not closed
    by then (or closed, but meeting `or_closed_but`)."""
    day_ends = office_day_start(day + timedelta(days=1))
    return (
        select(PaymentDispute.id)
        .where(
            PaymentDispute.invoice_id == Invoice.id,
            PaymentDispute.disputed_at < day_ends,
            or_(
                PaymentDispute.closed_at.is_(None),
                PaymentDispute.closed_at >= day_ends,
                *or_closed_but,
            ),
        )
        .exists()
    )


def owed_again_by(day: date) -> ScalarSelect[date | None]:
    """The invoice's latest day owed again after a dispute lost by the end of `day`
    (else NULL; it may be after `day`): its balance ages from that day, not from the
    issued due date, as the overdue run chases it (`chased`)."""
    day_ends = office_day_start(day + timedelta(days=1))
    return (
        select(func.max(PaymentDispute.owed_again_on))
        .where(PaymentDispute.invoice_id == Invoice.id, PaymentDispute.closed_at < day_ends)
        .scalar_subquery()
    )


def owed_since(due_date: date, owed_again_on: date | None) -> date:
    """The day a balance is aged from: its due date, or the later day it was owed
    again after a dispute lost (`owed_again_by`)."""
    return max(due_date, owed_again_on) if owed_again_on else due_date


def disputes_query(*, invoice_id: int | None = None, state: str | None = None) -> Select[Any]:
    """Disputes, those open first, the evidence due soonest first (the most urgent
    to answer), then the closed ones, the latest closed first; one invoice's when
    `invoice_id` is given, in one state when `state` is."""
    statement = select(PaymentDispute).options(
        joinedload(PaymentDispute.invoice), joinedload(PaymentDispute.payment)
    )
    if invoice_id is not None:
        statement = statement.where(PaymentDispute.invoice_id == invoice_id)
    if state:
        statement = statement.where(PaymentDispute.state == state)
    is_closed = case((PaymentDispute.state == OPEN, 0), else_=1)
    return statement.order_by(
        is_closed,
        case((PaymentDispute.state == OPEN, PaymentDispute.evidence_due_by)).asc(),
        PaymentDispute.closed_at.desc(),
        PaymentDispute.id.desc(),
    )


def disputes(session: Session, *, invoice_id: int | None = None) -> list[PaymentDispute]:
    """Disputes for the console, in `disputes_query`'s order."""
    return list(session.scalars(disputes_query(invoice_id=invoice_id)))


def get_dispute(session: Session, dispute_id: int) -> PaymentDispute:
    dispute = session.get(PaymentDispute, dispute_id)
    if dispute is None:
        raise NotFound(f"There is no dispute {dispute_id}.")
    return dispute


def unmatched_disputes_query() -> Select[Any]:
    """Disputes whose card payment was not found, still waiting, the oldest first."""
    return (
        select(UnmatchedDispute)
        .where(UnmatchedDispute.matched_at.is_(None))
        .order_by(UnmatchedDispute.first_seen_at, UnmatchedDispute.id)
    )


def disputed_invoice_ids(session: Session, invoice_ids: set[int]) -> set[int]:
    """Of `invoice_ids`, those with a dispute open (one statement for a list page)."""
    if not invoice_ids:
        return set()
    return set(
        session.scalars(
            select(PaymentDispute.invoice_id).where(
                PaymentDispute.invoice_id.in_(sorted(invoice_ids)), PaymentDispute.state == OPEN
            )
        )
    )


def dispute_holds(
    session: Session, invoice_ids: set[int], today: date
) -> dict[int, PaymentDispute]:
    """Of `invoice_ids`, those a dispute of their card payment holds today
    (`_holding`, `held_on`'s rule), with that dispute: one open (the office is
    contesting the money with the bank and does not ask for it), else one lost whose
    balance is owed again today or later (`owed_again_on`: "please pay it by ...").
    What the payer's pages and the console's rows say instead of "overdue"; one
    statement for a list."""
    if not invoice_ids:
        return {}
    statement = select(PaymentDispute).where(
        PaymentDispute.invoice_id.in_(sorted(invoice_ids)), _holding(today)
    )
    holds: dict[int, PaymentDispute] = {}
    # An open dispute outranks a lost one of the same invoice: it is what is happening now.
    for dispute in session.scalars(statement.order_by(PaymentDispute.id)):
        held = holds.get(dispute.invoice_id)
        if held is None or (dispute.is_open and not held.is_open):
            holds[dispute.invoice_id] = dispute
    return holds


def open_disputes_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(PaymentDispute.state == OPEN)) or 0


def open_disputes(session: Session, invoice_id: int) -> list[PaymentDispute]:
    """The open disputes of the invoice's card payments, oldest first."""
    return list(
        session.scalars(
            select(PaymentDispute)
            .where(PaymentDispute.invoice_id == invoice_id, PaymentDispute.state == OPEN)
            .order_by(PaymentDispute.id)
        )
    )


# --- money collected and reversed in a period (the Finance page, its report, exports) --
#
# One definition of each, used by every figure that counts money by day: the Finance
# page's Collected and Reversed, outstanding at a past date (the page, its aging and
# top licensees, the monthly report) and the receivables export. A payment counts as
# collected on the day the money came (`paid_between`), whether it stands or the bank
# returned it later; a reversal counts on the day the bank returned it. So a closed
# period's figures never change when a payment made in it is reversed afterwards, and
# reconcile with the bank statement, which shows the money in, then out.


def paid_between(
    day: Any, settled_at: Any, start: date | None, end: date | None
) -> ColumnElement[bool]:
    """Money moved within start..end, both included (either may be open): on its
    `day` when one was recorded (offline), else on the office day Stripe settled it
    (`settled_at`). Python reads the same day with `Payment.paid_date`."""
    offline: list[ColumnElement[bool]] = [day.is_not(None)]
    card: list[ColumnElement[bool]] = [day.is_(None), settled_at.is_not(None)]
    if start:
        offline.append(day >= start)
        card.append(settled_at >= office_day_start(start))
    if end:
        offline.append(day <= end)
        card.append(settled_at < office_day_start(end + timedelta(days=1)))
    return or_(and_(*offline), and_(*card))


def collected_between(start: date | None, end: date | None) -> ColumnElement[bool]:
    """Payments collected from `start` to `end` (by paid date): those that succeeded,
    and those reversed since (the money came that day; its reversal is counted on
    the day the bank returned it, `reversed_between`)."""
    return and_(
        Payment.state.in_(RECEIVED),
        paid_between(Payment.received_on, Payment.settled_at, start, end),
    )


def refunded_between(start: date | None, end: date | None) -> ColumnElement[bool]:
    """Refunds sent from `start` to `end`, by the day sent (`sent_on`: an offline
    refund's, a card refund's Stripe's day since round 56; else the office day it was
    confirmed, `settled_at`): those that succeeded, and
    (round 54) those the card's bank returned since, as `collected_between` counts a
    payment reversed since: the money went that day, and its return is an event of
    its own day (`refund_returned_between`), so a past period never changes when a
    refund sent in it is returned later. The Finance page's *Refunded*, the refunds
    export and an invoice's balance on a day count them so (round 53: an invoice's
    balance on a day counts those sent by then)."""
    return and_(
        Refund.state.in_(REFUND_SENT),
        Refund.settled_at.is_not(None),
        paid_between(Refund.sent_on, Refund.settled_at, start, end),
    )


def refund_returned_at() -> ColumnElement[datetime]:
    """When a refund sent was returned by the card's bank (Stripe's `refund.failed`
    after it succeeded), NULL for any other: its `failed_at`, stamped when the webhook
    (or the hourly reconciliation) recorded the failure. A refund failed before
    `failed_at` was stored and with no `refund.failed` in the audit log to backfill it
    from (`billing_0014`) has none: it is dated the moment it was confirmed sent, so
    it nets to nothing on its own day, as every figure counted it before round 54."""
    returned = and_(Refund.state == FAILED, Refund.settled_at.is_not(None))
    return case((returned, func.coalesce(Refund.failed_at, Refund.settled_at)))


def refund_returned_between(start: date | None, end: date | None) -> ColumnElement[bool]:
    """Refunds sent and then returned by the bank from `start` to `end`, whenever they
    were sent (round 54: `refunded_between` counts them on the day sent, this on the
    day returned, as `reversed_between` a payment's return): an offline refund on the
    day the bank returned it, as billing staff recorded it (`Refund.returned_on`,
    round 55), a card refund on Stripe's day (`returned_on` too, round 56), or, returned
    before round 56, on the office day its return was recorded (`refund_returned_at`).
    Python reads the same day with `Refund.returned_date`."""
    returned = refund_returned_at()
    return and_(returned.is_not(None), paid_between(Refund.returned_on, returned, start, end))


def reversed_between(start: date | None, end: date | None) -> ColumnElement[bool]:
    """Payment reversals from `start` to `end`, by the day the bank returned the
    money (`PaymentReversal.returned_on`), whenever the reversal was recorded."""
    found: list[ColumnElement[bool]] = []
    if start:
        found.append(PaymentReversal.returned_on >= start)
    if end:
        found.append(PaymentReversal.returned_on <= end)
    return and_(true(), *found)


# --- what period an invoice bills (for the copyright year of its documents) ----------

# Given the column of an invoice's `source_id`, the first day its source bills, as
# a scalar subquery correlated to that column (NULL when there is no such source).
PeriodStartOf = Callable[[ColumnElement[int | None]], ScalarSelect[date]]
_PERIOD_STARTS: dict[str, PeriodStartOf] = {}
# `billed_from()`'s expression and the statement reading it for one invoice, built
# on first use (once every package has registered its source) and again after a
# registration.
_BUILT: dict[str, Any] = {}


def period_start_for(source_type: str) -> Callable[[PeriodStartOf], PeriodStartOf]:
    """Register how to find the first day billed by invoices of `source_type`, as a
    subquery on their `source_id` column (the package that invoices registers it:
    billing knows none)."""

    def register(resolver: PeriodStartOf) -> PeriodStartOf:
        _PERIOD_STARTS[source_type] = resolver
        _BUILT.clear()
        return resolver

    return register


def _source_period_start(invoice: Any) -> ColumnElement[Any]:
    """The first day `invoice`'s (an alias of `Invoice`) source bills, or NULL."""
    if not _PERIOD_STARTS:
        return null()
    starts = {kind: start(invoice.source_id) for kind, start in sorted(_PERIOD_STARTS.items())}
    return case(starts, value=invoice.source_type)


def billed_from() -> ColumnElement[date | None]:
    """The first day an invoice bills, in SQL on `Invoice`: its source's (an
    agreement's term start, a royalty report's period), else its parent's (a late
    fee's), else NULL. `with_expression(Invoice.billed_from, billed_from())` reads
    it in the statement that loads the invoice."""
    if "billed_from" not in _BUILT:
        parent = aliased(Invoice)
        parents = select(_source_period_start(parent)).where(parent.id == Invoice.parent_invoice_id)
        _BUILT["billed_from"] = func.coalesce(
            _source_period_start(Invoice), parents.scalar_subquery(), type_=Date()
        )
    found: ColumnElement[date | None] = _BUILT["billed_from"]
    return found


def _billed_from_of() -> Select[Any]:
    """One invoice's `billed_from()` and parent, the invoice a bound parameter."""
    if "of_one" not in _BUILT:
        _BUILT["of_one"] = select(billed_from(), Invoice.parent_invoice_id).where(
            Invoice.id == bindparam("invoice_id")
        )
    statement: Select[Any] = _BUILT["of_one"]
    return statement


def period_start(session: Session, invoice: Invoice) -> date:
    """The first day of the period an invoice bills: its source's (an agreement's
    term start), a late fee's parent invoice's, else the invoice's own date (a draft's:
    the office's day it was created, as `finalize_in` dates an issued one). Read
    with the invoice when it was loaded for its documents (no statement), else one
    statement (and one more for each ancestor beyond its parent, which the service
    never makes: a late fee is charged on no late fee)."""
    loaded = inspect(invoice).dict
    if "billed_from" in loaded:
        # Its source and its parent's were read: what is left is further up.
        found: date | None = loaded["billed_from"]
        upward = invoice.parent_invoice_id if found is None else None
    else:
        found, upward = None, invoice.id
    seen: set[int] = set()
    while found is None and upward is not None and upward not in seen:
        seen.add(upward)
        row = session.execute(_billed_from_of(), {"invoice_id": upward}).one_or_none()
        if row is None:
            break
        found, upward = row
    return found or invoice.issue_date or office_date(invoice.created_at)


# --- the invoice an amendment's invoice amends (round 36) ----------------------------

# Given the column of an invoice's `source_id`, the id of the invoice its source
# amends (a royalty report amending another: that report's invoice), as a scalar
# subquery correlated to that column (NULL when it amends none or that issued none).
AmendedInvoiceOf = Callable[[ColumnElement[int | None]], ScalarSelect[int]]
_AMENDED_INVOICES: dict[str, AmendedInvoiceOf] = {}


def amended_invoice_for(source_type: str) -> Callable[[AmendedInvoiceOf], AmendedInvoiceOf]:
    """Register how invoices of `source_type` name the invoice they amend (the
    package whose records amend others registers it: billing knows none)."""

    def register(resolver: AmendedInvoiceOf) -> AmendedInvoiceOf:
        _AMENDED_INVOICES[source_type] = resolver
        return resolver

    return register


def _amended_invoice_id(invoice: Any) -> ColumnElement[Any]:
    """The id of the invoice `invoice` (an alias of `Invoice`) amends, or NULL."""
    if not _AMENDED_INVOICES:
        return null()
    # Correlated to `invoice` explicitly: `amended_number()` reads it one level further
    # in, where auto-correlation (to the enclosing statement only) would not reach.
    found = {
        kind: of(invoice.source_id).correlate(invoice)
        for kind, of in sorted(_AMENDED_INVOICES.items())
    }
    return case(found, value=invoice.source_type)


def amended_number() -> ScalarSelect[str | None]:
    """The number of the invoice an invoice amends, in SQL on `Invoice`:
    `with_expression(Invoice.amends_invoice_number, amended_number())` reads it with
    a list (one correlated subquery, no statement per row)."""
    amended = aliased(Invoice)
    return (
        select(amended.number).where(amended.id == _amended_invoice_id(Invoice)).scalar_subquery()
    )


def amended_invoice(session: Session, invoice: Invoice) -> Invoice | None:
    """The invoice `invoice` amends (an amendment's royalty invoice: the invoice of
    the report it amends), or None; no statement for an invoice of a kind that
    amends nothing (most), one otherwise."""
    if invoice.source_type not in _AMENDED_INVOICES or invoice.source_id is None:
        return None
    amended = aliased(Invoice)
    return session.scalar(
        select(amended).where(
            amended.id
            == select(_amended_invoice_id(Invoice))
            .where(Invoice.id == invoice.id)
            .scalar_subquery()
        )
    )


def amends_invoice_number(session: Session, invoice: Invoice) -> str | None:
    """`Invoice.amends_invoice_number`, read with the invoice when its list loaded it
    (`amended_number()`), else as `amended_invoice` finds it."""
    loaded = inspect(invoice).dict
    if "amends_invoice_number" in loaded:
        number: str | None = loaded["amends_invoice_number"]
        return number
    found = amended_invoice(session, invoice)
    return found.number if found is not None else None


# --- records loaded for their PDFs: what the document reads, in one statement ------
# Kept per process (`_BUILT`, built on first use): a loader option with an
# expression copies the expression each time it is made, and a statement built
# per request pays for its cache key; built per call, the invoice's statement
# cost more than the three it replaces.


def invoice_for_pdf(session: Session, invoice_id: int, principal: Caller | None = None) -> Invoice:
    """The invoice `invoice_id` if the caller may see it (`NotFound` otherwise), with
    what its PDF reads: its lines and the first day it bills (`billed_from`), so
    that `pdfs.invoice_pdf` issues no statement of its own."""
    if "invoice" not in _BUILT:
        wanted = select(Invoice).where(Invoice.id == bindparam("record_id"))
        _BUILT["invoice"] = ScopedStatement(wanted.options(*invoice_document_options()), Invoice)
    found = _record(session, _BUILT["invoice"], invoice_id, principal)
    if found is None:
        raise NotFound(f"There is no invoice {invoice_id}.")
    assert isinstance(found, Invoice)
    return found


def credit_note_for_pdf(
    session: Session, credit_note_id: int, principal: Caller | None = None
) -> CreditNote:
    """The credit note `credit_note_id` if the caller may see it (`NotFound`
    otherwise), with its invoice and the first day that bills, for its PDF."""
    if "credit_note" not in _BUILT:
        wanted = select(CreditNote).where(CreditNote.id == bindparam("record_id"))
        invoice = joinedload(CreditNote.invoice).with_expression(Invoice.billed_from, billed_from())
        _BUILT["credit_note"] = ScopedStatement(wanted.options(invoice), CreditNote)
    found = _record(session, _BUILT["credit_note"], credit_note_id, principal)
    if found is None:
        raise NotFound(f"There is no credit note {credit_note_id}.")
    assert isinstance(found, CreditNote)
    return found


def _record(
    session: Session, kept: ScopedStatement[Any], record_id: int, principal: Caller | None
) -> object:
    statement, parameters = kept.for_caller(principal)
    found: object = (
        session.scalars(statement, {**parameters, "record_id": record_id}).unique().one_or_none()
    )
    return found


def invoice_document_options() -> tuple[Any, ...]:
    """Loader options for an invoice's documents: its lines joined, `billed_from` read."""
    if "options" not in _BUILT:
        _BUILT["options"] = (
            joinedload(Invoice.lines),
            with_expression(Invoice.billed_from, billed_from()),
        )
    options: tuple[Any, ...] = _BUILT["options"]
    return options


@dataclass(frozen=True)
class OpenAmounts:
    """An organization's records of one kind with money open (invoices with a balance
    to pay, credit notes with a refund to send): the first few, and the count and the
    sums (per currency) of them all, read by the database."""

    first: Sequence[Row[Any]]  # number, currency, due_date (invoices only), amount
    count: int
    sums: dict[str, Decimal]


def _open_amounts(
    session: Session,
    named: Statement,
    amount: ColumnElement[Decimal],
    currency: ColumnElement[str] | InstrumentedAttribute[str],
    limit: int,
) -> OpenAmounts:
    """The first `limit` rows of `named` (in its order) with their `amount`, and the
    count and sums per `currency` of every row it selects."""
    first = session.execute(named.add_columns(amount.label("amount")).limit(limit)).all()
    every = named.order_by(None).with_only_columns(currency, amount.label("amount")).subquery()
    totals = session.execute(
        select(every.c[0], func.count(), money_sum(every.c.amount))
        .group_by(every.c[0])
        .order_by(every.c[0])
    ).all()
    return OpenAmounts(
        first, sum(count for _, count, _ in totals), {code: total for code, _, total in totals}
    )


def invoices_to_pay(session: Session, organization_id: int, limit: int) -> OpenAmounts:
    """The organization's invoices with a balance to pay, the earliest due first."""
    balance = _balance_due()
    named = (
        select(Invoice.number, Invoice.currency, Invoice.due_date)
        .where(
            Invoice.organization_id == organization_id,
            Invoice.state.in_(sorted(COLLECTIBLE)),
            balance > Decimal(0),
        )
        .order_by(Invoice.due_date, Invoice.id)
    )
    return _open_amounts(session, named, balance, Invoice.currency, limit)


def _summed_where(amount: Any, *where: ColumnElement[bool]) -> ColumnElement[Decimal]:
    """The sum of `amount` over the rows `where` says, 0 when none, as a correlated
    scalar: `db.money_total`. Round 60 (edges60): a plain SUM here was taken to hold
    because refunds add up within one invoice's total, but the refunds sent count those
    the bank returned since, each sent again: twelve refunds of the largest amount,
    each returned, failed the credit notes list with "integer overflow" on SQLite."""
    zero = literal(Decimal(0), Money())
    summed = select(type_coerce(func.coalesce(money_total(amount), zero), Money())).where(*where)
    return type_coerce(summed.scalar_subquery(), Money())


def refund_outstanding() -> ColumnElement[Decimal]:
    """A credit note's refund owed that is neither sent nor on its way, in SQL
    (`Invoice.refunds_outstanding`, round 53): what its refund due leaves unsent and
    not on its way, but no more than its invoice owes back (`Invoice.owed` below
    zero, less the refunds on their way), shared among the invoice's notes in the
    order they were issued."""
    counted = Refund.state.in_(REFUND_COUNTED)
    own = CreditNote.refund_due - _summed_where(
        Refund.amount, Refund.credit_note_id == CreditNote.id, counted
    )
    earlier_note = aliased(CreditNote, name="earlier_note")
    earlier = _summed_where(
        earlier_note.refund_due,
        earlier_note.invoice_id == CreditNote.invoice_id,
        earlier_note.id < CreditNote.id,
    ) - _summed_where(
        Refund.amount,
        Refund.invoice_id == CreditNote.invoice_id,
        Refund.credit_note_id < CreditNote.id,
        counted,
    )
    owing = aliased(Invoice, name="owing_invoice")
    owed = select(owed_of(owing)).where(owing.id == CreditNote.invoice_id).scalar_subquery()
    pending = _summed_where(
        Refund.amount, Refund.invoice_id == CreditNote.invoice_id, Refund.state == PENDING
    )
    left = type_coerce(-owed - pending - earlier, Money())
    zero = literal(Decimal(0), Money())
    own = type_coerce(own, Money())
    return type_coerce(
        case((own <= zero, zero), (left <= zero, zero), (own < left, own), else_=left), Money()
    )


def refunds_still_to_send() -> list[ColumnElement[bool]]:
    """The credit notes with a refund the office still has to send (round 68): owed,
    neither sent nor pending at Stripe (`refund_outstanding`), the notes owing no
    refund at all left out first by their stored `refund_due`."""
    return [CreditNote.refund_due > Decimal(0), refund_outstanding() > Decimal(0)]


def refunds_on_their_way() -> ColumnElement[Decimal]:
    """What a credit note's own refunds sent back or are sending (pending or succeeded,
    `REFUND_COUNTED`), in SQL: beside `refund_outstanding`, it tells a note whose refund
    went from one whose whole amount came off a balance (periods62's credit note state)."""
    return _summed_where(
        Refund.amount, Refund.credit_note_id == CreditNote.id, Refund.state.in_(REFUND_COUNTED)
    )


def refunds_to_send(session: Session, organization_id: int, limit: int) -> OpenAmounts:
    """The organization's credit notes with a refund owed that is neither sent nor on
    its way (`CreditNote.refund_outstanding`), in the order they were issued."""
    outstanding = refund_outstanding()
    named = (
        select(CreditNote.number, CreditNote.currency)
        .where(CreditNote.organization_id == organization_id, outstanding > Decimal(0))
        .order_by(CreditNote.id)
    )
    return _open_amounts(session, named, outstanding, CreditNote.currency, limit)


def owes_refund(organization_id: ColumnElement[int], _now: ColumnElement[datetime]) -> Exists:
    """Whether the organization has a credit note with a refund due (sent or not:
    `refunds_owed` tells), as SQL for the vendor dashboard's condition."""
    return (
        select(CreditNote.id)
        .where(CreditNote.organization_id == organization_id, CreditNote.refund_due > Decimal(0))
        .exists()
    )


def refunds_owed(
    session: Session,
    *,
    organization_id: int | None = None,
    invoice_ids: Sequence[int] | None = None,
) -> Sequence[Row[str, int, str | None, str, Decimal, datetime, Decimal, Decimal]]:
    """The credit notes of an organization (or of some invoices) with a refund owed
    that is neither sent nor on its way, oldest first: each row's `number`,
    `invoice_id`, `invoice_number`, `currency`, `outstanding`, `issued_at`,
    `refund_due` (all the credit note owes back, sent or not: round 53) and `refunded`
    (its refunds sent or on their way: `refund_due - outstanding` is more than that
    once the invoice owes back less, e.g. after a bank return)."""
    outstanding = refund_outstanding()
    refunded = _summed_where(
        Refund.amount,
        Refund.credit_note_id == CreditNote.id,
        Refund.state.in_(REFUND_COUNTED),
    )
    statement = (
        select(
            CreditNote.number,
            CreditNote.invoice_id,
            Invoice.number.label("invoice_number"),
            CreditNote.currency,
            outstanding.label("outstanding"),
            CreditNote.issued_at,
            CreditNote.refund_due,
            refunded.label("refunded"),
        )
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(outstanding > Decimal(0))
        .order_by(CreditNote.id)
    )
    if organization_id is not None:
        statement = statement.where(CreditNote.organization_id == organization_id)
    if invoice_ids is not None:
        statement = statement.where(CreditNote.invoice_id.in_(sorted(invoice_ids)))
    return session.execute(statement).all()


@dataclass(frozen=True)
class Rest:
    """How many invoices follow the first ones named, and the balance due on them in
    each currency (the currency's digits), read by the database."""

    count: int
    balances: dict[str, Decimal]


def rest_after(session: Session, where: tuple[ColumnElement[bool], ...], named: int) -> Rest:
    """Of the invoices matching `where`, the due date then id order, those after the
    first `named`: counted and summed by currency in one statement, however many
    (an email naming the first ones says the rest in a line, round 50)."""
    rest = (
        select(Invoice.currency, _OWED_BALANCE.label("balance"))
        .where(*where)
        .order_by(Invoice.due_date, Invoice.id)
        .offset(named)
        .subquery()
    )
    rows = session.execute(
        select(rest.c.currency, func.count(), money_sum(rest.c.balance))
        .group_by(rest.c.currency)
        .order_by(rest.c.currency)
    ).all()
    return Rest(
        sum(count for _, count, _ in rows),
        {currency: quantize(total or Decimal(0), currency) for currency, _, total in rows},
    )


def moving_or_owing(start: date) -> ColumnElement[bool]:
    """The invoices that may owe on the day before `start` or on any day from it: all
    but those that owe nothing on the day before `start` and on which nothing happens
    from `start` on: the one rule for "may owe on day D" (`moving_or_owing(D + 1)`),
    read by a statement from `start` for its ledger and, since round 55 (aging55), by
    the Finance page's balances on a day or at period ends (`finance.queries`), which
    chose them by `paid_at` (when the invoice was last marked paid, not the bank's
    days: a bank's return recorded after a credit note in full leaves the invoice
    paid, owing nothing now, yet it owed between the two). Round 53 wrote it for the
    statement (the ledger read every invoice the organization was ever issued, 2,000
    at 2,000 agreements, for a year's statement). Such an invoice adds nothing
    to the opening or closing balance, nor to any line's change: its balance
    (`Receivable.balance_on`) changes only on its own days (its issue, a payment
    collected, a credit note, a payment returned, a refund sent, its void), and none
    comes from `start` on, so it owes from then what it owed, with everything
    recorded, before.

    Left out only when, as SQL: nothing moves on it from `start` on (issued before
    `start`, not voided from then on, no payment collected (`collected_between`),
    credit note issued, payment returned, refund sent (`refunded_between`) or refund
    returned by the card's bank (`refund_returned_between`, round 54) from `start`
    on), and it owes nothing now: voided, or `owed_of` (its stored totals,
    `Invoice.owed`: the one rule for what an invoice owes) at most zero. With
    nothing moving from `start` on, what it owes now is what it owed the day before
    `start`: its stored totals are the sums of its dated events, whatever its history
    (round 54, `tests/integration/billing/test_stored_totals_equal_events.py`), so
    the sums of them up to that day are the same. Round 53 added those events up
    here again, a third copy of the rule that missed the refunds sent until the
    lead's merge. Anything else is read and summed by `balance_on`, as before: this
    decides which invoices are read, never a figure."""
    return _moving_or_owing(start)


def moving_or_owing_all(start: date) -> ColumnElement[bool]:
    """`moving_or_owing` for a read of every invoice of a currency (the Finance page's
    balances, round 55; the receivables export; the monthly statements' run): the same
    rule, each kind of money moved from `start` on read once as a set of invoice ids
    rather than asked of each invoice (`EXISTS`, which a statement's few invoices of
    one organization want): at 30,000 invoices the correlated form asked five indexes
    of each invoice owing nothing now.

    One `id IN (... UNION ...)` of `moving_or_owing_ids` (round 60, balances60b), for
    a statement whose WHERE requires it with its other conditions: a semi-join on both
    databases. It was `owes OR id IN (...)`: under an OR PostgreSQL runs the `IN` as a
    SubPlan, hashed only while the ids it estimates fit in `work_mem`, else scanning
    them again for every invoice (`moving_from_all`'s and `still_from_all`'s old
    shapes, balances60). A statement that reads it in a CASE joins the ids instead
    (`moving_or_owing_ids`)."""
    return Invoice.id.in_(moving_or_owing_ids(start))


def moving_or_owing_ids(start: date) -> CompoundSelect[tuple[int]]:
    """The ids of `moving_or_owing_all`'s invoices, each once (a UNION): those owing
    now (not voided, `owed_of` above zero: their stored totals), those issued or voided
    from `start` on and those any kind of money moved on from then (`_money_moved`),
    for an `IN` or an outer join (round 60, balances60b)."""
    return union(
        select(Invoice.id)
        .where(Invoice.voided_at.is_(None), owed_of(Invoice) > Decimal(0))
        .correlate(None),
        *_issued_or_voided_from(start),
        *_money_moved(start),
    )


def _issued_or_voided_from(start: date) -> list[Select[Any]]:
    """The ids of the invoices issued or voided from `start` on, two selects for a
    union (uncorrelated: read once, whatever the statement around)."""
    return [
        select(Invoice.id).where(Invoice.issue_date >= start).correlate(None),
        select(Invoice.id).where(Invoice.voided_at >= office_day_start(start)).correlate(None),
    ]


def _moved_from(start: date) -> list[tuple[Any, ColumnElement[bool]]]:
    """Each kind of money that moves an invoice's balance, and its condition of moving
    from `start` on: the records' `invoice_id` and when."""
    return [
        (Payment.invoice_id, collected_between(start, None)),
        (CreditNote.invoice_id, CreditNote.issue_date >= start),
        (PaymentReversal.invoice_id, PaymentReversal.returned_on >= start),
        (Refund.invoice_id, refunded_between(start, None)),
        (Refund.invoice_id, refund_returned_between(start, None)),
    ]


def moving_from_all(start: date) -> ColumnElement[bool]:
    """The invoices on which something moves from `start` on (issued or voided, money
    collected, credited, returned, refunded or a refund returned), each kind of money
    read once as a set of invoice ids: `moving_or_owing_all` less "owes now".

    One `id IN (... UNION ...)` of every kind's ids, the invoices issued or voided
    from `start` on among them (round 60, balances60), for a statement to take as one
    of the conditions its WHERE requires all of (the Finance page's ledger
    statements, `finance.queries`): there both databases read it as a join with the
    ids (PostgreSQL a semi-join, whose hash spills to disk in batches). It was
    `issue_date >= start OR voided_at >= ... OR id IN (...)`: under an OR PostgreSQL
    runs the `IN` as a SubPlan, hashed only while the ids it estimates fit in
    `work_mem`, else scanning them again for every invoice, as `still_from_all`'s
    `NOT IN` did."""
    return Invoice.id.in_(union(*_issued_or_voided_from(start), *_money_moved(start)))


def still_from_all(start: date) -> ColumnElement[bool]:
    """The others (`moving_from_all` negated, a void date's NULL read as "not voided"):
    nothing moves on them from `start` on, so each owes on the day before `start` and
    every day after what it owes now (`owed_of`, its stored totals: the sums of its
    dated events, round 54). The Finance page (round 56) reads that of them instead
    of summing their events again on every view.

    No money moved on it from `start` on: one `NOT EXISTS` a kind of money (round 60,
    balances60), which each database plans as an anti-join. It was
    `id NOT IN (SELECT ... UNION ...)`: PostgreSQL cannot turn a `NOT IN` into a
    join, so it runs the subquery as a SubPlan, hashed only while the ids it
    estimates fit in `work_mem` (times `hash_mem_multiplier`); past that (a busier
    office, a past day's many moved ids, an estimate too high) it scans the ids again
    for every invoice, and the balance lists ran for minutes. An anti-join's hash
    spills to disk in batches instead. Every `invoice_id` here is NOT NULL, so the
    rows are the same.

    On SQLite alone (round 60, balances60b) the money is still `id NOT IN (... UNION
    ...)` (`NoMoneyMoved`): SQLite has no `work_mem` to outgrow, builds the list once
    and asks it of each invoice, where each `NOT EXISTS` searches a money table's
    `invoice_id` index once an invoice, five searches."""
    return and_(
        Invoice.issue_date < start,
        or_(Invoice.voided_at.is_(None), Invoice.voided_at < office_day_start(start)),
        NoMoneyMoved(
            and_(
                *(
                    ~select(invoice_id).where(invoice_id == Invoice.id, when).exists()
                    for invoice_id, when in _moved_from(start)
                )
            ),
            Invoice.id.not_in(money_moved(start)),
        ),
    )


class NoMoneyMoved(FunctionElement[bool]):
    """No money moved on the invoice from a day on, in the shape each database runs
    best (round 60, balances60b): its first clause (`NOT EXISTS` a kind of money, an
    anti-join) on PostgreSQL, its second (`id NOT IN` the ids, a list built once) on
    SQLite. The same rows: every `invoice_id` of the money is NOT NULL. Both clauses
    are the element's, so a cached statement binds the days of either."""

    type = Boolean()
    name = "no_money_moved"
    inherit_cache = True


@compiles(NoMoneyMoved)  # and for str(statement), as PostgreSQL reads it
@compiles(NoMoneyMoved, "postgresql")
def _no_money_moved(element: NoMoneyMoved, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses.clauses[0], **kw))


@compiles(NoMoneyMoved, "sqlite")
def _no_money_moved_sqlite(element: NoMoneyMoved, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses.clauses[1], **kw))


def credited_by(day: date) -> ColumnElement[bool]:
    """The invoice (`Invoice`, correlated) has a credit note issued by `day`: the only
    invoices that can be credited beyond what they owe then (the Finance page's
    *Refunds owed*, the receivables export owed back).

    Asked of each invoice (`EXISTS`, round 60, balances60; the export's own copy
    balances60b): read in a CASE no database can make it a join, and PostgreSQL ran the
    `IN (SELECT ...)` it was as a SubPlan hashed only while the credit notes it
    estimates fit in `work_mem`, else scanning them again for every invoice; an
    `EXISTS` it may hash the same way, or else ask the credit notes' index once an
    invoice. At the top of a WHERE it is a semi-join."""
    return (
        select(CreditNote.invoice_id)
        .where(CreditNote.invoice_id == Invoice.id, CreditNote.issue_date <= day)
        .exists()
    )


def money_moved(start: date) -> Any:
    """The ids of the invoices money moved on from `start` on, each kind read once
    (`invoice_id`): on any other, its stored totals are the sums of its dated events up
    to the day before `start` (round 54), so its balance on that day is what it owes
    now. The invoices export as of a day reads so (round 59, asof59)."""
    return union(*_money_moved(start))


def _money_moved(start: date) -> list[Select[tuple[int]]]:
    """`money_moved`'s selects, one a kind, for a union of more (one union: SQLite
    takes no union inside another's parentheses)."""
    return [select(id_).where(when) for id_, when in _moved_from(start)]


def last_step_before(action: str, ends: datetime) -> ColumnElement[datetime]:
    """When the invoice (`Invoice`, correlated) last took `action` (`reopen`,
    `mark_uncollectible`: a step whose stamp no other step clears) before `ends`, NULL
    if it had not (round 60, asof60).

    The invoice's stamp (`reopened_at`, `written_off_at`) holds the latest step of its
    kind: when that latest step is before `ends` it is the answer, else the earlier
    steps are read from the audit log, which has every one (`invoice.reopened`,
    `invoice.marked_uncollectible`, by the invoice's entity index), less the latest,
    whose time is the stamp's. Only the invoices a step was taken on from `ends` on ask
    the log: on every other the stamps are the history up to `ends`. Round 61 (asof61):
    `settle` is no longer asked (its stamp, `paid_at`, a reopening clears, which the
    round-60 form read the log for): the invoices export as of a day reads the paid day
    by the bank's days (`bank_days`), and only the write-off as booked."""
    stamp = getattr(Invoice, INVOICE_MACHINE.stamps[action])
    name = f"{INVOICE_MACHINE.entity_type}.{INVOICE_MACHINE.events[action]}"
    latest_event, event = aliased(AuditEvent), aliased(AuditEvent)

    def of_invoice(audit: Any) -> ColumnElement[bool]:
        return and_(
            audit.entity_type == INVOICE_MACHINE.entity_type,
            audit.entity_id == cast(Invoice.id, String),
            audit.action == name,
        )

    latest = select(func.max(latest_event.seq)).where(of_invoice(latest_event))
    earlier = select(func.max(event.occurred_at)).where(
        of_invoice(event),
        event.occurred_at < ends,
        or_(stamp.is_(None), event.seq < latest.correlate(Invoice).scalar_subquery()),
    )
    return type_coerce(
        case(
            (stamp < ends, stamp),
            (stamp >= ends, earlier.correlate(Invoice).scalar_subquery()),
        ),
        UTCDateTime(),
    )


def bank_days(day: date | None, of: Any = None) -> Any:
    """Each invoice issued by `day` as the bank's days had it at the day's end (round
    61, asof61), a subquery of `invoice_id`, `paid_on` and `owing_since`: the first day
    of its last stretch of days owing nothing, and of its last stretch owing. With
    `day` None, every event whatever its day: what each invoice keeps
    (`Invoice.bank_paid_on`, `bank_owing_since`, round 62). With `of` (a select of
    invoice ids, or a list of them), only those invoices' events are read (round 62,
    asof62): the invoices export as of a day reads the events of the invoices money
    moved on after it, and what the others keep.

    Its balance after each day is the running sum of its dated events up to it: the
    issue (its total), payments received (offline by `received_on`, card by the office
    day Stripe settled it), credit notes (their issue day) and refunds sent (by
    `sent_on`, else Stripe's day) less those the bank returned (a payment's
    `returned_on`, a refund's day returned), the days `collected_between`,
    `reversed_between`, `refunded_between` and `refund_returned_between` count them on:
    what `receivables` sums, day after day. Whatever was entered when, as the bank had
    it: a cheque entered three days after the bank had it is paid from the bank's day.
    When the invoice owes nothing at the day's end, `paid_on` is the day it became paid
    (the paid day of `invoices?as_of`); when it owes, `owing_since` is the day it last
    began to owe (a write-off booked on or after it stands: nothing paid it in full
    since)."""

    def among(invoice_id: Any) -> ColumnElement[bool]:
        return true() if of is None else invoice_id.in_(of)

    events = union_all(
        select(
            Invoice.id.label("invoice_id"),
            Invoice.issue_date.label("day"),
            Invoice.total.label("owed"),
        ).where(
            Invoice.state != DRAFT,
            true() if day is None else Invoice.issue_date <= day,
            among(Invoice.id),
        ),
        select(
            Payment.invoice_id,
            func.coalesce(Payment.received_on, OfficeDay(Payment.settled_at)),
            -Payment.amount,
        ).where(collected_between(None, day), among(Payment.invoice_id)),
        select(
            PaymentReversal.invoice_id, PaymentReversal.returned_on, PaymentReversal.amount
        ).where(reversed_between(None, day), among(PaymentReversal.invoice_id)),
        select(CreditNote.invoice_id, CreditNote.issue_date, -CreditNote.amount).where(
            true() if day is None else CreditNote.issue_date <= day,
            among(CreditNote.invoice_id),
        ),
        select(
            Refund.invoice_id,
            func.coalesce(Refund.sent_on, OfficeDay(Refund.settled_at)),
            Refund.amount,
        ).where(refunded_between(None, day), among(Refund.invoice_id)),
        select(
            Refund.invoice_id,
            func.coalesce(Refund.returned_on, OfficeDay(refund_returned_at())),
            -Refund.amount,
        ).where(refund_returned_between(None, day), among(Refund.invoice_id)),
    ).subquery("bank_events")
    daily = (
        select(
            events.c.invoice_id,
            events.c.day,
            money_total(events.c.owed).label("change"),
        )
        .group_by(events.c.invoice_id, events.c.day)
        .subquery("bank_daily")
    )
    in_order = {"partition_by": daily.c.invoice_id, "order_by": daily.c.day}
    running = select(
        daily.c.invoice_id,
        daily.c.day,
        money_total(daily.c.change).over(**in_order).label("balance"),
    ).subquery("bank_running")
    before = func.lag(running.c.balance).over(
        partition_by=running.c.invoice_id, order_by=running.c.day
    )
    turns = select(
        running.c.invoice_id,
        running.c.day,
        running.c.balance,
        type_coerce(before, Money()).label("before"),
    ).subquery("bank_turns")
    zero = literal(Decimal(0), Money())
    owing, then_owing = turns.c.balance > zero, turns.c.before > zero
    began = turns.c.before.is_(None)

    def first_day_of_last(stretch: ColumnElement[bool], turned: ColumnElement[bool]) -> Any:
        return type_coerce(func.max(case((and_(stretch, turned), turns.c.day))), Date())

    return (
        select(
            turns.c.invoice_id,
            first_day_of_last(~owing, or_(began, then_owing)).label("paid_on"),
            first_day_of_last(owing, or_(began, ~then_owing)).label("owing_since"),
        )
        .group_by(turns.c.invoice_id)
        .subquery("bank_days")
    )


def written_off_on(day: date, owing_since: Any) -> ColumnElement[bool]:
    """The invoice (`Invoice`, correlated) stood written off at the end of `day`: its
    last write-off booked by then (`last_step_before`, round 60) stands while it has
    owed, by the bank's days, since the write-off's office day or before (`owing_since`
    as of the day, `bank_days`; round 61). The invoices export's `uncollectible` as of a
    day, and the receivables' state (round 62, asof62)."""
    written_off = last_step_before("mark_uncollectible", office_day_start(day + timedelta(days=1)))
    return and_(written_off.is_not(None), owing_since <= OfficeDay(written_off))


def owing_since_on(day: date, of: Any) -> tuple[Any, Any]:
    """`(owing_since, bank)`: the day the invoice (`Invoice`) last began to owe as of the
    end of `day` by the bank's days, and the subquery to outer-join on `invoice_id`
    for it (round 62, asof62). Read from the events of the invoices `of` (a select of
    ids among those money moved on after the day, `money_moved`); any other keeps it
    (`Invoice.bank_owing_since`: none of its events is after the day)."""
    bank = bank_days(day, of)
    moved = bank.c.invoice_id.is_not(None)
    return case((moved, bank.c.owing_since), else_=Invoice.bank_owing_since), bank


def _moving_or_owing(start: date) -> ColumnElement[bool]:
    """`moving_or_owing`: owing now, or something moves on the invoice from `start` on,
    the money asked of each invoice."""
    owes = and_(Invoice.voided_at.is_(None), owed_of(Invoice) > Decimal(0))
    money = [
        select(invoice_id).where(invoice_id == Invoice.id, when).exists()
        for invoice_id, when in _moved_from(start)
    ]
    # What owes now first: a column sum, asked before the events of the others.
    return or_(
        owes, Invoice.issue_date >= start, Invoice.voided_at >= office_day_start(start), *money
    )


# --- every refund in one place (round 56, refundlist56) ---------------------------------

# The refunds list's states: a refund's stored state, `failed` told apart by whether
# it was sent first (the bank returned it, `returned`) or never went (`failed`); the
# words its filter offers and its rows say.
REFUND_LIST_STATES = {
    "pending": "Pending at Stripe",
    "sent": "Sent",
    "returned": "Returned by the bank",
    "failed": "Failed, never sent",
}
REFUND_LIST_STATE = {
    "pending": Refund.state == PENDING,
    "sent": Refund.state == SUCCEEDED,
    "returned": and_(Refund.state == FAILED, Refund.settled_at.is_not(None)),
    "failed": and_(Refund.state == FAILED, Refund.settled_at.is_(None)),
}


# The days a console list is narrowed to (round 57, creditlist57): its first and last
# day, either open (None); a month's, or the Finance page's range of months.
ListDays = tuple[date | None, date | None]


@dataclass(frozen=True)
class RefundFilters:
    """What the console's refunds list is narrowed to: a state of `REFUND_LIST_STATES`,
    a method, days (a month's first and last, or a range of months': round 57), text
    in the licensee's name and a currency (round 57: the Finance page's links)."""

    state: str | None = None
    method: str | None = None
    month: ListDays | None = None
    licensee: str | None = None
    currency: str | None = None


def _created_between(
    first: date | None, last: date | None, created_at: Any = Refund.created_at
) -> ColumnElement[bool]:
    """Refunds (or, given their `created_at`, payments: round 57) recorded, asked of or
    started at Stripe on the office days from `first` to `last`."""
    found: list[ColumnElement[bool]] = []
    if first is not None:
        found.append(created_at >= office_day_start(first))
    if last is not None:
        found.append(created_at < office_day_start(last + timedelta(days=1)))
    return and_(true(), *found)


def _refund_list_where(filters: RefundFilters) -> list[ColumnElement[bool]]:
    """The refunds list's filters. Days keep the refunds sent in them or returned in
    them, each on the day every dated sum counts it (`refunded_between`,
    `refund_returned_between`), and those never sent started in them: so its totals are
    the Finance page's *Net refunds* of the days and the refunds export's rows."""
    where: list[ColumnElement[bool]] = []
    if filters.state is not None:
        where.append(REFUND_LIST_STATE[filters.state])
    if filters.method is not None:
        where.append(Refund.method == filters.method)
    if filters.currency is not None:
        where.append(Refund.currency == filters.currency)
    if filters.month is not None:
        first, last = filters.month
        started = and_(Refund.settled_at.is_(None), _created_between(first, last))
        where.append(
            or_(refunded_between(first, last), refund_returned_between(first, last), started)
        )
    if filters.licensee:
        where.append(Organization.name_contains(filters.licensee))
    return where


def refunds_listed(filters: RefundFilters) -> Select[*tuple[Any, ...]]:
    """Every refund, card and offline, newest first (the id last: `ix_refunds_created_at`
    orders it), as the console's refunds list pages them: each with its credit note's
    and invoice's numbers and its licensee's name, and its card payment loaded with it,
    so a page of them is one query however many rows it shows."""
    return (
        select(Refund, CreditNote.number, Invoice.number, Organization.legal_name)
        .join(CreditNote, CreditNote.id == Refund.credit_note_id)
        .join(Invoice, Invoice.id == Refund.invoice_id)
        .join(Organization, Organization.id == Refund.organization_id)
        .where(*_refund_list_where(filters))
        .options(joinedload(Refund.payment))
        .order_by(Refund.created_at.desc(), Refund.id.desc())
    )


@dataclass(frozen=True)
class RefundTotals:
    """The refunds listed, summed in one currency: sent and returned by the bank (in
    the month, with one: the Finance page's *Net refunds* is `sent - returned`), and
    still pending at Stripe."""

    currency: str
    count: int
    sent: Decimal
    returned: Decimal
    pending: Decimal

    @property
    def net(self) -> Decimal:
        return self.sent - self.returned


def refund_list_totals(session: Session, filters: RefundFilters) -> list[RefundTotals]:
    """`RefundTotals` of every refund the list's filters keep (not only the page's),
    a currency each, summed by the database in one query."""
    first, last = filters.month or (None, None)

    def amount_if(condition: ColumnElement[bool]) -> Any:
        return money_sum(case((condition, Refund.amount)))

    statement = (
        select(
            Refund.currency,
            func.count(),
            amount_if(refunded_between(first, last)),
            amount_if(refund_returned_between(first, last)),
            amount_if(Refund.state == PENDING),
        )
        .join(Organization, Organization.id == Refund.organization_id)
        .where(*_refund_list_where(filters))
        .group_by(Refund.currency)
        .order_by(Refund.currency)
    )
    return by_currency(session, statement, RefundTotals)


def by_currency(
    session: Session, statement: Select[*tuple[Any, ...]], make: Callable[..., _Total]
) -> list[_Total]:
    """A list's totals, one row a currency: each row's currency, count and sums (a sum
    of no rows read as 0) made into `make(currency, count, *sums)`."""
    zero = Decimal(0)
    return [
        make(currency, count, *(amount or zero for amount in amounts))
        for currency, count, *amounts in session.execute(statement)
    ]


# --- every credit note in one place (round 57, creditlist57) ------------------------------


@dataclass(frozen=True)
class CreditNoteFilters:
    """What the console's credit-notes list is narrowed to: the days issued (a month's,
    or the Finance page's range of months), text in the reason and in the licensee's
    name, and a currency."""

    days: ListDays | None = None
    reason: str | None = None
    licensee: str | None = None
    currency: str | None = None
    # Round 68 (journeyF68): only those with a refund still to send (neither sent nor
    # pending at Stripe), the console home's *Refunds owed to licensees* queue.
    to_send: bool = False


def _credit_note_list_where(filters: CreditNoteFilters) -> list[ColumnElement[bool]]:
    """The credit-notes list's filters: issued on the days by `issue_date`, as the
    Finance page's *Credited* and the credit-notes export (`by=issued`) choose them."""
    where: list[ColumnElement[bool]] = []
    if filters.days is not None:
        first, last = filters.days
        if first is not None:
            where.append(CreditNote.issue_date >= first)
        if last is not None:
            where.append(CreditNote.issue_date <= last)
    if filters.currency is not None:
        where.append(CreditNote.currency == filters.currency)
    if filters.to_send:
        where += refunds_still_to_send()
    if filters.reason:
        # By its key (round 58): `icontains` folded ASCII letters only on SQLite.
        where.append(CreditNote.reason_key.contains(name_key(filters.reason), autoescape=True))
    if filters.licensee:
        where.append(Organization.name_contains(filters.licensee))
    return where


def _refunds_of_note(*where: ColumnElement[bool]) -> ColumnElement[Decimal]:
    """The credit note's refunds that `where` keeps, summed (a correlated scalar)."""
    return _summed_where(Refund.amount, Refund.credit_note_id == CreditNote.id, *where)


def credit_notes_listed(filters: CreditNoteFilters) -> Select[*tuple[Any, ...]]:
    """Every credit note, newest first (issue day, then id: numbers run in issue order),
    as the console's list pages them: each with its invoice's number, its licensee's
    name and what went back of it: its refunds sent (those the bank returned since
    too, as every dated sum counts them), returned by the bank, pending at Stripe, and
    what is still to send (`refund_outstanding`): one statement a page."""
    return (
        select(
            CreditNote,
            Invoice.number,
            Organization.legal_name,
            _refunds_of_note(Refund.state.in_(REFUND_SENT), Refund.settled_at.is_not(None)),
            _refunds_of_note(REFUND_LIST_STATE["returned"]),
            _refunds_of_note(Refund.state == PENDING),
            refund_outstanding(),
        )
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .join(Organization, Organization.id == CreditNote.organization_id)
        .where(*_credit_note_list_where(filters))
        .order_by(CreditNote.issue_date.desc(), CreditNote.id.desc())
    )


@dataclass(frozen=True)
class CreditNoteTotals:
    """The credit notes listed, summed in one currency: how many, their amounts (the
    Finance page's *Credited* of the days), what came off balances and what was owed
    back."""

    currency: str
    count: int
    credited: Decimal
    off_balance: Decimal
    owed_back: Decimal


def credit_note_list_totals(session: Session, filters: CreditNoteFilters) -> list[CreditNoteTotals]:
    """`CreditNoteTotals` of every credit note the filters keep (not only the page's),
    a currency each, summed by the database in one query."""
    statement = (
        select(
            CreditNote.currency,
            func.count(),
            money_sum(CreditNote.amount),
            money_sum(CreditNote.applied_to_balance),
            money_sum(CreditNote.refund_due),
        )
        .join(Organization, Organization.id == CreditNote.organization_id)
        .where(*_credit_note_list_where(filters))
        .group_by(CreditNote.currency)
        .order_by(CreditNote.currency)
    )
    return by_currency(session, statement, CreditNoteTotals)


# --- every payment in one place (round 57, payments57) -----------------------------------

# The payment withdrawn by a bank's dispute of its charge (`Payment.withdrawn_by`): its
# reversal is a dispute's withdrawal, not a bounced offline payment.
_WITHDRAWN = (
    select(PaymentDispute.id)
    .where(PaymentDispute.reversal_id == PaymentReversal.id)
    .correlate(PaymentReversal)
    .exists()
)

# The payments list's states, in the words the payment's page says them (its state
# badge, `billing/_withdrawal.html`'s `payment_state`, and "... refunded" beside its
# amount), and what each keeps.
PAYMENT_LIST_STATES = {
    "pending": "Pending",
    "succeeded": "Succeeded",
    "refunded": "Refunded, in whole or part",
    "failed": "Declined or failed",
    "flagged": "Flagged",
    "canceled": "Canceled",
    "reversed": "Reversed (returned by the bank)",
    "disputed": "Disputed (withdrawn by the bank's dispute)",
    "giving_back": "Being given back",
    "given_back": "Given back",
}
PAYMENT_LIST_STATE: dict[str, ColumnElement[bool]] = {
    "pending": Payment.state == PENDING,
    "succeeded": Payment.state == SUCCEEDED,
    "refunded": select(Refund.id)
    .where(Refund.payment_id == Payment.id, Refund.state.in_(REFUND_COUNTED))
    .exists(),
    "failed": Payment.state == FAILED,
    "flagged": Payment.state == FLAGGED,
    "canceled": Payment.state == CANCELED,
    "reversed": and_(PaymentReversal.id.is_not(None), ~_WITHDRAWN),
    "disputed": and_(PaymentReversal.id.is_not(None), _WITHDRAWN),
    "giving_back": Payment.state == GIVING_BACK,
    "given_back": Payment.state == GIVEN_BACK,
}


@dataclass(frozen=True)
class PaymentListFilters:
    """What the console's payments list is narrowed to: a state of
    `PAYMENT_LIST_STATES`, a method, days (a month's, or the Finance page's range of
    months), text in the licensee's name and a currency."""

    state: str | None = None
    method: str | None = None
    days: ListDays | None = None
    licensee: str | None = None
    currency: str | None = None


def _payment_list_where(filters: PaymentListFilters) -> list[ColumnElement[bool]]:
    """The payments list's filters. Days keep the payments collected in them (by the
    day the money came, `collected_between`), those the bank returned in them
    (`reversed_between`), and those whose money never came (pending, declined,
    canceled, flagged, given back) started in them: so its totals are the Finance
    page's *Collected* and *Reversed* of the days and the payments export's rows."""
    where: list[ColumnElement[bool]] = []
    if filters.state is not None:
        where.append(PAYMENT_LIST_STATE[filters.state])
    if filters.method is not None:
        where.append(Payment.method == filters.method)
    if filters.currency is not None:
        where.append(Payment.currency == filters.currency)
    if filters.days is not None:
        first, last = filters.days
        never_came = and_(
            Payment.state.not_in(RECEIVED), _created_between(first, last, Payment.created_at)
        )
        returned = and_(PaymentReversal.id.is_not(None), reversed_between(first, last))
        where.append(or_(collected_between(first, last), returned, never_came))
    if filters.licensee:
        where.append(Organization.name_contains(filters.licensee))
    return where


def payments_listed(filters: PaymentListFilters) -> Select[*tuple[Any, ...]]:
    """Every payment, card and offline, newest first (recorded or started, then id), as
    the console's payments list pages them: each with its invoice's number and its
    licensee's name, its reversal read in the same statement and its disputes and
    refunds loaded for the whole page (its state as its page says it), so a page is
    the same few statements however many rows it shows."""
    return (
        select(Payment, Invoice.number, Organization.legal_name)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .join(Organization, Organization.id == Payment.organization_id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(*_payment_list_where(filters))
        .options(
            contains_eager(Payment.reversal),
            selectinload(Payment.disputes),
            selectinload(Payment.refunds),
        )
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )


@dataclass(frozen=True)
class PaymentTotals:
    """The payments listed, summed in one currency: collected and reversed in the days
    (the Finance page's *Collected* and *Reversed*; without days, all ever), and the
    net that stayed."""

    currency: str
    count: int
    collected: Decimal
    reversed: Decimal

    @property
    def net(self) -> Decimal:
        return self.collected - self.reversed


def payment_list_totals(session: Session, filters: PaymentListFilters) -> list[PaymentTotals]:
    """`PaymentTotals` of every payment the list's filters keep (not only the page's),
    a currency each, summed by the database in one query. Payments of an invoice void
    since (one issued in error) count in neither sum, as the Finance page counts them."""
    first, last = filters.days or (None, None)
    counted = Invoice.state != VOID
    statement = (
        select(
            Payment.currency,
            func.count(),
            money_sum(case((and_(counted, collected_between(first, last)), Payment.amount))),
            money_sum(
                case(
                    (
                        and_(
                            counted, PaymentReversal.id.is_not(None), reversed_between(first, last)
                        ),
                        PaymentReversal.amount,
                    )
                )
            ),
        )
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .join(Organization, Organization.id == Payment.organization_id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(*_payment_list_where(filters))
        .group_by(Payment.currency)
        .order_by(Payment.currency)
    )
    return by_currency(session, statement, PaymentTotals)


# The newest reminder events of an organization's invoices its history reads (a
# reminder names at most every overdue invoice, one event each; at one reminder every
# 7 days, 500 is a year of weekly reminders of 10 invoices, or the last of a few big).
REMINDER_EVENTS_READ = 500
# Events of one run are written within seconds; reminders are 7 days apart at least.
_ONE_REMINDER = timedelta(hours=1)


def reminder_recipient(name: str, email: str) -> str:
    """Whom an overdue reminder went to, as its `invoice.reminder_sent` events keep it
    (round 57, `services.overdue`): the billing contact's name and address then,
    "Imogen Hart <imogen@example.com>"."""
    return f"{name} <{email}>"


# What a reminder recorded before round 57 says of whom it went to: its events kept
# the count alone, and the outbox (the address) is for admins.
RECIPIENT_NOT_KEPT = "the billing contact (whom was not recorded before round 57)"


def _sent_to(after: str | None) -> str:
    """The recipient an `invoice.reminder_sent` event's `after` names (`reminder_recipient`),
    or `RECIPIENT_NOT_KEPT` for one recorded before round 57."""
    data = json.loads(after) if after else None
    named = data.get("sent_to") if isinstance(data, dict) else None
    return named if isinstance(named, str) and named else RECIPIENT_NOT_KEPT


def last_reminded_to(session: Session, invoice_ids: Collection[int]) -> dict[int, str]:
    """Whom each invoice's newest overdue reminder went to (its newest
    `invoice.reminder_sent` event's `sent_to`), by invoice id, in one statement for a
    page of invoices (round 57: the overdue list said "to the billing contact"); one
    recorded before round 57 says so (`RECIPIENT_NOT_KEPT`), an invoice never reminded
    is left out."""
    if not invoice_ids:
        return {}
    newest = (
        select(func.max(AuditEvent.seq))
        .where(
            AuditEvent.entity_type == "invoice",
            AuditEvent.entity_id.in_(sorted(str(invoice_id) for invoice_id in invoice_ids)),
            AuditEvent.action == "invoice.reminder_sent",
        )
        .group_by(AuditEvent.entity_id)
    )
    rows = session.execute(
        select(AuditEvent.entity_id, AuditEvent.after).where(AuditEvent.seq.in_(newest))
    )
    return {int(entity_id): _sent_to(after) for entity_id, after in rows}


@dataclass(frozen=True)
class ReminderSent:
    """One overdue reminder emailed to an organization, as its invoices' events
    recorded it: the newest event's `seq` (where its history shows it), the
    invoices it named, by (id, number), in number order, and whom it went to (round
    57: `reminder_recipient`, or `RECIPIENT_NOT_KEPT`)."""

    seq: int
    at: datetime
    invoices: list[tuple[int, str]]
    sent_to: str = RECIPIENT_NOT_KEPT


def reminders_sent(
    session: Session, organization_id: int, *, read: int = REMINDER_EVENTS_READ
) -> list[ReminderSent]:
    """The reminders recorded against the organization's invoices (`invoice.reminder_sent`,
    one event an invoice a reminder: `services.overdue`), newest first, each the events
    of one run together: one statement, the newest `read` events, however many invoices."""
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.after, Invoice.id, Invoice.number)
        .join(Invoice, AuditEvent.entity_id == cast(Invoice.id, String))
        .where(
            AuditEvent.entity_type == "invoice",
            AuditEvent.action == "invoice.reminder_sent",
            Invoice.organization_id == organization_id,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(read)
    ).all()
    found: list[ReminderSent] = []
    for seq, at, after, invoice_id, number in rows:
        last = found[-1] if found else None
        if last is None or last.at - at > _ONE_REMINDER:
            # One email, one recipient: its newest event says whom.
            last = ReminderSent(seq, at, [], _sent_to(after))
            found.append(last)
        last.invoices.append((invoice_id, number or ""))
    for each in found:
        each.invoices.sort(key=lambda invoice: invoice[1])
    return found


# The Stripe events a card payment's console page lists, the newest first (round 57).
STRIPE_EVENTS_LISTED = 20


class StripeEventsListed(NamedTuple):
    """The newest Stripe events about one PaymentIntent, and how many there are."""

    events: list[StripeEvent]
    total: int


def stripe_events_of(
    session: Session, payment_intent_id: str | None, *, limit: int = STRIPE_EVENTS_LISTED
) -> StripeEventsListed:
    """The webhook events stored about a PaymentIntent (its own, its refunds' and its
    charge's disputes': `stripe_events.payment_intent_id`, indexed), newest first, at
    most `limit`, and a count of all: each with the outcome stored when it was applied."""
    if not payment_intent_id:
        return StripeEventsListed([], 0)
    about = StripeEvent.payment_intent_id == payment_intent_id
    events = list(
        session.scalars(
            select(StripeEvent)
            .where(about)
            .order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc())
            .limit(limit)
        )
    )
    total = (
        len(events)
        if len(events) < limit
        else int(session.scalar(select(func.count()).select_from(StripeEvent).where(about)) or 0)
    )
    return StripeEventsListed(events, total)


# --- every Stripe event in one place (round 58, stripeevents58) ------------------------

# The kinds the console's list of every event offers: what the webhook did
# (`models.STRIPE_EVENT_KINDS`), and those Stripe delivered more than once.
STRIPE_EVENT_LIST_KINDS = {**STRIPE_EVENT_KINDS, "repeated": "Delivered more than once"}
# The type filter's choice of every type the service does not handle.
OTHER_EVENT_TYPES = "other"


@dataclass(frozen=True)
class StripeEventFilters:
    """What the console's list of every Stripe event is narrowed to: a kind of
    `STRIPE_EVENT_LIST_KINDS`, an event type (or `OTHER_EVENT_TYPES`: none of
    `handled`), the office days it was received in (a month's), and a Stripe id it is
    about (`stripe_events_about`, round 59)."""

    kind: str | None = None
    event_type: str | None = None
    handled: frozenset[str] = frozenset()
    month: ListDays | None = None
    stripe_id: str | None = None


def _stripe_event_where(filters: StripeEventFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.kind == "repeated":
        where.append(StripeEvent.deliveries > 1)
    elif filters.kind is not None:
        where.append(StripeEvent.kind == filters.kind)
    if filters.event_type == OTHER_EVENT_TYPES:
        where.append(StripeEvent.event_type.not_in(sorted(filters.handled)))
    elif filters.event_type is not None:
        where.append(StripeEvent.event_type == filters.event_type)
    if filters.month is not None:
        where.append(_created_between(*filters.month, created_at=StripeEvent.received_at))
    if filters.stripe_id is not None:
        where.append(stripe_events_about(filters.stripe_id))
    return where


def stripe_events_about(stripe_id: str) -> ColumnElement[bool]:
    """The events about a Stripe id, exactly (round 59, stripeevents59: billing staff
    had no way to find one by the id Stripe's dashboard or a licensee gave them):

    - an event's own id (`evt_`), its PaymentIntent (`pi_`: the intent's events, and its
      refunds' and disputes', which name it) or its object (a refund event's `re_`, a
      dispute event's `du_`, a `charge.refunded`'s `ch_`);
    - a charge (`ch_`): besides its `charge.refunded` events, the events of the card
      payment charged (its PaymentIntent's) and of the disputes of the charge, matched
      to a payment or not (a dispute event's object is the dispute, not the charge);
    - a refund (`re_`): besides its own events, the `charge.refunded` events of the
      charge it refunded, which carry the charge's refunds.

    A charge or refund is known by the records the service keeps (`payments`,
    `payment_disputes`, `unmatched_disputes`, `refunds`): an event is stored with its
    PaymentIntent and object, not its body.

    The events' ids are a UNION of one select per way an event is about the id, each
    read by its own index (`event_id`'s, `payment_intent_id`'s, `object_id`'s:
    billing_0030, round 59, indexes59). As one `OR` of those tests, three of them
    `IN (subquery)`, PostgreSQL probed no index per test: it read the whole events
    table (the count) or walked it newest first (the page), even with `object_id`
    indexed."""
    event = aliased(StripeEvent, name="about_event")
    charged = select(Payment.stripe_payment_intent_id).where(Payment.stripe_charge_id == stripe_id)
    disputes_of_charge = union(
        select(PaymentDispute.stripe_dispute_id).where(
            PaymentDispute.stripe_charge_id == stripe_id
        ),
        select(UnmatchedDispute.stripe_dispute_id).where(
            UnmatchedDispute.stripe_charge_id == stripe_id
        ),
    )
    refunded_charge = (
        select(Payment.stripe_charge_id)
        .join(Refund, Refund.payment_id == Payment.id)
        .where(Refund.stripe_refund_id == stripe_id, Payment.stripe_charge_id.is_not(None))
    )
    about = (
        event.event_id == stripe_id,
        event.payment_intent_id == stripe_id,
        event.object_id == stripe_id,
        event.payment_intent_id.in_(charged.where(Payment.stripe_payment_intent_id.is_not(None))),
        event.object_id.in_(disputes_of_charge),
        event.object_id.in_(refunded_charge),
    )
    return StripeEvent.id.in_(union(*(select(event.id).where(each) for each in about)))


def stripe_events_listed(filters: StripeEventFilters) -> Select[*tuple[Any, ...]]:
    """Every Stripe event the webhook received, newest first (`ix_stripe_events_received_order`;
    by kind, `ix_stripe_events_kind_received`), each with what it touched: the card
    payment of its PaymentIntent (its refunds' and disputes' events name it too) with
    its invoice's number, and a refund event's refund (by its Stripe id) with its credit
    note's number, so a page of them is one query however many rows it shows."""
    return (
        select(StripeEvent, Payment, Invoice.number, Refund, CreditNote.number)
        .outerjoin(Payment, Payment.stripe_payment_intent_id == StripeEvent.payment_intent_id)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .outerjoin(Refund, Refund.stripe_refund_id == StripeEvent.object_id)
        .outerjoin(CreditNote, CreditNote.id == Refund.credit_note_id)
        .where(*_stripe_event_where(filters))
        .order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc())
    )


def stripe_event_row(session: Session, event_row_id: int) -> Row[Any]:
    """One stored Stripe event with what it touched, as a row of the list of every event
    (`stripe_events_listed`): its own console page (round 58, replay58). 404 when none."""
    found = session.execute(
        stripe_events_listed(StripeEventFilters()).where(StripeEvent.id == event_row_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"There is no Stripe event {event_row_id}.")
    return found


def failed_stripe_events(session: Session) -> tuple[int, datetime | None]:
    """How many Stripe events are stored as failed (not applied: Stripe sends each
    again, and one applied then is no longer failed), and when the oldest came."""
    count, oldest = session.execute(
        select(func.count(), func.min(StripeEvent.received_at)).where(StripeEvent.kind == "failed")
    ).one()
    return int(count or 0), oldest


# The bodies the Stripe events page shows of the deliveries it could not read.
UNREADABLE_BODIES_LISTED = 10


class UnreadableBody(NamedTuple):
    """One body Stripe delivered, signed, that the service could not read: its SHA-256,
    how many times it came, first and last, and what the audit log kept of it (its
    size, why it was not read, its first characters)."""

    digest: str
    deliveries: int
    first_at: datetime
    last_at: datetime
    kept: dict[str, Any]


class UnreadableDeliveries(NamedTuple):
    """The signed deliveries the service could not read (round 59): how many, of how
    many bodies, and the newest bodies (at most `UNREADABLE_BODIES_LISTED`); how many
    deliveries billing staff have not looked at (round 60), and the digests of the
    newest bodies they have."""

    deliveries: int
    bodies: int
    newest: list[UnreadableBody]
    not_looked_at: int = 0
    looked_at: frozenset[str] = frozenset()


def unreadable_deliveries(
    session: Session, *, limit: int = UNREADABLE_BODIES_LISTED
) -> UnreadableDeliveries:
    """Every signed Stripe delivery the service answered 400 and stored as no event,
    from the audit log (`UNREADABLE_ACTION`, one event a delivery, its record the
    body's SHA-256): counted, and the bodies delivered last first, each with its
    deliveries. Three statements however many there are; the action is indexed."""
    unread = AuditEvent.action == UNREADABLE_ACTION
    deliveries, bodies = session.execute(
        select(func.count(), func.count(AuditEvent.entity_id.distinct())).where(unread)
    ).one()
    # The audit log's order (`seq`, unique): two deliveries in one instant are ordered.
    last = func.max(AuditEvent.seq)
    grouped = session.execute(
        select(
            AuditEvent.entity_id,
            func.count(),
            func.min(AuditEvent.occurred_at),
            func.max(AuditEvent.occurred_at),
            func.max(AuditEvent.id),
        )
        .where(unread)
        .group_by(AuditEvent.entity_id)
        .order_by(last.desc())
        .limit(limit)
    ).all()
    kept: dict[int, str | None] = dict(
        session.execute(
            select(AuditEvent.id, AuditEvent.after).where(
                AuditEvent.id.in_([row[4] for row in grouped])
            )
        ).all()
    )
    newest = [
        UnreadableBody(digest, int(count), first, latest, json.loads(kept.get(newest_id) or "{}"))
        for digest, count, first, latest, newest_id in grouped
    ]
    looked_at = session.scalars(
        select(_LookedAt.entity_id).where(
            _looked_at_mark(), _LookedAt.entity_id.in_([body.digest for body in newest])
        )
    ).all()
    return UnreadableDeliveries(
        int(deliveries or 0),
        int(bodies or 0),
        newest,
        unread_not_looked_at(session),
        frozenset(looked_at),
    )


# The audit event that marked a body looked at (round 60, stripe60), beside a delivery's.
_LookedAt = aliased(AuditEvent, name="looked_at")


def _looked_at_mark() -> ColumnElement[bool]:
    return and_(
        _LookedAt.action == UNREADABLE_LOOKED_AT_ACTION,
        _LookedAt.entity_type == "stripe_delivery",
    )


def _marked(digest: Any) -> Exists:
    """A mark of the body `digest` looked at (`ix_audit_events_entity`)."""
    return select(_LookedAt.id).where(_looked_at_mark(), _LookedAt.entity_id == digest).exists()


# The choices of the list's *Looked at* filter.
UNREADABLE_LIST_STATES = {
    "not_looked_at": "Not looked at",
    "looked_at": "Looked at by billing staff",
}


@dataclass(frozen=True)
class UnreadableFilters:
    """What the list of the deliveries not read is narrowed to (round 60): the office days
    they came on (round 61: from `first` to `last`, either end open; round 60 took one
    day), and whether billing staff have looked at their body."""

    first: date | None = None
    last: date | None = None
    state: str | None = None

    @property
    def one_day(self) -> date | None:
        """The one day the list keeps, when it keeps one."""
        return self.first if self.first is not None and self.first == self.last else None


def unreadable_listed(filters: UnreadableFilters) -> Select[*tuple[Any, ...]]:
    """Every signed Stripe delivery the service could not read, one row a delivery, the
    newest first (the audit log's order, `ix_audit_events_action_seq`), each with the
    audit event that marked its body looked at, if one did (round 60, stripe60: billing
    staff saw the ten bodies delivered last, and only admins, in the audit log, every
    delivery). The audit event keeps the body's first characters, never the body."""
    where: list[ColumnElement[bool]] = [AuditEvent.action == UNREADABLE_ACTION]
    if filters.first is not None:
        where.append(AuditEvent.occurred_at >= office_day_start(filters.first))
    if filters.last is not None:
        where.append(AuditEvent.occurred_at < office_day_start(filters.last + timedelta(days=1)))
    if filters.state == "looked_at":
        where.append(_LookedAt.id.is_not(None))
    elif filters.state == "not_looked_at":
        where.append(_LookedAt.id.is_(None))
    return (
        select(AuditEvent, _LookedAt)
        .outerjoin(_LookedAt, and_(_looked_at_mark(), _LookedAt.entity_id == AuditEvent.entity_id))
        .where(*where)
        .order_by(AuditEvent.seq.desc())
    )


def unread_not_looked_at(session: Session) -> int:
    """How many signed deliveries the service could not read have a body billing staff
    have not marked looked at (round 60)."""
    return int(
        session.scalar(
            select(func.count()).where(
                AuditEvent.action == UNREADABLE_ACTION, ~_marked(AuditEvent.entity_id)
            )
        )
        or 0
    )


# The PaymentIntents Stripe does not know that *Stripe's events* lists (round 61).
UNKNOWN_INTENTS_LISTED = 20


class UnknownIntentRow(NamedTuple):
    """A PaymentIntent Stripe does not know, as a job reported it (round 61, payments61):
    its record id, when and by which job, the payment naming it and Stripe's words."""

    intent: str
    reported_at: datetime
    kept: dict[str, Any]


class UnknownIntents(NamedTuple):
    """The PaymentIntents Stripe does not know that billing staff have not looked at:
    how many, and the newest (at most `UNKNOWN_INTENTS_LISTED`)."""

    not_looked_at: int
    newest: list[UnknownIntentRow]
    # Each listed report's card payment, named as the console names payments.
    payments: dict[int, str] = {}


def followed_by(report: Any, *actions: str) -> Exists:
    """An event `actions` names on the record of `report` (an `AuditEvent`, or an alias
    of it, of the statement it is used in) written after it: by the record index."""
    later = aliased(AuditEvent, name="intent_later")
    return (
        select(later.id)
        .where(
            later.entity_type == UNKNOWN_INTENT_RECORD,
            later.entity_id == report.entity_id,
            later.action.in_(actions),
            later.seq > report.seq,
        )
        .exists()
    )


def open_report(report: Any) -> ColumnElement[bool]:
    """`report` is a report that Stripe does not know a PaymentIntent which billing staff
    have neither marked looked at nor withdrawn (round 65): the one the console lists."""
    return and_(
        report.entity_type == UNKNOWN_INTENT_RECORD,
        report.action == UNKNOWN_INTENT_ACTION,
        ~followed_by(report, UNKNOWN_INTENT_LOOKED_AT_ACTION, UNKNOWN_INTENT_WITHDRAWN_ACTION),
    )


def unknown_intents(session: Session, *, limit: int = UNKNOWN_INTENTS_LISTED) -> UnknownIntents:
    """The PaymentIntents a job reported Stripe does not know (`UNKNOWN_INTENT_ACTION`,
    one event each, its record the PaymentIntent) and billing staff have neither marked
    looked at nor (round 65) withdrawn, the newest first: counted, and the first
    `limit`. Two statements; the action and the record are indexed."""
    reported = open_report(AuditEvent)
    count = session.scalar(select(func.count()).where(reported)) or 0
    rows = session.execute(
        select(AuditEvent.entity_id, AuditEvent.occurred_at, AuditEvent.after)
        .where(reported)
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    ).all()
    newest = [UnknownIntentRow(intent, at, json.loads(after or "{}")) for intent, at, after in rows]
    ids = [row.kept["payment_id"] for row in newest if isinstance(row.kept.get("payment_id"), int)]
    named = session.execute(
        select(Payment, Invoice.number)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(Payment.id.in_(ids))
    ).all()
    return UnknownIntents(
        int(count), newest, {payment.id: payment.named(number) for payment, number in named}
    )


# The reminders an invoice's page lists, the newest first; the rest are counted.
INVOICE_REMINDERS_LISTED = 10


@dataclass(frozen=True)
class InvoiceReminder:
    """One overdue reminder that named the invoice: when, and to whom (round 57)."""

    at: datetime
    sent_to: str


def invoice_reminders(
    session: Session, invoice_id: int, *, limit: int = INVOICE_REMINDERS_LISTED
) -> list[InvoiceReminder]:
    """The newest `limit` reminders that named the invoice (its `invoice.reminder_sent`
    events, by the audit log's entity index), each with whom it went to; the invoice's
    `reminder_count` counts them all."""
    rows = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.after)
        .where(
            AuditEvent.entity_type == "invoice",
            AuditEvent.entity_id == str(invoice_id),
            AuditEvent.action == "invoice.reminder_sent",
        )
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    ).all()
    return [InvoiceReminder(at, _sent_to(after)) for at, after in rows]
