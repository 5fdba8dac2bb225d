"""A new vendor's first quarter on any day (round 49): the days, travels and document
numbers `tests/browser/test_first_quarter_walk.py` expects, as a pure function of the
real instant the walk starts at. The walk applies for next year's card's whole year
(`CardYears`, a month from the office's today), so its first reporting period is the
calendar quarter that year starts in, clipped to it (`reporting_periods`), and the
walk travels only forward: to the day that quarter may first be reported, and a few
days on to amend it (Chromium keeps the real clock for its cookies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from licensing.calendar import office_date
from licensing.royalties.periods import Period, reporting_periods
from tests.support.card_years import CardYears

# The invoices' payment terms (an invoice is due 30 days after the office's day it
# is issued on) and how long after the report the walk amends it.
PAYMENT_DAYS = 30
AMENDED_AFTER = timedelta(days=3)
# The hour (UTC) the walk travels to on a day: mid-morning at the office, its day.
TRAVEL_HOUR = time(15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Issued:
    """An invoice or credit note: its number and the day it is due (issued + 30)."""

    number: str
    due: date


@dataclass(frozen=True)
class FirstQuarter:
    """What the walk started at `now` reads: next year's card's term, its agreement's
    number, the up-front invoice (issued at the real time), the first period and
    the instant after it ends when it is reported, its invoice, and the instant of
    the amendment and its credit note. Invoices and credit notes are numbered in
    the office's year of issue, from 1 in each year."""

    years: CardYears
    agreement: str
    up_front: Issued
    period: Period
    reported_at: datetime
    quarter_invoice: Issued
    amended_at: datetime
    credit_note: str

    @property
    def term(self) -> tuple[date, date]:
        return self.years.next_from, self.years.next_to

    @classmethod
    def starting(cls, now: datetime, *, issued: datetime | None = None) -> FirstQuarter:
        """The walk started at `now`, its up-front invoice issued at `issued` (at
        `now` unless told: a walk started just before the office's midnight issues
        it on the office's next day, maybe in its next year, round 50)."""
        years = CardYears.around(office_date(now))
        today = office_date(issued or now)  # the up-front invoice's day
        period = reporting_periods(years.next_from, years.next_to)[0]
        reported_at = datetime.combine(period.first_filing_day, TRAVEL_HOUR)
        reported_on = office_date(reported_at)
        amended_at = reported_at + AMENDED_AFTER
        # The up-front invoice is the first of its year; the quarter's follows it
        # in the same year, or is the first of the next.
        quarter_number = 2 if reported_on.year == today.year else 1
        return cls(
            years=years,
            agreement=f"CPT-{years.next_from.year}-000001",
            up_front=Issued(f"INV-{today.year}-000001", today + timedelta(days=PAYMENT_DAYS)),
            period=period,
            reported_at=reported_at,
            quarter_invoice=Issued(
                f"INV-{reported_on.year}-{quarter_number:06d}",
                reported_on + timedelta(days=PAYMENT_DAYS),
            ),
            amended_at=amended_at,
            credit_note=f"CN-{office_date(amended_at).year}-000001",
        )
