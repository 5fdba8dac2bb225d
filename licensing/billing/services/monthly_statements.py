"""The monthly statement run: after each month's end, every organization that owes
money or had a movement in the month is emailed its statement of account for that
month, one a currency, the PDF attached (`licensing statements send`).

Exactly once: each statement is a `SentStatement` row inserted in the transaction that
queues its email, under a unique (organization, currency, month). Two runs at once,
on one host or several, meet on that constraint (the second waits for the first's
commit, then fails on it and moves on); a run that dies part way committed each
statement it queued, and the next run sends the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Exists, case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db, drawn
from licensing.accounts.models import Organization
from licensing.accounts.states import CLOSED
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import documents, queries, sent_statements
from licensing.billing.letterhead import letterhead
from licensing.billing.models import (
    CreditNote,
    Invoice,
    Payment,
    PaymentReversal,
    Refund,
    SentStatement,
)
from licensing.billing.queries import (
    collected_between,
    refund_returned_between,
    refunded_between,
    reversed_between,
)
from licensing.billing.services.statements import EARLIEST
from licensing.billing.statements import (
    CREDITED,
    REFUND_RETURNED,
    REFUNDED,
    ZERO,
    Statement,
    statement_of_account,
)
from licensing.billing.states import DRAFT
from licensing.calendar import instant_iso, month_text, office_date, office_day_start
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.finance.queries import month_end
from licensing.links import links as pages
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.money import beyond_largest, exceeds_largest, format_amount, in_words

SENT = "sent"
# A statement is sent again to the same address at most once in this while: a
# second click, or a program retrying without an Idempotency-Key, emailed the
# licensee the same statement (and PDF) once a press. Round 30.
RESEND_INTERVAL = timedelta(minutes=10)
ALREADY_SENT = "already sent"
NOTHING_TO_SEND = "nothing to send"
NOT_SENT = "not sent"
ONE_DAY = timedelta(days=1)
# The overdue invoices a statement's email names, the oldest due first; the rest are
# one line, how many and what they owe (round 50: an organization with hundreds
# overdue was sent hundreds of lines). The attached statement is the record: its
# lines are the month's movements, every one.
OVERDUE_NAMED = 20


@dataclass
class StatementRun:
    """What one run did, for the month starting `month`."""

    month: date
    sent: list[str] = field(default_factory=list)  # one line a statement queued
    already_sent: int = 0
    nothing_to_send: int = 0
    # One line a statement that could not go (its billing contact's address is
    # refused): the others still go, and the next run tries it again.
    not_sent: list[str] = field(default_factory=list)

    def summary(self) -> str:
        refused = f"; {len(self.not_sent)} not sent (see above)" if self.not_sent else ""
        return (
            f"{self.month:%Y-%m}: {len(self.sent)} statement(s) sent; "
            f"{self.already_sent} already sent before; "
            f"{self.nothing_to_send} with no balance and no movement in the month{refused}"
        )


def month_just_ended(now: datetime) -> date:
    """The first day of the month before the office's today."""
    return (office_date(now).replace(day=1) - timedelta(days=1)).replace(day=1)


def check_month(month: date, now: datetime) -> None:
    """A month that has ended at the office (its statement's days are all over), and
    not before the earliest ledger."""
    if month_end(month) >= office_date(now):
        raise InvalidInput.for_field(
            "month", f"{month:%Y-%m} is not over yet: its statements go after its last day."
        )
    if month < EARLIEST:
        raise InvalidInput.for_field("month", f"Must be {EARLIEST:%Y-%m} or later.")


@dataclass(frozen=True)
class DueStatements:
    """The month's statements not sent yet: those with something to state (a balance
    that may be owed at the month's end, or a movement in it), to be read and sent,
    and how many others there are, invoiced in the currency but with nothing to
    state, which are not read at all (round 36)."""

    to_read: list[tuple[int, str]]
    quiet: int = 0


