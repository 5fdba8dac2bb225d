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

from datetime import date, datetime

from sqlalchemy import ColumnElement

from licensing.calendar import office_date

from .models import ReportingPeriod
from .periods import REPORT_DUE_DAYS


def late_from(due_on: date, accepted: date | None) -> date:
    """The last day a report is on time: its due date, or the office day its
    agreement was accepted when that came later (a back report, due from the
    acceptance). Late from the day after."""
    return max(due_on, accepted) if accepted is not None else due_on


def accepted_on(activated_at: datetime | None) -> date | None:
    """The office day an agreement was accepted (None: never)."""
    return office_date(activated_at) if activated_at is not None else None


def late_before(day: ColumnElement[date] | date) -> ColumnElement[bool]:
    """`late_from` of a stored period before `day`, as SQL over `ReportingPeriod`
    (which keeps its `late_from`, written with it). Its due date is before `day`
    too (`late_from >= due_on`, a check constraint); the queue's index leads with
    `late_from` (round 51), so this narrows the rows it reads."""
    return ReportingPeriod.late_from < day


def days_toward_due(late_from_day: date, today: date) -> int:
    """How far a waiting report is through the `REPORT_DUE_DAYS` it is due in, on
    `today`: the days since its period ended, or, for a back report, counted so that
    it reaches them on the day it is due from (the acceptance's). Past them exactly
    when it is late (the Finance page's queue health, round 51: a back report
    accepted that day was 154 days old there against its 30)."""
    return REPORT_DUE_DAYS - (late_from_day - today).days
