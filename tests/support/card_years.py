"""A licensing office's year as the card's, not the calendar's (round 36's week walk;
round 48's accessibility sweep of the renewals due): this year's card ends a month
from the office's today, so its agreements are renewals coming due (within 90 days)
on any day a test runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from licensing.pricing.ratecard import proposed_term


@dataclass(frozen=True)
class CardYears:
    """This year's card and next year's, a year each, as of the office's `today`:
    this one ends a month on (its agreements end with it), the next starts the day
    after. A year as the service proposes one (`proposed_term`), so a renewal's term
    is the next card's whole period and nothing is prorated."""

    this_version: str
    this_from: date
    this_to: date
    next_version: str
    next_from: date
    next_to: date

    @classmethod
    def around(cls, today: date) -> CardYears:
        next_from = today + timedelta(days=31)
        if (next_from.month, next_from.day) == (2, 29):  # a year back has no 29 February
            next_from += timedelta(days=1)
        this_from = next_from.replace(year=next_from.year - 1)
        this_to = next_from - timedelta(days=1)
        _, next_to = proposed_term(next_from, None, earliest=next_from)
        return cls(
            f"{this_from.year}.1", this_from, this_to, f"{next_from.year}.1", next_from, next_to
        )