def statements_due(session: Session, month: date) -> DueStatements:
    """(organization id, currency) of every organization invoiced in the currency by the
    month's end whose statement of the month is not sent yet and that has something
    to state in it, by organization, then currency; one query. Whether each owes or
    moved, to the cent, is read with its statement (`_worth_sending`): this only
    leaves out those that cannot (round 36: each was read again every day of the
    month, a statement's queries each)."""
    start, end = month, month_end(month)
    same = (Invoice.organization_id, Invoice.currency)
    sent = exists().where(
        SentStatement.organization_id == Invoice.organization_id,
        SentStatement.currency == Invoice.currency,
        SentStatement.month == month,
    )
    # An invoice that may owe at the month's end (the one rule, `moving_or_owing`: it
    # owes now, or money moved on it after the month), or was issued or voided in it.
    # Then any other movement in the month. Round 55 (statements55): not by `paid_at`,
    # which is when the invoice was last marked paid as booked: a bank's return
    # recorded after a credit note in full leaves it paid, with its old `paid_at`,
    # though by the bank's days it owed in between, so a late run missed it.
    # Its ids joined (round 60, balances60b): in the CASE an `IN` was a SubPlan, which
    # PostgreSQL hashes only while the ids it estimates fit in `work_mem`, else scans
    # them again once an invoice; a join's hash spills to disk in batches.
    owing = queries.moving_or_owing_ids(end + ONE_DAY).subquery("may_owe")
    may_owe = or_(
        owing.c.id.is_not(None),
        Invoice.issue_date >= start,
        Invoice.voided_at >= office_day_start(start),
    )
    moved = (
        _in(CreditNote, same, CreditNote.issue_date.between(start, end)),
        _in(Payment, same, collected_between(start, end)),
        _in(PaymentReversal, same, reversed_between(start, end)),
        _in(Refund, same, refunded_between(start, end)),
        _in(Refund, same, refund_returned_between(start, end)),
    )
    stated = or_(func.max(case((may_owe, 1), else_=0)) == 1, *moved)
    rows = session.execute(
        select(Invoice.organization_id, Invoice.currency, stated)
        .outerjoin(owing, owing.c.id == Invoice.id)
        .where(Invoice.state != DRAFT, Invoice.issue_date <= end, ~sent)
        .group_by(Invoice.organization_id, Invoice.currency)
        .order_by(Invoice.organization_id, Invoice.currency)
    ).all()
    return DueStatements(
        [(row[0], row[1]) for row in rows if row[2]], sum(1 for row in rows if not row[2])
    )


def _in(model: Any, same: tuple[Any, Any], *where: ColumnElement[bool]) -> Exists:
    """A record of the invoice's organization and currency, matching `where`."""
    return exists().where(model.organization_id == same[0], model.currency == same[1], *where)


def send_monthly_statements(
    month: date,
    *,
    now: datetime | None = None,
    on_statement: Callable[[str], None] | None = None,
    due: DueStatements | list[tuple[int, str]] | None = None,
) -> StatementRun:
    """Email each statement of `month` not yet sent (`statements_due`, unless the caller
    read `due` already, to show progress against it, or names the statements), each in
    its own transaction; `on_statement` hears each outcome of those read (`SENT`,
    `ALREADY_SENT`, `NOTHING_TO_SEND`, `NOT_SENT`); those `statements_due` found
    with nothing to state count as `NOTHING_TO_SEND` unread.
    Idempotent and safe on several hosts at once (the module's docstring)."""
    now = now or utcnow()
    check_month(month, now)
    if due is None:
        due = statements_due(db.session(), month)
        db.session().rollback()  # hold nothing while the statements are worked through
    if not isinstance(due, DueStatements):
        due = DueStatements(list(due))
    run = StatementRun(month, nothing_to_send=due.quiet)
    for organization_id, currency in due.to_read:
        # Run again after a deadlock (round 60, `db.retried_unit`): a statement's unit is all
        # database (its email an outbox row), and a second try finds it sent if the
        # first was.
        outcome, line = db.retried_unit(partial(_send_one, organization_id, currency, month, now))
        if outcome == SENT:
            run.sent.append(line)
        elif outcome == NOT_SENT:
            run.not_sent.append(line)
        elif outcome == ALREADY_SENT:
            run.already_sent += 1
        else:
            run.nothing_to_send += 1
        if on_statement is not None:
            on_statement(outcome)
    return run


