"""Overdue invoices: reminders, late fees and the organization's standing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import groupby

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    case,
    extract,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import links, pdfs, queries
from licensing.billing.letterhead import letterhead
from licensing.billing.models import LATE_FEES, Invoice, LateFeeEmail
from licensing.billing.queries import overdue_on, reminder_recipient
from licensing.billing.services._common import _amount, _due_ids
from licensing.billing.services.invoices import Charge, create_invoice, email_issued
from licensing.billing.states import LATE_FEE, OPEN
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.links import links as pages
from licensing.mail import services as mail
from licensing.money import in_words, quantize

# An overdue reminder to an organization at most this often (round 51; an invoice's
# before), naming every overdue invoice: so each is reminded this often.
REMINDER_INTERVAL = timedelta(days=7)
# The invoices a reminder (or the late fees' email) names, the oldest due first; the
# rest are one line, how many and what they owe (round 50: one email an invoice).
NAMED = 20
# The late fees issued in one transaction (round 51: all of an organization's in
# its one): each is numbered, its PDF drawn and kept, and audited, so a batch holds
# the organization and the invoice numbers a few seconds, not minutes.
LATE_FEE_BATCH = 50
# The audit event that says an organization's late fees were named in an email (round
# 52), beside its `LateFeeEmail` row (round 53), which the next email starts after.
LATE_FEES_NAMED = "organization.late_fees_emailed"


@dataclass
class OverdueReport:
    overdue: int = 0
    reminders: int = 0  # invoices reminded
    reminder_emails: int = 0  # one an organization
    late_fee_invoices: list[str] = field(default_factory=list)
    late_fee_emails: int = 0
    pending_payment: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.overdue} overdue invoice(s); {self.reminders} reminder(s) sent "
            f"in {self.reminder_emails} email(s); "
            f"{len(self.late_fee_invoices)} late-fee invoice(s) issued "
            f"in {self.late_fee_emails} email(s); "
            f"{len(self.pending_payment)} organization(s) moved to pending payment"
        )


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end` (0 when `end` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def process_overdue(
    *,
    standing_days: int,
    now: datetime | None = None,
    on_late_fees: Callable[[int], None] | None = None,
) -> OverdueReport:
    """Remind, charge late fees and move standing for overdue invoices (an
    organization with one more than `standing_days` overdue, the setting
    OVERDUE_STANDING_DAYS, to `pending_payment`).

    One organization at a time (round 50: one email an overdue invoice, hundreds a
    week for some): the organization and its overdue invoices claimed (`db.claim`)
    in its own transaction, those due a reminder named in one email to its billing
    contact, its new late-fee invoices in one more. Idempotent (each invoice reminded
    at most weekly, each month's late fee once, standing through its state machine)
    and safe on several hosts: a host skips an organization another has claimed.
    """
    now = now or utcnow()
    today = office_date(now)
    report = OverdueReport()
    # The organization whose oldest invoice is the longest overdue first, then by id.
    chased_ids = _due_ids(
        select(Invoice.organization_id)
        .where(Invoice.state == OPEN, overdue_on(today))
        .group_by(Invoice.organization_id)
        .order_by(func.min(Invoice.due_date), Invoice.organization_id)
    )
    for organization_id in chased_ids:
        fees = _LateFees(report)
        # Stopped by an error between batches, the batches committed wait unnamed (round
        # 53: round 52 named them as it stopped, and the rerun that issued the rest sent
        # a second email that day): the run that finishes the organization's fees names
        # them with the rest, a rerun that day or, failing one, the next day's run.
        # Each transaction is run again after a deadlock (round 60, `db.retried_unit`), the
        # report and the batch's count as they were before it.
        more = db.retried_unit(
            partial(_chase_in_own, organization_id, now=now, today=today, fees=fees),
            keeping=(report, fees),
        )
        _issued(fees, on_late_fees)
        while more:
            more = db.retried_unit(
                partial(_batch_in_own, organization_id, today, fees, now=now),
                keeping=(report, fees),
            )
            _issued(fees, on_late_fees)
    # The late fees still unnamed, whatever the organization owes now (round 54: a run
    # stopped by an error after charging left them to the next run that chased the
    # organization, and one that paid every overdue invoice before it was chased no
    # more: the licensee was charged fees no email told it of). Named once, as above.
    for organization_id in _due_ids(_with_unnamed_late_fees()):
        if db.retried_unit(partial(_name_unchased_in_own, organization_id, today)):
            report.late_fee_emails += 1
    # As the invoices above: the holds' audit events follow the invoices'.
    organization_ids = _due_ids(
        select(Invoice.organization_id)
        .where(overdue_on(today - timedelta(days=standing_days)))
        .group_by(Invoice.organization_id)
        .order_by(func.min(Invoice.due_date), Invoice.organization_id)
    )
    report.pending_payment += accounts.hold_for_overdue(
        organization_ids, _standing_reason(today, standing_days)
    )
    return report


def _chase_in_own(organization_id: int, *, now: datetime, today: date, fees: _LateFees) -> bool:
    with db.transaction() as session:
        return _chase(session, organization_id, now=now, today=today, fees=fees)


def _batch_in_own(organization_id: int, today: date, fees: _LateFees, *, now: datetime) -> bool:
    with db.transaction() as session:
        return _claimed(session, organization_id) and _late_fee_batch(
            session, organization_id, today, fees, now=now
        )


def _name_unchased_in_own(organization_id: int, today: date) -> bool:
    with db.transaction() as session:
        return _name_unchased(session, organization_id, today)


def late_fees_due(session: Session, now: datetime) -> int:
    """How many overdue invoices owe a new month's late fee on `now`'s office date:
    what the run's progress is counted against (`invoices overdue`)."""
    today = office_date(now)
    return (
        session.scalar(
            select(func.count()).where(
                Invoice.state == OPEN, overdue_on(today), _new_late_fee_month(today)
            )
        )
        or 0
    )


def _issued(fees: _LateFees, on_late_fees: Callable[[int], None] | None) -> None:
    """A transaction of the run committed: its late fees counted as done."""
    done = fees.commit()
    if on_late_fees and done:
        on_late_fees(done)


def _chase(
    session: Session, organization_id: int, *, now: datetime, today: date, fees: _LateFees
) -> bool:
    """One organization's overdue invoices, claimed with it (none when another host
    holds it: that host is chasing them): one reminder naming them all when the
    organization was sent none within `REMINDER_INTERVAL` (`reminder_due`), a
    late-fee invoice for each with new whole months overdue, each said in one email:
    the first `LATE_FEE_BATCH` of them here, and whether more may be owed (the run
    issues them in transactions of their own, `_late_fee_batch`).

    Bounded (round 51: the claim loaded every overdue invoice, each day, to find the
    few with something due): the reminder is recorded by one UPDATE that returns
    only what the audit events need, the email reads the `NAMED` due first and sums
    the rest in SQL, and only the invoices with a late fee due are loaded."""
    # The organization first: a second host skips it whole, so one email a run, where
    # claiming only the invoices could split them between two hosts mid-scan (two
    # emails). FOR NO KEY UPDATE: the late fees' inserts still take their key share.
    if not _claimed(session, organization_id):
        return False
    overdue = (Invoice.organization_id == organization_id, Invoice.state == OPEN, overdue_on(today))
    # How many are overdue, how many of them owe a new month's late fee, and when the
    # organization was last reminded (of any of its invoices, paid since or not: a
    # reminder stamps every invoice it names). A day with nothing due ends here.
    # And how many of its late fees no email has named yet: issued by another host, whose
    # last batch this host's claim came between (round 52), by a run stopped part way,
    # or after the day's email (round 53: named the next day); once nothing more is
    # owed, this host names them.
    count, new_months, last_reminded, unnamed = session.execute(
        select(
            func.count(case((and_(*overdue[1:]), Invoice.id))),
            func.count(case((and_(*overdue[1:], _new_late_fee_month(today)), Invoice.id))),
            func.max(Invoice.last_reminder_at),
            func.count(case((_unnamed(organization_id), Invoice.id))),
        ).where(Invoice.organization_id == organization_id)
    ).one()
    if not count:
        return False
    report = fees.report
    report.overdue += count
    if reminder_due(last_reminded, now) and (
        reminded := _remind(session, organization_id, overdue, now=now, today=today)
    ):
        report.reminders += reminded
        report.reminder_emails += 1
    if new_months:
        return _late_fee_batch(session, organization_id, today, fees, now=now)
    if unnamed and _name_late_fees(session, organization_id, today):
        report.late_fee_emails += 1
    return False


@dataclass
class _LateFees:
    """The late fees one host issues an organization in a run, batch by batch: how
    many the batch under way holds."""

    report: OverdueReport
    pending: int = 0

    def commit(self) -> int:
        """The batch under way committed: how many it issued."""
        done = self.pending
        self.pending = 0
        return done


def _late_fee_batch(
    session: Session, organization_id: int, today: date, fees: _LateFees, *, now: datetime
) -> bool:
    """The next `LATE_FEE_BATCH` late fees owed by the organization, in the caller's
    transaction, and whether more may be owed (round 51: every one of them in the
    organization's one transaction). The invoices owing a new month are claimed (SKIP
    LOCKED on PostgreSQL: a second host at once charges none twice; the invoices'
    unique keys refuse a second late fee of a month all the same); with the last
    batch, the one email naming the organization's late fees no email has named,
    whichever host issued them (`_name_late_fees`)."""
    charged = session.scalars(
        db.claim(
            select(Invoice)
            .where(
                Invoice.organization_id == organization_id,
                Invoice.state == OPEN,
                overdue_on(today),
                _new_late_fee_month(today),
            )
            .order_by(Invoice.due_date, Invoice.id)
            .limit(LATE_FEE_BATCH)
        )
    ).all()
    for invoice in charged:
        if fee := _late_fee(invoice, today):
            issued = _charge_late_fee(session, invoice, fee, now=now)
            fees.pending += 1
            assert issued.number is not None
            fees.report.late_fee_invoices.append(issued.number)
    if len(charged) == LATE_FEE_BATCH:
        return True
    if _name_late_fees(session, organization_id, today):
        fees.report.late_fee_emails += 1
    return False


def _claimed(session: Session, organization_id: int) -> bool:
    """The organization claimed for this transaction (False: another host holds it).
    A claim skips a row another step holds, and the audit log's head is locked only
    at commit (round 58), so it waits for nothing here."""
    return (
        session.scalar(db.claim(select(Organization.id).where(Organization.id == organization_id)))
        is not None
    )


def reminder_due(last_reminded: datetime | None, now: datetime) -> bool:
    """Whether an organization last sent an overdue reminder at `last_reminded` (None:
    never) is due another now: at most one every `REMINDER_INTERVAL` (round 51: one a
    run, so an organization whose invoices fell due on different days of a week was
    reminded on each of them). Each reminder names every overdue invoice, so each is
    still reminded every interval, a newly overdue one within an interval."""
    return last_reminded is None or now - last_reminded >= REMINDER_INTERVAL


def _new_late_fee_month(today: date) -> ColumnElement[bool]:
    """`_late_fee`'s test in SQL, so that only the invoices with a late fee due are
    loaded: not a late fee, a rate above nought, and more whole months overdue on
    `today` (`months_between` of the due date) than charged so far."""
    due = Invoice.due_date
    months = (
        today.year * 12
        + today.month
        - (extract("year", due) * 12 + extract("month", due))
        - case((extract("day", due) > today.day, 1), else_=0)
    )
    return and_(
        Invoice.source_type != LATE_FEE,
        Invoice.late_fee_monthly_percent > Decimal(0),
        months > Invoice.late_fee_months_charged,
    )


def _standing_reason(today: date, standing_days: int) -> Callable[[Session, int], str | None]:
    """The standing rule's reason to hold an organization: its oldest invoice overdue
    more than `standing_days`, in words (None when there is none)."""

    def overdue_invoice(session: Session, organization_id: int) -> str | None:
        late = _overdue_beyond(session, organization_id, today, standing_days)
        if not late:
            return None
        first = late[0]
        assert first.due_date is not None  # overdue: it has a due date
        return (
            f"Invoice {first.number} is {first.days_overdue(today)} days overdue "
            f"({in_words(first.balance_due, first.currency)} due {day_text(first.due_date)})."
        )

    return overdue_invoice


def hold_if_overdue(
    session: Session, organization_id: int, *, today: date, standing_days: int, actor: Actor
) -> None:
    """The overdue run's standing rule now, in the caller's transaction: for a step
    that leaves an invoice overdue beyond `standing_days` (a reversal reopening a
    past-due invoice), rather than at the next daily run."""
    accounts.hold_now_if_overdue(
        session, organization_id, _standing_reason(today, standing_days), actor=actor
    )


def _remind(
    session: Session,
    organization_id: int,
    overdue: tuple[ColumnElement[bool], ...],
    *,
    now: datetime,
    today: date,
) -> int:
    """Record the reminder of each of the organization's `overdue` invoices (its
    count and time, read by its pages and the invoices export; an
    `invoice.reminder_sent` event each) and email the billing contact once, naming the
    first `NAMED` due and the rest in a line; how many were reminded. Statements a
    bounded number, however many invoices are reminded, and none of them loaded but
    the `NAMED`: the UPDATE returns each one's id, new count and due date."""
    # Claimed in the due-date order (SKIP LOCKED on PostgreSQL: one a payment is being
    # recorded on at this instant is left to the next reminder).
    claimed = db.claim(select(Invoice.id).where(*overdue).order_by(Invoice.due_date, Invoice.id))
    stamped = sorted(
        session.execute(
            update(Invoice)
            .where(Invoice.id.in_(claimed))
            .values(reminder_count=Invoice.reminder_count + 1, last_reminder_at=now)
            .returning(Invoice.reminder_count, Invoice.due_date, Invoice.id)
            .execution_options(synchronize_session="fetch")
        ).all()
    )
    if not stamped:
        return 0
    organization = session.get(Organization, organization_id)
    assert organization is not None
    # Round 57: whom the email went to, with each invoice's event (the outbox, which
    # alone had the address, is for admins): the invoice's and the organization's
    # pages say it (`queries.reminders_sent`, `queries.invoice_reminders`).
    sent_to = reminder_recipient(organization.billing_contact_name, organization.billing_email)
    # The events by reminder count, then due date (as round 50 wrote them).
    for count, reminded in groupby(stamped, lambda row: row[0]):
        audit.record_events(
            session,
            "invoice.reminder_sent",
            [invoice_id for _, _, invoice_id in reminded],
            after={"reminder_count": count, "sent_to": sent_to},
            actor=Actor.SYSTEM,
        )
    # The invoices this reminder stamped: the first `NAMED` due, the rest in a line.
    these = (Invoice.organization_id == organization_id, Invoice.last_reminder_at == now)
    named = session.execute(
        select(Invoice, links.generation_column())
        .where(*these)
        .order_by(Invoice.due_date, Invoice.id)
        .limit(NAMED)
    ).all()
    rest = queries.rest_after(session, these, NAMED)
    oldest = named[0][0].days_overdue(today)
    percents = sorted(
        set(
            session.scalars(
                select(Invoice.late_fee_monthly_percent)
                .where(*these, Invoice.late_fee_monthly_percent > Decimal(0))
                .distinct()
            )
        )
    )
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=(
            f"Reminder: invoice {named[0][0].number} is {oldest} days overdue"
            if len(stamped) == 1
            else f"Reminder: {len(stamped)} invoices are overdue, the oldest {oldest} days"
        ),
        template="invoices_overdue",
        # Each named invoice's link opens and pays it without an account: masked in
        # the outbox for staff, erased once sent (as every billing contact's email).
        secrets=[links.token(invoice, generation) for invoice, generation in named],
        context={
            "organization": organization,
            "reminded": len(stamped),
            "named": [
                {
                    "invoice": invoice,
                    "days_overdue": invoice.days_overdue(today),
                    "balance_due": in_words(invoice.balance_due, invoice.currency),
                    "url": links.invoice_url(invoice, generation),
                }
                for invoice, generation in named
            ],
            "more": rest.count,
            "more_balance": _balances_in_words(rest.balances),
            "late_fee_percents": " or ".join(f"{p.normalize():f}%" for p in percents),
            "overdue_url": pages().vendor_invoices(overdue=True),
            "remit_to": letterhead().remit_lines,
        },
    )
    return len(stamped)


