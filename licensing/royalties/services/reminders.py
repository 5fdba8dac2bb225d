"""Reminders before, on and after the due date, and the standing rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, partial
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, Select, and_, bindparam, false, or_, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.accounts.states import ACTIVE
from licensing.agreements.models import Agreement
from licensing.calendar import day_text, days_text, office_date
from licensing.db import utcnow
from licensing.links import links
from licensing.mail import services as mail
from licensing.words import counted

from ..lateness import accepted_on, late_before, late_from
from ..models import ReportingPeriod, RoyaltyReminder
from ..periods import Period
from ..states import TO_FILE
from .obligations import current_reports

# The stored periods of unfiled reports, with what lateness counts from: read in
# SQL, so the reminders job and the standing check do not build every reporting
# agreement's periods (a rate card and a quote each) on every run. Kept per process,
# the values bound per call.
_ORGANIZATION = bindparam("late_organization", type_=Integer())
_LATE_BEFORE = bindparam("late_due_before", type_=Date())


def _unfiled_periods(*columns: Any) -> Select[Any]:
    """`columns` of the periods without a current report, from the period's own
    `filed` (royalties_0010; no report and no agreement row read: each period keeps
    what lateness counts from, `late_from`). Until round 55 they LEFT JOINed each
    period's current report, a probe of the reports' index a period, to ask what
    the period records in the same transaction as its filing."""
    return select(*columns).select_from(ReportingPeriod).where(ReportingPeriod.filed == false())


def _unfiled(*columns: Any) -> Select[Any]:
    """`_unfiled_periods` with their agreement."""
    return _unfiled_periods(*columns).join(Agreement, Agreement.id == ReportingPeriod.agreement_id)


def _held_by() -> ColumnElement[bool]:
    """Unfiled more than the standing's days after the day lateness counts from
    (`lateness.late_from`): its due date, or a later acceptance's office day."""
    return late_before(_LATE_BEFORE)


@cache
def _overdue_statements() -> tuple[Select[Any], Select[Any]]:
    """An organization's periods holding its standing, in the agreements' order
    (term start) and each one's period order; and the organizations held by one."""
    periods = (
        _unfiled(
            Agreement.number,
            ReportingPeriod.period_index,
            ReportingPeriod.period_start,
            ReportingPeriod.period_end,
            ReportingPeriod.late_from,
        )
        .where(ReportingPeriod.organization_id == _ORGANIZATION, _held_by())
        .order_by(Agreement.term_start, Agreement.id, ReportingPeriod.period_start)
    )
    organizations = (
        _unfiled_periods(ReportingPeriod.organization_id)
        .join(Organization, Organization.id == ReportingPeriod.organization_id)
        .where(_held_by(), Organization.standing == ACTIVE)
        .distinct()
        .order_by(ReportingPeriod.organization_id)
    )
    return periods, organizations


def _late_values(today: date, days: int) -> dict[str, Any]:
    cutoff = today - timedelta(days=days)
    return {_LATE_BEFORE.key: cutoff}


def overdue_reports(session: Session, organization_id: int, today: date, days: int) -> list[str]:
    """The periods of the organization's agreements unreported more than `days`
    after their due date (or the agreement's later acceptance), for its standing:
    each says the day it was due from, the acceptance's for a back report."""
    periods, _ = _overdue_statements()
    values = {**_late_values(today, days), _ORGANIZATION.key: organization_id}
    return [
        overdue_words(found.number, period, found.late_from)
        for found in session.execute(periods, values)
        for period in (Period(found.period_index, found.period_start, found.period_end),)
    ]


def overdue_words(number: str, period: Period, late_from_day: date) -> str:
    """What holds the standing, of one report: its due date, or for a back report
    (due before its agreement was accepted) the acceptance's day it was due from, as
    its period's page says (round 51: it named the due date alone, months before
    anyone could file it)."""
    report = f"the royalty report of {number} for {days_text(period.start, period.end)}"
    if late_from_day > period.due_on:
        return (
            f"{report} was due from the acceptance on {day_text(late_from_day)} (its due "
            f"date, {day_text(period.due_on)}, passed before the agreement was accepted)"
        )
    return f"{report} was due {day_text(period.due_on)}"