def _send_one(organization_id: int, currency: str, month: date, now: datetime) -> tuple[str, str]:
    try:
        with db.transaction() as session:
            organization = session.get(Organization, organization_id)
            assert organization is not None  # invoiced: it exists
            statement = statement_of_account(
                session, organization, currency, month, month_end(month), as_of=now
            )
            if not _worth_sending(organization, statement):
                return NOTHING_TO_SEND, ""
            if (why := unrecordable(statement)) is not None:
                return NOT_SENT, _not_recorded(session, organization, statement, month, why)
            sent = SentStatement(
                organization_id=organization_id,
                currency=currency,
                month=month,
                opening=statement.opening,
                closing=statement.closing,
                last_opening=statement.opening,
                last_closing=statement.closing,
                closes_on=month_end(month),
                sent_to=organization.billing_email,
                last_sent_to=organization.billing_email,
                sent_at=now,
                resends=0,
            )
            session.add(sent)
            session.flush()  # waits for, then fails on, another run's row for it
            _email_statement(
                session, organization, statement, sent, "statement.sent", Actor.SYSTEM, now
            )
    except IntegrityError:
        if not _was_sent(organization_id, currency, month):
            raise
        return ALREADY_SENT, ""
    except InvalidInput as refused:  # the outbox refused the address: nothing stored
        return NOT_SENT, f"{_named(organization_id)} ({currency}): {refused.detail}"
    closing = in_words(statement.closing, currency)
    return SENT, f"{organization.legal_name} ({currency}): {closing} to {sent.sent_to}"


def unrecordable(statement: Statement) -> str | None:
    """Why the statement cannot be recorded as sent, or None: an opening or closing
    balance beyond the largest amount the money columns hold (round 50: an
    organization owing across several invoices near it). Such a statement is not
    emailed (`sent_statements` is what makes a statement go once): the run says so,
    and its page and PDF still show it."""
    for name, amount in (("opening", statement.opening), ("closing", statement.closing)):
        if beyond_largest(amount):
            return f"its {name} balance of {exceeds_largest(amount, statement.currency)}"
    return None


def _not_recorded(
    session: Session, organization: Organization, statement: Statement, month: date, why: str
) -> str:
    """Audit a statement the run could not record (`organization.statement_not_sent`,
    actor `system`, each run that meets it) and say it in the run's line."""
    audit.record_event(
        session,
        "organization.statement_not_sent",
        organization.id,
        after={
            "month": f"{month:%Y-%m}",
            "currency": statement.currency,
            "opening": format_amount(statement.opening, statement.currency),
            "closing": format_amount(statement.closing, statement.currency),
            "reason": why,
        },
        actor=Actor.SYSTEM,
    )
    return (
        f"{organization.legal_name} ({statement.currency}): {why}, so the statement cannot "
        "be recorded as sent and was not emailed; its page and PDF show it"
    )


def _named(organization_id: int) -> str:
    session = db.session()
    name = session.scalar(select(Organization.legal_name).where(Organization.id == organization_id))
    session.rollback()
    return name or f"organization {organization_id}"


def _was_sent(organization_id: int, currency: str, month: date) -> bool:
    session = db.session()
    found = session.scalar(
        select(SentStatement.id).where(
            SentStatement.organization_id == organization_id,
            SentStatement.currency == currency,
            SentStatement.month == month,
        )
    )
    session.rollback()
    return found is not None


def _worth_sending(organization: Organization, statement: Statement) -> bool:
    """A balance owed at the month's end, or any movement in it; never to a closed
    organization that owes nothing (it is told of nothing more)."""
    if statement.closing == 0 and organization.standing == CLOSED:
        return False
    return statement.closing != 0 or bool(statement.lines)


# How long the console home's late-entry check waits for a lock (SQLite's write lock,
# a row's on PostgreSQL) before leaving its write to a later load: the page's count is
# the same without it.
CHECK_LOCK_WAIT = timedelta(milliseconds=100)


