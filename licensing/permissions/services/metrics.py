"""The staff queue's figures: open requests, those past their service level,
how long decisions take, and the week's decisions (the office's, and the reader's)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.audit.models import AuditEvent
from licensing.db import utcnow

from ..models import PermissionRequest
from ..queries import first_confirmations
from ..states import APPROVED, DENIED, OPEN_STATES, PERMISSION_REQUEST, WITH_STAFF

METRICS_WINDOW = timedelta(days=90)
# A reviewer's week: the seven days up to now (a week's throughput, not the calendar's).
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class QueueMetrics:
    open_by_state: dict[str, int]
    overdue: int
    decided_last_90_days: int
    median_days_to_decision: Decimal | None
    # Decided in the last 7 days and standing so: granted, denied (a denial granted
    # on reconsideration counts once, as the grant).
    granted_last_7_days: int = 0
    denied_last_7_days: int = 0
    # The decisions the reader took in those days (approve and deny steps they took,
    # a reconsideration's included), None when the reader is no person.
    yours_last_7_days: int | None = None

    @property
    def open_total(self) -> int:
        return sum(self.open_by_state.values())


def metrics(
    session: Session, *, now: datetime | None = None, user_id: int | None = None
) -> QueueMetrics:
    """Open requests by state, those past their service level, the median days
    from submission to decision over the last 90 days (a correction's from the first
    confirmation it stands for, round 59, as its service level), and the last 7 days'
    decisions (those of user `user_id` too, from the audit log)."""
    moment = now or utcnow()
    counts = dict(
        session.execute(
            select(PermissionRequest.state, func.count(PermissionRequest.id))
            .where(PermissionRequest.state.in_(OPEN_STATES))
            .group_by(PermissionRequest.state)
        ).all()
    )
    overdue = session.scalar(
        select(func.count(PermissionRequest.id)).where(
            PermissionRequest.state.in_(WITH_STAFF), PermissionRequest.sla_due_at < moment
        )
    )
    # Round 59 (asof59): a confirmed correction is measured from the first confirmation
    # it stands for, as its service level counts (attention59), not from its own.
    since = first_confirmations(
        PermissionRequest.state.in_((APPROVED, DENIED)),
        PermissionRequest.decided_at >= moment - METRICS_WINDOW,
        PermissionRequest.decided_at <= moment,
        PermissionRequest.submitted_at.is_not(None),
    )
    first = (
        select(since.c.request_id, func.min(since.c.since).label("since"))
        .group_by(since.c.request_id)
        .subquery()
    )
    decided = session.execute(
        select(first.c.since, PermissionRequest.decided_at).join(
            PermissionRequest, PermissionRequest.id == first.c.request_id
        )
    ).all()
    durations = [
        Decimal(int((decided_at - submitted_at).total_seconds())) / Decimal(86400)
        for submitted_at, decided_at in decided
        if submitted_at is not None and decided_at is not None  # as the query asks
    ]
    median = Decimal(statistics.median(durations)).quantize(Decimal("0.1")) if durations else None
    week = dict(
        session.execute(
            select(PermissionRequest.state, func.count(PermissionRequest.id))
            .where(
                PermissionRequest.state.in_((APPROVED, DENIED)),
                PermissionRequest.decided_at > moment - WEEK,
                PermissionRequest.decided_at <= moment,
            )
            .group_by(PermissionRequest.state)
        ).all()
    )
    yours = None
    if user_id is not None:
        decisions = [
            f"{PERMISSION_REQUEST.entity_type}.{PERMISSION_REQUEST.events[action]}"
            for action in ("approve", "deny")
        ]
        yours = session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action.in_(decisions),
                AuditEvent.actor_user_id == user_id,
                AuditEvent.occurred_at > moment - WEEK,
                AuditEvent.occurred_at <= moment,
            )
        )
    return QueueMetrics(
        open_by_state={state: int(counts.get(state, 0)) for state in OPEN_STATES},
        overdue=int(overdue or 0),
        decided_last_90_days=len(durations),
        median_days_to_decision=median,
        granted_last_7_days=int(week.get(APPROVED, 0)),
        denied_last_7_days=int(week.get(DENIED, 0)),
        yours_last_7_days=None if yours is None else int(yours),
    )