def held_organizations(session: Session, today: date, days: int) -> list[int]:
    """The organizations in good standing (`active`) with a report `overdue_reports`
    names: those the reminders job holds."""
    _, organizations = _overdue_statements()
    return list(session.scalars(organizations, _late_values(today, days)))


# Reminders: this many days before a report is due, on the due date, and every
# this many days while it is overdue.
REMINDER_DAYS = 14


def reminder_stage(period: Period, today: date, accepted: date | None = None) -> str | None:
    """The reminder a period's missing report has reached by `today`, if any, counted
    from its due date, or for a back report (due before the agreement was accepted
    on `accepted`) from the acceptance, as the standing counts it (`lateness.late_from`):
    its first reminder comes on the day of acceptance, then every fortnight."""
    return _stage(period, today, late_from(period.due_on, accepted))


def _stage(period: Period, today: date, late_from_day: date) -> str | None:
    """`reminder_stage` of a period late from `late_from_day` (a stored period's own)."""
    days_to_due = (late_from_day - today).days
    if days_to_due > REMINDER_DAYS or today < period.first_filing_day:
        return None
    if days_to_due > 0:
        return "before_due"
    overdue = -days_to_due
    return "due" if overdue < REMINDER_DAYS else f"overdue_{overdue // REMINDER_DAYS}"


@dataclass
class ReminderRun:
    reminders: int = 0
    pending_payment: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        marked = ", ".join(self.pending_payment) or "none"
        return f"{self.reminders} reminders sent; now pending payment: {marked}"


# Unfiled periods the reminders job reads at a time, in (agreement, period) order.
REMINDER_PAGE = 500
_TODAY = bindparam("remind_today", type_=Date())
_HORIZON = bindparam("remind_horizon", type_=Date())
_AFTER_AGREEMENT = bindparam("remind_after_agreement", type_=Integer())
_AFTER_START = bindparam("remind_after_start", type_=Date())
_PAGE = bindparam("remind_page", type_=Integer())


@cache
def _reminder_candidates() -> Select[Any]:
    """A page of the unfiled periods that have reached a reminder (ended, and due
    within `REMINDER_DAYS`, or overdue: counted from the day each is late from, its
    own `late_from`), after a given (agreement, period start). No agreement row is
    read (round 51: each candidate's `activated_at`, which on SQLite lies behind the
    agreement's stored PDF)."""
    return (
        _unfiled_periods(
            ReportingPeriod.agreement_id,
            ReportingPeriod.period_index,
            ReportingPeriod.period_start,
            ReportingPeriod.period_end,
            ReportingPeriod.late_from,
        )
        .where(
            ReportingPeriod.period_end < _TODAY,
            ReportingPeriod.late_from <= _HORIZON,
            or_(
                ReportingPeriod.agreement_id > _AFTER_AGREEMENT,
                and_(
                    ReportingPeriod.agreement_id == _AFTER_AGREEMENT,
                    ReportingPeriod.period_start > _AFTER_START,
                ),
            ),
        )
        .order_by(ReportingPeriod.agreement_id, ReportingPeriod.period_start)
        .limit(_PAGE)
    )


@dataclass(frozen=True)
class Reminder:
    """A reminder a period's missing report has reached and not yet had."""

    agreement_id: int
    period: Period
    stage: str