def statements_changed(
    *, named: bool = True, now: datetime | None = None
) -> sent_statements.ChangedSinceSent:
    """Round 56: the statements sent that now read differently (the changed list, the
    console's *Work waiting*), the marked and those an entry recorded since the last
    check is late for.

    Round 57: a reading only, in the common case. Round 56 ran the check (marking, and
    moving its moment under the check row's lock) on every load, a write on each GET
    that took SQLite's write lock. The check runs now only when it is worth a write:
    there is none yet (or the clock was set back), an entry recorded since is late for
    a statement not marked, or the moment is `CHECK_EVERY` old with an entry recorded
    after it. It waits at most `CHECK_LOCK_WAIT` for its locks; if another connection
    holds one longer, it is left to a later load, and this reading, which counts the
    unmarked as the check would mark them, is the same."""
    now = now or utcnow()
    session = db.session()
    checked_at = sent_statements.last_checked(session)
    checked = False
    if sent_statements.asks_every_statement(checked_at, now):
        checked = True
        if _checked(now):
            checked_at = now
    found = sent_statements.changed_since_sent(session, named=named, now=now, checked_at=checked_at)
    if checked or checked_at is None:
        return found
    if found.unmarked or sent_statements.check_due(session, checked_at, now):
        _checked(now)
    return found


def _checked(now: datetime) -> bool:
    """The check (`sent_statements.note_late_entries`) in a unit of work of its own
    that does not wait: False when another connection held its lock."""
    try:
        with db.transaction(lock_wait=CHECK_LOCK_WAIT) as session:
            sent_statements.note_late_entries(session, now)
    except db.Busy:
        return False
    return True


def resend_statement(sent_id: int, *, actor: Actor, now: datetime | None = None) -> SentStatement:
    """Billing staff: email a statement already sent again, as it reads now, to the
    billing contact the organization has now (one asked for a copy, or changed its
    contact). Audited as `statement.resent`."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        sent = session.get(SentStatement, sent_id, with_for_update=True)
        if sent is None:
            raise NotFound(f"There is no statement sent {sent_id}.")
        organization = session.get(Organization, sent.organization_id)
        assert organization is not None
        _not_just_resent(sent, organization.billing_email, now)
        statement = statement_of_account(
            session, organization, sent.currency, sent.month, month_end(sent.month), as_of=now
        )
        if (why := unrecordable(statement)) is not None:
            raise InvalidInput(
                f"Not sent again: the {month_text(sent.month)} statement ({sent.currency}) "
                f"cannot be recorded as sent now: {why}. Its page and PDF show it."
            )
        sent.resends += 1
        sent.resent_at = now
        # Sent as it reads now: an entry recorded before is in it (the next check marks
        # it again for one recorded after: `sent_statements.note_late_entries`).
        sent.late_entry_at = None
        # What the licensee now holds: the statement reads as sent again, to today's contact.
        sent.last_opening, sent.last_closing = statement.opening, statement.closing
        sent.last_sent_to = organization.billing_email
        try:
            _email_statement(session, organization, statement, sent, "statement.resent", actor, now)
        except InvalidInput as refused:  # an address stored before the profile checked it
            raise address_refused(
                organization, refused, "Not sent again", "send it again"
            ) from None
        return sent


def address_refused(
    organization: Organization, refused: InvalidInput, not_sent: str, then: str
) -> InvalidInput:
    """A statement staff asked to send whose billing contact address the outbox refuses
    (stored before the profile checked it): what to correct, nothing sent."""
    return InvalidInput(
        f"{not_sent}: {organization.legal_name}'s billing contact address, "
        f"'{organization.billing_email}', is refused ({refused.detail.rstrip('.')}). "
        f"Correct the billing contact on the organization's page, then {then}."
    )


class JustSentAgain(Conflict):
    """A statement sent again to the same address less than `RESEND_INTERVAL` ago (a
    second press, a retry). Its words give the instants in ISO 8601, UTC, for the API
    (round 32: a bare "15:00 UTC" named no day); it carries the moments, so that a
    page says them in the office's time as every console page does."""

    def __init__(self, sent: SentStatement, address: str, again_from: datetime) -> None:
        assert sent.resent_at is not None
        super().__init__(
            f"The {month_text(sent.month)} statement ({sent.currency}) was sent again to {address} "
            f"at {instant_iso(sent.resent_at, to_the_second=True)}; it can be sent to that "
            f"address again from {instant_iso(again_from, to_the_second=True)}. Nothing was "
            "sent now."
        )
        self.statement = f"{month_text(sent.month)} statement ({sent.currency})"
        self.address = address
        self.resent_at = sent.resent_at
        self.again_from = again_from


