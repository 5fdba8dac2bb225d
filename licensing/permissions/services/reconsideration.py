"""Reconsideration: a denial may be reconsidered once, when the requester asks
through their link within 14 days of it; the request is then reviewed again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.errors import Conflict

from ..models import PermissionRequest
from ..states import DENIED, PERMISSION_REQUEST
from ._common import (
    RECONSIDERATION_DAYS,
    add_requester_message,
    by_status_token,
    message_text,
    requester,
    sla_deadline,
    step,
    tell_staff,
)


def reconsideration_open(request: PermissionRequest, now: datetime) -> bool:
    return (
        request.state == DENIED
        and not request.reconsidered
        and request.reconsideration_closed_at is None
        and request.reconsideration_due_at is not None
        and now <= request.reconsideration_due_at
    )


def _refuse(request: PermissionRequest) -> Conflict:
    if request.reconsidered:
        return Conflict("This decision followed a reconsideration and is final.")
    due = request.reconsideration_due_at
    return Conflict(
        f"The {RECONSIDERATION_DAYS}-day window to request reconsideration closed"
        + (f" {calendar.when_text(due)}." if due else "."),
        instants={"deadline": due} if due else None,
    )


def request_reconsideration(
    raw: str, grounds: str, *, sla_days: int, now: datetime | None = None
) -> PermissionRequest:
    """The requester asks, once and within 14 days of a denial, for it to be
    reconsidered; staff should decide again within `sla_days` business days."""
    moment = now or utcnow()
    text = message_text(grounds, what="Your grounds for reconsideration", field_name="body")
    with db.transaction() as session:
        request = by_status_token(session, raw, moment, lock=True)
        PERMISSION_REQUEST.step(request.state, "request_reconsideration")  # 409 if not denied
        if not reconsideration_open(request, moment):
            raise _refuse(request)
        before = request.snapshot()
        request.reconsidered = True
        # Undecided and open again: the service level runs until the second decision.
        request.decided_at = None
        request.closed_at = None
        request.status_expires_at = None
        request.reconsideration_due_at = None
        request.sla_due_at = sla_deadline(moment, sla_days)
        step(
            session,
            request,
            "request_reconsideration",
            requester(request),
            since=before,
            at=moment,
            note=text,
        )
        add_requester_message(session, request, text, moment)
        return request


@PERMISSION_REQUEST.on("request_reconsideration")
def _reconsideration_requested(
    session: Session, request: Any, actor: Actor, note: str | None
) -> None:
    tell_staff(session, request, "reconsideration requested", wrote=note)