def _balances_in_words(balances: dict[str, Decimal]) -> str:
    """ "18,090.00 USD", or with several currencies "18,090.00 USD and 500.00 EUR"."""
    return " and ".join(in_words(amount, currency) for currency, amount in balances.items())


@dataclass(frozen=True)
class _Fee:
    """A late fee due on an overdue invoice: its months, the balance it is charged on
    and the fee a month."""

    first_month: int
    months: int
    balance: Decimal
    amount: Decimal


def _late_fee(invoice: Invoice, today: date) -> _Fee | None:
    """The late fee a run finding new whole months overdue charges:
    `late_fee_monthly_percent` of the balance then due, per month (None when none:
    late fees bear none, nor a nought percent; no new month; or a fee of nothing,
    whose months are counted charged all the same)."""
    assert invoice.due_date is not None
    if invoice.source_type == LATE_FEE or invoice.late_fee_monthly_percent <= 0:
        return None
    months = months_between(invoice.due_date, today)
    if months <= invoice.late_fee_months_charged:
        return None
    balance = invoice.balance_due
    fee = quantize(balance * invoice.late_fee_monthly_percent / 100, invoice.currency)
    first_month = invoice.late_fee_months_charged + 1
    if fee <= 0:
        invoice.late_fee_months_charged = months
        return None
    return _Fee(first_month, months, balance, fee)