def _not_just_resent(sent: SentStatement, address: str, now: datetime) -> None:
    """Refuses a second sending to the same address within `RESEND_INTERVAL` (a new
    billing contact gets it at once)."""
    if sent.resent_at is None or sent.last_sent_to != address:
        return
    again_from = sent.resent_at + RESEND_INTERVAL
    if now < again_from:
        raise JustSentAgain(sent, address, again_from)


def statements_sent(session: Session, organization_id: int, limit: int) -> list[SentStatement]:
    """The organization's statements sent, the newest month first."""
    return list(
        session.scalars(
            select(SentStatement)
            .where(SentStatement.organization_id == organization_id)
            .order_by(SentStatement.month.desc(), SentStatement.currency, SentStatement.id)
            .limit(limit)
        )
    )


def _email_statement(
    session: Session,
    organization: Organization,
    statement: Statement,
    sent: SentStatement,
    action: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Queue the month's statement to the billing contact, with its PDF, and audit it."""
    name = statement.file_name(f"{sent.month:%Y-%m}")
    message, sha256 = queue_statement(
        session,
        organization,
        statement,
        # Whose (round 55): a billing contact may keep the books of several organizations.
        subject=f"Statement of account of {organization.legal_name}, "
        f"{month_text(sent.month)} ({statement.currency}): " + month_end_words(statement),
        filename=name,
        now=now,
    )
    audit.record_event(
        session,
        action,
        sent.id,
        after={
            "organization_id": organization.id,
            "month": f"{sent.month:%Y-%m}",
            "currency": statement.currency,
            "opening": format_amount(statement.opening, statement.currency),
            "closing": format_amount(statement.closing, statement.currency),
            "to": message.to,
            "outbox_message_id": message.id,
            "sha256": sha256,
        },
        actor=actor,
    )


@dataclass(frozen=True)
class Period:
    """How a statement's email names its days: a month's end (the monthly run), or
    the days a clerk chose (round 53: a statement emailed on request)."""

    words: str  # "March 2027", "January 1, 2027 to March 15, 2027" (round 56: in words)
    the_days: str = "the month"  # "every invoice ... of the month", "Movements in the month"
    at_end: str = "at the month's end"  # "Nothing was owed at the month's end"
    requested: bool = False  # asked for: the email says so


def queue_statement(
    session: Session,
    organization: Organization,
    statement: Statement,
    *,
    subject: str,
    filename: str,
    now: datetime,
    period: Period | None = None,
) -> tuple[OutboxMessage, str]:
    """Queue the statement to the organization's billing contact through the outbox,
    its PDF attached (the portal's renderer), and give the message and the PDF's
    SHA-256 for the audit event. `InvalidInput` when the outbox refuses the address."""
    content = drawn_statement_pdf(statement)
    message = mail.enqueue(
        session,
        to=organization.billing_email,
        subject=subject,
        template="statement_of_account",
        context=_context(session, organization, statement, now, period),
        attachments=[mail.Attachment(filename, "application/pdf", content)],
    )
    return message, hashlib.sha256(content).hexdigest()


def drawn_statement_pdf(statement: Statement) -> bytes:
    """The statement's PDF, as the portal and console download it and every email
    attaches it: drawn once for what it shows (`drawn.COPIES`, round 55 for the
    downloads, round 56 for the emails, which drew it every time). The data is read
    before, on every request and for every email; a copy is served only for the same
    data and issuer and the same minute of its "as of" (what it prints), so a clerk's
    look at the PDF and the email sent the same minute share one drawing, and a
    payment between them, or the next minute, draws anew."""
    shown = replace(statement, as_of=statement.as_of.replace(second=0, microsecond=0))
    issuer = letterhead().issuer
    return drawn.COPIES.drawn(
        "statement", (shown, issuer), lambda: documents.render_statement_pdf(shown, issuer=issuer)
    )


def refunds_still_due(statement: Statement) -> dict[str, Decimal]:
    """The refunds due to the licensee that the statement shows arising in its month
    (a credit note beyond what its invoice owed) and not sent in it, by credit note
    (`CN-...`), in the statement's order; only those with something still due. The
    balance never goes below zero, so such a credit is in the lines, not in the
    closing balance."""
    due: dict[str, Decimal] = {}
    for line in statement.lines:
        if line.movement.kind == CREDITED and line.change > line.movement.amount:
            document = line.movement.document
            due[document] = due.get(document, ZERO) + line.change - line.movement.amount
    for line in statement.lines:
        if line.movement.kind == REFUNDED and line.movement.document in due:
            due[line.movement.document] -= line.movement.amount
        if line.movement.kind == REFUND_RETURNED and line.movement.document in due:
            due[line.movement.document] -= line.movement.amount  # signed down: due again
    return {document: amount for document, amount in due.items() if amount > 0}


def refund_still_due(statement: Statement) -> Decimal:
    """What `refunds_still_due` adds up to: the refund the subject and body name."""
    return sum(refunds_still_due(statement).values(), ZERO)


def refund_lines_words(documents: Sequence[str]) -> str:
    """Where the statement shows the refund due, for one credit note or several
    (round 30: "the credit note's line" read as one line when there were two):
    "the line of credit note CN-2027-000004", "the lines of credit notes CN-2027-000004
    and CN-2027-000005"."""
    if len(documents) == 1:
        return f"the line of credit note {documents[0]}"
    named = ", ".join(documents[:-1]) + f" and {documents[-1]}"
    return f"the lines of credit notes {named}"


def month_end_words(statement: Statement, at_end: str = "at the month's end") -> str:
    """What the licensee owes at the month's end (or `at_end`: "as of 2027-03-15" for a
    statement of chosen days), as a person says it: "1,600.00 USD owed", "nothing
    owed", and a refund due to them said as such, never as nothing."""
    currency = statement.currency
    owed = (
        f"{in_words(statement.closing, currency)} owed" if statement.closing > 0 else "nothing owed"
    )
    refund = refund_still_due(statement)
    if refund > 0:
        refund_words = f"{in_words(refund, currency)} due to you as a refund"
        if statement.closing > 0:
            return f"{owed} and {refund_words} {at_end}"
        return f"{refund_words} {at_end}"
    return f"{owed} {at_end}"


def _context(
    session: Session,
    organization: Organization,
    statement: Statement,
    now: datetime,
    period: Period | None = None,
) -> dict[str, Any]:
    """What the email says: the balances, what is overdue today, how to pay, and the
    statement's page in the portal; `period` names its days (the month by default)."""
    today = office_date(now)
    # Only those in the statement's currency due before today, asked of the database
    # (round 49: it read every invoice owed and kept these); the `OVERDUE_NAMED` due
    # first, the rest counted and summed (round 50: it named each, hundreds for some).
    # Not asked for while the bank's dispute of its card payment holds it, as the
    # dispute's email and the invoice's pages say: never "overdue" beside "how to pay".
    past_due = queries.past_due_named(
        session, organization.id, statement.currency, today, OVERDUE_NAMED
    )
    overdue, held = past_due.overdue, past_due.held
    holds = queries.dispute_holds(session, {invoice.id for invoice in held.named}, today)
    refunds = refunds_still_due(statement)
    refund = sum(refunds.values(), ZERO)
    return {
        "organization": organization,
        "statement": statement,
        "period": period or Period(month_text(statement.start)),
        "opening": in_words(statement.opening, statement.currency),
        "closing": in_words(statement.closing, statement.currency),
        "refund_due": in_words(refund, statement.currency),
        "refund_due_shown": refund > 0,
        "refund_lines": refund_lines_words(list(refunds)) if refunds else "",
        "today": today,
        "overdue": [
            (invoice, in_words(invoice.balance_due, invoice.currency)) for invoice in overdue.named
        ],
        "overdue_more": overdue.more,
        "overdue_more_balance": in_words(overdue.more_balance, statement.currency),
        "held": [
            (invoice, in_words(invoice.balance_due, invoice.currency), holds[invoice.id])
            for invoice in held.named
            if invoice.id in holds
        ],
        "held_more": held.more,
        "held_more_balance": in_words(held.more_balance, statement.currency),
        # The overdue line links the Invoices page's overdue only (round 50); the
        # invoices a dispute holds are on the page's full list.
        "overdue_url": pages().vendor_invoices(overdue=True),
        "invoices_url": pages().vendor_invoices(),
        "remit_to": letterhead().remit_lines,
        "statement_url": pages().statement(statement.start, statement.end, statement.currency),
    }