def due_reminders(session: Session, today: date) -> Iterator[list[Reminder]]:
    """The reminders to send on `today`, a page of periods at a time (each page's
    already sent left out in one query): the job's work per run is bounded by the
    page, whatever the agreements ever issued."""
    after = (0, date.min)
    while True:
        values = {
            _TODAY.key: today,
            _HORIZON.key: today + timedelta(days=REMINDER_DAYS),
            _AFTER_AGREEMENT.key: after[0],
            _AFTER_START.key: after[1],
            _PAGE.key: REMINDER_PAGE,
        }
        found = session.execute(_reminder_candidates(), values).all()
        if not found:
            return
        reached = []
        for candidate in found:
            period = Period(candidate.period_index, candidate.period_start, candidate.period_end)
            stage = _stage(period, today, candidate.late_from)
            if stage is not None:
                reached.append(Reminder(candidate.agreement_id, period, stage))
        sent = _sent(session, reached)
        yield [r for r in reached if (r.agreement_id, r.period.start, r.stage) not in sent]
        after = (found[-1].agreement_id, found[-1].period_start)


def _sent(session: Session, reminders: list[Reminder]) -> set[tuple[int, date, str]]:
    """Which of `reminders` were already sent (read for the page's agreements and
    stages at once)."""
    if not reminders:
        return set()
    found = session.execute(
        select(
            RoyaltyReminder.agreement_id, RoyaltyReminder.period_start, RoyaltyReminder.stage
        ).where(
            RoyaltyReminder.agreement_id.in_({r.agreement_id for r in reminders}),
            RoyaltyReminder.stage.in_({r.stage for r in reminders}),
        )
    )
    return {(row.agreement_id, row.period_start, row.stage) for row in found}


def send_reminders(*, standing_days: int, now: datetime | None = None) -> ReminderRun:
    """Remind licensees of reports coming due, due and overdue (each stage once per
    period), and hold at `pending_payment` the organizations with a report overdue
    more than `standing_days` (the `OVERDUE_STANDING_DAYS` setting, passed by the
    command). Idempotent, and safe on several hosts: each
    agreement is claimed (SKIP LOCKED on PostgreSQL) and each reminder is a unique row."""
    moment = now or utcnow()
    today = office_date(moment)
    run = ReminderRun()
    session = db.session()
    for page in due_reminders(session, today):
        session.rollback()
        for agreement_id, reminders in groupby(page, key=lambda r: r.agreement_id):
            due = list(reminders)
            # Run again after a deadlock (round 60, `db.retried_unit`): an agreement's
            # reminders are rows and outbox rows, and a second try finds them sent.
            run.reminders += db.retried_unit(
                partial(_remind_claimed, agreement_id, due, today, standing_days)
            )
    session.rollback()
    _hold_standing(run, today, moment, standing_days)
    return run


def _remind_claimed(
    agreement_id: int, reminders: list[Reminder], today: date, standing_days: int
) -> int:
    """`_remind` for the agreement, claimed in a unit of work of its own (none when
    another host holds it): how many reminders went."""
    with db.transaction() as claimed:
        agreement = claimed.scalars(
            db.claim(select(Agreement).where(Agreement.id == agreement_id))
        ).one_or_none()
        if agreement is None:
            return 0
        return _remind(claimed, agreement, reminders, today, standing_days)


def _remind(
    session: Session,
    agreement: Agreement,
    reminders: list[Reminder],
    today: date,
    standing_days: int,
) -> int:
    """Send `reminders` of the claimed agreement that no other host sent meanwhile."""
    sent = {
        (found.period_start, found.stage)
        for found in session.execute(
            select(RoyaltyReminder.period_start, RoyaltyReminder.stage).where(
                RoyaltyReminder.agreement_id == agreement.id
            )
        )
    }
    filed = set(current_reports(session, agreement.id))
    count = 0
    for reminder in reminders:
        period, stage = reminder.period, reminder.stage
        if period.start in filed or (period.start, stage) in sent:
            continue
        session.add(
            RoyaltyReminder(agreement_id=agreement.id, period_start=period.start, stage=stage)
        )
        readers = account_queries.licensing_readers(session, agreement.organization)
        text = _reminder_text(agreement, period, today, standing_days)
        mail.enqueue(
            session,
            to=readers.to,
            template="royalty_report_reminder",
            subject=text["subject"],
            context={**text["context"], "stand_in": readers.stand_in, "names": readers.names},
        )
        count += 1
    return count