def _charge_late_fee(session: Session, invoice: Invoice, fee: _Fee, *, now: datetime) -> Invoice:
    """One late-fee invoice for `fee`'s months, on the overdue invoice's payment
    terms, without an email of its own: `_name_late_fees` names it."""
    rate = invoice.late_fee_monthly_percent
    assert invoice.due_date is not None  # overdue: it has a due date
    invoice.late_fee_months_charged = fee.months
    charges = [
        Charge(
            description=f"Late fee on invoice {invoice.number}, month {month} overdue",
            amount=fee.amount,
            working=(
                f"{rate.normalize():f}% x {_amount(fee.balance, invoice.currency)} balance "
                # Stored working, as the API gives it: the day as data (YYYY-MM-DD),
                # like every working's figures (round 56 leaves workings so).
                f"overdue = {_amount(fee.amount, invoice.currency)} "
                f"(due {invoice.due_date.isoformat()}, "
                "per the agreement's terms)"
            ),
        )
        for month in range(fee.first_month, fee.months + 1)
    ]
    return create_invoice(
        session,
        organization_id=invoice.organization_id,
        currency=invoice.currency,
        charges=charges,
        source_type=LATE_FEE,
        source_id=invoice.id,
        source_reference=invoice.number,
        parent_invoice_id=invoice.id,
        late_fee_through_month=fee.months,
        # The payment terms of the invoice it is charged on (the agreement's, from
        # PAYMENT_TERMS_DAYS, as its other invoices; docs/billing.md): nothing asks a
        # late fee to be paid the day it is issued.
        payment_terms_days=invoice.payment_terms_days,
        late_fee_monthly_percent=Decimal(0),
        email=False,
        now=now,
        actor=Actor.SYSTEM,
    )


