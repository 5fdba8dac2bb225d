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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from sqlalchemy.orm import Session

from licensing import access, db
from licensing.access import STAFF_ROLES, Principal
from licensing.web.registry import Registry

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

    @property
    def url(self) -> str:
        return url_for(self.endpoint, **self.params)


SummaryProvider = Callable[[Session, Principal, datetime], Iterable[QueueSummary]]
_PROVIDERS: Registry[SummaryProvider] = Registry()


def queue_summary(provider: SummaryProvider) -> SummaryProvider:
    """Register a source of console queues (see the module's docstring)."""
    return _PROVIDERS.add(provider)


def summaries(session: Session, principal: Principal, now: datetime) -> list[QueueSummary]:
    """Every provider's queues that the viewer may open, those needing attention first."""
    found = [
        summary
        for provider in _PROVIDERS
        for summary in provider(session, principal, now)
        if _admits(summary.endpoint, principal)
    ]
    return sorted(found, key=lambda summary: (summary.attention == 0, summary.count == 0))


def _admits(endpoint: str, principal: Principal) -> bool:
    declaration = access.declaration_for(current_app, endpoint)
    return declaration is not None and declaration.admits(principal)


@bp.route("/")
@access.staff(*STAFF_ROLES)
def home() -> str:
    """Staff land here after signing in."""
    principal = access.require_principal()
    return render_template(
        "console/home.html", queues=summaries(db.session(), principal, db.utcnow())
    )
