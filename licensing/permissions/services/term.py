"""How long a use runs: the term a requester asks for (the first and last day of the
use, round 42) and the validity a grant defaults to.

A grant's default validity is the term asked for (from the decision's day when the
term has already begun), or one year from the decision when the request gave a
duration in words alone (requests made before round 42 among them). The office's
longest grant (`PERMISSION_LONGEST_GRANT_YEARS`) bounds both the term a request may
ask for and the validity staff may grant.
"""

from __future__ import annotations

from datetime import date, timedelta

from licensing.calendar import day_text, days_text
from licensing.errors import InvalidInput

from ..models import PermissionRequest

DEFAULT_VALIDITY = timedelta(days=365)
# The default of `PERMISSION_LONGEST_GRANT_YEARS`: the edges pass the configured one.
MAX_VALIDITY_YEARS = 5


def default_validity_end(start: date) -> date:
    """A grant's last day when neither the office nor the request gives one: one year
    from its start."""
    return start + DEFAULT_VALIDITY - timedelta(days=1)


def too_long(start: date, end: date, longest_years: int) -> bool:
    """Whether a use from `start` to `end` runs longer than the office grants."""
    return (end - start).days > 366 * longest_years


def longest_words(longest_years: int) -> str:
    return f"{longest_years} year{'s' if longest_years != 1 else ''}"


def check_term(
    use_from: date | None, use_until: date | None, *, today: date, longest_years: int
) -> dict[str, list[str]]:
    """The problems of a term asked for, by field (empty when it is fine): both days
    or neither, the last on or after the first (a one-day presentation is a term),
    the first not before today, and no longer than the office's longest grant."""
    if use_from is None and use_until is None:
        return {}
    if use_from is None:
        return {"use_from": ["Give the first day of the use too, or neither day."]}
    if use_until is None:
        return {"use_until": ["Give the last day of the use too, or neither day."]}
    if use_from < today:
        return {
            "use_from": [
                f"The first day has passed: choose a day from {today.isoformat()} on "
                "(a use that has begun asks from today)."
            ]
        }
    if use_until < use_from:
        return {"use_until": ["The last day must be on or after the first day."]}
    if too_long(use_from, use_until, longest_years):
        return {
            "use_until": [
                f"A permission runs for at most {longest_words(longest_years)}: choose a "
                "last day within that, and ask again for the years after it."
            ]
        }
    return {}


def checked_term(
    use_from: date | None, use_until: date | None, *, today: date, longest_years: int
) -> tuple[date | None, date | None]:
    """The term asked for, or `InvalidInput` naming each field's problem."""
    errors = check_term(use_from, use_until, today=today, longest_years=longest_years)
    if errors:
        raise InvalidInput("Some fields need correcting; nothing was sent.", errors)
    return use_from, use_until


def asked_term(request: PermissionRequest) -> tuple[date, date] | None:
    """The first and last day of the use the request asked for, if it gave them."""
    if request.use_from is None or request.use_until is None:
        return None
    return request.use_from, request.use_until


def use_days(use_from: date | None, use_until: date | None) -> str | None:
    """The days of the use asked for as the lists give them under the purpose or the
    content ("use August 23, 2027 to December 17, 2027": the console's queue, round 43,
    and the vendor's list, round 44); None when a duration in words alone was given.
    A note under a cell's text is a sentence: its days in words (round 58), where the
    cells that hold a day alone keep ISO."""
    if use_from is None or use_until is None:
        return None
    return f"use {days_text(use_from, use_until)}"


def term_words(request: PermissionRequest) -> str:
    """The term as the requester asked for it: their words with the days they gave
    ("Fall 2027 semester: August 23, 2027 to December 17, 2027"); the days once when the words
    are the days (a routed use's duration is written from the application's term),
    the words alone when no days were given."""
    term = asked_term(request)
    if term is None:
        return request.shown_duration
    # Round 57: the days in words, as the pages' sentences and the letter say days; a
    # duration written from an application's term is its ISO days, said once.
    days = days_text(term[0], term[1])
    written = f"{term[0].isoformat()} to {term[1].isoformat()}"
    return days if request.duration in ("", written) else f"{request.shown_duration}: {days}"


def default_validity(
    request: PermissionRequest, today: date, valid_from: date | None = None
) -> tuple[date, date]:
    """A grant's first and last day when the office gives none (or gives only the
    first): the term asked for, from today if it has begun; else one year from the
    start."""
    term = asked_term(request)
    if term is None:
        start = valid_from or today
        return start, default_validity_end(start)
    return valid_from or max(term[0], today), term[1]


def default_term_sentence(use_from: date | None, use_until: date | None, today: date) -> str | None:
    """What the requester is told a grant runs for when they gave days (round 43: the
    status page and the *Check your email* page; the grant defaults to the term asked
    for, `default_validity`): from the first day, or from the day it is granted once
    the term has begun. None without days, or once the term has ended (the office
    chooses the days then)."""
    if use_from is None or use_until is None or use_until < today:
        return None
    # Round 57: its days in words, as the pages' sentences say them.
    start = day_text(use_from) if use_from > today else "the day it is granted"
    return (
        f"If granted, the permission runs from {start} to {day_text(use_until)}, "
        "unless the office says otherwise."
    )
