"""Revenue recognition schedules (pure: standard library and `licensing.money`).

A fee for a term is recognized straight-line by days: each calendar month of
the term gets the share of the amount its days in the term bear to the term's
days. Rounding is cumulative (month k gets round(amount x days to date / days)
minus what earlier months got), so the months add up to the amount exactly.

Nothing is recognized before the document exists: the months of the term that
end before the document's month (a term that started before the invoice, or a
credit note issued part-way through) are caught up in the document's month.
Everything else (royalties, late fees, manual charges) is recognized at a point
in time, in one month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from licensing.money import round_fraction


@dataclass(frozen=True)
class Slice:
    """An amount recognized in `period` (its first day) for service days
    `service_from`..`service_to` (`days` of them; None at a point in time)."""

    period: date
    service_from: date
    service_to: date
    days: int | None
    amount: Decimal


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def point_in_time(amount: Decimal, day: date) -> list[Slice]:
    return [Slice(month_start(day), day, day, None, amount)]


def straight_line(
    amount: Decimal, start: date, end: date, *, places: int, document_date: date
) -> list[Slice]:
    """`amount` over the days `start`..`end` (both included), month by month."""
    if end < start:
        return point_in_time(amount, document_date)
    total_days = (end - start).days + 1
    months: list[Slice] = []
    cursor, days_so_far, given = start, 0, Decimal(0)
    while cursor <= end:
        last = min(month_end(cursor), end)
        days = (last - cursor).days + 1
        days_so_far += days
        to_date = round_fraction(Fraction(amount) * days_so_far / total_days, places)
        months.append(Slice(month_start(cursor), cursor, last, days, to_date - given))
        given = to_date
        cursor = last + timedelta(days=1)
    return _catch_up(months, month_start(document_date))


def _catch_up(months: list[Slice], first_period: date) -> list[Slice]:
    """Fold the months before `first_period`, and that month, into one slice in it."""
    early = [s for s in months if s.period <= first_period]
    if not early:
        return months
    folded = Slice(
        first_period,
        early[0].service_from,
        early[-1].service_to,
        sum(s.days or 0 for s in early),
        sum((s.amount for s in early), Decimal(0)),
    )
    return [folded, *(s for s in months if s.period > first_period)]