def _reminder_text(
    agreement: Agreement, period: Period, today: date, standing_days: int
) -> dict[str, Any]:
    """A reminder's subject and its email's context. A back report (due before the
    agreement was accepted, its term already under way) is `overdue` by the
    contract's due date, but nobody could file it on time: its reminders say by when
    to file it before it holds the organization, not how many days it is overdue,
    until that day has passed."""
    overdue_days = max((today - period.due_on).days, 0)
    accepted = accepted_on(agreement.activated_at)
    # The last day before the report holds the organization (`overdue_reports`).
    held_after = late_from(period.due_on, accepted) + timedelta(days=standing_days)
    held = today > held_after
    if accepted is not None and accepted > period.due_on:
        headline, state = _back_report_words(accepted, held_after, today)
    else:
        headline = (
            f"Your royalty report is {overdue_days} days overdue."
            if overdue_days
            else "Your royalty report is due today."
            if today == period.due_on
            else f"Your royalty report is due in {(period.due_on - today).days} days."
        )
        state = "overdue" if overdue_days else f"due {day_text(period.due_on)}"
    days = days_text(period.start, period.end)
    return {
        "subject": f"Royalty report for {agreement.number}, {days}: {state}",
        "context": {
            "agreement": agreement,
            "period": period,
            "headline": headline,
            "overdue_days": overdue_days,
            "held_after": held_after,
            "held": held,
            "link": links().royalty_period(agreement.id, period.start),
        },
    }


def _back_report_words(accepted: date, held_after: date, today: date) -> tuple[str, str]:
    """A back report's headline and the subject's state: by when to file it until
    that day passes, then how long since the acceptance."""
    if today <= held_after:
        return (
            f"This period ended before the agreement was accepted on {day_text(accepted)}, "
            f"so its report is due now: please file it by {day_text(held_after)}.",
            f"file by {day_text(held_after)}",
        )
    return (
        f"Your royalty report is still not filed {(today - accepted).days} days after "
        f"the agreement was accepted on {day_text(accepted)}.",
        "overdue",
    )


def _hold_standing(run: ReminderRun, today: date, moment: datetime, threshold: int) -> None:
    session = db.session()
    organization_ids = held_organizations(session, today, threshold)
    session.rollback()

    def overdue_report(session: Session, organization_id: int) -> str | None:
        late = overdue_reports(session, organization_id, today, threshold)
        if not late:
            return None
        return f"{late[0][0].upper()}{late[0][1:]}; it is more than {threshold} days overdue."

    run.pending_payment += accounts.hold_for_overdue(organization_ids, overdue_report)


def unfiled_reports(
    session: Session, organization_id: int, today: date
) -> list[accounts.StillOpen]:
    """The organization's periods ended and not filed, in words, for
    `accounts.register_open_business` (registered in `licensing.royalties.init_app`):
    the earliest due named, the rest counted by the database."""
    unfiled = _unfiled(
        Agreement.number,
        ReportingPeriod.period_start,
        ReportingPeriod.period_end,
        ReportingPeriod.due_on,
    ).where(ReportingPeriod.organization_id == organization_id, ReportingPeriod.period_end < today)
    first = session.execute(
        unfiled.order_by(ReportingPeriod.due_on, Agreement.number).limit(accounts.OPEN_NAMED)
    )
    return accounts.named_and_more(
        [
            f"Royalty report of {row.number} for "
            f"{Period(0, row.period_start, row.period_end).label} not filed (due {row.due_on})."
            for row in first
        ],
        db.count_rows(session, unfiled),
        lambda rest: f"And {counted(rest, 'more royalty report')} not filed.",
        links().organization_royalty_periods(organization_id, state=TO_FILE),
        "The organization's reports to file",
    )
