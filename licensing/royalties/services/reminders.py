"""Reminders before, on and after the due date, and the standing rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.agreements.models import Agreement
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.links import links
from licensing.mail import services as mail

from ..models import (
    RoyaltyReminder,
)
from ..periods import Period
from .obligations import current_reports, obligations, reporting_agreements


def overdue_reports(session: Session, organization_id: int, today: date, days: int) -> list[str]:
    """The periods of the organization's agreements unreported more than `days`
    after their due date (for its standing)."""
    late: list[str] = []
    for agreement in reporting_agreements(session, organization_id):
        obligation = obligations(session, agreement)
        reports = current_reports(session, agreement.id)
        accepted = office_date(agreement.activated_at) if agreement.activated_at else None
        late.extend(
            f"the royalty report of {agreement.number} for {period.label} was due "
            f"{period.due_on.isoformat()}"
            for period in obligation.periods
            if period.start not in reports
            and today > _counted_from(period.due_on, accepted) + timedelta(days=days)
        )
    return late


def _counted_from(due_on: date, accepted: date | None) -> date:
    """The day a report's lateness counts from, for the standing: its due date, or,
    for an agreement accepted after that date (a term that started in the past),
    the day it was accepted. Such an agreement was held at pending payment by the
    next hourly run, for reports nobody could have filed on time."""
    return max(due_on, accepted) if accepted is not None else due_on


# Reminders: this many days before a report is due, on the due date, and every
# this many days while it is overdue.
REMINDER_DAYS = 14


def reminder_stage(period: Period, today: date) -> str | None:
    """The reminder a period's missing report has reached by `today`, if any."""
    days_to_due = (period.due_on - today).days
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
    agreement_ids = [agreement.id for agreement in reporting_agreements(session)]
    session.rollback()
    for agreement_id in agreement_ids:
        with db.transaction() as session:
            agreement = session.scalars(
                db.claim(select(Agreement).where(Agreement.id == agreement_id))
            ).one_or_none()
            if agreement is not None:
                run.reminders += _remind(session, agreement, today, standing_days)
    _hold_standing(run, today, moment, standing_days)
    return run


def _remind(session: Session, agreement: Agreement, today: date, standing_days: int) -> int:
    obligation = obligations(session, agreement)
    reports = current_reports(session, agreement.id)
    sent = {
        (reminder.period_start, reminder.stage)
        for reminder in session.scalars(
            select(RoyaltyReminder).where(RoyaltyReminder.agreement_id == agreement.id)
        )
    }
    count = 0
    for period in obligation.periods:
        stage = reminder_stage(period, today)
        if stage is None or period.start in reports or (period.start, stage) in sent:
            continue
        session.add(
            RoyaltyReminder(agreement_id=agreement.id, period_start=period.start, stage=stage)
        )
        overdue_days = max((today - period.due_on).days, 0)
        accepted = office_date(agreement.activated_at) if agreement.activated_at else None
        # The last day before the report holds the organization (`overdue_reports`).
        held_after = _counted_from(period.due_on, accepted) + timedelta(days=standing_days)
        headline = (
            f"Your royalty report is {overdue_days} days overdue."
            if overdue_days
            else "Your royalty report is due today."
            if today == period.due_on
            else f"Your royalty report is due in {(period.due_on - today).days} days."
        )
        mail.enqueue(
            session,
            to=account_queries.vendor_recipients(session, agreement.organization),
            subject=f"Royalty report for {agreement.number}, {period.label}: "
            + ("overdue" if overdue_days else f"due {period.due_on.isoformat()}"),
            template="royalty_report_reminder",
            context={
                "agreement": agreement,
                "period": period,
                "headline": headline,
                "overdue_days": overdue_days,
                "held_after": held_after,
                "held": today > held_after,
                "link": links().royalty_period(agreement.id, period.start),
            },
        )
        count += 1
    return count


def _hold_standing(run: ReminderRun, today: date, moment: datetime, threshold: int) -> None:
    session = db.session()
    organization_ids = sorted({a.organization_id for a in reporting_agreements(session)})
    session.rollback()

    def overdue_report(session: Session, organization_id: int) -> str | None:
        late = overdue_reports(session, organization_id, today, threshold)
        if not late:
            return None
        return f"{late[0][0].upper()}{late[0][1:]}; it is more than {threshold} days overdue."

    run.pending_payment += accounts.hold_for_overdue(organization_ids, overdue_report)
