"""The scheduled job (`licensing permissions expire`): close what time has run
out on. Idempotent, and safe on several hosts at once: each batch of due rows
is claimed (`db.claim`) in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.db import utcnow

from ..models import PermissionRequest
from ..states import DENIED, NEEDS_INFO, UNCONFIRMED
from ._common import (
    ANSWER_BUSINESS_DAYS,
    RECONSIDERATION_DAYS,
    audit_request,
    close,
    step,
    tell_requester,
)

EXPIRY_BATCH = 100


@dataclass
class ExpiryReport:
    expired_unanswered: list[str] = field(default_factory=list)
    expired_unconfirmed: int = 0
    windows_closed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.expired_unanswered)} unanswered request(s) expired"
            + (f" ({', '.join(self.expired_unanswered)})" if self.expired_unanswered else "")
            + f", {self.expired_unconfirmed} unconfirmed request(s) expired, "
            f"{len(self.windows_closed)} reconsideration window(s) closed"
            + (f" ({', '.join(self.windows_closed)})" if self.windows_closed else "")
            + "."
        )


def _each_due(act: Callable[[Session, PermissionRequest], None], *conditions: Any) -> None:
    """Apply `act` to every request matching `conditions`, a claimed batch per
    transaction, until a batch comes back short. Each `act` takes the request
    out of `conditions`, so no row is claimed twice."""
    while True:
        with db.transaction() as session:
            due = list(
                session.scalars(
                    db.claim(
                        select(PermissionRequest)
                        .where(*conditions)
                        .order_by(PermissionRequest.id)
                        .limit(EXPIRY_BATCH)
                    )
                )
            )
            for request in due:
                act(session, request)
        if len(due) < EXPIRY_BATCH:
            return


def _expire(session: Session, request: PermissionRequest, now: datetime, note: str) -> None:
    before = request.snapshot()
    close(request, now)
    step(session, request, "expire", Actor.SYSTEM, since=before, at=now, note=note)


def expire_due(now: datetime | None = None) -> ExpiryReport:
    """Close what time has run out on; idempotent and safe on several hosts at once.

    - `needs_info` unanswered past its 5-business-day deadline: `expired`;
    - `unconfirmed` past its 48-hour confirmation link: `expired`;
    - a denial's 14-day reconsideration window: closed (the denial is final).
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
        PermissionRequest.state == NEEDS_INFO,
        PermissionRequest.answer_due_at < moment,
    )
    _each_due(
        unconfirmed,
        PermissionRequest.state == UNCONFIRMED,
        PermissionRequest.confirm_expires_at < moment,
    )
    _each_due(
        window_closed,
        PermissionRequest.state == DENIED,
        PermissionRequest.reconsideration_closed_at.is_(None),
        PermissionRequest.reconsideration_due_at < moment,
    )
    return report
