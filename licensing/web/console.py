"""The staff console's home: every queue that waits on the office, with counts,
ages and what is overdue, for the roles the viewer holds.

Features add their queues by registering a provider:

    from licensing.web.console import QueueSummary, queue_summary

    @queue_summary
    def _applications(session, principal, now):
        yield QueueSummary("Applications awaiting review", count=3,
                           endpoint="agreements_console.queue", oldest=...)

A summary is shown only when the viewer may open its page (the page's access
declaration admits them), so billing staff see billing queues, and so on.

A queue with a service level also says how many of its items are near it (round 59:
the row said "none" while the oldest request was at 6 of its 10 days): `due_soon`,
those not yet past it that are due by the end of the office day
`DUE_SOON_BUSINESS_DAYS` business days from today (`due_soon_by(now)`, the first
instant after that day), linked to the queue sorted oldest first (`due_soon_params`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from sqlalchemy.orm import Session

from licensing import access, calendar, db
from licensing.access import STAFF_ROLES, Principal
from licensing.web.registry import Registry
from licensing.words import counted

bp = Blueprint("console", __name__, url_prefix="/console")


@dataclass(frozen=True)
class QueueSummary:
    """One queue: how many items, how many need attention, since when."""

    title: str
    count: int
    endpoint: str
    params: dict[str, Any] = field(default_factory=dict)
    attention: int = 0  # overdue, flagged or failed: shown highlighted
    attention_label: str = "overdue"
    oldest: datetime | None = None  # when the oldest item arrived (submitted, queued)
    # For work that waits on someone outside the office (a royalty report), what its
    # oldest item has is a due date at the office, not a moment it arrived.
    oldest_due: date | None = None
    detail: str = ""
    # Items not yet past the queue's service level that are due within
    # `DUE_SOON_BUSINESS_DAYS` (round 59), and the queue's parameters that list them
    # oldest first (`endpoint`'s); None for a queue without a service level.
    due_soon: int = 0
    due_soon_params: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return url_for(self.endpoint, **self.params)

    @property
    def due_soon_url(self) -> str:
        return url_for(self.endpoint, **(self.due_soon_params or self.params))

    @property
    def due_soon_text(self) -> str:
        """ "2 due within 2 business days" (today's included)."""
        return f"{self.due_soon} due within {counted(DUE_SOON_BUSINESS_DAYS, 'business day')}"


# How near its service level an item is said to be on the home (round 59): due by the
# end of the office day this many US business days from today, today's included.
DUE_SOON_BUSINESS_DAYS = 2


def due_soon_by(now: datetime) -> datetime:
    """The first instant after the office day `DUE_SOON_BUSINESS_DAYS` business days
    from `now`'s: an item due before it, and not yet past due at `now`, is due soon."""
    last = calendar.add_business_days(calendar.office_date(now), DUE_SOON_BUSINESS_DAYS)
    return calendar.office_day_start(last + timedelta(days=1))


SummaryProvider = Callable[[Session, Principal, datetime], Iterable[QueueSummary]]
_PROVIDERS: Registry[SummaryProvider] = Registry()


def queue_summary(provider: SummaryProvider) -> SummaryProvider:
    """Register a source of console queues (see the module's docstring)."""
    return _PROVIDERS.add(provider)


def summaries(session: Session, principal: Principal, now: datetime) -> list[QueueSummary]:
    """Every provider's queues that the viewer may open, those needing attention first,
    then those with items due soon."""
    found = [
        summary
        for provider in _PROVIDERS
        for summary in provider(session, principal, now)
        if _admits(summary.endpoint, principal)
    ]
    return sorted(
        found,
        key=lambda summary: (summary.attention == 0, summary.due_soon == 0, summary.count == 0),
    )


def _admits(endpoint: str, principal: Principal) -> bool:
    declaration = access.declaration_for(current_app, endpoint)
    return declaration is not None and declaration.admits(principal)


@bp.route("/")
@access.staff(*STAFF_ROLES)
def home() -> str:
    """Staff land here after signing in."""
    principal = access.require_principal()
    return render_template(
        "console/home.html",
        queues=summaries(db.session(), principal, db.utcnow()),
        due_soon_days=DUE_SOON_BUSINESS_DAYS,
    )
