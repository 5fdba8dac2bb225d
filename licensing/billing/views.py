"""Billing pages: the vendor's invoices (list, detail, pay by card, PDFs), the
billing staff's console (filters, record a payment, void, credit note, overdue
list, flagged card payments) and Stripe's webhook.

Views read forms, call one service and render; they never commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

from licensing import access, arguments, calendar, db, headers
from licensing.access import Principal
from licensing.accounts.models import Organization, User
from licensing.accounts.queries import People, get_owned, people_of
from licensing.actors import current_actor
from licensing.audit import queries as audit_queries
from licensing.billing import (
    forms,
    gateways,
    links,
    payment_gateway,
    pdfs,
    queries,
    record_names,
    sent_statements,
    services,
    statements,
)
from licensing.billing.letterhead import letterhead
from licensing.billing.models import (
    CreditNote,
    Invoice,
    Payment,
    PaymentDispute,
    Refund,
    SentStatement,
    StripeEvent,
    number_year_words,
)
from licensing.billing.sent_statements import SentReading
from licensing.billing.services import requested_statements
from licensing.billing.services.card_payments import beyond_card
from licensing.billing.services.monthly_statements import drawn_statement_pdf, unrecordable
from licensing.billing.services.statements import DEFAULT_CURRENCY
from licensing.billing.states import (
    CARD,
    COLLECTIBLE,
    DRAFT,
    FLAGGED,
    GIVEN_BACK,
    GIVING_BACK,
    INVOICE,
    OPEN,
    PAID,
    PAYMENT,
    RECEIVED,
    REVERSED,
    STRIPE_EVENT,
    SUCCEEDED,
)
from licensing.calendar import month_text, office_date
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import document_rate_limit, pdf_response
from licensing.errors import (
    BadRequest,
    Conflict,
    DomainError,
    ExternalServiceError,
    InvalidInput,
    NotFound,
    RepeatedKey,
    TooManyRequests,
)
from licensing.extensions import csrf, limiter
from licensing.finance import queries as finance_queries
from licensing.finance.queries import month_end
from licensing.finance.services import parse_month
from licensing.limits import record_id, shows_unstorable_on_form
from licensing.links import request_path
from licensing.money import (
    MoneyError,
    format_amount,
    format_quantity,
    in_words,
    is_currency,
    parse_decimal,
    ungrouped,
)
from licensing.problems import problem
from licensing.web import confirm, paging
from licensing.web.console import QueueSummary, queue_summary
from licensing.web.errors import said_to_the_reader
from licensing.web.filters import (
    days_said,
    money,
    recorded_amounts,
    recorded_currencies,
    recorded_words,
)
from licensing.web.forms import PageForm, show_errors
from licensing.web.navigation import may_open, record_url
from licensing.web.organization_records import (
    HistoryEntry,
    organization_history,
    organization_section,
)
from licensing.web.portal import WaitingItem, waiting_provider
from licensing.web.records import described, numbered_record, reference_ref
from licensing.web.scope import organization_scope, requested_organization
from licensing.words import counted, humanize

bp = Blueprint("billing", __name__, url_prefix="/portal")
console = Blueprint("billing_console", __name__, url_prefix="/console")
documents_bp = Blueprint("billing_documents", __name__)
webhooks = Blueprint("billing_webhooks", __name__)
csrf.exempt(webhooks)  # Stripe signs its requests; there is no session to forge

Page = str | tuple[str, int] | Response
BILLING_READERS = ("billing", "licensing")
CARD_ATTEMPTS_LIMIT = "10 per hour"


def _today() -> date:
    return office_date(utcnow())


# --- the vendor's invoices ------------------------------------------------------------


# The vendor's invoice list's filters: overdue, from the overdue reminder's link; one
# agreement's, from its page (round 67).
VENDOR_INVOICE_FILTERS = {"overdue": "Overdue only", "agreement": "Agreement"}


@bp.route("/invoices")
@access.vendor
def invoices() -> str:
    session = db.session()
    today = _today()
    # Overdue only (round 50: the reminder's link): past due and asked for, the oldest
    # due first, as the reminder and the statement's email list them; not those a
    # bank's dispute holds, which this page never calls overdue (`queries.overdue_on`,
    # the API's and the console's meaning too). Kept across pages.
    arguments.once(request.args, VENDOR_INVOICE_FILTERS)  # given twice: 400 (round 56)
    overdue = request.args.get("overdue") == "1"
    # Round 67: one agreement's (its page links them), by its number, as the console's.
    agreement = (request.args.get("agreement") or "").strip()[:40].upper() or None
    found: paging.Page[Invoice] = paging.read_page(
        session,
        queries.invoices_query(
            issued_only=True, overdue_on=today if overdue else None, agreement_number=agreement
        ),
    )
    shown = [invoice.id for invoice in found.items]
    holds = queries.dispute_holds(session, set(shown), today)
    # A paid invoice whose credit note owes money back says so beside "paid" (round 36).
    refunds: dict[int, Decimal] = {}
    for owed in queries.refunds_owed(session, invoice_ids=shown) if shown else ():
        refunds[owed.invoice_id] = refunds.get(owed.invoice_id, Decimal(0)) + owed.outstanding
    return render_template(
        "billing/portal_invoices.html",
        invoices=found.items,
        page=found,
        overdue=overdue,
        agreement=agreement,
        # Named with its link once a row shows it is the vendor's own (the list is
        # theirs alone): a number typed for another's is named as typed, unlinked.
        agreement_ref=reference_ref(agreement) if agreement and found.items else None,
        today=today,
        holds=holds,
        refunds=refunds,
    )


@bp.route("/invoices/<int:invoice_id>")
@access.vendor
def invoice_detail(invoice_id: int) -> str:
    invoice = queries.get_invoice(db.session(), invoice_id)
    if invoice.state == DRAFT:
        raise NotFound(f"There is no invoice {invoice_id}.")
    return render_template("billing/portal_invoice.html", **_payer_view(invoice))


def _gateway() -> payment_gateway.PaymentGateway | None:
    """The running app's payment gateway, or None where it takes no card."""
    return gateways.gateway(current_config())


def _payer_view(invoice: Invoice) -> dict[str, Any]:
    """What the payer's invoice pages (the portal's and the emailed link's) show: the
    invoice, its payments and credit notes, the PDFs kept of it and of its credit
    notes (rounds 46, 47: one statement), and how to pay it."""
    session = db.session()
    payments, credit_notes = queries.payer_records(session, invoice)
    today = _today()
    kept = pdfs.kept_documents(session, pdfs.of_invoice(invoice.id))
    return {
        "kept_documents": kept,
        "not_kept": pdfs.not_kept(invoice, kept),
        "invoice": invoice,
        "payments": payments,
        "credit_notes": credit_notes,
        "card_enabled": _gateway() is not None,
        # Round 50: a balance beyond one card payment is paid by wire, ACH or check.
        "beyond_card": beyond_card(invoice),
        "remit_to": letterhead().remit_lines,
        "today": today,
        "dispute": _dispute_hold(session, invoice, payments, today),
        # Round 44: the bank's open dispute of a card payment that never counted (a
        # flagged one): the pay pages refuse a card payment meanwhile, so the invoice's
        # page offers none, and says why.
        "uncounted_dispute": _uncounted_dispute(session, invoice, payments),
        "amended": queries.amended_invoice(session, invoice),
        "number_year": _number_year(session, invoice),
        # Round 40: a flagged or given-back card payment in the payer's words.
        "taken": _money_taken(session, payments),
    }


def _number_year(session: Session, invoice: Invoice) -> str:
    """Round 68: why an up-front invoice's number names its issue year, not its term's
    (`number_year_words`); a statement only for such an invoice."""
    if not invoice.numbered_in_another_year:
        return ""
    return number_year_words(invoice, queries.period_start(session, invoice))


def _dispute_hold(
    session: Session, invoice: Invoice, payments: Sequence[Payment], today: date
) -> PaymentDispute | None:
    # Only a card payment the bank took back is disputed in a way the payer must be
    # told of: no statement for the invoices (nearly all) without one.
    if not any(p.method == CARD and p.state == REVERSED for p in payments):
        return None
    return queries.dispute_holds(session, {invoice.id}, today).get(invoice.id)


def _uncounted_dispute(
    session: Session, invoice: Invoice, payments: Sequence[Payment]
) -> PaymentDispute | None:
    """The invoice's open dispute of a card payment that never counted against it, if
    any (`_dispute_hold` says the others: a payment the bank took back). Only a card
    payment not received can be one: no statement for the invoices (nearly all)
    without such a payment, as `_dispute_hold` spares them."""
    if not any(p.method == CARD and p.state not in RECEIVED for p in payments):
        return None
    return next(
        (d for d in queries.open_disputes(session, invoice.id) if d.payment.state not in RECEIVED),
        None,
    )


def _not_payable_while_disputed(invoice: Invoice) -> str | None:
    """Why the payer is not offered a card payment of `invoice` now: its card
    payment's dispute is open, so the office is not asking for the money."""
    if not queries.open_disputes(db.session(), invoice.id):
        return None
    return (
        f"{invoice.title} is not asked to be paid while your bank's dispute of its card "
        f"payment is open: the bank decides whether the money returns to it."
    )


@bp.route("/invoices/<int:invoice_id>/pay")
@access.vendor
def pay(invoice_id: int) -> Page:
    session = db.session()
    invoice = queries.get_invoice(session, invoice_id)
    gateway = _gateway()
    if gateway is None or invoice.state not in COLLECTIBLE or invoice.balance_due <= 0:
        why = "it is already paid" if invoice.state == PAID else "nothing is owed on it"
        if gateway is None:
            why = "card payments are not available; pay by wire, ACH or check"
        flash(f"{invoice.title} cannot be paid by card: {why}.", "error")
        return redirect(url_for("billing.invoice_detail", invoice_id=invoice.id))
    if refused := _not_payable_while_disputed(invoice) or beyond_card(invoice):
        flash(refused, "error")
        return redirect(url_for("billing.invoice_detail", invoice_id=invoice.id))
    headers.allow_stripe_js()  # the one page whose policy admits Stripe.js
    return render_template(
        "billing/pay.html",
        invoice=invoice,
        publishable_key=gateway.publishable_key,
        stripe_js_url=gateway.js_url,
        remit_to=letterhead().remit_lines,
    )


def _caller_key() -> str:
    principal = access.current_principal()
    return f"user:{principal.user_id}" if principal else f"ip:{request.remote_addr}"


@bp.route("/invoices/<int:invoice_id>/card-payments", methods=["POST"])
@access.vendor
# Each attempt costs Stripe calls, and card testing is a known abuse: a budget per user.
@limiter.limit(CARD_ATTEMPTS_LIMIT, key_func=_caller_key)
def card_payment(invoice_id: int) -> tuple[Response, int]:
    """Called by the pay page's script with the token Stripe.js made of the card."""
    return _start_card_payment(
        invoice_id,
        access.require_principal(),
        invoice_url=lambda paying: url_for(
            "billing.invoice_detail", invoice_id=invoice_id, paying=paying
        ),
        status_url=lambda payment_id: url_for(
            "billing.card_payment_status", invoice_id=invoice_id, payment_id=payment_id
        ),
    )


def _start_card_payment(
    invoice_id: int,
    payer: Principal,
    *,
    invoice_url: Callable[[int], str],
    status_url: Callable[[int], str],
) -> tuple[Response, int]:
    """Start a card attempt with the token in the JSON body, for the pay page's
    script: what Stripe.js confirms, and where to look next (both by payment id).
    Refusals are JSON too: 422 bad input, 409 the invoice's state, 502 Stripe, and
    (round 55) 400 a body giving a key twice (`{"token": "a", "token": "b"}`, which
    the app's JSON reader refuses; its error page was HTML, not the script's JSON)."""
    try:
        body = request.get_json(silent=True) or {}
    except RepeatedKey as error:
        return _refused_to_the_script(error, 400)
    token = body.get("token") if isinstance(body, dict) else None
    try:
        attempt = services.start_card_payment(
            invoice_id, card_token=str(token or ""), principal=payer, gateway=_gateway()
        )
    except InvalidInput as error:
        return _refused_to_the_script(error, 422)
    except Conflict as error:
        return _refused_to_the_script(error, 409)
    except NotFound:
        raise
    except DomainError as error:  # Stripe could not be reached or refused the request
        return _refused_to_the_script(error, 502)
    return (
        jsonify(
            status=attempt.status,
            client_secret=attempt.client_secret,
            message=attempt.message,
            redirect=invoice_url(attempt.payment_id),
            status_url=status_url(attempt.payment_id),
        ),
        200,
    )


def _refused_to_the_script(error: DomainError, status: int) -> tuple[Response, int]:
    """A card attempt's refusal as the pay page's script shows it (as text): the
    sentence said to its reader (a refused step names the steps they may take,
    `said_to_the_reader`), and its days in words as the page's sentences say them
    (`days_said`). Round 59: the script was sent the service's words, the state's
    steps and ISO days ("INV-2027-000001 is already paid on 2027-03-02")."""
    answer: dict[str, Any] = {"error": days_said(said_to_the_reader(error))}
    if isinstance(error, InvalidInput):
        answer["errors"] = {
            field: [days_said(message) for message in messages]
            for field, messages in error.errors.items()
        }
    return jsonify(answer), status


@bp.route("/invoices/<int:invoice_id>/card-payments/<int:payment_id>")
@access.vendor
def card_payment_status(invoice_id: int, payment_id: int) -> Response:
    """What the pay page polls after confirming: the attempt's outcome so far."""
    session = db.session()
    invoice = queries.get_invoice(session, invoice_id)
    payment = _attempt_of(invoice, queries.get_payment(session, payment_id))
    return _status_response(
        payment, invoice, url_for("billing.invoice_detail", invoice_id=invoice.id)
    )


def _attempt_of(invoice: Invoice, payment: Payment) -> Payment:
    if payment.invoice_id != invoice.id or payment.method != CARD:
        raise NotFound(f"{invoice.title} has no card payment {payment.id}.")
    return payment


