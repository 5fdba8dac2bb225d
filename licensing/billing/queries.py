"""Reading invoices, credit notes and payments, scoped to what the caller may see."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypedDict, Unpack

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, selectinload

from licensing.access import Principal
from licensing.accounts.models import Organization
from licensing.accounts.queries import OwnedGetter, scoped
from licensing.audit.models import AuditEvent
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from licensing.billing.states import COLLECTIBLE, DRAFT, FLAGGED


class InvoiceFilters(TypedDict, total=False):
    """What a list of invoices may be narrowed to (see `invoices_query`)."""

    state: str | None
    overdue_on: date | None
    organization_id: int | None
    search: str | None
    issued_only: bool


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
    """Invoices newest first; `overdue_on` keeps those past due on that date;
    `issued_only` leaves drafts out (in SQL, so they never crowd out the limit)."""
    statement = select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id.desc())
    if state := filters.get("state"):
        statement = statement.where(Invoice.state == state)
    if filters.get("issued_only"):
        statement = statement.where(Invoice.state != DRAFT)
    if (overdue_on := filters.get("overdue_on")) is not None:
        statement = (
            statement.where(Invoice.state.in_(sorted(COLLECTIBLE)), Invoice.due_date < overdue_on)
            .order_by(None)
            .order_by(Invoice.due_date, Invoice.id)
        )
    if (organization_id := filters.get("organization_id")) is not None:
        statement = statement.where(Invoice.organization_id == organization_id)
    if search := filters.get("search"):
        pattern = f"%{search.strip()}%"
        statement = statement.join(Organization, Organization.id == Invoice.organization_id).where(
            Invoice.number.ilike(pattern) | Organization.legal_name.ilike(pattern)
        )
    # Refund due and outstanding are read from each invoice's credit notes and
    # their refunds: loaded in two queries for the whole list, not two per row.
    statement = statement.options(
        selectinload(Invoice.credit_notes).selectinload(CreditNote.refunds)
    )
    return scoped(statement, Invoice, principal)


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


def late_fees_of(session: Session, invoice_id: int) -> Sequence[Invoice]:
    """The late-fee invoices issued on an overdue invoice, oldest first: what
    the licensee owes besides it, for billing staff working the receivables."""
    return session.scalars(
        select(Invoice)
        .where(Invoice.parent_invoice_id == invoice_id, Invoice.number.is_not(None))
        .order_by(Invoice.issue_date, Invoice.id)
    ).all()


class PaymentFilters(TypedDict, total=False):
    """What a list of payments may be narrowed to: one invoice's, or one state."""

    invoice_id: int | None
    state: str | None


def payments(
    session: Session, principal: Principal | None = None, **filters: Unpack[PaymentFilters]
) -> Sequence[Payment]:
    return session.scalars(payments_query(principal, **filters)).all()


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


def flagged_payments(session: Session) -> Sequence[Payment]:
    return session.scalars(
        select(Payment).where(Payment.state == FLAGGED).order_by(Payment.id)
    ).all()


def organization_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Organization.id, Organization.legal_name).where(Organization.id.in_(ids))
    )
    return {row.id: row.legal_name for row in rows}


# Kept per process, the organization a bound parameter: the vendor dashboard asks
# on every visit, and a statement built per call also pays for its cache key.
_OUTSTANDING = (
    select(Invoice)
    .where(
        Invoice.organization_id == bindparam("organization_id"),
        Invoice.state.in_(sorted(COLLECTIBLE)),
    )
    .order_by(Invoice.due_date, Invoice.id)
)


def outstanding(session: Session, organization_id: int) -> Sequence[Invoice]:
    """An organization's invoices still owed, oldest due first."""
    return session.scalars(_OUTSTANDING, {"organization_id": organization_id}).all()


# --- what period an invoice bills (for the copyright year of its documents) ----------

PeriodStartOf = Callable[[Session, int], date | None]
_PERIOD_STARTS: dict[str, PeriodStartOf] = {}


def period_start_for(source_type: str) -> Callable[[PeriodStartOf], PeriodStartOf]:
    """Register how to find the first day billed by invoices of `source_type`, given
    their `source_id` (the package that invoices registers it: billing knows none)."""

    def register(resolver: PeriodStartOf) -> PeriodStartOf:
        _PERIOD_STARTS[source_type] = resolver
        return resolver

    return register


def period_start(session: Session, invoice: Invoice) -> date:
    """The first day of the period an invoice bills: its source's (an agreement's
    term start), a late fee's parent invoice's, else the invoice's own date."""
    seen: set[int] = set()
    current: Invoice | None = invoice
    while current is not None and current.id not in seen:
        seen.add(current.id)
        resolver = _PERIOD_STARTS.get(current.source_type)
        if resolver is not None and current.source_id is not None:
            found = resolver(session, current.source_id)
            if found is not None:
                return found
        parent = current.parent_invoice_id
        current = session.get(Invoice, parent) if parent is not None else None
    return invoice.issue_date or invoice.created_at.date()
