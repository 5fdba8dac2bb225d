"""The scheduled job (`licensing permissions expire`): close what time has run
out on. Idempotent, and safe on several hosts at once: each batch of due rows
is claimed (`db.claim`) in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import utcnow

from ..models import PermissionRequest
from ..states import ANSWER_BUSINESS_DAYS, APPROVED, DENIED, NEEDS_INFO, UNCONFIRMED
from ._common import (
    RECONSIDERATION_DAYS,
    audit_request,
    close,
    step,
    tell_requester,
)

EXPIRY_BATCH = 100
# A grant's requester is told this long before its last day that it ends, and how
# to ask again (the status page says so from `views.ENDING_NOTICE`).
ENDING_REMINDER = timedelta(days=30)
ENDING_REMINDED = "permission_request.ending_reminder_sent"


@dataclass
class ExpiryReport:
    expired_unanswered: list[str] = field(default_factory=list)
    expired_unconfirmed: int = 0
    windows_closed: list[str] = field(default_factory=list)
    ending_reminded: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.expired_unanswered)} unanswered request(s) expired"
            + (f" ({', '.join(self.expired_unanswered)})" if self.expired_unanswered else "")
            + f", {self.expired_unconfirmed} unconfirmed request(s) expired, "
            f"{len(self.windows_closed)} reconsideration window(s) closed"
            + (f" ({', '.join(self.windows_closed)})" if self.windows_closed else "")
            + f", {len(self.ending_reminded)} requester(s) told their permission ends soon"
            + (f" ({', '.join(self.ending_reminded)})" if self.ending_reminded else "")
            + "."
        )


def _each_due(
    act: Callable[[Session, PermissionRequest], None],
    report: ExpiryReport,
    due: Any,
    *conditions: Any,
) -> None:
    """Apply `act` to every request matching `conditions`, oldest `due` first, then
    by id (the order an operator reads the audit log in), a claimed batch per
    transaction, until a batch comes back short. Each `act` takes the request out
    of `conditions`, so no row is claimed twice. A batch that loses a deadlock is run
    again (round 60, `db.retried_unit`), `report` as it was before it."""
    while db.retried_unit(lambda: _batch(act, due, conditions), keeping=(report,)):
        pass


def _batch(
    act: Callable[[Session, PermissionRequest], None], due: Any, conditions: tuple[Any, ...]
) -> bool:
    """One batch of `_each_due`, in its own unit of work: whether it was full."""
    with db.transaction() as session:
        batch = (
            select(PermissionRequest)
            .where(*conditions)
            .order_by(due, PermissionRequest.id)
            .limit(EXPIRY_BATCH)
        )
        claimed = session.scalars(db.claim(batch)).all()
        # Conditions on other tables (the ending reminder's marker) read again
        # once the rows are ours: another host may have committed meanwhile.
        for request in db.still_selected(session, batch, claimed):
            act(session, request)
    return len(claimed) == EXPIRY_BATCH


def _expire(session: Session, request: PermissionRequest, now: datetime, note: str) -> None:
    before = request.snapshot()
    close(request, now)
    step(session, request, "expire", Actor.SYSTEM, since=before, at=now, note=note)


def expire_due(now: datetime | None = None) -> ExpiryReport:
    """Close what time has run out on; idempotent and safe on several hosts at once.

    - `needs_info` unanswered past its 5-business-day deadline: `expired`;
    - `unconfirmed` past its 48-hour confirmation link: `expired`;
    - a denial's 14-day reconsideration window: closed (the denial is final);
    - a grant whose permission ends within 30 days: its requester is told, once,
      and how to ask again (audited as `ending_reminder_sent`, which keeps it
      from being sent twice). A permission decided within those 30 days, or not
      yet begun, is not reminded of: its letter is fresh.
    """
    moment = now or utcnow()
    report = ExpiryReport()

    def unanswered(session: Session, request: PermissionRequest) -> None:
        _expire(
            session, request, moment, f"no answer within {ANSWER_BUSINESS_DAYS} US business days"
        )
        tell_requester(session, request, "permission_expired", "Your request has expired")
        report.expired_unanswered.append(request.reference)

    def unconfirmed(session: Session, request: PermissionRequest) -> None:
        _expire(session, request, moment, "email address never confirmed")
        report.expired_unconfirmed += 1

    def window_closed(session: Session, request: PermissionRequest) -> None:
        request.reconsideration_closed_at = moment
        audit_request(
            session,
            request,
            "reconsideration_window_closed",
            {"reconsideration_closed_at": None},
            {"reconsideration_closed_at": moment},
            actor=Actor.SYSTEM,
            note=f"{RECONSIDERATION_DAYS} days after the denial; the denial is final",
        )
        report.windows_closed.append(request.reference)

    _each_due(
        unanswered,
        report,
        PermissionRequest.answer_due_at,
        PermissionRequest.state == NEEDS_INFO,
        PermissionRequest.answer_due_at < moment,
    )
    _each_due(
        unconfirmed,
        report,
        PermissionRequest.confirm_expires_at,
        PermissionRequest.state == UNCONFIRMED,
        PermissionRequest.confirm_expires_at < moment,
    )
    _each_due(
        window_closed,
        report,
        PermissionRequest.reconsideration_due_at,
        PermissionRequest.state == DENIED,
        PermissionRequest.reconsideration_closed_at.is_(None),
        PermissionRequest.reconsideration_due_at < moment,
    )

    def ending(session: Session, request: PermissionRequest) -> None:
        audit_request(
            session,
            request,
            "ending_reminder_sent",
            None,
            {"valid_until": request.valid_until},
            actor=Actor.SYSTEM,
            note=f"the permission ends on {request.valid_until}",
        )
        tell_requester(session, request, "permission_ending", "Your permission ends soon")
        report.ending_reminded.append(request.reference)

    today = calendar.office_date(moment)
    reminded = select(AuditEvent.id).where(
        AuditEvent.entity_type == "permission_request",
        AuditEvent.entity_id == cast(PermissionRequest.id, String),
        AuditEvent.action == ENDING_REMINDED,
    )
    _each_due(
        ending,
        report,
        PermissionRequest.valid_until,
        PermissionRequest.state == APPROVED,
        PermissionRequest.valid_from <= today,
        PermissionRequest.valid_until >= today,
        PermissionRequest.valid_until <= today + ENDING_REMINDER,
        PermissionRequest.decided_at < moment - ENDING_REMINDER,
        ~reminded.exists(),
    )
    return report


class GrantEnding(NamedTuple):
    """A grant's end as the officer reads it on the request's page (round 42): the
    days left, and whether and when the requester is told it ends."""

    ends_on: date
    days_left: int  # negative once it has ended
    reminded_at: datetime | None  # the ending email, once sent
    reminder_on: date | None  # the office day the job sends it; None: it never will


class Granted(Protocol):
    """What `grant_ending` reads of a request: a record, or a queue row's columns
    (round 43: *Grants ending within 60 days* says it per row, as the page does)."""

    @property
    def state(self) -> str: ...
    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_until(self) -> date | None: ...
    @property
    def decided_at(self) -> datetime | None: ...


def grant_ending(request: Granted, reminded_at: datetime | None, today: date) -> GrantEnding | None:
    """When a grant ends and the requester's ending email, as `expire_due` sends it:
    from 30 days before the last day, once the permission has begun and 30 days after
    the decision (so never for a permission decided within its last 30 days)."""
    if request.state != APPROVED or request.valid_until is None or request.valid_from is None:
        return None
    reminder_on = None
    if reminded_at is None and request.decided_at is not None:
        decided = calendar.office_date(request.decided_at)
        day = max(
            request.valid_until - ENDING_REMINDER,
            request.valid_from,
            decided + ENDING_REMINDER + timedelta(days=1),
            today,
        )
        reminder_on = day if day <= request.valid_until else None
    return GrantEnding(
        request.valid_until, (request.valid_until - today).days, reminded_at, reminder_on
    )
