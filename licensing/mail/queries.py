"""Reading the outbox (staff console and API)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.errors import NotFound
from licensing.mail.models import OutboxMessage
from licensing.mail.states import QUEUED


def messages(
    session: Session,
    *,
    state: str | None = None,
    recipient: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[OutboxMessage], int]:
    """A page of messages, newest first, and how many match in all."""
    statement = select(OutboxMessage)
    if state:
        statement = statement.where(OutboxMessage.state == state)
    if recipient:
        statement = statement.where(
            db.contains_in_any_case(OutboxMessage.recipients, recipient, stored=_as_stored)
        )
    newest_first = statement.order_by(OutboxMessage.id.desc())
    return db.one_page(session, newest_first, page=page, per_page=per_page)


def _as_stored(address: str) -> str:
    """An address as `recipients` stores it, a JSON list (`mail.services.queue`):
    a letter beyond ASCII as its escape ("m\\u00fcller"), which no search of the
    letter itself found before round 52."""
    return json.dumps(address)[1:-1]


def counts(session: Session) -> dict[str, int]:
    """How many messages are in each state."""
    rows = session.execute(
        select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state)
    )
    return {state: int(count) for state, count in rows}


def overdue(session: Session, now: datetime, grace: timedelta) -> tuple[int, datetime | None]:
    """How many queued messages fell due more than `grace` before `now`, and when
    the oldest did: a sender claims due mail every minute and a failure moves it
    ahead by its backoff, so mail due this long is mail nobody is sending."""
    count, oldest = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.state == QUEUED, OutboxMessage.next_attempt_at <= now - grace
        )
    ).one()
    return int(count), oldest


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"There is no outbox message {message_id}.")
    return message
