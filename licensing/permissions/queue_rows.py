"""The console's permission-request queue as the page prints it (the pattern:
`licensing/web/rows.py`, shared with the applications queue).

Each request becomes one `PermissionQueueRow` of text escaped here, once, and
the flags `templates/permissions/console_queue.html` branches on; it prints them
under `{% autoescape false %}`. A field added to the row must be escaped the same
way: `tests/integration/permissions/test_queue_rows.py` puts markup in every
free text a row shows (requester, institution, application reference, assignee).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import NamedTuple

from markupsafe import Markup

from licensing.web.filters import dated, office_day
from licensing.web.rows import NO_VALUE, escaped, isolated, state_label
from licensing.words import on_one_line

from .queries import QueueRequest, ServiceLevel, after_the_answer, service_level
from .services import GrantEnding, grant_ending, label, use_days
from .states import APPROVED, NEEDS_INFO


class PermissionQueueRow(NamedTuple):
    """One row of the queue, in the order the template unpacks it. Text is escaped."""

    overdue: bool  # the row is marked, and its deadline says "overdue"
    id: int
    reference: str
    checked: bool  # selected before a bulk assignment the page refused
    href: str  # the request's page in the console
    application_reference: str | None  # None: a public request (no application)
    requester: str  # in `<bdi>`, as every typed name (round 62)
    institution: str  # in `<bdi>`
    purpose: str
    term: str | None  # the days of the use asked for (round 43), under the purpose
    state: str  # the identifier, for the badge's class
    state_label: str
    assignee: str
    age_days: int
    target_days: int
    due: str  # the service level's deadline (or —), or the day it was decided or closed
    waiting_on_requester: bool  # the clock stopped while the requester answers
    valid_until: str  # a grant's last day, else —
    ending: str | None  # in *Grants ending within 60 days*: the days left, the email


def _purpose(value: str) -> str:
    """A purpose in words, escaped (there are a handful)."""
    return escaped(label(value))


def _deadline(request: QueueRequest, level: ServiceLevel) -> str:
    """The day the decision is due; while a question waits, how long after the
    answer (round 37: the day stood still, as if the wait were the office's); once
    decided (or withdrawn, expired), the day it was, so a closed row does not read as
    still due."""
    if request.decided_at is not None:
        return escaped(f"decided {office_day(request.decided_at)}")
    if request.closed_at is not None:
        return escaped(f"closed {office_day(request.closed_at)}")
    if level.waiting_on_requester:
        return escaped(after_the_answer(level))
    return escaped(office_day(level.due_at))


def _term(request: QueueRequest) -> str | None:
    """The days of the use asked for, so the week can be ordered by when uses begin;
    None when the request gave a duration in words alone."""
    days = use_days(request.use_from, request.use_until)
    return None if days is None else escaped(days)


def _ending(ending: GrantEnding | None) -> str | None:
    """A grant's end in *Grants ending within 60 days*, in the request page's terms
    (`services.grant_ending`): the days left, and whether and when the requester is
    emailed that it ends."""
    if ending is None:
        return None
    left = {0: "today", 1: "in 1 day"}.get(ending.days_left, f"in {ending.days_left} days")
    # A sentence under the cell's day: its days in words (round 58), as the request's
    # page says them (`|dated`).
    if ending.reminded_at is not None:
        told = Markup("The requester was emailed on {} that it ends.").format(
            dated(ending.reminded_at)
        )
    elif ending.reminder_on is not None:
        told = Markup("The requester is emailed on {} that it ends.").format(
            dated(ending.reminder_on)
        )
    else:
        told = Markup(
            "The requester is not emailed that it ends: it was granted within its last 30 days."
        )
    return str(Markup("Ends {}. {}").format(left, told))


def queue_rows(
    requests: Iterable[QueueRequest],
    now: datetime,
    *,
    target_days: int,
    selected: frozenset[int],
    request_url: Callable[[int], str],
    reminded: Mapping[int, datetime] | None = None,
    today: date | None = None,
) -> list[PermissionQueueRow]:
    """The page's rows, each with its service level against `target_days`; given
    `reminded` (the grants ending: each one's ending email, by id, once sent) and
    `today`, each grant says when it ends and whether the requester is told."""
    rows = []
    for request in requests:
        ending = (
            grant_ending(request, reminded.get(request.id), today)
            if reminded is not None and today is not None
            else None
        )
        level = service_level(request, now, target_days=target_days)
        from_application = request.source == "application"
        rows.append(
            PermissionQueueRow(
                level.overdue,
                request.id,
                escaped(request.reference),
                request.id in selected,
                escaped(request_url(request.id)),
                escaped(request.application_reference or NO_VALUE) if from_application else None,
                isolated(on_one_line(request.requester_name)),
                isolated(on_one_line(request.institution)),
                _purpose(request.purpose),
                _term(request),
                escaped(request.state),
                state_label(request.state, "permission_request"),
                isolated(request.assignee or ""),
                level.age_days,
                level.target_days,
                _deadline(request, level),
                level.waiting_on_requester and request.state == NEEDS_INFO,
                escaped(
                    request.valid_until.isoformat()
                    if request.state == APPROVED and request.valid_until is not None
                    else NO_VALUE
                ),
                _ending(ending),
            )
        )
    return rows