def _status_response(payment: Payment, invoice: Invoice, invoice_url: str) -> Response:
    """The attempt as the pay page shows it: `paid`, `declined`, `processing`
    (Stripe has not reported yet), `review` (the amount differed: staff check
    it) or `closed` (canceled without a decline)."""
    amount = f"{money(payment.amount, payment.currency)} {payment.currency}"
    on_card = f" on {payment.card_label}" if payment.card_label else ""
    if payment.state == SUCCEEDED:
        outcome, title = "paid", "Paid"
        rest = (
            f"invoice {invoice.label} is paid in full."
            if invoice.state == PAID
            else f"the balance due is now {money(invoice.balance_due, invoice.currency)} "
            f"{invoice.currency}."
        )
        message = f"{amount} received{on_card}: {rest}"
    elif payment.declined:
        outcome, title = "declined", "Declined"
        # The bank's words when they say why; the state's name never ("canceled").
        said = payment.note if payment.note and "declined" in payment.note.lower() else None
        which = f" ({payment.card_label})" if payment.card_label else ""
        message = (
            f"{said or 'The card was declined.'} Nothing was charged{which}; try another card."
        )
    elif payment.state == FLAGGED and payment.holding_dispute is not None:
        # Round 45: flagged because the bank disputed the charge (before or after Stripe
        # reported it), not for an amount: the poll said "a different amount".
        outcome, title = "review", "Received, disputed by your bank"
        message = (
            "Your bank disputed this card payment, so it does not count against the "
            "invoice until the dispute is decided; billing staff are told."
        )
    elif payment.state == FLAGGED:
        outcome, title = "review", "Received, being checked"
        message = "Stripe reported a different amount; billing staff check it before it counts."
    elif payment.state == GIVING_BACK:
        outcome, title = "review", "Being given back"
        message = (
            "The office asked for this payment's money to go back to the card; the card "
            "processor has not answered yet. It does not count against the invoice."
        )
    elif payment.state == GIVEN_BACK:
        outcome, title = "closed", "Given back"
        message = (
            "The money this payment took went back to the card; it did not count "
            "against the invoice. Your bank may take a few days to show it."
        )
    elif payment.state == "canceled":
        outcome, title = "closed", "Closed"
        message = payment.note or "This card attempt was closed; nothing was charged by it."
    else:
        outcome, title = "processing", "Still processing"
        message = (
            f"Your payment of {amount} is being confirmed by Stripe; "
            "the invoice shows it once it is."
        )
    response = jsonify(
        outcome=outcome,
        title=title,
        message=message,
        card=payment.card_label,
        invoice_url=invoice_url,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


numbered_record("invoice", Invoice, Invoice.number)
numbered_record("credit_note", CreditNote, CreditNote.number)
described("payment", record_names.payments)
described("payment_reversal", record_names.payment_reversals)
described("dispute", record_names.disputes)
described("statement", record_names.statements_sent)
described("refund", record_names.refunds)
# Histories say an invoice's state as its refusals do ("a draft", not "draft").
recorded_words("invoice", ("state",), INVOICE.state_text)
# A dispute's history says the bank's reason and Stripe's status as its pages do.
recorded_words("dispute", ("reason", "status"), humanize)
recorded_words("unmatched_dispute", ("status",), humanize)
# A statement's balances were stored as "750.0000" (or "0") before round 28; the
# audit rows stay as written, so the history gives them the currency's digits.
recorded_amounts("statement", ("opening", "closing"))


# Round 67: an event's amounts in its record's currency where the event kept none.
def _currencies_of(model: type[Invoice | CreditNote | Payment | Refund]) -> Any:
    def statement(ids: list[int]) -> Any:
        return select(model.id, model.currency).where(model.id.in_(ids))

    return statement


for _entity, _model in (
    ("invoice", Invoice),
    ("credit_note", CreditNote),
    ("payment", Payment),
    ("refund", Refund),
):
    recorded_currencies(_entity, _currencies_of(_model))


@organization_section("billing_console.invoice_detail")
def _organization_invoices(session: Session, organization_id: int, limit: int) -> dict[str, Any]:
    """The newest invoices, and the balance owed in each currency (summed in SQL)."""
    _count, balance = queries.outstanding_balances(session, organization_id)
    # The newest `limit`, and how many there are (round 47: it read 500 to show 50).
    invoices = list(queries.invoices(session, organization_id=organization_id, limit=limit))
    total = db.count_rows(session, queries.invoices_query(organization_id=organization_id))
    return {"invoices": invoices, "balance": balance, "invoices_total": total}


# The invoices a reminder's row in an organization's history names; the rest counted.
REMINDER_INVOICES_NAMED = 5


@organization_history("billing_console.invoice_detail")
def _organization_reminders(session: Session, organization_id: int) -> dict[int, HistoryEntry]:
    """Round 56: the overdue reminders emailed to the organization, at the row of each
    one's newest event, naming the invoices it reminded of (the history showed the late
    fees emailed, an organization's event, but not the reminders: its invoices')."""
    entries: dict[int, HistoryEntry] = {}
    for sent in queries.reminders_sent(session, organization_id):
        count = len(sent.invoices)
        named = sent.invoices[:REMINDER_INVOICES_NAMED]
        counted = "1 invoice reminded" if count == 1 else f"{count} invoices reminded in one email"
        # Round 57: and to whom (the billing contact then, name and address).
        entries[sent.seq] = HistoryEntry(
            f"{counted} to {sent.sent_to}:",
            [
                (number, url_for("billing_console.invoice_detail", invoice_id=invoice_id))
                for invoice_id, number in named
            ],
            more=count - len(named),
        )
    return entries


@waiting_provider(when=queries.owes_any)
def _open_invoices(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    """The invoices owed: the `OWED_NAMED` due soonest, the rest one line with the
    count and what is owed on them all (round 49: every invoice owed was read)."""
    today = _today()
    owed = queries.outstanding(session, organization.id, OWED_NAMED)
    holds = queries.dispute_holds(session, {invoice.id for invoice in owed.oldest}, today)
    for invoice in owed.oldest:
        yield _invoice_waiting(invoice, holds.get(invoice.id), today)
    if owed.count > OWED_NAMED:
        more = owed.count - OWED_NAMED
        sums = ", ".join(in_words(total, currency) for currency, total in owed.balances.items())
        yield WaitingItem(
            "1 more invoice to pay" if more == 1 else f"{more} more invoices to pay",
            waiting_on="you",
            detail=f"{sums} owed on {owed.count} invoices in all; the soonest due are above.",
            url=url_for("billing.invoices"),
        )


# The invoices owed the vendor dashboard names; the rest are counted (as its
# applications, `agreements.views.WAITING_NAMED`).
OWED_NAMED = 5


# Who sends a refund, as the vendor reads it: the dashboard, the royalty report's page
# and the credit note's email (the `refunds_sent_by` template global; round 53: they
# said "the licensing office", while it is billing staff who send it).
REFUNDS_SENT_BY = "the licensing office's billing staff"


@waiting_provider(when=queries.owes_refund)
def _refunds_owed(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    """A refund a credit note owes back (an amendment lowered a paid royalty): it
    waits on the office, and the vendor read only "paid" on Invoices (round 36).
    Round 53: said as the vendor reads it: who sends it (the office's billing staff,
    not "the licensing office" at large), how much is left of how much, and how it
    comes (to the card that paid, where one can take it; else by transfer or check).
    No day: the office promises none for a refund (docs/billing.md, "Refunds")."""
    owed = queries.refunds_owed(session, organization_id=organization.id)
    to_card = _refunds_to_card(session, {row.invoice_id for row in owed})
    for row in owed:
        amount = f"{money(row.outstanding, row.currency)} {row.currency}"
        sent = row.refunded
        how = (
            "to the card that paid it" if row.invoice_id in to_card else "by bank transfer or check"
        )
        already = (
            f"{money(sent, row.currency)} {row.currency} of the "
            f"{money(row.refund_due, row.currency)} {row.currency} owed back is sent; "
            if sent > 0
            else ""
        )
        rest = "the rest" if sent > 0 else "it"
        yield WaitingItem(
            title=f"Refund of {amount} due to you (credit note {row.number})",
            waiting_on=REFUNDS_SENT_BY,
            detail=(
                f"on invoice {row.invoice_number}: {already}{REFUNDS_SENT_BY} send {rest} "
                f"back {how} and email your billing contact when it is sent; the invoice "
                "lists it then"
            ),
            url=url_for("billing.invoice_detail", invoice_id=row.invoice_id),
            since=row.issued_at,
        )


def _refunds_to_card(session: Session, invoice_ids: set[int]) -> set[int]:
    """Of the invoices, those whose refund goes back to a card: a card payment of the
    invoice can take one (`_refundable_by_card`, as the console's *Refund* form offers
    it) and the office takes cards. One query for their payments."""
    if not invoice_ids or _gateway() is None:
        return set()
    payments = session.scalars(
        select(Payment)
        .where(Payment.invoice_id.in_(sorted(invoice_ids)))
        .options(selectinload(Payment.disputes))
    ).all()
    return {
        invoice_id
        for invoice_id in invoice_ids
        if _refundable_by_card(p for p in payments if p.invoice_id == invoice_id)
    }


def _invoice_waiting(invoice: Invoice, dispute: PaymentDispute | None, today: date) -> WaitingItem:
    """An invoice owed, as the dashboard lists it: to pay, unless its card payment's
    dispute is open (the bank decides, and the office does not ask for the money)."""
    amount = f"{money(invoice.balance_due, invoice.currency)} {invoice.currency}"
    url = url_for("billing.invoice_detail", invoice_id=invoice.id)
    if dispute is not None and dispute.is_open:
        return WaitingItem(
            title=f"Invoice {invoice.number}: card payment disputed by your bank",
            waiting_on="your bank",
            detail=f"{amount} not asked for while the dispute is open",
            url=url,
            since=dispute.disputed_at,
        )
    due = invoice.due_date
    detail = f"{amount} due {calendar.day_text(due)}" if due else f"{amount} due"
    if invoice.amount_credited > 0:
        # Round 56: a credited invoice read "77.50 USD due" beside its 232.50 USD total
        # elsewhere, and the vendor could not tell where the rest had gone.
        credited = money(invoice.amount_credited, invoice.currency)
        total = money(invoice.total, invoice.currency)
        detail += f" ({credited} of its {total} {invoice.currency} credited)"
    if dispute is not None:
        again = dispute.owed_again_on
        detail = f"{amount} owed again after your bank's dispute" + (
            f", due {calendar.day_text(again)}" if again else ""
        )
    elif overdue := invoice.days_overdue(today):
        detail += f": {overdue} days overdue"
    return WaitingItem(
        title=f"Invoice {invoice.number} to pay",
        waiting_on="you",
        detail=detail,
        url=url,
        since=invoice.finalized_at,
    )


# --- PDFs (vendors of the organization, and staff) ------------------------------------


def invoice_pdf_response(invoice: Invoice) -> Response:
    """The invoice's PDF as first drawn in its standing (kept: round 44), with the
    kept bytes' SHA-256 as `X-Content-SHA256`, as an agreement's."""
    kept = services.kept_invoice_pdf(invoice)
    return pdf_response(kept.pdf, f"{invoice.number}.pdf", sha256=kept.sha256)


def credit_note_pdf_response(credit: CreditNote) -> Response:
    kept = services.kept_credit_note_pdf(credit)
    return pdf_response(kept.pdf, f"{credit.number}.pdf", sha256=kept.sha256)


@documents_bp.route("/invoices/<int:invoice_id>.pdf")
@access.allow(vendor=True, staff=BILLING_READERS)
@document_rate_limit()
def invoice_pdf(invoice_id: int) -> Response:
    invoice = queries.invoice_for_pdf(db.session(), invoice_id)
    return invoice_pdf_response(invoice)


@documents_bp.route("/credit-notes/<int:credit_note_id>.pdf")
@access.allow(vendor=True, staff=BILLING_READERS)
@document_rate_limit()
def credit_note_pdf(credit_note_id: int) -> Response:
    credit = queries.credit_note_for_pdf(db.session(), credit_note_id)
    return credit_note_pdf_response(credit)


@documents_bp.route("/invoices/<int:invoice_id>/documents/<int:document_id>.pdf")
@access.allow(vendor=True, staff=BILLING_READERS)
def kept_invoice_document(invoice_id: int, document_id: int) -> Response:
    """One of the invoice's kept PDFs (the issued one, a payment's, a void's: round 46)
    exactly as kept. Nothing is drawn, so it is not in the documents budget."""
    invoice = queries.get_invoice(db.session(), invoice_id)  # the vendor's own only
    if invoice.state == DRAFT:
        raise NotFound(f"There is no invoice {invoice_id}.")
    return kept_document_response(invoice, document_id)


def kept_document_response(
    invoice: Invoice, document_id: int, *, credit_notes: bool = True
) -> Response:
    """The kept document `document_id` of the invoice or of one of its credit notes
    (round 47), as kept (`NotFound` if neither's): the invoice's pages list both.
    Without `credit_notes`, the invoice's own only, as the API's invoice lists them
    (round 49: its download served what its list did not name)."""
    whose = pdfs.of_invoice(invoice.id, credit_notes=credit_notes)
    kept = pdfs.kept_document(db.session(), whose, document_id)
    # A credit note's is named after it (`CN-…-7.pdf`), as its API route names it.
    name = kept.credit_note_number or invoice.number
    return pdf_response(kept.pdf, f"{name}-{document_id}.pdf", sha256=kept.sha256)


# --- the billing contact's signed link: no account needed (billing/links.py) ------------

LINK = "/invoice-links/<int:invoice_id>/<token>"


def _linked(invoice_id: int, token: str, *, for_pdf: bool = False) -> Invoice:
    # For a PDF: with what its document reads (`queries.invoice_for_pdf`).
    options = queries.invoice_document_options() if for_pdf else ()
    return links.invoice_for(db.session(), invoice_id, token, utcnow(), options=options)


@documents_bp.route(LINK)
@access.public
def linked_invoice(invoice_id: int, token: str) -> str:
    invoice = _linked(invoice_id, token)
    return render_template("billing/linked_invoice.html", token=token, **_payer_view(invoice))


@documents_bp.route(f"{LINK}/invoice.pdf")
@access.public
@document_rate_limit()
def linked_invoice_pdf(invoice_id: int, token: str) -> Response:
    invoice = _linked(invoice_id, token, for_pdf=True)
    return invoice_pdf_response(invoice)


@documents_bp.route(f"{LINK}/documents/<int:document_id>.pdf")
@access.public
@document_rate_limit()
def linked_kept_document(invoice_id: int, token: str, document_id: int) -> Response:
    """One of the invoice's or its credit notes' kept PDFs (round 47), on the signed
    link's authority alone, as the page lists them: another invoice's is not found.
    Nothing is drawn, but it is in the documents budget (round 49): without sign-in,
    the budget per client address is all that bounds whoever holds a forwarded link,
    as it bounds the link's other PDFs."""
    return kept_document_response(_linked(invoice_id, token), document_id)


@documents_bp.route(f"{LINK}/credit-notes/<int:credit_note_id>.pdf")
@access.public
@document_rate_limit()
def linked_credit_note_pdf(invoice_id: int, token: str, credit_note_id: int) -> Response:
    invoice = _linked(invoice_id, token, for_pdf=True)
    credit = db.session().get(CreditNote, credit_note_id)
    if credit is None or credit.invoice_id != invoice.id:
        raise NotFound(f"Invoice {invoice.number} has no credit note {credit_note_id}.")
    return credit_note_pdf_response(credit)


@documents_bp.route(f"{LINK}/pay")
@access.public
def linked_pay(invoice_id: int, token: str) -> Page:
    """The portal's pay page, posting to the link's own payment route."""
    invoice = _linked(invoice_id, token)
    back = url_for("billing_documents.linked_invoice", invoice_id=invoice.id, token=token)
    gateway = _gateway()
    if gateway is None or invoice.state not in COLLECTIBLE or invoice.balance_due <= 0:
        flash("This invoice cannot be paid by card here.", "error")
        return redirect(back)
    if refused := _not_payable_while_disputed(invoice) or beyond_card(invoice):
        flash(refused, "error")
        return redirect(back)
    headers.allow_stripe_js()  # the pay page, reached by the emailed link
    return render_template(
        "billing/pay.html",
        invoice=invoice,
        publishable_key=gateway.publishable_key,
        stripe_js_url=gateway.js_url,
        remit_to=letterhead().remit_lines,
        invoice_url=back,
        payment_url=url_for(
            "billing_documents.linked_card_payment", invoice_id=invoice.id, token=token
        ),
    )


@documents_bp.route(f"{LINK}/card-payments", methods=["POST"])
@access.public
@limiter.limit(CARD_ATTEMPTS_LIMIT, key_func=_caller_key)
def linked_card_payment(invoice_id: int, token: str) -> tuple[Response, int]:
    """The same card payment as the portal's, by the link's holder: the billing contact."""
    invoice = _linked(invoice_id, token)
    organization = db.session().get(Organization, invoice.organization_id)
    assert organization is not None
    return _start_card_payment(
        invoice.id,
        links.payer(invoice, organization.billing_email),
        invoice_url=lambda paying: url_for(
            "billing_documents.linked_invoice", invoice_id=invoice.id, token=token, paying=paying
        ),
        status_url=lambda payment_id: url_for(
            "billing_documents.linked_card_payment_status",
            invoice_id=invoice.id,
            token=token,
            payment_id=payment_id,
        ),
    )


@documents_bp.route(f"{LINK}/card-payments/<int:payment_id>")
@access.public
def linked_card_payment_status(invoice_id: int, token: str, payment_id: int) -> Response:
    """The linked pay page's poll: only attempts on the link's own invoice."""
    invoice = _linked(invoice_id, token)
    payment = db.session().get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"{invoice.title} has no card payment {payment_id}.")
    return _status_response(
        _attempt_of(invoice, payment),
        invoice,
        url_for("billing_documents.linked_invoice", invoice_id=invoice.id, token=token),
    )


# --- Stripe's webhook -------------------------------------------------------------------


@webhooks.route("/webhooks/stripe", methods=["POST"])
@access.public
def stripe_webhook() -> tuple[Response, int]:
    """Verify `Stripe-Signature` on the raw body, store the event once, apply it."""
    payload = request.get_data(cache=False)
    try:
        result = services.handle_stripe_webhook(
            payload,
            request.headers.get("Stripe-Signature"),
            gateway=gateways.webhook_gateway(current_config()),
        )
    except payment_gateway.SignatureError as error:
        current_app.logger.warning("refused a Stripe webhook: %s", error)
        return problem(
            400, "Invalid signature", "The Stripe-Signature header does not verify."
        ), 400
    except payment_gateway.MalformedEvent as error:
        current_app.logger.warning("refused a signed but malformed Stripe webhook: %s", error)
        return problem(400, "Malformed event", f"The event was not applied: {error}."), 400
    return jsonify(
        received=result.event_id, outcome=result.outcome, duplicate=result.duplicate
    ), 200


# --- billing staff's console ----------------------------------------------------------


@console.route("/invoices", endpoint="invoices")
@access.staff(*BILLING_READERS)
def console_invoices() -> tuple[str, int]:
    session = db.session()
    state = request.args.get("state") or None
    if state not in INVOICE_LIST_STATES:
        state = None
    # Overdue only: past due and asked for, not those a bank's dispute holds (round
    # 50: the portal's and the API's meaning); those are listed by "Held by a dispute".
    overdue = request.args.get("overdue") == "1"
    held = request.args.get("held") == "1"
    to_pay = request.args.get("to_pay") == "1"
    # Round 52: what falls due this week (today and the six days after), to chase
    # before it is overdue; the list had no due-date filter, only "overdue".
    due_week = request.args.get("due_week") == "1"
    search = (request.args.get("q") or "").strip()[:200] or None
    # One organization's (the link from what stays open with a closed one).
    organization_id = requested_organization(request.args)
    # Round 56: one agreement's (the link beside its charged to date), by its number;
    # given twice refused as the organization is (`arguments.once`).
    arguments.once(request.args, AGREEMENT_LABEL)
    agreement = (request.args.get("agreement") or "").strip()[:40] or None
    # A filter given twice is refused beside its field, nothing listed (`arguments`).
    errors = arguments.repeated(request.args, labels=INVOICE_LIST_FILTERS)
    # A state no invoice has listed every invoice unsaid.
    unread = (
        {}
        if errors
        else arguments.unknown_choice(
            request.args, "state", INVOICE_LIST_STATES, INVOICE_LIST_FILTERS["state"]
        )
        | arguments.unknown_choice(request.args, "aging", AGING_ROWS, INVOICE_LIST_FILTERS["aging"])
    )
    # Round 57: one currency's, as the Finance page's aging links its overdue balances;
    # what the invoices listed owe is then summed, the figure read off its rows.
    # Round 58: the months issued too (its *Invoiced* and *Voided*), read as the other
    # lists read theirs (`ListPeriod`, the currency's refusal with them).
    given = ListPeriod.given(request.args)
    currency = given["currency"]
    period = ListPeriod(None, {}) if errors else ListPeriod.read(request.args, INVOICE_LIST_FILTERS)
    unread |= period.errors
    # Round 58: one of the Finance page's balances on a day (*Outstanding* or *Refunds
    # owed* at a period's end, a row of its aging): the invoices making it, each with
    # its amount then.
    balance = None if errors else _balance_asked(request.args, currency or None, unread)
    found: paging.Page[Invoice] | None = None
    owed: list[queries.ListedOwed] = []
    amounts: dict[int, Decimal] = {}
    if not errors and not unread:
        listed: queries.InvoiceFilters = {
            "state": state,
            "overdue_on": _today() if overdue else None,
            "held_on": _today() if held else None,
            "due_week_of": _today() if due_week else None,
            "to_pay": to_pay,
            "search": search,
            "search_references": True,
            "organization_id": organization_id,
            "agreement_number": agreement,
            "currency": currency or None,
            "issued_days": period.days,
            "balances": None if balance is None else finance_queries.balances_on(balance),
        }
        statement = queries.invoices_query(**listed)
        # Round 59: the totals count the rows too (a currency each), so the page is not
        # counted again; narrowed to a balance on a day, each statement sums the ledger
        # (bench/invoice_balances.py: three a request, now two).
        total = None
        if currency or period.days or balance:
            owed = queries.invoice_list_owed(session, **listed)
            total = sum(each.count for each in owed)
        if (balances := listed["balances"]) is None:
            found = paging.read_page(session, statement, total=total)
        else:
            # Each row with its amount then, read with the page's rows.
            with_amounts: paging.Page[Any] = paging.read_page(
                session,
                statement.add_columns(balances.c.amount),
                rows=lambda window, bound: session.execute(window, bound).all(),
                total=total,
            )
            amounts = {row[0].id: row[1] for row in with_amounts.items}
            found = replace(with_amounts, items=[row[0] for row in with_amounts.items])
    invoices = found.items if found else []
    return render_template(
        "billing/console_invoices.html",
        invoices=invoices,
        page=found,
        errors=errors or unread,
        names=queries.organization_names(session, {i.organization_id for i in invoices}),
        states=INVOICE.states,
        state=state,
        overdue=overdue,
        held=held,
        to_pay=to_pay,
        due_week=due_week,
        search=search or "",
        agreement=agreement,
        currency=currency,
        owed=owed,
        given=given,
        days_words=_days_words(given),
        balance=balance,
        balance_values=_balance_values(request.args),
        amounts=amounts,
        aging_rows=AGING_ROWS,
        list_states=INVOICE_LIST_STATES,
        # The newest few and a count (round 49: it read every one), linking the list.
        flagged=queries.flagged_payments(session, FLAGGED_SHOWN),
        flagged_count=queries.flagged_payment_count(session),
        open_disputes=queries.open_disputes_count(session),
        # Those a dispute holds are marked, and not called overdue (round 50).
        holds=queries.dispute_holds(session, {i.id for i in invoices}, _today()),
        # Whom each row's newest reminder went to, in one statement (round 57).
        reminded=(
            queries.last_reminded_to(session, [i.id for i in invoices if i.reminder_count])
            if overdue
            else {}
        ),
        not_kept=queries.RECIPIENT_NOT_KEPT,
        today=_today(),
        title=(
            "Overdue invoices"
            if overdue
            else "Due this week"
            if due_week
            else f"Invoices under agreement {agreement}"
            if agreement
            else "Invoices"
        ),
        labels=INVOICE_LIST_FILTERS,
        scope=organization_scope(
            organization_id,
            partial(session.get, Organization),
            filters=request.args,
            path=request_path(),
        ),
    ), (400 if errors else 422 if unread else 200)


# Each filter's label: the list's form draws them from here, and a refusal names
# the field by them (`arguments`).
# The agreement a list's link narrows it to; no form field shows it.
AGREEMENT_LABEL = {"agreement": "Agreement"}

INVOICE_LIST_FILTERS = {
    "q": "Number, organization, payment reference or amount",
    "state": "State",
    "overdue": "Overdue only",
    "held": "Held by a dispute",
    "due_week": "Due in the next 7 days",
    "to_pay": "With a balance to pay",
    "currency": "Currency",
    # Round 58 (financelinks58): the Finance page's figures' rows.
    "month": "Month issued",
    "from": "Issued from month",
    "to": "Issued to month",
    "owing_on": "Owing at the end of",
    "owed_back_on": "Owed a refund at the end of",
    "aging": "Days past due then",
}
# The list's states: each invoice state, and those the Finance page's *Invoiced* counts.
INVOICE_LIST_STATES = {
    **{value: humanize(value) for value in INVOICE.states},
    queries.INVOICED: queries.INVOICED_WORDS,
}
# The aging's rows, as the Finance page names them (the list's "Days past due then").
AGING_ROWS = dict((*finance_queries.AGING_BUCKETS, finance_queries.DISPUTED))
# The days of a balance the list may be narrowed to, and what each balance is.
BALANCE_DAYS = {"owing_on": finance_queries.OWING, "owed_back_on": finance_queries.OWED_BACK}


def _balance_values(args: Any) -> dict[str, str]:
    """The balance's fields as the link gave them (the form shows them again)."""
    return {name: (args.get(name) or "").strip()[:40] for name in (*BALANCE_DAYS, "aging")}


def _balance_asked(
    args: Any, currency: str | None, errors: dict[str, list[str]]
) -> finance_queries.BalanceFilter | None:
    """Round 58: the Finance page's balance on a day the link narrows the invoice list
    to, if any: what they owed at the end of `owing_on` (its *Outstanding*; with
    `aging`, one row of its aging as of that day, today's when no day is given) or were
    owed back at the end of `owed_back_on` (its *Refunds owed*). What is wrong is added
    to `errors`, beside its field; nothing is listed then."""
    values = _balance_values(args)
    days: dict[str, date] = {}
    for name in BALANCE_DAYS:
        if not values[name]:
            continue
        try:
            days[name] = calendar.parse_day(values[name])
        except ValueError:
            shown = values[name] if len(values[name]) <= 30 else f"{values[name][:30]}…"
            errors[name] = [
                f"{INVOICE_LIST_FILTERS[name]} takes a day such as 2027-03-31; "
                f"the link gave “{shown}”."
            ]
    if values["owing_on"] and values["owed_back_on"]:
        errors.setdefault("owed_back_on", []).append(
            f"Give {INVOICE_LIST_FILTERS['owing_on']} or "
            f"{INVOICE_LIST_FILTERS['owed_back_on'].lower()}, not both."
        )
    if values["aging"] and values["owed_back_on"]:
        errors.setdefault("aging", []).append(
            f"{INVOICE_LIST_FILTERS['aging']} ages what was owed, not what was owed back: "
            f"give {INVOICE_LIST_FILTERS['owing_on'].lower()} instead."
        )
    if errors or not (days or values["aging"]):
        return None
    if "owed_back_on" in days:
        return finance_queries.BalanceFilter(
            days["owed_back_on"], finance_queries.OWED_BACK, currency=currency
        )
    bucket = values["aging"] if values["aging"] in AGING_ROWS else None
    day = days.get("owing_on", _today())
    return finance_queries.BalanceFilter(day, finance_queries.OWING, bucket, currency)


# Card payments to review the invoice list shows above it (round 49); the rest are
# a page at a time on their own list.
FLAGGED_SHOWN = 10
FLAGGED_PER_PAGE = paging.PER_PAGE


@console.route("/payments/to-review", endpoint="payments_to_review")
@access.staff(*BILLING_READERS)
def payments_to_review() -> str:
    """Every card payment to review (flagged, or being given back), newest first, a
    page at a time: the invoice list shows the newest `FLAGGED_SHOWN` and links here."""
    found: paging.Page[Payment] = paging.read_page(
        db.session(),
        queries.flagged_payments_query(),
        per_page=FLAGGED_PER_PAGE,
    )
    return render_template(
        "billing/console_payments_to_review.html",
        flagged=found.items,
        page=found,
        shown=FLAGGED_SHOWN,
    )


@console.route("/disputes")
@access.staff(*BILLING_READERS)
def disputes() -> str:
    """Card payments the licensees' banks disputed: those open first, the evidence
    due soonest first, with how long is left to answer in Stripe's dashboard; then
    the disputes no card payment was found for."""
    session = db.session()
    found: paging.Page[PaymentDispute] = paging.read_page(
        session, queries.disputes_query(), per_page=DISPUTES_PER_PAGE
    )
    unmatched = queries.unmatched_disputes_query()
    return render_template(
        "billing/console_disputes.html",
        disputes=found.items,
        page=found,
        names=queries.organization_names(session, {d.organization_id for d in found.items}),
        unmatched=list(session.scalars(unmatched.limit(DISPUTES_PER_PAGE))),
        unmatched_count=db.count_rows(session, unmatched),
        now=utcnow(),
    )


# Each filter of the refunds list, labelled as its form and its refusals say it.
REFUND_LIST_FILTERS = {
    "licensee": "Licensee's name",
    "state": "State",
    "method": "Method",
    "month": "Month (sent, returned or started)",
    # Round 57 (creditlist57): the Finance page's range and currency, linked.
    "from": "From month",
    "to": "To month",
    "currency": "Currency",
}
REFUND_LIST_METHODS = {"card": "Card (Stripe)", **forms.METHOD_LABELS}


@console.route("/refunds", endpoint="refunds")
@access.staff(*BILLING_READERS)
def console_refunds() -> tuple[str, int]:
    """Every refund, card and offline, newest first, a page at a time (round 56,
    refundlist56): a clerk asked "did we send that refund? did it bounce?" finds it
    without finding its invoice first. Narrowed by state, method, month (or a range
    of months, and a currency: the Finance page's *Net refunds* links them, round 57)
    and the licensee's name; the totals of all it keeps, by currency, are the Finance
    page's *Net refunds* of the days and the refunds export's rows. The same staff
    read it as read refunds on each invoice's page (billing readers)."""
    listed = _ListRequest.read(request.args, REFUND_LIST_FILTERS)
    chosen = listed.chosen(state=queries.REFUND_LIST_STATES, method=REFUND_LIST_METHODS)
    filters = queries.RefundFilters(
        state=chosen["state"],
        method=chosen["method"],
        month=listed.days,
        licensee=listed.licensee or None,
        currency=listed.given["currency"] or None,
    )
    return _list_page(
        "billing/console_refunds.html",
        listed,
        queries.refunds_listed(filters),
        partial(queries.refund_list_totals, filters=filters),
        # Round 59: who recorded each, by the account kept (else the address); round
        # 60: and who recorded an offline refund's return, in the same statement.
        people=lambda rows: people_of(
            db.session(),
            ids=[row[0].recorded_by_id for row in rows] + [row[0].returned_by_id for row in rows],
            addresses=[row[0].recorded_by for row in rows] + [row[0].returned_by for row in rows],
        ),
        filters=filters,
        states=queries.REFUND_LIST_STATES,
        methods=REFUND_LIST_METHODS,
    )


# Each filter of the list of every Stripe event, labelled as its form and refusals say it.
STRIPE_EVENT_FILTERS = {
    "q": "Stripe id",
    "kind": "What was done",
    "type": "Event type",
    "month": "Month received",
    "from": "From month",
    "to": "To month",
    "currency": "Currency",
}
STRIPE_EVENT_TYPES = {
    **{each: each for each in sorted(services.EVENT_TYPES_APPLIED)},
    queries.OTHER_EVENT_TYPES: "Any other type (stored and ignored)",
}


@console.route("/stripe-events", endpoint="stripe_events")
@access.staff(*BILLING_READERS)
def console_stripe_events() -> tuple[str, int]:
    """Every event Stripe sent the webhook, newest first, a page at a time (round 58,
    stripeevents58): those applied, those that changed nothing, those ignored (another
    product's, a type not handled), disputes not matched, those that failed and those
    delivered more than once, each saying in words what the service did and linking
    the card payment or refund it touched. Narrowed by what was done, the event's type
    and the month received. The staff who read a card payment's page, which lists its
    own events (billing readers). Below it, the deliveries not read and (round 61) the
    PaymentIntents Stripe does not know, for billing staff to mark looked at."""
    return _stripe_events_page()


def _stripe_events_page(
    *,
    form: forms.IntentLookedAtForm | None = None,
    intent: str | None = None,
    withdraw_form: forms.WithdrawIntentsForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The list of Stripe's events; `form`, posted to mark the PaymentIntent `intent`
    looked at and refused, shown again with its messages beside that PaymentIntent;
    `withdraw_form` (round 65), *Ask Stripe again* refused, shown open with its
    messages."""
    listed = _ListRequest.read(request.args, STRIPE_EVENT_FILTERS)
    chosen = listed.chosen(kind=queries.STRIPE_EVENT_LIST_KINDS, type=STRIPE_EVENT_TYPES)
    # Round 59: one Stripe id, exact and trimmed (an event's, a PaymentIntent's, a
    # charge's, a refund's or a dispute's); longer than Stripe's ids are kept (255
    # characters) it is none, said beside the field.
    stripe_id = (request.args.get("q") or "").strip() or None
    if stripe_id is not None and len(stripe_id) > STRIPE_ID_MAX and not listed.repeated:
        listed.errors["q"] = [
            f"A Stripe id is at most {STRIPE_ID_MAX} characters, such as pi_3Nx… or evt_1Nx…."
        ]
    filters = queries.StripeEventFilters(
        kind=chosen["kind"],
        event_type=chosen["type"],
        handled=services.EVENT_TYPES_APPLIED,
        month=listed.days,
        stripe_id=stripe_id,
    )
    return _list_page(
        "billing/console_stripe_events.html",
        listed,
        queries.stripe_events_listed(filters),
        lambda _session: [],
        # Round 59: who marked each looked at, by the account kept (else the address).
        people=lambda rows: people_of(
            db.session(),
            ids=[row[0].looked_at_by_id for row in rows],
            addresses=[row[0].looked_at_by for row in rows],
        ),
        filters=filters,
        searched=(request.args.get("q") or "").strip()[:STRIPE_ID_MAX],
        kinds=queries.STRIPE_EVENT_LIST_KINDS,
        types=STRIPE_EVENT_TYPES,
        unreadable=queries.unreadable_deliveries(db.session()),
        unknown_intents=queries.unknown_intents(db.session()),
        intent_form=form or forms.IntentLookedAtForm(formdata=None, prefix="intent"),
        failed_intent=intent,
        withdraw_form=withdraw_form or forms.WithdrawIntentsForm(formdata=None, prefix="withdraw"),
        withdraw_refused=withdraw_form is not None,
        failed_status=status,
    )[0], status if status != 200 else listed.status


# The longest Stripe id the service keeps (`stripe_events.event_id`, `object_id`).
STRIPE_ID_MAX = 255


@console.route("/stripe-events/<int:event_id>", endpoint="stripe_event_detail")
@access.staff(*BILLING_READERS)
def console_stripe_event(event_id: int) -> tuple[str, int]:
    """One Stripe event (round 58, replay58): what was done with it, what it touched,
    a failed one's note when it was looked at, its history; and, for billing staff,
    *Apply again* and *Mark looked at* where its state allows them."""
    return _stripe_event_page(event_id)


def _stripe_event_page(
    event_id: int,
    *,
    apply_form: forms.ApplyAgainForm | None = None,
    looked_at_form: forms.LookedAtForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db.session()
    row = queries.stripe_event_row(session, event_id)
    event = row[0]
    history = audit_queries.events_for_records(session, [("stripe_event", event.id)])
    return render_template(
        "billing/console_stripe_event.html",
        # Round 59: who marked it looked at and who acted in its history, named by the
        # account kept (else the address), in one statement for the page.
        page_people=people_of(
            session, history, ids=[event.looked_at_by_id], addresses=[event.looked_at_by]
        ),
        row=row,
        event=event,
        kinds=queries.STRIPE_EVENT_LIST_KINDS,
        may_apply=STRIPE_EVENT.can(event.kind, "apply_again"),
        may_mark=STRIPE_EVENT.can(event.kind, "mark_looked_at"),
        history=history,
        apply_form=apply_form or forms.ApplyAgainForm(formdata=None, prefix="apply_again"),
        looked_at_form=looked_at_form or forms.LookedAtForm(formdata=None, prefix="looked_at"),
    ), status


@console.route("/stripe-events/<int:event_id>/apply-again", methods=["POST"])
@access.staff("billing")
def apply_stripe_event_again(event_id: int) -> Page:
    """Apply a failed (or looked-at) Stripe event again (round 58, replay58): after a
    confirmation, fetched from Stripe and applied as its delivery would be. Refused
    (409) for an event in another state, before Stripe is asked; Stripe unreachable
    or without the event, 502; the page again either way, saying why."""
    form = forms.ApplyAgainForm(prefix="apply_again")

    def act() -> str:
        done = services.apply_stripe_event_again(
            event_id, gateway=gateways.gateway(current_config()), actor=current_actor()
        )
        return f"Applied again: {done.outcome[:1].upper()}{done.outcome[1:]}"

    def asking() -> confirm.Confirmation:
        stored = services.check_apply_again(event_id, actor=current_actor())
        return confirm.Confirmation(
            title=f"Apply Stripe's event {stored.event_id} again?",
            consequences=[
                f"The event ({stored.event_type}) is fetched from Stripe as it keeps it and "
                "applied as Stripe's delivery of it would be, by the same rules: what it "
                "already changed is not changed twice.",
                "What was done replaces the failure on the list of Stripe's events, and it "
                "counts as a delivery; the step is recorded in the audit log.",
                "If applying it fails again, the new reason is kept and it stays failed.",
            ],
            button="Apply it again",
            cancel_url=_stripe_event_url(event_id),
            control="apply-event-again",
            cancel_label="Do not apply it",
        )

    return _stripe_event_step(event_id, form, act, asking, apply_form=form)


@console.route("/stripe-events/<int:event_id>/looked-at", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def mark_stripe_event_looked_at(event_id: int) -> Page:
    """Mark a failed Stripe event looked at, with a note saying what was done instead
    (round 58, replay58), after a confirmation: it leaves the console home's count and
    the list shows the note. 409 for an event not failed, 422 without a note."""
    form = forms.LookedAtForm(prefix="looked_at")

    def act() -> str:
        done = services.mark_stripe_event_looked_at(
            event_id, note=form.note.data, actor=current_actor()
        )
        return f"Marked looked at: {done.event_id} is no longer counted as failed."

    def asking() -> confirm.Confirmation:
        stored = db.session().get(StripeEvent, event_id)
        if stored is None:
            raise NotFound(f"There is no Stripe event {event_id}.")
        STRIPE_EVENT.step(stored.kind, "mark_looked_at")
        return confirm.Confirmation(
            title=f"Mark Stripe's event {stored.event_id} looked at?",
            consequences=[
                "It is not applied: nothing of it changes a payment, refund or dispute.",
                "It is no longer counted on the console's home as failed; the list of "
                "Stripe's events shows it looked at, with the note. It can still be applied "
                "again from here.",
                "Note kept with it and recorded in the audit log: "
                f"{(form.note.data or '').strip()}",
            ],
            button="Mark it looked at",
            cancel_url=_stripe_event_url(event_id),
            control="mark-event-looked-at",
            cancel_label="Leave it failed",
        )

    return _stripe_event_step(event_id, form, act, asking, looked_at_form=form)


def _stripe_event_url(event_id: int) -> str:
    return url_for("billing_console.stripe_event_detail", event_id=event_id)


def _stripe_event_step(
    event_id: int,
    form: FlaskForm,
    act: Callable[[], str],
    asking: Callable[[], confirm.Confirmation],
    **page_form: Any,
) -> Page:
    """A step of a Stripe event's page, confirmed first (`_confirm_then_act`): back to
    the event's page, or that page again with `page_form`'s messages on a refusal."""
    return _confirm_then_act(
        form,
        act,
        back=lambda: _stripe_event_url(event_id),
        again=lambda status: _stripe_event_page(event_id, status=status, **page_form),
        asking=asking,
    )


# The filters of the list of deliveries not read (round 60), as its form labels them.
UNREADABLE_FILTERS = {
    "from": "Received from",
    "to": "Received to",
    "day": "Day received",
    "state": "Looked at",
}


def _unreadable_query() -> dict[str, Any]:
    """The list's filters and page as its address gave them, which each mark's form
    posts with (its action's query) and the mark returns to, refused or done (round 60,
    pagesfix60: a refused mark showed page 1 unfiltered, without the note typed unless
    the body was on it; a mark done led to page 1 unfiltered)."""
    return {
        name: value
        for name in (*UNREADABLE_FILTERS, "page")
        if (value := (request.args.get(name) or "").strip())
    }


@console.route("/stripe-events/unreadable", endpoint="unreadable_deliveries")
@access.staff(*BILLING_READERS)
def console_unreadable_deliveries() -> tuple[str, int]:
    """Every signed Stripe delivery the service could not read, newest first, a page at a
    time (round 60, stripe60: *Stripe's events* shows the ten bodies delivered last, and
    only admins read the rest, in the audit log): when, the body's SHA-256, why, its size
    and first 300 characters (never the body), and whether billing staff looked at it,
    who and when. Narrowed by the office day received and by looked at or not. The
    staff who read *Stripe's events*; billing staff mark a body looked at here."""
    return _unreadable_page()


def _unreadable_page(
    *,
    form: forms.DeliveryLookedAtForm | None = None,
    digest: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The list of deliveries not read; `form`, posted for the body `digest` and refused,
    shown again with its messages beside that body's rows."""
    args = request.args
    labels = UNREADABLE_FILTERS
    repeated = arguments.repeated(args, labels=labels)
    given = {"month": "", "from": "", "to": ""} | {
        name: (args.get(name) or "").strip()[:40] for name in labels
    }
    errors: dict[str, list[str]] = dict(repeated)
    days: dict[str, date] = {}
    if not repeated:
        errors |= arguments.unknown_choice(
            args, "state", queries.UNREADABLE_LIST_STATES, labels["state"]
        )
        days, day_errors = _received_days(given, labels)
        errors |= day_errors
    state = given["state"] if given["state"] in queries.UNREADABLE_LIST_STATES else None
    # Round 61: a range of office days (`from`, `to`, either end open); `day`, the one
    # day round 60's links give, is both ends.
    first = days.get("from", days.get("day"))
    last = days.get("to", days.get("day"))
    if given["day"] and not (given["from"] or given["to"]):
        given["from"] = given["to"] = given["day"]  # the form shows the day as its range
    filters = queries.UnreadableFilters(first=first, last=last, state=state)
    listed = _ListRequest(labels, repeated, errors, None, given, "", args)
    session = db.session()

    def markers(rows: Sequence[Any]) -> People:
        """Who marked each body looked at, by the account kept (else the address)."""
        marks = [mark for _delivery, mark in rows if mark is not None]
        ids = [mark.actor_user_id for mark in marks]
        return people_of(session, ids=ids, addresses=[mark.actor for mark in marks])

    return _list_page(
        "billing/console_unreadable_deliveries.html",
        listed,
        queries.unreadable_listed(filters),
        lambda _session: [],
        people=markers,
        # Shown again by a refused mark, its pages still lead to the list.
        path=url_for("billing_console.unreadable_deliveries"),
        list_query=_unreadable_query(),
        failed_status=status,
        filters=filters,
        states=queries.UNREADABLE_LIST_STATES,
        not_looked_at=queries.unread_not_looked_at(session),
        form=form or forms.DeliveryLookedAtForm(formdata=None, prefix="delivery"),
        failed_digest=digest,
    )[0], status if status != 200 else listed.status


def _received_days(
    given: dict[str, str], labels: dict[str, str]
) -> tuple[dict[str, date], dict[str, list[str]]]:
    """The office days the list of deliveries not read is narrowed to (round 61: from
    and to, or round 60's one day), and what is wrong with them, by field: a day
    spelled otherwise than 2027-03-31, a day given with a range, an end before the
    start."""
    days: dict[str, date] = {}
    errors: dict[str, list[str]] = {}
    for name in ("from", "to", "day"):
        if not given[name]:
            continue
        try:
            days[name] = calendar.parse_day(given[name])
        except ValueError:
            errors[name] = [
                f"{labels[name]} takes a day such as 2027-03-31; the link gave "
                f"“{given[name][:30]}”."
            ]
    if given["day"] and (given["from"] or given["to"]):
        errors.setdefault("day", []).append(
            f"{labels['day']}: give one day, or {labels['from'].lower()} and "
            f"{labels['to'].lower()}, not both."
        )
    if "from" in days and "to" in days and days["to"] < days["from"]:
        errors["to"] = [f"{labels['to']} cannot come before {labels['from'].lower()}."]
    return days, errors


@console.route("/stripe-events/unreadable/<digest>/looked-at", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def mark_delivery_looked_at(digest: str) -> Page:
    """Mark a signed delivery the service could not read looked at, by its body, with a
    note saying what was done about it (round 60, stripe60), after a confirmation: every
    delivery of the body, later ones too, is then looked at and no longer counted on
    *Stripe's events*. 404 for a body no delivery had, 409 for one looked at already,
    422 without a note."""
    form = forms.DeliveryLookedAtForm(prefix="delivery")

    def act() -> str:
        services.mark_delivery_looked_at(digest, note=form.note.data, actor=current_actor())
        return (
            f"Marked looked at: every delivery of the body {digest[:16]}… is no longer "
            "counted as not looked at."
        )

    def asking() -> confirm.Confirmation:
        services.check_mark_delivery(digest, actor=current_actor())
        return confirm.Confirmation(
            title=f"Mark the deliveries of the body {digest[:16]}… looked at?",
            consequences=[
                "Nothing of it is applied: the service could not read it as an event.",
                "Every delivery of this body, and any Stripe sends after, is shown looked at, "
                "with the note, and no longer counted on Stripe's events as not looked at.",
                "Note kept with it and recorded in the audit log: "
                f"{(form.note.data or '').strip()}",
            ],
            button="Mark it looked at",
            cancel_url=url_for("billing_console.unreadable_deliveries", **_unreadable_query()),
            control=f"mark-delivery-{digest}",
            cancel_label="Leave it not looked at",
        )

    return _confirm_then_act(
        form,
        act,
        back=lambda: url_for("billing_console.unreadable_deliveries", **_unreadable_query()),
        again=lambda status: _unreadable_page(form=form, digest=digest, status=status),
        asking=asking,
    )


@console.route("/stripe-events/unknown-intents/<intent>/looked-at", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def mark_intent_looked_at(intent: str) -> Page:
    """Mark a PaymentIntent Stripe does not know looked at (round 61, payments61), with a
    note saying what was done about it, after a confirmation: it then leaves the count
    on *Stripe's events*. 404 for a PaymentIntent no job reported, 409 for one looked
    at already, 422 without a note."""
    form = forms.IntentLookedAtForm(prefix="intent")
    back = url_for("billing_console.stripe_events", _anchor="unknown-intents-heading")

    def act() -> str:
        services.mark_intent_looked_at(intent, note=form.note.data, actor=current_actor())
        return f"Marked looked at: the PaymentIntent {intent} is no longer counted."

    def asking() -> confirm.Confirmation:
        services.check_mark_intent(intent, actor=current_actor())
        return confirm.Confirmation(
            title=f"Mark the PaymentIntent {intent} looked at?",
            consequences=[
                "Stripe does not know it; nothing of it is changed at Stripe or here.",
                "It leaves the count on Stripe's events. The jobs still do not ask Stripe "
                "about it while its payment names it.",
                "Note kept with it and recorded in the audit log: "
                f"{(form.note.data or '').strip()}",
            ],
            button="Mark it looked at",
            cancel_url=back,
            control=f"mark-intent-{intent}",
            cancel_label="Leave it not looked at",
        )

    return _confirm_then_act(
        form,
        act,
        back=lambda: back,
        again=lambda status: _stripe_events_page(form=form, intent=intent, status=status),
        asking=asking,
    )


# The most reports one press of *Ask Stripe again* withdraws (the oldest first); the
# confirmation says when more match. An operator's command takes any number.
CONSOLE_WITHDRAW_MAX = 1000


@console.route("/stripe-events/unknown-intents/withdraw", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def withdraw_unknown_intents() -> Page:
    """*Ask Stripe again* (round 65, ops65): withdraw the reports of PaymentIntents
    Stripe did not know that billing staff have not looked at (every one, those of the
    PaymentIntents named, or those reported on some office days), with why, after a
    confirmation listing them, so that the next `payments reconcile` and `payments
    fill-charge-ids` ask Stripe again: once the right Stripe keys are back. The
    confirmation binds the newest report it listed (`withdraw-through`): a report made
    after it is not withdrawn by its press. 422 for a day or id not read, nothing
    matching, or no reason; 409 when all were withdrawn or looked at meanwhile."""
    form = forms.WithdrawIntentsForm(prefix="withdraw")
    back = url_for("billing_console.stripe_events", _anchor="unknown-intents-heading")

    def selection() -> services.Withdrawal:
        days: dict[str, date] = {}
        errors: dict[str, list[str]] = {}
        for field in (form.reported_from, form.reported_to):
            text = (field.data or "").strip()
            if not text:
                continue
            try:
                days[field.short_name] = calendar.parse_day(text)
            except ValueError:
                errors[field.short_name] = [
                    f"{field.label.text} takes an office day such as 2027-03-31; "
                    f"“{text[:30]}” is not one."
                ]
        if errors:
            raise InvalidInput("The days are not clear.", errors)
        return services.Withdrawal.of(
            re.split(r"[\s,]+", form.intents.data or ""),
            through=record_id(request.form.get("withdraw-through")),
            **days,
        )

    def act() -> str:
        run = services.withdraw_reports(
            selection(),
            reason=form.reason.data,
            actor=current_actor(),
            limit=CONSOLE_WITHDRAW_MAX,
        )
        if not run.reports:
            raise Conflict(
                "Nothing was withdrawn: each report shown was withdrawn or marked looked at "
                "meanwhile (by a colleague, or an operator's command)."
            )
        return (
            f"Withdrawn: {counted(len(run.reports), 'report')} of "
            "PaymentIntents Stripe did not know. The next payments reconcile and payments "
            "fill-charge-ids ask Stripe about them again."
        )

    def asking() -> confirm.Confirmation:
        preview = services.withdraw_reports(
            selection(),
            reason=None,
            actor=current_actor(),
            dry_run=True,
            limit=CONSOLE_WITHDRAW_MAX,
        )
        if not preview.reports:
            raise InvalidInput(
                "Nothing to withdraw.",
                {
                    "intents": [
                        "No report not looked at matches these PaymentIntents and days: "
                        "nothing to withdraw."
                    ]
                },
            )
        count = len(preview.reports)
        named = ", ".join(preview.intents[: services.unknown_intents.WITHDRAW_NAMED])
        rest = count - min(count, services.unknown_intents.WITHDRAW_NAMED)
        consequences = [
            f"{counted(count, 'report')} of PaymentIntents Stripe did not know "
            f"{'is' if count == 1 else 'are'} withdrawn: {named}"
            + (f" and {format_quantity(rest)} more." if rest else "."),
            "The next payments reconcile (hourly) and payments fill-charge-ids ask Stripe "
            "about each again and apply what it says. Withdraw them once the right Stripe "
            "keys are in place: one Stripe still does not know is reported again, and "
            "listed here again.",
            "Reports marked looked at are kept, and not asked about again.",
            "Reason kept with each withdrawal and recorded in the audit log: "
            f"{(form.reason.data or '').strip()}",
        ]
        if preview.more:
            consequences.append(
                f"Only the oldest {format_quantity(CONSOLE_WITHDRAW_MAX)} are withdrawn by "
                "this press: press it again for the rest, or an operator runs licensing payments "
                "withdraw-unknown-intents."
            )
        return confirm.Confirmation(
            title="Ask Stripe again about these PaymentIntents?",
            consequences=consequences,
            button="Withdraw the reports",
            cancel_url=back,
            control="withdraw-unknown-intents",
            cancel_label="Leave them reported",
            carried=[("withdraw-through", str(preview.through))],
        )

    return _confirm_then_act(
        form,
        act,
        back=lambda: back,
        again=lambda status: _stripe_events_page(withdraw_form=form, status=status),
        asking=asking,
    )


@dataclass
class _ListRequest:
    """A console list's filters as its link gave them (refunds, credit notes): what is
    wrong with them by field (a field given twice, `repeated`, is a 400, the rest 422),
    the days they keep, the fields as given and the licensee's name."""

    labels: dict[str, str]
    repeated: dict[str, list[str]]
    errors: dict[str, list[str]]
    days: queries.ListDays | None
    given: dict[str, str]
    licensee: str

    @classmethod
    def read(cls, args: Any, labels: dict[str, str]) -> _ListRequest:
        repeated = arguments.repeated(args, labels=labels)
        period = ListPeriod(None, {}) if repeated else ListPeriod.read(args, labels)
        return cls(
            labels,
            repeated,
            dict(repeated or period.errors),
            period.days,
            ListPeriod.given(args),
            (args.get("licensee") or "").strip()[:200],
            args,
        )

    args: Any = None

    @property
    def status(self) -> int:
        return 400 if self.repeated else 422 if self.errors else 200

    def chosen(self, **offered: dict[str, str]) -> dict[str, str | None]:
        """Each choice the link gave (a state, a method) among those `offered`: one not
        offered is refused beside its field (422) and read as none (round 57: the
        refunds and payments lists' choices, one reading)."""
        if not self.repeated:
            for name, options in offered.items():
                self.errors |= arguments.unknown_choice(self.args, name, options, self.labels[name])
        given = {name: self.args.get(name) or None for name in offered}
        return {name: value if value in offered[name] else None for name, value in given.items()}


def _list_page(
    template: str,
    listed: _ListRequest,
    statement: Select[Any],
    totals: Callable[..., list[Any]],
    *,
    people: Callable[[Sequence[Any]], People] | None = None,
    path: str | None = None,
    **context: Any,
) -> tuple[str, int]:
    """A console list's page: a page of `statement`'s rows and `totals` of all it keeps,
    unless its filters were refused (nothing listed then); `people`, given the page's
    rows, the people they name (`people_of`: one statement for the page); `path`, the
    list's address its pages lead to, when shown at another (a refused post's)."""
    session = db.session()
    found: paging.Page[Any] | None = None
    summed: list[Any] = []
    if not listed.errors:
        found = paging.read_page(
            session,
            statement,
            per_page=paging.PER_PAGE,
            rows=lambda window, bound: session.execute(window, bound).all(),
            path=path,
        )
        summed = totals(session)
    return render_template(
        template,
        rows=found.items if found else [],
        page=found,
        totals=summed,
        given=listed.given,
        days_words=_days_words(listed.given),
        licensee=listed.licensee,
        errors=listed.errors,
        labels=listed.labels,
        people=people(found.items if found else []) if people is not None else None,
        **context,
    ), listed.status


@dataclass(frozen=True)
class ListPeriod:
    """The days a console list (refunds, credit notes) is narrowed to, from its link:
    `month` (one month), or `from` and `to` (a range of months, either end open: the
    Finance page links its range so, round 57), and what is wrong with them, by field."""

    days: queries.ListDays | None
    errors: dict[str, list[str]]

    @staticmethod
    def given(args: Any) -> dict[str, str]:
        """The fields as the link gave them (the form shows them again)."""
        texts = {name: (args.get(name) or "").strip() for name in ("month", "from", "to")}
        return {**texts, "currency": (args.get("currency") or "").strip().upper()[:3]}

    @staticmethod
    def currency_errors(args: Any, labels: dict[str, str]) -> dict[str, list[str]]:
        """The currency field's message when the link gives no currency's code."""
        currency = (args.get("currency") or "").strip()
        if not currency or is_currency(currency.upper()):
            return {}
        shown = currency if len(currency) <= 30 else f"{currency[:30]}…"
        return {
            "currency": [
                f"{labels['currency']} takes a currency's code such as USD; "
                f"the link gave “{shown}”."
            ]
        }

    @classmethod
    def read(cls, args: Any, labels: dict[str, str]) -> ListPeriod:
        given = cls.given(args)
        errors: dict[str, list[str]] = {}
        months: dict[str, date] = {}
        for name in ("month", "from", "to"):
            if not given[name]:
                continue
            try:
                months[name] = parse_month(given[name])
            except ValueError:
                errors[name] = [_not_a_month(labels[name], given[name])]
        errors |= cls.currency_errors(args, labels)
        if given["month"] and (given["from"] or given["to"]):
            errors.setdefault("month", []).append(
                f"{labels['month']}: give one month, or {labels['from']} and "
                f"{labels['to']}, not both."
            )
        first, last = months.get("from"), months.get("to")
        if first and last and last < first:
            errors["to"] = [f"{labels['to']} cannot come before {labels['from'].lower()}."]
        if errors:
            return cls(None, errors)
        if "month" in months:
            return cls((months["month"], month_end(months["month"])), {})
        if first or last:
            return cls((first, month_end(last) if last else None), {})
        return cls(None, {})


def _not_a_month(label: str, text: str) -> str:
    shown = text if len(text) <= 30 else f"{text[:30]}…"
    return f"{label} takes a month such as 2027-03; the link gave “{shown}”."


def _days_words(given: dict[str, str]) -> str:
    """The days a list keeps, in its caption's words ("March 2027", "January 2027 to
    December 2027"; round 57: a caption is a sentence, so its months are in words, as
    docs/operations.md "Days on pages" says; they were "2027-03")."""
    first, last = _month_words(given["from"]), _month_words(given["to"])
    if given["month"]:
        return _month_words(given["month"])
    if first and last:
        return first if first == last else f"{first} to {last}"
    if first:
        return f"{first} on"
    if last:
        return f"up to {last}"
    return ""


def _month_words(value: str) -> str:
    """A filter's month "2027-03" as "March 2027"; anything else as given."""
    found = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        return value
    return month_text(date(int(found.group(1)), int(found.group(2)), 1))


# Each filter of the credit-notes list, labelled as its form and its refusals say it.
CREDIT_NOTE_LIST_FILTERS = {
    "licensee": "Licensee's name",
    "reason": "Reason",
    "month": "Month issued",
    "from": "From month",
    "to": "To month",
    "currency": "Currency",
    "to_send": "Only those with a refund still to send",
}
# Round 68: the one value the list's *to send* filter takes (its checkbox's).
TO_SEND = {"1": "yes"}


@console.route("/credit-notes", endpoint="credit_notes")
@access.staff(*BILLING_READERS)
def console_credit_notes() -> tuple[str, int]:
    """Every credit note, newest first, a page at a time (round 57, creditlist57): its
    licensee, invoice, reason, amount, what went back of it and its day, narrowed by
    the month issued (or the Finance page's range of months and currency, which its
    *Credited* links), text in the reason and the licensee's name. The totals of all
    it keeps, by currency, are the Finance page's *Credited* of the days and the
    credit-notes export's rows. The same staff as a credit note's page."""
    listed = _ListRequest.read(request.args, CREDIT_NOTE_LIST_FILTERS)
    reason = (request.args.get("reason") or "").strip()[:200]
    to_send = listed.chosen(to_send=TO_SEND)["to_send"] is not None
    filters = queries.CreditNoteFilters(
        days=listed.days,
        reason=reason or None,
        licensee=listed.licensee or None,
        currency=listed.given["currency"] or None,
        to_send=to_send,
    )
    return _list_page(
        "billing/console_credit_notes.html",
        listed,
        queries.credit_notes_listed(filters),
        partial(queries.credit_note_list_totals, filters=filters),
        # Round 58: who issued each, by the account kept (else the address).
        people=lambda rows: people_of(
            db.session(),
            ids=[row[0].issued_by_id for row in rows],
            addresses=[row[0].issued_by for row in rows],
        ),
        reason=reason,
        to_send=to_send,
    )


# Each filter of the payments list, labelled as its form and its refusals say it.
PAYMENT_LIST_FILTERS = {
    "licensee": "Licensee's name",
    "state": "State",
    "method": "Method",
    "month": "Month (paid, returned or started)",
    "from": "From month",
    "to": "To month",
    "currency": "Currency",
}


@console.route("/payments", endpoint="payments")
@access.staff(*BILLING_READERS)
def console_payments() -> tuple[str, int]:
    """Every payment, card and offline, newest first, a page at a time (round 57,
    payments57): its licensee, invoice, method (the card as pages name it), amount,
    state as its page says it and day, narrowed by state, method, month (or the
    Finance page's range of months and currency, which its *Collected* and *Reversed*
    link) and the licensee's name. The totals of all it keeps, by currency, are the
    Finance page's *Collected* and *Reversed* of the days and the payments export's
    rows. The same staff as a payment's page (billing readers)."""
    listed = _ListRequest.read(request.args, PAYMENT_LIST_FILTERS)
    chosen = listed.chosen(state=queries.PAYMENT_LIST_STATES, method=REFUND_LIST_METHODS)
    filters = queries.PaymentListFilters(
        state=chosen["state"],
        method=chosen["method"],
        days=listed.days,
        licensee=listed.licensee or None,
        currency=listed.given["currency"] or None,
    )
    return _list_page(
        "billing/console_payments.html",
        listed,
        queries.payments_listed(filters),
        partial(queries.payment_list_totals, filters=filters),
        filters=filters,
        states=queries.PAYMENT_LIST_STATES,
        methods=REFUND_LIST_METHODS,
    )


@console.route("/payments/<int:payment_id>", endpoint="payment_detail")
@access.staff(*BILLING_READERS)
def console_payment_detail(payment_id: int) -> tuple[str, int]:
    return _payment_page(payment_id)


def _payment_page(
    payment_id: int,
    *,
    refund_form: forms.RefundForm | None = None,
    reversal_form: forms.ReversalForm | None = None,
    move_form: forms.MoveForm | None = None,
    credit_form: forms.CreditNoteForm | None = None,
    accept_refused: AcceptRefused | None = None,
    give_back_form: forms.GiveBackForm | None = None,
    return_form: forms.RefundReturnForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """One payment and everything that happened to its money: its invoice, the
    refunds counted against it, its reversal, the disputes of its charge (or the
    dispute whose money it is) and the history of them all; and for billing staff
    the actions its state allows, with the invoice page's forms, posting back here
    (round 26: staff had to find the payment on its invoice's page to act). Round
    56: the refunds sent offline on its invoice's credit notes too (no payment's
    own: an offline refund is made against a credit note), each with its *Record
    refund ... returned* form, as the invoice's page offers them."""
    session = db.session()
    story = queries.payment_story(session, payment_id)
    payment = story.payment
    records: list[tuple[str, int]] = [("payment", payment.id)]
    records += [("refund", refund.id) for refund in story.refunds]
    records += [("dispute", dispute.id) for dispute in story.disputes]
    if payment.reversal is not None:
        records.append(("payment_reversal", payment.reversal.id))
    credit_notes = queries.credit_notes(session, invoice_id=payment.invoice_id)
    to_card = _card_refund_refusal(session, payment)
    counted = payment.state in RECEIVED
    refund_forms = _refund_forms(credit_notes, refund_form, payment=payment, to_card=to_card)
    if not counted:
        # Round 39: a credit note's refund pays back money that counted; this
        # payment's never did, so its page offers none (the invoice's page does).
        # A form posted from here anyway keeps its messages.
        refund_forms = {key: form for key, form in refund_forms.items() if form is refund_form}
    sent_offline = [r for credit in credit_notes for r in credit.refunds if r.method != CARD]
    return_forms = _return_forms(credit_notes, return_form)
    if not counted:
        # As its refunds: a payment that never counted offers no return of one.
        return_forms = {key: form for key, form in return_forms.items() if form is return_form}
    history = audit_queries.events_for_records(session, records)
    reversal = payment.reversal
    return render_template(
        "billing/console_payment.html",
        # Round 59: who recorded it, who reversed it and who acted in its history, named
        # by the account kept (else the address), in one statement for the page.
        # Round 60: and who recorded each refund's return the page lists.
        page_people=people_of(
            session,
            history,
            ids=[
                payment.recorded_by_id,
                reversal.reversed_by_id if reversal else None,
                *(refund.returned_by_id for refund in [*story.refunds, *sent_offline]),
            ],
            addresses=[
                payment.recorded_by,
                reversal.reversed_by if reversal else None,
                *(refund.returned_by for refund in [*story.refunds, *sent_offline]),
            ],
        ),
        story=story,
        payment=payment,
        # Round 55 (polish55): by its card and when started, or its reference and day
        # received, as the emails name it: its row id told the reader nothing.
        what=payment.named(payment.invoice.number, in_words=True),
        invoice=payment.invoice,
        organization=session.get(Organization, payment.organization_id),
        payer=session.get(User, payment.paid_by_user_id) if payment.paid_by_user_id else None,
        banks_words=queries.banks_words(session, [payment]),
        history=history,
        # Round 57: what Stripe told of its PaymentIntent, and what was made of it.
        stripe_events=queries.stripe_events_of(session, payment.stripe_payment_intent_id),
        now=utcnow(),
        card_refund_refused=to_card,
        credit_notes=credit_notes,
        refund_forms=refund_forms,
        sent_offline=sent_offline if counted or return_forms else [],
        return_forms=return_forms,
        refunds_elsewhere=[] if counted else [c for c in credit_notes if c.refund_outstanding > 0],
        reversal_forms=_reversal_forms([payment], reversal_form),
        move_forms=_move_forms([payment], move_form),
        credit_form=credit_form or forms.CreditNoteForm(formdata=None),
        # Round 38: a payment that never counted (flagged, given back, declined,
        # canceled, pending) offers no credit note: it would credit the invoice for
        # money this payment did not pay, and its refund is not this payment's.
        counted=counted,
        accept_refused=accept_refused,
        flagged=FLAGGED,
        given_back=GIVEN_BACK,
        give_back_form=give_back_form or forms.GiveBackForm(formdata=None, prefix="give_back"),
    ), status


@console.route("/credit-notes/<int:credit_note_id>", endpoint="credit_note_detail")
@access.staff(*BILLING_READERS)
def console_credit_note(credit_note_id: int) -> str:
    """Round 56: a credit note's own page (its number linked only its PDF): whose it
    is, the invoice it credits, its amount and reason, who issued it and when, what of
    it came off the balance and what is owed back, the refunds that sent it (how, and
    any the bank returned), its PDF and its history with its refunds'. The same staff
    as its invoice's page; a vendor reads its PDF from their invoice."""
    session = db.session()
    credit = queries.get_credit_note(session, credit_note_id)
    refunds = list(credit.refunds)
    records: list[tuple[str, int]] = [("credit_note", credit.id)]
    records += [("refund", refund.id) for refund in refunds]
    returned = [refund for refund in refunds if refund.returned_on is not None]
    history = audit_queries.events_for_records(session, records)
    return render_template(
        "billing/console_credit_note.html",
        credit=credit,
        # Round 58: who issued it and who acted in its history, named by the account
        # kept (else the address), in one statement for the page.
        # Round 60: and who recorded each refund's return.
        page_people=people_of(
            session,
            history,
            ids=[credit.issued_by_id, *(refund.returned_by_id for refund in returned)],
            addresses=[credit.issued_by, *(refund.returned_by for refund in returned)],
        ),
        invoice=credit.invoice,
        organization=session.get(Organization, credit.organization_id),
        refunds=refunds,
        returned=returned,
        returned_amount=sum((refund.amount for refund in returned), Decimal(0)),
        history=history,
    )


def _card_refund_refusal(session: Session, payment: Payment) -> str | None:
    """Why the payment's page offers no card refund (None: it offers one)."""
    if payment.method != CARD:
        return None  # an offline payment's page offers offline refunds only, unsaid
    if _gateway() is None:
        return "Stripe is not configured on this host: record a refund sent offline."
    return services.card_refund_refusal(session, payment)


# A page of the disputes list; the unmatched ones shown at most (the CLI lists them all).
DISPUTES_PER_PAGE = paging.PER_PAGE


@console.route("/invoices/overdue")
@access.staff(*BILLING_READERS)
def overdue() -> Response:
    return redirect(url_for("billing_console.invoices", overdue="1"))


def _console_page(
    invoice_id: int,
    *,
    payment_form: forms.OfflinePaymentForm | None = None,
    void_form: forms.ReasonForm | None = None,
    uncollectible_form: forms.ReasonForm | None = None,
    credit_form: forms.CreditNoteForm | None = None,
    refund_form: forms.RefundForm | None = None,
    reversal_form: forms.ReversalForm | None = None,
    move_form: forms.MoveForm | None = None,
    links_form: forms.ReasonForm | None = None,
    return_form: forms.RefundReturnForm | None = None,
    accept_refused: AcceptRefused | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db.session()
    invoice = queries.get_invoice(session, invoice_id)
    organization = session.get(Organization, invoice.organization_id)
    credit_notes = queries.credit_notes(session, invoice_id=invoice.id)
    payments = queries.payments(session, invoice_id=invoice.id)
    withdrawals = queries.link_withdrawals(session, invoice.id)
    returned = [r for credit in credit_notes for r in credit.refunds if r.returned_by]
    # Round 59: who withdrew the links; round 60: who recorded each refund's return.
    # By the account kept (else the address), in one statement for the page.
    people = people_of(
        session,
        ids=[
            *(withdrawal.revoked_by_id for withdrawal in withdrawals),
            *(refund.returned_by_id for refund in returned),
        ],
        addresses=[
            *(withdrawal.revoked_by for withdrawal in withdrawals),
            *(refund.returned_by for refund in returned),
        ],
    )
    return (
        render_template(
            "billing/console_invoice.html",
            invoice=invoice,
            amended=queries.amended_invoice(session, invoice),
            number_year=_number_year(session, invoice),
            organization=organization,
            payments=payments,
            banks_words=queries.banks_words(session, payments),
            # Round 39: what became of a flagged or given-back payment's money, in
            # the payment page's words (not a day paid: it never counted).
            taken=_money_taken(session, payments),
            credit_notes=credit_notes,
            # Round 46: its PDFs as kept in each standing, the issued one first.
            # Round 47: and its credit notes', listed after the invoice's.
            kept_documents=(kept := pdfs.kept_documents(session, pdfs.of_invoice(invoice.id))),
            # Round 67: and what it does not hold yet (never drawn), said as such.
            not_kept=pdfs.not_kept(invoice, kept),
            late_fees=queries.late_fees_of(session, invoice.id),
            # Round 57: each reminder and to whom it went (the newest; the count is all).
            reminders=queries.invoice_reminders(session, invoice.id)
            if invoice.reminder_count
            else [],
            refund_forms=_refund_forms(credit_notes, refund_form),
            reversal_forms=_reversal_forms(payments, reversal_form),
            move_forms=_move_forms(payments, move_form),
            return_forms=_return_forms(credit_notes, return_form),
            payment_form=payment_form or forms.OfflinePaymentForm(formdata=None),
            void_form=void_form or forms.ReasonForm(formdata=None, prefix="void"),
            uncollectible_form=uncollectible_form
            or forms.ReasonForm(formdata=None, prefix="uncollectible"),
            credit_form=credit_form or forms.CreditNoteForm(formdata=None),
            links_form=links_form or forms.ReasonForm(formdata=None, prefix="links"),
            link_withdrawals=withdrawals,
            withdrawers=people,
            returners=people,
            disputes=queries.disputes(session, invoice_id=invoice.id),
            now=utcnow(),
            allowed=INVOICE.allowed(invoice.state),
            today=_today(),
            flagged=FLAGGED,
            accept_refused=accept_refused,
            staff_view=True,  # the office's own states ("uncollectible")
        ),
        status,
    )


def _money_taken(session: Session, payments: Iterable[Payment]) -> dict[int, queries.MoneyTaken]:
    """`queries.money_taken` of each payment it speaks of (flagged or given back)."""
    found = {payment.id: queries.money_taken(session, payment) for payment in payments}
    return {payment_id: taken for payment_id, taken in found.items() if taken is not None}


def _refundable_by_card(payments: Iterable[Payment]) -> bool:
    """Whether a succeeded card payment can be refunded on its charge: one of its
    own, or money Stripe reinstated after a dispute won (refunded on the disputed
    payment's PaymentIntent: `refunds._intent_to_refund`)."""
    payments = list(payments)
    reinstated = {d.reinstatement_id for p in payments for d in p.disputes}
    return any(
        payment.method == CARD
        and payment.state == SUCCEEDED
        and (payment.stripe_payment_intent_id or payment.id in reinstated)
        for payment in payments
    )


def _refund_forms(
    credit_notes: Iterable[CreditNote],
    submitted: forms.RefundForm | None,
    *,
    payment: Payment | None = None,
    to_card: str | None = None,
) -> dict[int, forms.RefundForm]:
    """A refund form for each credit note that still owes a refund (the one
    just submitted keeps its values and messages). On a payment's page (`payment`)
    a card refund is offered only of that payment, and only when nothing refuses
    it (`to_card`: why not), for at most what is left of it; on the invoice's page only
    when a card payment of the invoice can take one."""
    found: dict[int, forms.RefundForm] = {}
    credit_notes = list(credit_notes)
    if payment is None:
        card_paid = _gateway() is not None and any(
            _refundable_by_card(credit.invoice.payments) for credit in credit_notes
        )
    else:
        card_paid = payment.method == CARD and to_card is None
    for credit in credit_notes:
        prefix = f"refund-{credit.id}"
        if submitted is not None and submitted._prefix == prefix + "-":
            found[credit.id] = submitted
        elif credit.refund_outstanding > 0:
            amount = credit.refund_outstanding
            if card_paid and payment is not None:
                amount = min(amount, payment.amount - payment.amount_refunded)
            found[credit.id] = forms.RefundForm(
                formdata=None,
                prefix=prefix,
                data={
                    "amount": format_amount(amount, credit.currency),
                    "method": CARD if card_paid else "wire",
                },
            )
        # Round 52: on the invoice's page too; it offered "To the card that paid" on
        # an invoice no card paid (a wire), a choice the service can only refuse.
        if credit.id in found and not card_paid:
            found[credit.id].offline_only()
    return found


def _reversal_prefix(payment_id: int) -> str:
    return f"reverse-{payment_id}"


def _reversal_forms(
    payments: Iterable[Payment], submitted: forms.ReversalForm | None
) -> dict[int, forms.ReversalForm]:
    """A "Reverse payment" form for each offline payment that counted (the one just
    submitted keeps its values and messages)."""
    offered = [(payment.id, payment.reversible) for payment in payments]
    return _step_forms(offered, submitted, _reversal_prefix, forms.ReversalForm)


def _move_prefix(payment_id: int) -> str:
    return f"move-{payment_id}"


def _move_forms(
    payments: Iterable[Payment], submitted: forms.MoveForm | None
) -> dict[int, forms.MoveForm]:
    """A "Recorded against the wrong invoice?" form for each offline payment that
    counted, beside its reversal (round 68; the one just submitted keeps its values
    and messages)."""
    offered = [(payment.id, payment.reversible) for payment in payments]
    return _step_forms(offered, submitted, _move_prefix, forms.MoveForm)


_Form = TypeVar("_Form", bound=PageForm)


def _return_prefix(refund_id: int) -> str:
    return f"return-{refund_id}"


def _return_forms(
    credit_notes: Iterable[CreditNote], submitted: forms.RefundReturnForm | None
) -> dict[int, forms.RefundReturnForm]:
    """A "Record refund ... returned" form for each offline refund that was sent and
    stands (round 55; the one just submitted keeps its values and messages), by the
    refund's id."""
    offered = [
        (refund.id, refund.returnable) for credit in credit_notes for refund in credit.refunds
    ]
    return _step_forms(offered, submitted, _return_prefix, forms.RefundReturnForm)


def _step_forms(
    offered: Iterable[tuple[int, bool]],
    submitted: _Form | None,
    prefix_of: Callable[[int], str],
    form: Callable[..., _Form],
) -> dict[int, _Form]:
    """A step's form for each record (by id) it is offered on (`offered`), prefixed by
    `prefix_of` its id; the one just `submitted` keeps its values and messages."""
    found: dict[int, _Form] = {}
    for record_id_, offer in offered:
        prefix = prefix_of(record_id_)
        if submitted is not None and submitted._prefix == prefix + "-":
            found[record_id_] = submitted
        elif offer:
            found[record_id_] = form(formdata=None, prefix=prefix)
    return found


def _amount(text: str | None) -> Decimal:
    try:
        return parse_decimal(ungrouped(text or ""))
    except MoneyError as exc:
        raise InvalidInput.for_field("amount", f"Give an amount such as 1250.00 ({exc}).") from None


def _invoice_page_url(invoice: Invoice) -> str:
    """The invoice's console page after an action on it (or as a confirmation's way
    back), keeping the narrowing of the list it was opened from."""
    return record_url(
        "billing_console.invoice_detail", invoice.organization_id, invoice_id=invoice.id
    )


@console.route("/invoices/<int:invoice_id>", endpoint="invoice_detail")
@access.staff(*BILLING_READERS)
def console_invoice_detail(invoice_id: int) -> tuple[str, int]:
    return _console_page(invoice_id)


def _invoice_action(
    invoice_id: int,
    form: FlaskForm,
    form_name: str,
    act: Callable[[], str],
    confirmation: confirm.Confirmation | Callable[[], confirm.Confirmation] | None = None,
    check: Callable[[], None] | None = None,
) -> Page:
    """A billing action from the invoice's console page, or from one of its payments'
    pages (`_posted_from`): validate the form, run `check` (the service's own checks,
    writing nothing) and ask for `confirmation` when given (or made by calling it,
    after `check`: one that shows what the step would do, round 53), run `act` (which
    returns the success message), and redirect back to that page; on a refusal, the
    page again with the form's or the rule's message, before staff are asked to
    confirm what would be refused. A step the rules refuse (`Conflict`) is answered
    409 on either page, the message saying what is allowed; bad input, and Stripe's
    refusal, 422."""
    from_payment = _posted_from(invoice_id)

    def asking() -> confirm.Confirmation:
        if check is not None:
            check()
        assert confirmation is not None
        return confirmation() if callable(confirmation) else confirmation

    def back() -> str:
        return _back_url(queries.get_invoice(db.session(), invoice_id), from_payment)

    def again(status: int) -> Page:
        if from_payment is not None:
            return _payment_page(from_payment, status=status, **{form_name: form})
        return _console_page(invoice_id, status=status, **{form_name: form})

    return _confirm_then_act(
        form, act, back=back, again=again, asking=asking if confirmation is not None else None
    )


def _confirm_then_act(
    form: FlaskForm,
    act: Callable[[], str],
    *,
    back: Callable[[], str],
    again: Callable[[int], Page],
    asking: Callable[[], confirm.Confirmation] | None = None,
) -> Page:
    """The shape of every confirmed step on the console's billing pages (round 39:
    the invoice's actions and the give-back repeated it): validate the form; before
    it is confirmed, `asking` (which may refuse, writing nothing) gives the
    confirmation to show; confirmed, `act` runs and returns the success message,
    flashed over a redirect to `back()`. A refusal is `again(status)`, the page with
    the form's messages: bad input and Stripe's refusal 422, a step the rules refuse
    (`Conflict`) 409, the message saying what is allowed."""
    status = 422
    if form.validate_on_submit():
        try:
            if asking is not None and not confirm.confirmed():
                return confirm.ask(asking())
            message = act()
        except InvalidInput as error:
            show_errors(form, error)
        except (Conflict, ExternalServiceError, BadRequest) as error:
            form.form_errors.append(error.detail)
            if isinstance(error, Conflict):
                status = 409
            elif isinstance(error, BadRequest):
                status = 400
        else:
            flash(message, "success")
            return redirect(back())
    return again(status)


# The hidden field a payment's page adds to the invoice's forms it shows: the
# payment it was posted from, which the step returns to (and a card refund names).
FROM_PAYMENT = "from_payment"


def _posted_from(invoice_id: int) -> int | None:
    """The payment whose page posted the form, when it is a payment of this invoice
    (any other value is ignored: the step returns to the invoice's page)."""
    payment_id = record_id(request.form.get(FROM_PAYMENT))
    if payment_id is None:
        return None
    payment = db.session().get(Payment, payment_id)
    return payment_id if payment is not None and payment.invoice_id == invoice_id else None


def _back_url(invoice: Invoice, from_payment: int | None) -> str:
    """The page a step on a payment returns to: the payment's, when it was posted
    from there, else the invoice's (keeping the list's narrowing)."""
    if from_payment is not None:
        return url_for("billing_console.payment_detail", payment_id=from_payment)
    return _invoice_page_url(invoice)


@contextmanager
def _asking_about_repeats(form: forms.RepeatedReferenceForm) -> Iterator[None]:
    """Around a service call given `form.repeated_reference`: two instalments (or
    refunds) may share a bank reference, so the service asks, and a refusal shows
    the form's box to confirm it for the reference it named."""
    try:
        yield
    except services.RepeatedReference:
        form.ask_again()
        raise


@console.route("/invoices/<int:invoice_id>/payments", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def record_payment(invoice_id: int) -> Page:
    form = forms.OfflinePaymentForm()

    def act() -> str:
        with _asking_about_repeats(form):
            payment = services.record_offline_payment(
                invoice_id,
                method=form.method.data or "",
                amount=_amount(form.amount.data),
                reference=form.reference.data,
                received_on=form.received_on.data,
                note=form.note.data,
                repeated_reference=form.repeated_reference,
                actor=current_actor(),
            )
        # Round 56: and what is left, so a payment short of the balance says so at once
        # (the walk's clerk scrolled for *Balance due* after a cheque of part of it).
        due = payment.invoice.balance_due
        left = (
            f" {money(due, payment.currency)} {payment.currency} is still due."
            if due > 0
            else " Nothing is left to pay."
        )
        return (
            f"Recorded {forms.METHOD_IN_A_SENTENCE[payment.method]} of "
            f"{money(payment.amount, payment.currency)} {payment.currency}.{left}"
        )

    return _invoice_action(invoice_id, form, "payment_form", act)


def _voided_after_its_month(invoice: Invoice) -> list[str]:
    """Round 59 (closewalk59): an invoice issued in a month that has ended is, voided,
    taken out of that month's figures after they were closed (a void counts nowhere,
    docs/finance-dashboard.md), so the confirmation says so and names the step that
    leaves a closed month as it was: a credit note, dated today."""
    issued = invoice.issue_date
    if issued is None or issued >= office_date(utcnow()).replace(day=1):
        return []
    return [
        f"It was issued on {calendar.day_text(issued)}, in a month that has ended: voided, "
        f"it comes out of {month_text(issued)}'s invoiced and outstanding on the Finance "
        "page and out of that month's exports, as if it had never been issued, though "
        "those figures may have been closed. To correct it and leave that month as it "
        "was, issue a credit note instead: it counts on the day it is issued."
    ]


@console.route("/invoices/<int:invoice_id>/void", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def void(invoice_id: int) -> Page:
    form = forms.ReasonForm(prefix="void")

    def check() -> None:
        services.check_void(invoice_id, reason=form.reason.data, actor=current_actor())

    def act() -> str:
        invoice = services.void_invoice(invoice_id, reason=form.reason.data, actor=current_actor())
        return f"Invoice {invoice.number} is void."

    invoice = queries.get_invoice(db.session(), invoice_id)
    confirmation = confirm.Confirmation(
        title=f"Void invoice {invoice.number or invoice.id}?",
        consequences=[
            f"It no longer asks {money(invoice.total, invoice.currency)} {invoice.currency} "
            "of the licensee; its number stays used, and voiding cannot be undone.",
            *_voided_after_its_month(invoice),
            f"Reason recorded in the audit log: {form.reason.data}",
        ],
        button="Void the invoice",
        cancel_url=_invoice_page_url(invoice),
        control="void-invoice",
        cancel_label="Keep the invoice",
    )
    return _invoice_action(invoice_id, form, "void_form", act, confirmation, check)


@console.route("/invoices/<int:invoice_id>/link-withdrawals", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def withdraw_links(invoice_id: int) -> Page:
    """Stop the links sent so far from working and send the billing contact a new one,
    after a confirmation."""
    form = forms.ReasonForm(prefix="links")
    invoice = queries.get_invoice(db.session(), invoice_id)
    organization = db.session().get(Organization, invoice.organization_id)
    contact = organization.billing_email if organization else "the billing contact"

    def act() -> str:
        services.withdraw_invoice_links(
            invoice_id,
            reason=form.reason.data,
            actor=current_actor(),
            confirmation=request.form.get(LINKS_CONFIRMATION, ""),
        )
        return (
            f"The links to invoice {invoice.number} sent so far no longer work; "
            f"{contact} is sent a new one."
        )

    def confirmation() -> confirm.Confirmation:
        # Round 56: the service's checks first, so a blank or unprintable reason, or
        # a draft, is refused on the invoice's page, never confirmed and then refused.
        services.check_links_withdrawal(invoice_id, reason=form.reason.data, actor=current_actor())
        return _links_question(invoice, contact, organization, form)

    return _invoice_action(invoice_id, form, "links_form", act, confirmation)


def _links_question(
    invoice: Invoice, contact: str, organization: Organization | None, form: FlaskForm
) -> confirm.Confirmation:
    signed = services.links_withdrawal_confirmation(
        invoice.id,
        organization.billing_email if organization else "",
        form.reason.data,
        current_actor(),
    )
    return confirm.Confirmation(
        title=f"Withdraw the links to invoice {invoice.number or invoice.id}?",
        consequences=[
            "Every link to the invoice in the emails sent so far stops opening it, its "
            "PDF and its payment page; whoever follows one is told it was withdrawn.",
            f"The billing contact, {contact}, is emailed a new link.",
            f"Reason recorded in the audit log: {form.reason.data}",
        ],
        button="Withdraw the links",
        cancel_url=_invoice_page_url(invoice),
        control="withdraw-links",
        cancel_label="Keep the links",
        carried=[(LINKS_CONFIRMATION, signed)],
    )


# The billing contact the links' withdrawal named (round 54: the new link went to the
# contact at the press, though the confirmation named another), signed with the reason
# (round 55: it was posted in plain text).
LINKS_CONFIRMATION = "confirmation"


@console.route("/invoices/<int:invoice_id>/uncollectible", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def uncollectible(invoice_id: int) -> Page:
    form = forms.ReasonForm(prefix="uncollectible")

    def act() -> str:
        invoice = services.mark_uncollectible(
            invoice_id, reason=form.reason.data, actor=current_actor()
        )
        return f"Invoice {invoice.number} is marked uncollectible."

    return _invoice_action(invoice_id, form, "uncollectible_form", act)


@console.route("/invoices/<int:invoice_id>/credit-notes", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def credit_note(invoice_id: int) -> Page:
    """Issue a credit note, after a confirmation that shows what it credits, the
    balance after it and any refund it makes owed (round 53: it was issued at one
    press, and a credit note is never undone). The confirmation carries a signed value
    binding what it showed (`SIGNED_CONFIRMATION`, round 54): one missing, forged,
    edited (another amount or reason posted), another's or older than 15 minutes is
    refused 400, one the invoice changed since 409; nothing issued either way."""
    form = forms.CreditNoteForm()
    invoice = queries.get_invoice(db.session(), invoice_id)

    def act() -> str:
        credit = services.issue_credit_note(
            invoice_id,
            amount=_amount(form.amount.data),
            reason=form.reason.data,
            actor=current_actor(),
            confirmation=request.form.get(SIGNED_CONFIRMATION, ""),
        )
        return f"Credit note {credit.number} issued."

    def confirmation() -> confirm.Confirmation:
        preview = services.check_credit_note(
            invoice_id,
            amount=_amount(form.amount.data),
            reason=form.reason.data,
            actor=current_actor(),
        )
        return confirm.Confirmation(
            title=f"Issue a credit note of {in_words(preview.amount, preview.currency)} "
            f"on {preview.invoice}?",
            consequences=_credit_consequences(invoice, preview),
            button="Issue the credit note",
            cancel_url=_back_url(invoice, _posted_from(invoice.id)),
            control=f"issue-credit-note-{invoice.id}",
            cancel_label="Do not issue it",
            carried=[(SIGNED_CONFIRMATION, preview.confirmation)],
        )

    return _invoice_action(invoice_id, form, "credit_form", act, confirmation)


# The confirmation's field holding the signed value of what it showed
# (`services.CreditPreview.confirmation`, `services.CardRefundPreview.confirmation`).
SIGNED_CONFIRMATION = "confirmation"


def _credit_consequences(invoice: Invoice, preview: services.CreditPreview) -> list[str]:
    """What a credit note will do, as its confirmation says it."""
    currency = preview.currency
    said = [
        f"{preview.invoice} (total {in_words(invoice.total, currency)}, paid "
        f"{in_words(invoice.amount_paid, currency)}, credited so far "
        f"{in_words(invoice.amount_credited, currency)}) is credited "
        f"{in_words(preview.amount, currency)}.",
        f"Its balance due goes from {in_words(preview.balance_before, currency)} to "
        f"{in_words(preview.balance_after, currency)}.",
    ]
    if preview.refund_due > 0:
        said.append(
            f"{in_words(preview.refund_due, currency)} of it is more than the invoice still "
            "owes: it becomes a refund owed to the licensee, which billing staff send from "
            "the invoice's page (to the card that paid, or by wire, ACH or check)."
        )
    else:
        said.append("No refund becomes owed: all of it comes off the balance due.")
    said += [
        f"Reason printed on the credit note: {preview.reason}",
        "The billing contact is emailed the credit note with its PDF. A credit note is "
        "never undone or edited: only another document corrects it.",
    ]
    return said


@console.route("/credit-notes/<int:credit_note_id>/refunds", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def refund(credit_note_id: int) -> Page:
    """Refund what a credit note owes: to the card through Stripe, after a confirmation
    that says how much goes to which card and what the invoice owes and owes back
    after (round 54: it went at one press, though money leaving to a card is as final
    as a credit note), carrying a signed value of what it showed (`SIGNED_CONFIRMATION`:
    one missing, forged, edited, another's or stale is 400, figures moved since 409;
    Stripe asked nothing either way); or record one sent by wire, ACH or check."""
    credit = queries.get_credit_note(db.session(), credit_note_id)
    form = forms.RefundForm(prefix=f"refund-{credit.id}")
    # From a payment's page, the card refund is of that payment.
    from_payment = _posted_from(credit.invoice_id)

    def act() -> str:
        amount = _amount(form.amount.data)
        if form.method.data == "card":
            done = services.refund_card(
                credit_note_id,
                amount=amount,
                payment_id=from_payment,
                note=form.note.data,
                actor=current_actor(),
                gateway=_gateway(),
                confirmation=request.form.get(SIGNED_CONFIRMATION, ""),
            )
            if done.state == "pending":
                return "The card refund is on its way; Stripe will confirm it."
        else:
            with _asking_about_repeats(form):
                done = services.record_offline_refund(
                    credit_note_id,
                    method=form.method.data or "",
                    amount=amount,
                    reference=form.reference.data,
                    sent_on=form.sent_on.data,
                    note=form.note.data,
                    repeated_reference=form.repeated_reference,
                    actor=current_actor(),
                )
        return f"Refunded {money(done.amount, done.currency)} {done.currency} ({credit.number})."

    def confirmation() -> confirm.Confirmation:
        preview = services.check_card_refund(
            credit_note_id,
            amount=_amount(form.amount.data),
            payment_id=from_payment,
            note=form.note.data,
            actor=current_actor(),
            gateway=_gateway(),
        )
        return confirm.Confirmation(
            title=f"Refund {in_words(preview.amount, preview.currency)} to {preview.card}?",
            consequences=_card_refund_consequences(preview),
            button="Refund to the card",
            cancel_url=_back_url(credit.invoice, from_payment),
            control=f"refund-credit-note-{credit.id}",
            cancel_label="Do not refund",
            carried=[(SIGNED_CONFIRMATION, preview.confirmation)],
        )

    return _invoice_action(
        credit.invoice_id,
        form,
        "refund_form",
        act,
        confirmation if form.method.data == "card" else None,
    )


def _card_refund_consequences(preview: services.CardRefundPreview) -> list[str]:
    """What a card refund will do, as its confirmation says it."""
    currency = preview.currency
    payment = preview.payment
    received = f" received on {payment.paid_date}" if payment.paid_date else ""
    said = [
        f"Stripe refunds {in_words(preview.amount, currency)} of credit note "
        f"{preview.credit_note} to {preview.card}, which paid {preview.invoice} (its card "
        f"payment of {in_words(payment.amount, currency)}{received}). Money sent back to a "
        "card is not undone; the bank may take a few days to show it.",
        f"{preview.invoice} owes {in_words(preview.owed_before, currency)} and owes back "
        f"{in_words(preview.owed_back_before, currency)} now; once Stripe confirms the "
        f"refund it owes {in_words(preview.owed_after, currency)} and owes back "
        f"{in_words(preview.owed_back_after, currency)}.",
        "The billing contact is emailed when Stripe confirms it.",
    ]
    if preview.note:
        said.append(f"Note recorded in the audit log: {preview.note}")
    return said


@console.route("/payments/<int:payment_id>/reversal", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def reverse_payment(payment_id: int) -> Page:
    """Reverse an offline payment that did not clear, after a confirmation."""
    payment = queries.get_payment(db.session(), payment_id)
    invoice = queries.get_invoice(db.session(), payment.invoice_id)
    form = forms.ReversalForm(prefix=_reversal_prefix(payment.id))
    amount = f"{money(payment.amount, payment.currency)} {payment.currency}"

    def check() -> None:
        services.check_reversal(
            payment_id,
            reason=form.reason.data,
            returned_on=form.returned_on.data,
            actor=current_actor(),
        )

    def act() -> str:
        services.reverse_offline_payment(
            payment_id,
            reason=form.reason.data,
            returned_on=form.returned_on.data,
            standing_days=current_config().overdue_standing_days,
            actor=current_actor(),
        )
        return (
            f"The payment of {amount} ({payment.reference}) is reversed; "
            "the billing contact is told what is now owed."
        )

    confirmation = confirm.Confirmation(
        title=f"Reverse the payment of {amount} on {invoice.label}?",
        consequences=[
            f"{invoice.label}'s amount paid goes down by {amount}; if it was paid, it is "
            "owed again (overdue if past its due date).",
            "The billing contact is emailed that the payment did not clear. The payment "
            "stays on record as reversed; this cannot be undone.",
            f"Reason recorded in the audit log: {form.reason.data}",
        ],
        button="Reverse the payment",
        cancel_url=_back_url(invoice, _posted_from(invoice.id)),
        control=f"reverse-payment-{payment.id}",
        cancel_label="Keep the payment",
    )
    return _invoice_action(invoice.id, form, "reversal_form", act, confirmation, check)


@console.route("/payments/<int:payment_id>/move", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def move_payment(payment_id: int) -> Page:
    """Move an offline payment recorded against the wrong invoice to the right one
    (round 68, journeyF68), after a confirmation naming both invoices."""
    payment = queries.get_payment(db.session(), payment_id)
    invoice = queries.get_invoice(db.session(), payment.invoice_id)
    form = forms.MoveForm(prefix=_move_prefix(payment.id))
    amount = in_words(payment.amount, payment.currency)
    found: list[Invoice] = []

    def check() -> None:
        found.append(
            services.check_move(
                payment_id,
                to_invoice=form.to_invoice.data,
                reason=form.reason.data,
                actor=current_actor(),
            )
        )

    def act() -> str:
        moved = services.move_offline_payment(
            payment_id,
            to_invoice=form.to_invoice.data,
            reason=form.reason.data,
            standing_days=current_config().overdue_standing_days,
            actor=current_actor(),
        )
        target = queries.get_invoice(db.session(), moved.invoice_id)
        return (
            f"The payment of {amount} ({payment.reference}) is taken off {invoice.number} "
            f"and recorded against {target.number}, received "
            f"{calendar.day_text(moved.received_on or _today())}; both "
            "billing contacts are told."
        )

    def confirmation() -> confirm.Confirmation:
        target = found[-1]
        received = calendar.day_text(payment.paid_date or _today())
        return confirm.Confirmation(
            title=f"Move the payment of {amount} from {invoice.number} to {target.number}?",
            consequences=[
                f"{invoice.label} is owed {amount} more (overdue if past its due date); "
                "the payment stays on it as taken off, recorded against the wrong invoice, "
                f"on the day it was received ({received}).",
                f"{target.label} is paid {amount} by the same {payment.method} "
                f"({payment.reference}), received {received}.",
                f"{invoice.number}'s billing contact is emailed that it was recorded there by "
                f"mistake (not that the bank returned it); {target.number}'s is thanked for "
                "the payment.",
                f"Reason recorded in the audit log: {form.reason.data}",
            ],
            button="Move the payment",
            cancel_url=_back_url(invoice, _posted_from(invoice.id)),
            control=f"move-payment-{payment.id}",
            cancel_label="Keep it where it is",
        )

    return _invoice_action(invoice.id, form, "move_form", act, confirmation, check)


@console.route("/refunds/<int:refund_id>/return", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def return_refund(refund_id: int) -> Page:
    """Record that the bank returned a wire, ACH or check refund (round 55), after a
    confirmation saying what the invoice owes and owes back after it, carrying a
    signed value of what it showed (`SIGNED_CONFIRMATION`: one missing, forged,
    edited, another's or stale is 400, figures moved since 409)."""
    refund = queries.get_refund(db.session(), refund_id)
    credit = refund.credit_note
    form = forms.RefundReturnForm(prefix=_return_prefix(refund.id))

    def act() -> str:
        done = services.return_offline_refund(
            refund_id,
            reason=form.reason.data,
            returned_on=form.returned_on.data,
            actor=current_actor(),
            confirmation=request.form.get(SIGNED_CONFIRMATION, ""),
        )
        owed = queries.get_credit_note(db.session(), credit.id).refund_outstanding
        return (
            f"Recorded: the {done.method} refund of {in_words(done.amount, done.currency)} "
            f"came back on {done.returned_on}; credit note {credit.number} owes "
            f"{in_words(owed, done.currency)} back again, to be sent as a new refund."
        )

    def confirmation() -> confirm.Confirmation:
        preview = services.check_refund_return(
            refund_id,
            reason=form.reason.data,
            returned_on=form.returned_on.data,
            actor=current_actor(),
        )
        return confirm.Confirmation(
            title=(
                f"Record the {refund.method} refund of "
                f"{in_words(refund.amount, refund.currency)} as returned by the bank?"
            ),
            consequences=_return_consequences(preview),
            button="Record the return",
            cancel_url=_back_url(credit.invoice, _posted_from(credit.invoice_id)),
            control=f"record-return-{refund.id}",
            cancel_label="Do not record it",
            carried=[(SIGNED_CONFIRMATION, preview.confirmation)],
        )

    return _invoice_action(credit.invoice_id, form, "return_form", act, confirmation)


def _return_consequences(preview: services.ReturnPreview) -> list[str]:
    """What recording a refund's return will do, as its confirmation says it."""
    currency = preview.currency
    refund = preview.refund
    sent = calendar.day_text(refund.sent_date) if refund.sent_date else "on a day not kept"
    return [
        f"The {refund.method} refund of {in_words(refund.amount, currency)} "
        f"(reference {refund.reference}) of credit note {preview.credit_note}, sent "
        f"{sent}, is recorded as returned by the bank on "
        f"{calendar.day_text(preview.returned_on)}: "
        "the money is back with the office. It stays on record, sent on its day and "
        "returned on this one, in the statement, the Finance page and the exports; this "
        "cannot be undone.",
        f"{preview.invoice} owes {in_words(preview.owed_before, currency)} and owes back "
        f"{in_words(preview.owed_back_before, currency)} now; after it, it owes "
        f"{in_words(preview.owed_after, currency)} and owes back "
        f"{in_words(preview.owed_back_after, currency)}, sent again as a new refund.",
        "The licensee is not emailed (as when a card's bank returns a refund); their "
        "statement shows the return on its day.",
        f"Reason recorded in the audit log: {preview.reason}",
    ]


@console.route("/payments/<int:payment_id>/accept", methods=["POST"])
@access.staff("billing")
def accept_payment(payment_id: int) -> Page:
    """Accept a flagged card payment; a refusal is the page it was posted from again
    with the reason's message (422) or the rule's words (409), as every other step
    on these pages (it was flashed over a redirect until round 27)."""
    return _accept_step(payment_id, "accept", services.accept_flagged_payment)


@console.route("/payments/<int:payment_id>/accept-remainder", methods=["POST"])
@access.staff("billing")
def accept_remainder(payment_id: int) -> Page:
    """Round 47: accept what a lost dispute of part of a flagged card payment's charge
    left (`Payment.remainder`); a refusal is the page it was posted from again, as
    *Accept*'s: the reason's message (422) or the rule's words (409)."""
    form = forms.RemainderForm(prefix="remainder")

    def accept(payment_id: int, **given: Any) -> Payment:
        # Round 48: the excess of a remainder more than the invoice owes, sent back.
        return services.accept_remainder(
            payment_id,
            excess_method=form.excess_method.data or None,
            excess_reference=form.excess_reference.data,
            **given,
        )

    return _accept_step(payment_id, "remainder", accept, form)


def _accept_step(
    payment_id: int,
    prefix: str,
    accept: Callable[..., Payment],
    form: forms.ReasonForm | None = None,
) -> Page:
    """An accept (`prefix` "accept") or a remainder's (round 47: "remainder"): its
    form, the service that takes it, and the page it was posted from again on a
    refusal, its panel listing why."""
    form = form or forms.ReasonForm(prefix=prefix)
    payment = queries.get_payment(db.session(), payment_id)
    invoice = queries.get_invoice(db.session(), payment.invoice_id)
    from_payment = _posted_from(invoice.id)
    status = 422
    if form.validate_on_submit():
        try:
            accepted = accept(payment_id, note=form.reason.data, actor=current_actor())
        except InvalidInput as error:
            show_errors(form, error)
        except Conflict as error:
            form.form_errors.append(said_to_the_reader(error))
            status = 409
        else:
            flash(_accepted_message(accepted.invoice, what=prefix, payment=accepted), "success")
            return redirect(_back_url(invoice, from_payment))
    refused = AcceptRefused(payment_id, _accept_messages(form, payment_id, field=prefix))
    if from_payment == payment_id:
        return _payment_page(payment_id, accept_refused=refused, status=status)
    return _console_page(invoice.id, accept_refused=refused, status=status)


@console.route("/payments/<int:payment_id>/give-back", methods=["POST"])
@access.staff("billing")
@shows_unstorable_on_form
def give_back_payment(payment_id: int) -> Page:
    """Give a flagged card payment's money back to the card (round 36), from the
    payment's page, with why, after a confirmation saying how much goes back to
    whose card; a refusal is the payment's page again with the reason's message
    (422), the rule's words (409) or Stripe's refusal (422, it is flagged again);
    Stripe unreachable or its answer lost (422), the page says it is being given
    back until Stripe's answer comes in (round 42)."""
    session = db.session()
    payment = queries.get_payment(session, payment_id)
    invoice = queries.get_invoice(session, payment.invoice_id)
    form = forms.GiveBackForm(prefix="give_back")

    def asking() -> confirm.Confirmation:
        PAYMENT.step(payment.state, "give_back", hold=payment.dispute_hold)  # before asking
        return _give_back_confirmation(session, payment, invoice, form)

    def act() -> str:
        given = services.give_back_flagged_payment(
            payment_id, note=form.reason.data, actor=current_actor(), gateway=_gateway()
        )
        failed = services.failed_meanwhile(given)
        if failed is not None:
            return failed
        return (
            f"The card payment is given back to the card through Stripe; "
            f"{invoice.label} is unchanged."
        )

    return _confirm_then_act(
        form,
        act,
        back=lambda: url_for("billing_console.payment_detail", payment_id=payment_id),
        again=lambda status: _payment_page(payment_id, give_back_form=form, status=status),
        asking=asking,
    )


def _give_back_confirmation(
    session: Session, payment: Payment, invoice: Invoice, form: forms.GiveBackForm
) -> confirm.Confirmation:
    """How much goes back, to whose card, and what does not change."""
    organization = session.get(Organization, payment.organization_id)
    assert organization is not None
    payer = session.get(User, payment.paid_by_user_id) if payment.paid_by_user_id else None
    received = payment.amount_received or Decimal(0)
    amount = (
        in_words(received, payment.currency)
        if received > 0
        else "all Stripe took for it (in another currency than the invoice's)"
    )
    card = payment.card_label or "the card"
    whose = f"{payer.full_name} of {organization.legal_name}" if payer else organization.legal_name
    return confirm.Confirmation(
        title=f"Give back {amount} to {whose}?",
        consequences=[
            f"Stripe refunds {amount} to {card} that paid it ({whose}); the bank may take "
            "a few days to show it. This cannot be undone.",
            f"{invoice.label} is unchanged: the payment never counted, so "
            f"{in_words(invoice.balance_due, invoice.currency)} stays due on it.",
            _who_is_told(session, payment, organization),
            f"Reason recorded in the audit log: {form.reason.data}",
        ],
        button="Give it back",
        cancel_url=url_for("billing_console.payment_detail", payment_id=payment.id),
        control="give-back-payment",
        cancel_label="Keep it flagged",
    )


def _who_is_told(session: Session, payment: Payment, organization: Organization) -> str:
    """Who the give-back's email reaches, named (round 37: "and the payer" named
    nobody): the billing contact, and the payer as `services` writes to them (not
    the contact twice, nor an address never confirmed)."""
    names, two = services.told_names(session, payment, organization)
    said = f"{names[0].upper()}{names[1:]}"
    return f"{said}, {'are' if two else 'is'} emailed why."


def _accepted_message(
    invoice: Invoice, *, what: str = "accept", payment: Payment | None = None
) -> str:
    """Round 30: what stays owed is said after accepting too, as the panel said it
    before (and as the API's answer says it). Round 47: of a remainder too; round 48,
    with what of it went back offline."""
    accepted = (
        "The flagged payment is accepted"
        if what == "accept"
        else "What the lost dispute left of the flagged payment is accepted"
    )
    excess = payment.excess_given_back if payment is not None else None
    if excess is not None:
        back = in_words(excess.amount, invoice.currency)
        if payment is not None and excess.amount >= payment.amount:
            return (
                f"{accepted}: {invoice.label} owed none of it, so all {back} is booked as "
                "given back offline today; nothing was applied."
            )
        return (
            f"{accepted}: {back} of it, more than {invoice.label} owed, is booked as given "
            f"back offline today, and the rest applied; {invoice.label} is paid."
        )
    if invoice.balance_due <= 0:
        return f"{accepted} and applied; {invoice.label} is paid."
    owed = in_words(invoice.balance_due, invoice.currency)
    return f"{accepted} and applied; {owed} stays owed on {invoice.label}, chased like any balance."


@dataclass(frozen=True)
class AcceptRefused:
    """Why accepting a flagged payment was refused, for its panel: the payment, and
    the messages (text, or the field's id and text) its error summary lists."""

    payment_id: int
    messages: list[str | tuple[str, str]]


def _accept_messages(
    form: forms.ReasonForm, payment_id: int, *, field: str = "accept"
) -> list[str | tuple[str, str]]:
    # The panel's textarea is one per flagged payment (`accept-reason-<id>`, round 47
    # `remainder-reason-<id>`), so the summary links the reason's message to that one
    # rather than the form's own id.
    field_id = f"{field}-reason-{payment_id}"
    # Round 48: the excess's fields, `remainder-excess_method-<id>` and its reference.
    excess = [
        (f"{field}-{name}-{payment_id}", message)
        for name in ("excess_method", "excess_reference")
        if name in form._fields
        for message in form._fields[name].errors
    ]
    return [
        *form.form_errors,
        *((field_id, message) for message in form.reason.errors),
        *excess,
    ]


def _counted_by_due_date(
    session: Session, invoices: ColumnElement[bool]
) -> tuple[int, date | None]:
    """How many invoices match, and the earliest due date among them (the home's rows)."""
    count, first = session.execute(
        select(func.count(), func.min(Invoice.due_date)).where(invoices)
    ).one()
    return int(count), first


@queue_summary
def _billing_queues(
    session: Session, principal: Principal, now: datetime
) -> Iterable[QueueSummary]:
    # As the list it links counts them (round 50): not those a dispute holds.
    overdue, oldest_due = _counted_by_due_date(session, queries.overdue_on(office_date(now)))
    yield QueueSummary(
        "Overdue invoices",
        count=overdue,
        endpoint="billing_console.overdue",
        attention=overdue,
        # Overdue invoices wait on licensees, as royalty reports do: the Oldest
        # column gives the due date, not a detail line of its own.
        oldest_due=oldest_due,
    )
    # Round 52: what falls due this week, to chase before it is overdue; links the
    # list filtered so (the same rule, `due_in_week_of`). Nothing to flag: not late yet.
    due, soonest = _counted_by_due_date(session, queries.due_in_week_of(office_date(now)))
    yield QueueSummary(
        "Invoices due this week",
        due,
        "billing_console.invoices",
        {"due_week": "1"},
        oldest_due=soonest,
    )
    # Round 44: not one whose charge's dispute is open (counted below, to answer in
    # Stripe; accepting or giving it back is refused until the outcome) or lost
    # (nothing left to accept or give back): there is nothing of it to check.
    flagged = (
        session.scalar(
            select(func.count()).where(
                Payment.state == FLAGGED,
                ~queries.disputed_charge(OPEN),
                # Round 47: a dispute lost of part of it leaves the remainder to accept.
                ~queries.lost_in_full(),
            )
        )
        or 0
    )
    yield QueueSummary(
        "Card payments to check (amount did not match)",
        count=flagged,
        # The invoices page lists them first; the overdue filter would hide their invoices.
        endpoint="billing_console.invoices",
        params={"_anchor": "flagged-heading"},
        attention=flagged,
        attention_label="flagged",
    )
    yield _giving_back_queue(session, now)
    disputed, first_due = session.execute(
        select(func.count(), func.min(PaymentDispute.evidence_due_by)).where(
            PaymentDispute.state == OPEN
        )
    ).one()
    yield QueueSummary(
        "Disputed card payments to answer in Stripe",
        count=disputed,
        endpoint="billing_console.disputes",
        attention=disputed,
        attention_label="open",
        # Each waits on the office's evidence: the column gives the soonest due date.
        oldest_due=office_date(first_due) if first_due is not None else None,
    )
    # Round 68 (journeyF68): money the office owes licensees and has not sent (a credit
    # note beyond what its invoice owed): it waits on billing staff, and no queue said so.
    to_send, first_issued = session.execute(
        select(func.count(), func.min(CreditNote.issued_at)).where(*queries.refunds_still_to_send())
    ).one()
    yield QueueSummary(
        "Refunds owed to licensees, still to send",
        count=to_send,
        endpoint="billing_console.credit_notes",
        params={"to_send": "1"},
        attention=to_send,
        attention_label="to send",
        oldest=first_issued,
    )
    yield from _statements_changed_queue(principal)
    unmatched = db.count_rows(session, queries.unmatched_disputes_query())
    yield QueueSummary(
        "Disputes not matched to a payment (Stripe could not be asked)",
        count=unmatched,
        endpoint="billing_console.disputes",
        params={"_anchor": "unmatched-heading"},
        attention=unmatched,
        attention_label="waiting",
    )
    # Round 58 (stripeevents58): events the webhook could not apply, stored saying why.
    failed, first_failed = queries.failed_stripe_events(session)
    yield QueueSummary(
        "Stripe events that failed (not applied)",
        count=failed,
        endpoint="billing_console.stripe_events",
        params={"kind": "failed"},
        attention=failed,
        attention_label="failed",
        oldest=first_failed,
        detail=(
            "Stripe sends each again for up to three days, and the next delivery is "
            "applied afresh; one still failed after that needs a look: apply it again "
            "from its page, or mark it looked at with a note."
            if failed
            else ""
        ),
    )


# A give-back Stripe has not answered for this long is no longer an answer on its
# way: `licensing payments reconcile` could not settle it (round 43).
GIVING_BACK_STUCK_AFTER = timedelta(days=1)


def _giving_back_queue(session: Session, now: datetime) -> QueueSummary:
    """Round 43: card payments being given back wait on Stripe, not on staff, so they
    are not "to check" (accepting or giving one back is refused until Stripe answers)
    but are counted apart, with when the oldest was asked; one waiting over a day
    needs someone to look (reconcile could not ask Stripe, or does not run)."""
    waiting, oldest = session.execute(
        select(func.count(), func.min(Payment.status_changed_at)).where(
            Payment.state == GIVING_BACK
        )
    ).one()
    stuck = session.scalar(
        select(func.count()).where(
            Payment.state == GIVING_BACK,
            Payment.status_changed_at < now - GIVING_BACK_STUCK_AFTER,
        )
    )
    # Round 44: one waiting links to its payment's page, which says what it waits on
    # (the invoices page's list linked its invoice, whose page offers nothing for it).
    lone = (
        session.scalar(select(Payment.id).where(Payment.state == GIVING_BACK))
        if waiting == 1
        else None
    )
    return QueueSummary(
        "Card payments being given back (waiting on Stripe)",
        count=waiting,
        endpoint="billing_console.payment_detail" if lone else "billing_console.invoices",
        params={"payment_id": lone} if lone else {"_anchor": "flagged-heading"},
        attention=stuck or 0,
        attention_label="waiting over a day",
        oldest=oldest,
        detail=(
            "Nothing to do until Stripe answers: `licensing payments reconcile` asks it."
            if waiting
            else ""
        ),
    )


def _statements_changed_queue(principal: Principal) -> Iterable[QueueSummary]:
    """Round 30: the statements sent that now read differently, for billing staff, who
    decide whether to send each again (licensing officers read the list from
    *Invoices* but send nothing, so it is not work waiting on them). The same reading
    as the list's, without the names: the entries recorded since the last check
    marked (round 56: it asked every statement sent whether it had a late entry, 3.6 s
    on SQLite at 24,000 sent), a query for the marked, then the ledger once a currency,
    however many there are."""
    if not principal.has_role("billing"):
        return
    found = services.statements_changed(named=False)
    count = len(found.readings)
    months = sorted(each.sent.month for each in found.readings)
    detail = f"The oldest month changed: {months[0]:%Y-%m}" if months else ""
    if found.more:
        detail += (
            f" (only the first {sent_statements.LATE_READ:,} statements with a late entry "
            "were read: there may be more)"
        )
    yield QueueSummary(
        "Statements changed since they were emailed (send again?)",
        count=count,
        endpoint="billing_console.statements_changed",
        attention=count,
        attention_label="changed",
        detail=detail,
    )


# --- a statement of account (portal: your organization; console: any) --------------

# The page lists at most this many movements (the range is bounded to a year, and a
# licensee with more in a year is rare); the PDF carries every one.
STATEMENT_PAGE_LINES = 500
# The portal lists the statements emailed two years (of one currency) a page.
STATEMENTS_EMAILED_PER_PAGE = 24
STATEMENT_LABELS = {"from": "From", "to": "To", "currency": "Currency"}


def _asked() -> services.Asked:
    """The statement the link asks for; a field given twice is refused beside it
    (`InvalidInput`, answered 400: `_given_twice`) as every list's filter is, and as
    the API's statement refuses its argument given twice (round 56: the page took
    the first day, the PDF and the email too)."""
    if twice := _given_twice():
        raise InvalidInput("The statement's dates or currency are given twice.", twice)
    return services.Asked(
        request.args.get("from"),
        request.args.get("to"),
        request.args.get("currency"),
        # Round 67: the pages open on the twelve months to the day, not on January 1.
        twelve_months=True,
    )


def _given_twice() -> dict[str, list[str]]:
    return arguments.repeated(request.args, labels=STATEMENT_LABELS)


def _statement_page(
    organization: Organization,
    *,
    page_endpoint: str,
    pdf_endpoint: str,
    emailed: bool = False,
    email_refused: str | None = None,
    status: int = 200,
    **url: Any,
) -> tuple[str, int]:
    """The statement asked for in the query, or the form with each field's message;
    with `emailed`, the monthly statements emailed to the organization, each linked
    to its month's statement (the console lists them on the organization's page);
    `email_refused`, why the statement shown was not emailed (answered `status`)."""
    session = db.session()
    values = {name: request.args.get(name) or "" for name in STATEMENT_LABELS}
    context: dict[str, Any] = {
        "organization": organization,
        "page_endpoint": page_endpoint,
        "pdf_endpoint": pdf_endpoint,
        "url": url,
        "labels": STATEMENT_LABELS,
        "shown": STATEMENT_PAGE_LINES,
        "currencies": statements.currencies_billed(session, organization.id) or [DEFAULT_CURRENCY],
        "emailed": _statements_emailed(session, organization.id) if emailed else None,
        # Round 56: each movement's document opens the invoice it moved money on (its
        # payments, credit notes and refunds are there), on the reader's own side.
        "invoice_endpoint": (
            "billing_console.invoice_detail"
            if page_endpoint == "billing_console.statement"
            else "billing.invoice_detail"
        ),
    }
    try:
        found = services.statement_for(session, organization, _asked(), now=utcnow())
    except InvalidInput as refused:
        return render_template(
            "billing/statement.html",
            statement=None,
            errors=refused.errors,
            values=values,
            **context,
        ), 400 if _given_twice() else 422
    values = {
        "from": found.start.isoformat(),
        "to": found.end.isoformat(),
        "currency": found.currency,
    }
    query: dict[str, Any] = {**url, **values}
    # Round 53: billing staff email the statement shown to the billing contact (a
    # licensee on the phone asks for it); the form posts to the page's own query.
    email_url = None
    if page_endpoint == "billing_console.statement" and may_open(EMAIL_STATEMENT):
        email_url = url_for(EMAIL_STATEMENT, **query)
    return render_template(
        "billing/statement.html",
        statement=found,
        errors={},
        values=values,
        pdf_url=url_for(pdf_endpoint, **query),
        # A balance no monthly statement could record as sent (round 50).
        unrecordable=unrecordable(found),
        email_url=email_url,
        email_refused=email_refused,
        email_bounds=(
            requested_statements.SAME_AGAIN_AFTER.seconds // 60,
            requested_statements.PER_DAY,
        ),
        **context,
    ), status


@dataclass(frozen=True)
class EmailedStatement:
    """A statement emailed to the organization, its month as it reads now, and the
    query of its month's statement."""

    reading: SentReading
    query: dict[str, str]

    @property
    def sent(self) -> SentStatement:
        return self.reading.sent


def _emailed(readings: Sequence[SentReading]) -> list[EmailedStatement]:
    return [
        EmailedStatement(
            reading,
            {
                "from": reading.sent.month.isoformat(),
                "to": reading.sent.closes_on.isoformat(),
                "currency": reading.sent.currency,
            },
        )
        for reading in readings
    ]


def _statements_emailed(session: Session, organization_id: int) -> paging.Page[EmailedStatement]:
    """Round 27: a licensee's accountant finds the statement they were sent (the
    portal listed none; the page gave any month on demand, if they knew which).
    Round 28: every one, a page at a time (the newest 24 were shown), each saying
    whether its month now reads differently from what was emailed."""

    def rows(window: Select[Any], parameters: dict[str, int]) -> list[EmailedStatement]:
        found = list(session.scalars(window, parameters))
        return _emailed(sent_statements.read_now(session, found))

    return paging.read_page(
        session,
        sent_statements.sent_query(organization_id=organization_id),
        per_page=STATEMENTS_EMAILED_PER_PAGE,
        rows=rows,
    )


def _statement_pdf(organization: Organization, page: Callable[[], tuple[str, int]]) -> Page:
    """The PDF of the statement asked for; the page with the form's messages when refused."""
    session = db.session()
    try:
        found = services.statement_for(session, organization, _asked(), now=utcnow())
    except InvalidInput:
        return page()
    # Drawn once for what it shows (round 55): the data is read on every request, and
    # a repeat within the minute its "as of" shows, nothing moved, is served the copy
    # drawn before (a long statement's drawing is most of its request).
    content = drawn_statement_pdf(found)
    name = found.file_name(f"{found.start}-{found.end}")
    return pdf_response(content, name, disposition="attachment")


def _own_organization() -> Organization:
    principal = access.current_principal()
    assert principal is not None  # @access.vendor admitted a signed-in vendor user
    organization_id = principal.organization_id
    if organization_id is None:
        raise NotFound("You belong to no organization.")
    return get_owned(db.session(), Organization, organization_id)


@bp.route("/statement")
@access.vendor
def statement() -> tuple[str, int]:
    return _statement_page(
        _own_organization(),
        page_endpoint="billing.statement",
        pdf_endpoint="billing.statement_pdf",
        emailed=True,
    )


@bp.route("/statement.pdf")
@access.vendor
@document_rate_limit()
def statement_pdf() -> Page:
    return _statement_pdf(_own_organization(), statement)


def _console_statement(
    organization_id: int, *, email_refused: str | None = None, status: int = 200
) -> tuple[str, int]:
    return _statement_page(
        get_owned(db.session(), Organization, organization_id),
        page_endpoint="billing_console.statement",
        pdf_endpoint="billing_console.statement_pdf",
        email_refused=email_refused,
        status=status,
        organization_id=organization_id,
    )


@console.route("/organizations/<int:organization_id>/statement", endpoint="statement")
@access.staff(*BILLING_READERS)
def console_statement(organization_id: int) -> tuple[str, int]:
    return _console_statement(organization_id)


@console.route("/organizations/<int:organization_id>/statement.pdf", endpoint="statement_pdf")
@access.staff(*BILLING_READERS)
@document_rate_limit()
def console_statement_pdf(organization_id: int) -> Page:
    organization = get_owned(db.session(), Organization, organization_id)
    return _statement_pdf(organization, partial(_console_statement, organization_id))


# The console's form that emails the statement shown (round 53).
EMAIL_STATEMENT = "billing_console.email_statement"


@console.route(
    "/organizations/<int:organization_id>/statement/email",
    methods=["POST"],
    endpoint="email_statement",
)
@access.staff("billing")
@document_rate_limit()
def email_statement(organization_id: int) -> Page:
    """Round 53: email the statement of the days and currency in the query (the page's
    own, the one shown) to the organization's billing contact, PDF attached, through
    the outbox; back to the statement saying so. A refusal is the statement's page
    again with why: the days' or currency's messages (422), an address the outbox
    refuses (422), or the bounds on sending (429: `services.requested_statements`)."""
    get_owned(db.session(), Organization, organization_id)  # a 404 for no such organization
    # The form carries only its CSRF token, which the app checks on every POST.
    try:
        sent = services.email_statement(organization_id, _asked(), actor=current_actor())
    except InvalidInput as refused:
        if refused.errors:
            return _console_statement(organization_id)  # the fields' messages, 422
        return _console_statement(organization_id, email_refused=refused.detail, status=422)
    except TooManyRequests as refused:
        return _console_statement(organization_id, email_refused=refused.detail, status=429)
    flash(
        f"The statement of account of {sent.organization}, {sent.days}, is emailed to "
        f"{sent.to} with its PDF (closing balance "
        f"{in_words(sent.statement.closing, sent.statement.currency)}).",
        "success",
    )
    shown: dict[str, Any] = {
        "organization_id": organization_id,
        "from": sent.statement.start.isoformat(),
        "to": sent.statement.end.isoformat(),
        "currency": sent.statement.currency,
    }
    return redirect(url_for("billing_console.statement", **shown))


@organization_section("billing_console.statement")
def _organization_statements_sent(
    session: Session, organization_id: int, limit: int
) -> dict[str, Any]:
    """The monthly statements emailed to the organization, newest month first, each
    with its month as it reads now (one read of the ledger for them all)."""
    found = services.statements_sent(session, organization_id, limit)
    return {"statements_sent": sent_statements.read_now(session, found)}


@console.route(
    "/organizations/<int:organization_id>/statements/<int:sent_id>/resend",
    methods=["POST"],
    endpoint="resend_statement",
)
@access.staff("billing")
def resend_statement(organization_id: int, sent_id: int) -> Response:
    """Email a monthly statement again (the licensee asked for a copy, or its billing
    contact changed): as it reads now, to the billing contact the organization has now."""
    sent = db.session().get(SentStatement, sent_id)
    if sent is None or sent.organization_id != organization_id:
        raise NotFound(f"There is no statement sent {sent_id} to organization {organization_id}.")
    # The form carries only its CSRF token, which the app checks on every POST.
    try:
        again = services.resend_statement(sent_id, actor=current_actor())
    except services.JustSentAgain as refused:
        # A second press: back where the clerk was, told why in the office's time (a bare
        # 409 page in UTC before round 31).
        flash(
            f"Not sent again: the {refused.statement} went to {refused.address} at "
            f"{calendar.moment_text(refused.resent_at)}, less than "
            f"{services.RESEND_INTERVAL.seconds // 60} minutes ago; it can go to that address "
            f"again from {calendar.moment_text(refused.again_from)}. Nothing was sent now.",
            "error",
        )
    else:
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        flash(
            f"The {calendar.month_text(again.month)} statement ({again.currency}) of "
            f"{organization.legal_name} is sent again to {organization.billing_email}.",
            "success",
        )
    if request.form.get("back") == CHANGED_LIST:
        return redirect(url_for("billing_console.statements_changed"))
    return redirect(
        url_for(
            "accounts_console.organization_detail",
            organization_id=organization_id,
            _anchor="statements-sent",
        )
    )


# What the *Send again* form of the changed list names, to come back to it.
CHANGED_LIST = "changed"


@console.route("/billing/statements-changed", endpoint="statements_changed")
@access.staff(*BILLING_READERS)
def statements_changed() -> str:
    """Round 28: every statement sent whose month now reads differently from what was
    emailed (an entry dated into the month since), so billing staff decide, in one
    place, which to send again, instead of opening each organization."""
    found = services.statements_changed()
    session = db.session()
    page = paging.page_of(found.readings)
    return render_template(
        "billing/statements_changed.html",
        page=page,
        why=sent_statements.late_entries(session, [each.sent for each in page.items]),
        names=found.names,
        more=found.more,
        read=sent_statements.LATE_READ,
        back=CHANGED_LIST,
    )
