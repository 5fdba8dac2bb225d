"""The requester withdraws their request, through their link, before a decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.words import at_most_characters

from ..models import MESSAGE_MAX, PermissionRequest
from ..states import PERMISSION_REQUEST
from ._common import (
    REPLACED_BY,
    add_requester_message,
    by_status_token,
    close,
    requester,
    step,
    tell_requester,
    tell_staff,
)


def withdraw(
    raw: str, *, reason: str | None = None, now: datetime | None = None
) -> PermissionRequest:
    """The requester withdraws before a decision (optionally saying why)."""
    moment = now or utcnow()
    text = (reason or "").strip()
    if len(text) > MESSAGE_MAX:
        raise InvalidInput.for_field("reason", at_most_characters(MESSAGE_MAX))
    with db.transaction() as session:
        request = by_status_token(session, raw, moment, lock=True)
        before = request.snapshot()
        request.answer_due_at = None
        close(request, moment)
        step(session, request, "withdraw", requester(request), since=before, at=moment)
        if text:
            add_requester_message(session, request, f"Withdrawn: {text}", moment)
        return request


@PERMISSION_REQUEST.on("withdraw")
def _withdrawn(session: Session, request: Any, actor: Actor, note: str | None) -> None:
    if note and note.startswith(REPLACED_BY):
        # Replaced by the correction its requester just confirmed (round 58), whose
        # own email says so: the reviewer learns which request to read now.
        tell_staff(session, request, f"withdrawn by the requester, {note}")
        return
    tell_requester(session, request, "permission_withdrawn", "Your request is withdrawn")
    tell_staff(session, request, "withdrawn by the requester")
