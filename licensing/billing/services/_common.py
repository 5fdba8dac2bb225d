"""Helpers shared by the billing use-case modules."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.access import Principal
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.audit import services as audit
from licensing.billing import links, stripe_gateway
from licensing.billing.models import Invoice
from licensing.billing.states import COLLECTIBLE, INVOICE, PAID
from licensing.calendar import office_date
from licensing.config import Config
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.money import format_amount


def _config() -> Config:
    from flask import current_app

    config: Config = current_app.config["LICENSING"]
    return config


def _actor() -> str:
    from flask import has_request_context

    from licensing import access

    if has_request_context():
        principal = access.current_principal()
        if principal is not None:
            return principal.email
    return audit.SYSTEM


def _amount(amount: Decimal, currency: str) -> str:
    return f"{format_amount(amount, currency)} {currency}"


def _mail_context(invoice: Invoice, organization: Organization) -> dict[str, Any]:
    return {
        "invoice": invoice,
        "organization": organization,
        "total": _amount(invoice.total, invoice.currency),
        "balance_due": _amount(invoice.balance_due, invoice.currency),
        # Signed links: the billing contact may have no account (billing/links.py).
        "invoice_url": links.invoice_url(invoice),
        "pdf_url": links.pdf_url(invoice),
        "remit_to": _config().billing_remit_to,
    }


def _locked_invoice(
    session: Session, invoice_id: int, principal: Principal | None = None
) -> Invoice:
    """The invoice, row-locked until the transaction ends (vendor-scoped)."""
    statement = select(Invoice).where(Invoice.id == invoice_id).with_for_update()
    if principal is not None:  # a vendor acting; staff and the system are unrestricted
        statement = account_queries.scoped(statement, Invoice, principal)
    found = session.scalars(statement).one_or_none()
    if found is None:
        raise NotFound(f"There is no invoice {invoice_id}.")
    session.refresh(found)
    return found


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput.for_field("reason", "Say why.")
    return text


def _settle(session: Session, invoice: Invoice, *, now: datetime, note: str) -> None:
    before = invoice.state
    invoice.state = INVOICE.step(invoice.state, "settle")
    invoice.paid_at = now
    audit.record(
        session,
        action="invoice.paid",
        entity_type="invoice",
        entity_id=invoice.id,
        before={"state": before},
        after={
            "state": PAID,
            "amount_paid": invoice.amount_paid,
            "amount_credited": invoice.amount_credited,
        },
        note=note,
    )


def _settle_if_cleared(session: Session, invoice: Invoice, *, now: datetime, note: str) -> None:
    if (
        invoice.state in COLLECTIBLE
        and invoice.total - invoice.amount_paid - invoice.amount_credited <= 0
    ):
        _settle(session, invoice, now=now, note=note)
        _restore_standing(session, invoice.organization_id, now)


def _restore_standing(session: Session, organization_id: int, now: datetime) -> None:
    """Back to `active` once nothing is overdue beyond the threshold."""
    accounts.restore_standing_if_clear(session, organization_id, office_date(now))


def _gateway() -> stripe_gateway.PaymentGateway:
    found = stripe_gateway.gateway()
    if found is None:
        raise Conflict("Card payments are not available; pay by wire, ACH or check.")
    return found
