"""The staff queue's figures: open requests, those past their service level,
and how long decisions take."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.db import utcnow

from ..models import PermissionRequest
from ..states import APPROVED, DENIED, OPEN_STATES, WITH_STAFF

METRICS_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class QueueMetrics:
    open_by_state: dict[str, int]
    overdue: int
    decided_last_90_days: int
    median_days_to_decision: Decimal | None

    @property
    def open_total(self) -> int:
        return sum(self.open_by_state.values())


def metrics(session: Session, *, now: datetime | None = None) -> QueueMetrics:
    """Open requests by state, those past their service level, and the median
    days from submission to decision over the last 90 days."""
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
    decided = session.execute(
        select(PermissionRequest.submitted_at, PermissionRequest.decided_at).where(
            PermissionRequest.state.in_((APPROVED, DENIED)),
            PermissionRequest.decided_at >= moment - METRICS_WINDOW,
            PermissionRequest.decided_at <= moment,
            PermissionRequest.submitted_at.is_not(None),
        )
    ).all()
    durations = [
        Decimal(int((decided_at - submitted_at).total_seconds())) / Decimal(86400)
        for submitted_at, decided_at in decided
        if submitted_at is not None and decided_at is not None  # as the query asks
    ]
    median = Decimal(statistics.median(durations)).quantize(Decimal("0.1")) if durations else None
    return QueueMetrics(
        open_by_state={state: int(counts.get(state, 0)) for state in OPEN_STATES},
        overdue=int(overdue or 0),
        decided_last_90_days=len(durations),
        median_days_to_decision=median,
    )
