"""Signed links to one invoice, for its billing contact, who may have no account.

The invoice email goes to the organization's billing contact, often someone in
finance who never signed up. Its link opens the invoice, its PDF and the
pay-by-card page without signing in. Like the permission status link, the
secret is an HMAC of the invoice under `SECRET_KEY` (the signing port,
licensing/signing.py; rotating the key invalidates old links), here over the
invoice's id and number, so nothing needs storing and an email can repeat the
link. A link stops working a year after the
invoice is closed (paid or void).

Billing staff can withdraw every link sent so far (a forwarded email, a wrong
recipient): each withdrawal is an `InvoiceLinkRevocation`, and the secret also
covers how many there have been (its *generation*), so earlier links stop working
and the next email carries a new one. Generation 0 signs what links always signed,
so the links sent before withdrawals existed keep working until one is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.interfaces import ORMOption

from licensing import calendar, db
from licensing.access import Principal
from licensing.billing.models import Invoice, InvoiceLinkRevocation
from licensing.billing.states import DRAFT
from licensing.errors import NotFound, PermissionDenied
from licensing.links import links
from licensing.signing import signer

VALID_AFTER_CLOSE = timedelta(days=365)
NOT_VALID = (
    "This invoice link is not valid. Use the whole link from the invoice email, or sign in "
    "to the vendor portal."
)


# A withdrawn link is told apart from a wrong one for this many withdrawals back.
RECOGNISED_WITHDRAWALS = 20


def generation(session: Session, invoice_id: int) -> int:
    """How many times the invoice's links were withdrawn: the current links' generation."""
    count = select(func.count()).where(InvoiceLinkRevocation.invoice_id == invoice_id)
    return int(session.scalar(count) or 0)


def generations(session: Session, invoice_ids: Sequence[int]) -> dict[int, int]:
    """`generation` of each invoice, by id, in one statement however many."""
    counted = session.execute(
        select(InvoiceLinkRevocation.invoice_id, func.count())
        .where(InvoiceLinkRevocation.invoice_id.in_(invoice_ids))
        .group_by(InvoiceLinkRevocation.invoice_id)
    )
    found = dict.fromkeys(invoice_ids, 0)
    found.update({invoice_id: int(count) for invoice_id, count in counted})
    return found


def current_generation(invoice: Invoice) -> int:
    """`generation` of the invoice, read in its own session (else the request's)."""
    return generation(object_session(invoice) or db.session(), invoice.id)


def generation_column() -> ScalarSelect[int]:
    """`generation` as a column of a statement selecting invoices, so a batch that
    emails each invoice reads its links' generation with the invoice, not once more
    an email."""
    return (
        select(func.count())
        .where(InvoiceLinkRevocation.invoice_id == Invoice.id)
        .correlate(Invoice)
        .scalar_subquery()
    )


def token(invoice: Invoice, of_generation: int | None = None) -> str:
    """The secret of the invoice's links: of the current generation unless told."""
    if of_generation is None:
        of_generation = current_generation(invoice)
    return signer().token(_signed(invoice, of_generation))


def _signed(invoice: Invoice, of_generation: int) -> str:
    withdrawn = f":{of_generation}" if of_generation else ""
    return f"invoice-link:{invoice.id}:{invoice.number}{withdrawn}"


def invoice_url(invoice: Invoice, of_generation: int | None = None) -> str:
    """The page of the invoice, for emails (absolute, under `PUBLIC_URL`); of the
    links' current generation, read unless the caller has it."""
    return links().invoice(invoice.id, token(invoice, of_generation))


def pdf_url(invoice: Invoice, of_generation: int | None = None) -> str:
    return links().invoice_pdf(invoice.id, token(invoice, of_generation))


def credit_note_pdf_url(
    invoice: Invoice, credit_note_id: int, of_generation: int | None = None
) -> str:
    return links().credit_note_pdf(invoice.id, token(invoice, of_generation), credit_note_id)


def invoice_for(
    session: Session,
    invoice_id: int,
    raw: str,
    now: datetime,
    *,
    options: Sequence[ORMOption] = (),
) -> Invoice:
    """The invoice a link opens; `NotFound` for a wrong link, `PermissionDenied` once
    it has expired. `options`: loader options (what a PDF reads, say)."""
    # The invoice and its links' generation in one statement: a page opened by the
    # link used to count the withdrawals in a second one.
    # `unique()`: a PDF's options load the lines with a joined eager load, whose rows
    # repeat the invoice; one_or_none refuses them without it.
    found = (
        session.execute(
            select(Invoice, generation_column()).where(Invoice.id == invoice_id).options(*options)
        )
        .unique()
        .one_or_none()
    )
    if found is None or found[0].state == DRAFT:
        raise NotFound(NOT_VALID)
    invoice: Invoice = found[0]
    current = int(found[1])
    # Under SECRET_KEY or a former key kept in SECRET_KEY_FALLBACKS (rotation).
    if not signer().matches(_signed(invoice, current), raw):
        earlier = range(max(0, current - RECOGNISED_WITHDRAWALS), current)
        if any(signer().matches(_signed(invoice, older), raw) for older in earlier):
            raise PermissionDenied(
                f"This link to invoice {invoice.number} was withdrawn by the licensing "
                "office. Use the link in the latest email about the invoice, or sign in "
                "to the vendor portal."
            )
        raise NotFound(NOT_VALID)
    closed = invoice.paid_at or invoice.voided_at
    if closed is not None and now > closed + VALID_AFTER_CLOSE:
        # Round 34: it said a UTC date ("expired on 2027-03-01"), as the status
        # link of a permission did before round 33.
        ended = closed + VALID_AFTER_CLOSE
        raise PermissionDenied(
            f"This link to invoice {invoice.number} expired {calendar.when_text(ended)}: "
            "sign in to the vendor portal to see it.",
            instants={"expired_at": ended},
        )
    return invoice


def payer(invoice: Invoice, billing_email: str) -> Principal:
    """Who pays through the link: the organization's billing contact, with no user
    account (id 0), acting only on that organization's records."""
    return Principal(user_id=0, email=billing_email, organization_id=invoice.organization_id)
