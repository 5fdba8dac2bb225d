"""Reporting periods: calendar quarters clipped to an agreement's term (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Days after a period ends by which its report is due.
REPORT_DUE_DAYS = 30


@dataclass(frozen=True)
class Period:
    """The k-th reporting period of a term (k from 1)."""

    index: int
    start: date
    end: date

    @property
    def due_on(self) -> date:
        return self.end + timedelta(days=REPORT_DUE_DAYS)

    @property
    def first_filing_day(self) -> date:
        """A period is reported no earlier than the day after it ends."""
        return self.end + timedelta(days=1)

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def _next_quarter_start(day: date) -> date:
    quarter_end_month = ((day.month - 1) // 3 + 1) * 3
    if quarter_end_month == 12:
        return date(day.year + 1, 1, 1)
    return date(day.year, quarter_end_month + 1, 1)


def reporting_periods(term_start: date, term_end: date) -> tuple[Period, ...]:
    """Calendar quarters from `term_start` to `term_end`, the first and last clipped."""
    periods: list[Period] = []
    cursor = term_start
    while cursor <= term_end:
        following = _next_quarter_start(cursor)
        periods.append(
            Period(len(periods) + 1, cursor, min(following - timedelta(days=1), term_end))
        )
        cursor = following
    return tuple(periods)


def period_starting(periods: tuple[Period, ...], start: date) -> Period | None:
    return next((period for period in periods if period.start == start), None)
