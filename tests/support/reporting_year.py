"""A reporting agreement's year on any day (round 50): what browser tests on royalty
reports arrange instead of the 2027 example card and the integration tests' fixed
2027 instants (`AFTER`, `QUARTERS`), which a live server and Chromium would reach by
travelling back from a later real day (Chromium keeps the real clock and drops the
session cookie the server set to expire before it, round 49).

The agreement is next year's card's whole year (`CardYears`, a month from the
office's today, so nothing it charges is prorated), and its periods are the calendar
quarters of that year, clipped to it (`reporting_periods`): the first may be a day
long, and a year starting mid-quarter has five. A test travels only forward, to
15:00 UTC (mid-morning at the office) on a period's first filing day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties import services
from licensing.royalties.periods import Period, reporting_periods
from licensing.royalties.rows import form_submission
from licensing.royalties.services import Filing
from tests.support.card_years import CardYears
from tests.support.first_quarter import TRAVEL_HOUR


@dataclass(frozen=True)
class ReportingYear:
    """Next year's card as of the office's `today`, and its reporting periods."""

    years: CardYears
    periods: tuple[Period, ...]

    @classmethod
    def around(cls, today: date) -> ReportingYear:
        years = CardYears.around(today)
        return cls(years, reporting_periods(years.next_from, years.next_to))

    @property
    def term(self) -> tuple[date, date]:
        return self.years.next_from, self.years.next_to

    def period(self, index: int) -> Period:
        """The `index`-th period (from 1)."""
        return self.periods[index - 1]

    def after(self, index: int) -> datetime:
        """15:00 UTC on the day the `index`-th period may first be reported: later
        than the office's today, so a travel there is forward."""
        return datetime.combine(self.period(index).first_filing_day, TRAVEL_HOUR)

    @property
    def months(self) -> tuple[str, str]:
        """The finance page's months (`YYYY-MM`) from the term's first to the first
        period's filing day: its invoices and payments fall in them."""
        first, filed = self.years.next_from, self.period(1).first_filing_day
        return f"{first:%Y-%m}", f"{filed:%Y-%m}"


def filed(
    vendor: Any,
    agreement_id: int,
    start: date,
    rows: list[dict[str, Any]],
    *,
    now: datetime,
    amends: int | None = None,
    reason: str | None = None,
    preview: bool = False,
) -> Filing:
    """`rows` filed (or previewed) by `vendor` through the form's path for the period
    of the agreement starting on `start`, attested, at `now`."""
    submission = form_submission(rows, attest=True, amends=amends, reason=reason)
    act = services.preview if preview else services.submit
    return act(agreement_id, start, submission, Actor.of(accounts.principal_for(vendor)), now=now)
