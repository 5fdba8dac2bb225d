"""From when a missing royalty report is late: the one rule, in Python and in SQL.

A report is due by its period's due date (`Period.due_on`, the contract's date,
which pages and the API keep showing). But an agreement accepted after that date (a
term already under way or over when it was accepted, rounds 49 and 50: a license of
past use only) could not have had it filed by then: its lateness counts from the
office day of the acceptance. Every place that says a report is late (its state
`due` or `overdue`, the queue's days overdue or left, a filing's days late, the
reminders and the standing) counts from `late_from`, or in SQL asks `late_before`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import ColumnElement, and_, or_

from licensing.agreements.models import Agreement
from licensing.calendar import OFFICE_TIMEZONE

from .models import ReportingPeriod


def late_from(due_on: date, accepted: date | None) -> date:
    """The last day a report is on time: its due date, or the office day its
    agreement was accepted when that came later (a back report, due from the
    acceptance). Late from the day after."""
    return max(due_on, accepted) if accepted is not None else due_on


def day_starts(day: date) -> datetime:
    """The UTC instant the office's `day` begins: an acceptance's office day is
    before `day` exactly when its moment is before this (no time zones in SQL)."""
    return datetime.combine(day, time.min, tzinfo=OFFICE_TIMEZONE).astimezone(UTC)


def late_before(
    day: ColumnElement[date] | date, day_start: ColumnElement[datetime] | datetime
) -> ColumnElement[bool]:
    """`late_from` of a stored period before `day` (whose office start is
    `day_start`, `day_starts(day)`), as SQL over `ReportingPeriod` joined with its
    `Agreement`: its due date before `day`, and its agreement accepted (if at all)
    before `day` began."""
    return and_(
        ReportingPeriod.due_on < day,
        or_(Agreement.activated_at.is_(None), Agreement.activated_at < day_start),
    )