def _unnamed(organization_id: int) -> ColumnElement[bool]:
    """The organization's late-fee invoices no email has named yet: those after the
    last its emails named (`LateFeeEmail.through_invoice_id`; operations_0004 wrote
    the last before it), all of them before any. The order is the invoices' ids,
    which follow the order of commit for an organization's late fees: each is issued
    holding the organization's claim."""
    last_named = (
        select(func.max(LateFeeEmail.through_invoice_id))
        .where(LateFeeEmail.organization_id == organization_id)
        .scalar_subquery()
    )
    return and_(LATE_FEES, Invoice.id > func.coalesce(last_named, 0))


def _with_unnamed_late_fees() -> Select[int]:
    """The organizations with late fees no email has named (`_unnamed`), paid or not:
    none once the day's chase has named them, so the ones it could not (round 54).

    Walked an organization at a time through `ix_invoices_late_fees` (organization,
    id; the late fees alone): the next organization with a late fee is one step into
    the index past the last (a recursive statement, as an index skip scan), and each
    one's last late fee, a second step back from the next, is compared with the last
    its emails named. So a run reads two entries an organization with late fees, not
    every late fee ever issued:
    round 55 read all of them each run (grouped by organization, 20,000 entries at
    20,000 late fees, round 56), and before it every invoice (round 54). What can
    still change is only the fees after each organization's last email."""

    def next_organization(*after: ColumnElement[bool]) -> ScalarSelect[int]:
        return (
            select(Invoice.organization_id)
            .where(LATE_FEES, *after)
            .order_by(Invoice.organization_id)
            .limit(1)
            .scalar_subquery()
        )

    walked = select(next_organization().label("organization_id")).cte(
        "late_fee_organizations", recursive=True
    )
    walked = walked.union_all(
        select(next_organization(Invoice.organization_id > walked.c.organization_id)).where(
            walked.c.organization_id.is_not(None)
        )
    )
    organization_id = walked.c.organization_id
    # Each a subquery of its own (one entry of an index each), not a join the planner
    # could turn into a hash of every late fee (PostgreSQL did, by cost, on few rows).
    last_fee = (
        select(Invoice.id)
        .where(LATE_FEES, Invoice.organization_id == organization_id)
        .order_by(Invoice.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    last_named = (
        select(func.max(LateFeeEmail.through_invoice_id))
        .where(LateFeeEmail.organization_id == organization_id)
        .correlate(walked)
        .scalar_subquery()
    )
    return (
        select(organization_id)
        .where(organization_id.is_not(None), last_fee > func.coalesce(last_named, 0))
        .order_by(organization_id)
    )


def _name_unchased(session: Session, organization_id: int, today: date) -> bool:
    """The organization's unnamed late fees named, in the caller's transaction, if it
    can be claimed (another host holding it is chasing it) and owes no new month's
    fee (a host between two batches of them names them with its last): whether an
    email went (`_name_late_fees`: one a day at most)."""
    if not _claimed(session, organization_id):
        return False
    owing = session.scalar(
        select(Invoice.id)
        .where(
            Invoice.organization_id == organization_id,
            Invoice.state == OPEN,
            overdue_on(today),
            _new_late_fee_month(today),
        )
        .limit(1)
    )
    return owing is None and _name_late_fees(session, organization_id, today)


def _name_late_fees(session: Session, organization_id: int, today: date) -> bool:
    """Email the organization's billing contact the late fees no email has named yet,
    in the caller's transaction, which holds the organization (so no other host names
    them at once), once it owes no more today and unless it was sent one today;
    whether an email went. Whichever host issued them (round 52: a second host that
    took the organization between two of the first's batches sent an email of its
    own, two that day), whichever run (round 53: a run stopped by an error named the
    batches it had committed, and its rerun the rest in a second email that day; a
    worker started after the day's run, which runs every job at once, is such a
    rerun): one email an organization a day, a `LateFeeEmail` row under its unique
    (organization, day), whose `through_invoice_id`, the last late fee it named, the
    next starts after. Late fees issued after the day's email (a rerun's: an invoice
    a payment was being recorded on when the first claimed them) are named the next
    day. Read by the organization and that id, never a list of ids (an `IN` of as
    many as issued, which SQLite refuses past its parameter limit). One late fee is
    emailed as every invoice is (`invoice_issued`, its PDF attached); several are
    named in one email, the first `NAMED` with their links, the rest counted and
    summed by the database."""
    emailed_today = session.scalar(
        select(LateFeeEmail.id).where(
            LateFeeEmail.organization_id == organization_id, LateFeeEmail.day == today
        )
    )
    if emailed_today is not None:
        return False
    these = (Invoice.organization_id == organization_id, _unnamed(organization_id))
    count, through = session.execute(select(func.count(), func.max(Invoice.id)).where(*these)).one()
    if not count:
        return False
    invoice = session.get(Invoice, through) if count == 1 else None
    if invoice is not None and invoice.state == OPEN:
        kept = pdfs.kept(session, pdfs.Document.of_invoice(invoice))
        assert kept is not None
        email_issued(session, invoice, kept)
    else:
        # Several, or one paid since (round 54: named by a later run), which "Invoice
        # ...: due ..." would ask to be paid again.
        _email_late_fees(session, organization_id, these, count, today=today)
    session.add(
        LateFeeEmail(
            organization_id=organization_id, day=today, through_invoice_id=through, named=count
        )
    )
    audit.record_event(
        session,
        LATE_FEES_NAMED,
        organization_id,
        after={"day": today, "named": count, "through_invoice_id": through},
        actor=Actor.SYSTEM,
    )
    return True


def _email_late_fees(
    session: Session,
    organization_id: int,
    these: tuple[ColumnElement[bool], ...],
    count: int,
    *,
    today: date,
) -> None:
    """One email naming the `count` late-fee invoices `these` selects (each invoice is
    as any: its number, PDF, signed link), the first `NAMED` with their links, loaded,
    the rest counted and summed by the database; those issued before `today` said so,
    and those paid since said paid (round 54)."""
    organization = session.get(Organization, organization_id)
    assert organization is not None
    named = session.scalars(
        select(Invoice).where(*these).order_by(Invoice.due_date, Invoice.id).limit(NAMED)
    ).all()
    rest = queries.rest_after(session, these, NAMED)
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=(
            f"{count} late-fee invoice{'s' if count != 1 else ''} issued to "
            f"{organization.legal_name}"
        ),
        template="late_fees_issued",
        # Newly issued: their links are of the first generation.
        secrets=[links.token(invoice, 0) for invoice in named],
        context={
            "organization": organization,
            "issued": count,
            "named": [
                {
                    "invoice": invoice,
                    "total": in_words(invoice.total, invoice.currency),
                    "url": links.invoice_url(invoice, 0),
                    # Open, or since paid (void...): then nothing is asked of it.
                    "state": invoice.state,
                }
                for invoice in named
            ],
            "earlier": any(invoice.issue_date != today for invoice in named),
            "more": rest.count,
            "more_balance": _balances_in_words(rest.balances),
            "invoices_url": pages().vendor_invoices(),
            "remit_to": letterhead().remit_lines,
        },
    )


def _overdue_beyond(
    session: Session, organization_id: int, today: date, days: int
) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == organization_id,
                overdue_on(today - timedelta(days=days)),
            )
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def overdue_invoices(
    session: Session, organization_id: int, today: date, standing_days: int
) -> list[str]:
    """The organization's invoices overdue more than `standing_days`, in words (for
    accounts' overdue check, registered in `licensing.billing.init_app`)."""
    return [
        f"invoice {invoice.number} is {invoice.days_overdue(today)} days overdue"
        for invoice in _overdue_beyond(session, organization_id, today, standing_days)
    ]
