"""Reading invoices, credit notes and payments, scoped to what the caller may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from licensing.access import Principal
from licensing.accounts.models import Organization
from licensing.accounts.queries import get_owned, scoped
from licensing.billing.models import CreditNote, Invoice, Payment
from licensing.billing.states import COLLECTIBLE, DRAFT, FLAGGED


def invoices(
    session: Session,
    principal: Principal | None = None,
    *,
    state: str | None = None,
    overdue_on: date | None = None,
    organization_id: int | None = None,
    search: str | None = None,
    issued_only: bool = False,
    limit: int = 500,
) -> Sequence[Invoice]:
    """At most `limit` invoices, as `invoices_query` selects them."""
    query = invoices_query(
        principal,
        state=state,
        overdue_on=overdue_on,
        organization_id=organization_id,
        search=search,
        issued_only=issued_only,
    )
    return session.scalars(query.limit(limit)).all()


def invoices_query(
    principal: Principal | None = None,
    *,
    state: str | None = None,
    overdue_on: date | None = None,
    organization_id: int | None = None,
    search: str | None = None,
    issued_only: bool = False,
) -> Select[Any]:
    """Invoices newest first; `overdue_on` keeps those past due on that date;
    `issued_only` leaves drafts out (in SQL, so they never crowd out the limit)."""
    statement = select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id.desc())
    if state:
        statement = statement.where(Invoice.state == state)
    if issued_only:
        statement = statement.where(Invoice.state != DRAFT)
    if overdue_on is not None:
        statement = (
            statement.where(Invoice.state.in_(sorted(COLLECTIBLE)), Invoice.due_date < overdue_on)
            .order_by(None)
            .order_by(Invoice.due_date, Invoice.id)
        )
    if organization_id is not None:
        statement = statement.where(Invoice.organization_id == organization_id)
    if search:
        pattern = f"%{search.strip()}%"
        statement = statement.join(Organization, Organization.id == Invoice.organization_id).where(
            Invoice.number.ilike(pattern) | Organization.legal_name.ilike(pattern)
        )
    return scoped(statement, Invoice, principal)


def get_invoice(session: Session, invoice_id: int, principal: Principal | None = None) -> Invoice:
    return get_owned(session, Invoice, invoice_id, principal, entity="invoice")


def get_credit_note(
    session: Session, credit_note_id: int, principal: Principal | None = None
) -> CreditNote:
    return get_owned(session, CreditNote, credit_note_id, principal, entity="credit note")


def get_payment(session: Session, payment_id: int, principal: Principal | None = None) -> Payment:
    return get_owned(session, Payment, payment_id, principal, entity="payment")


def credit_notes(
    session: Session, principal: Principal | None = None, *, invoice_id: int | None = None
) -> Sequence[CreditNote]:
    statement = select(CreditNote).order_by(CreditNote.id.desc())
    if invoice_id is not None:
        statement = statement.where(CreditNote.invoice_id == invoice_id)
    return session.scalars(scoped(statement, CreditNote, principal)).all()


def payments(
    session: Session,
    principal: Principal | None = None,
    *,
    invoice_id: int | None = None,
    state: str | None = None,
) -> Sequence[Payment]:
    return session.scalars(payments_query(principal, invoice_id=invoice_id, state=state)).all()


def payments_query(
    principal: Principal | None = None,
    *,
    invoice_id: int | None = None,
    state: str | None = None,
) -> Select[Any]:
    """Payments newest first, of one invoice or in one state."""
    statement = select(Payment).order_by(Payment.id.desc())
    if invoice_id is not None:
        statement = statement.where(Payment.invoice_id == invoice_id)
    if state:
        statement = statement.where(Payment.state == state)
    return scoped(statement, Payment, principal)


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


def outstanding(session: Session, organization_id: int) -> Sequence[Invoice]:
    """An organization's invoices still owed, oldest due first."""
    return session.scalars(
        select(Invoice)
        .where(Invoice.organization_id == organization_id, Invoice.state.in_(sorted(COLLECTIBLE)))
        .order_by(Invoice.due_date, Invoice.id)
    ).all()


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Invoice.state, func.count()).group_by(Invoice.state))
    return dict(rows)
