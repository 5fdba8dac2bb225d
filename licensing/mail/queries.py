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


# Mail queued this long and still unsent is behind (round 61): the sender tries due
# mail every minute, so a message this old has been refused or never reached a server.
BEHIND_AFTER = timedelta(minutes=10)


def behind(session: Session, now: datetime, grace: timedelta = BEHIND_AFTER) -> tuple[int, int]:
    """How many queued messages the sender has tried and failed to send (the SMTP
    server refused them or could not be reached) that were queued more than `grace`
    before `now`, and the age of the oldest in whole minutes (round 61, outage61).
    `overdue` cannot see them: each failed try moves a message's next attempt ahead
    by its backoff, so while the sender runs none is ever long overdue."""
    count, oldest = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.state == QUEUED,
            OutboxMessage.attempts > 0,
            OutboxMessage.created_at <= now - grace,
        )
    ).one()
    minutes = 0 if oldest is None else int((now - oldest).total_seconds() // 60)
    return int(count), minutes


def behind_words(count: int, minutes: int) -> str:
    """What `/readyz` and the Jobs page say of mail `behind` (no address, no error's
    words: `/readyz` is public)."""
    emails = "1 email is" if count == 1 else f"{count} emails are"
    return (
        f"{emails} waiting to be sent, the oldest queued {minutes} minutes ago: each try "
        "failed (the SMTP server refused or could not be reached); each is tried again "
        "with a growing wait and sent once, when the server takes it"
    )


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"There is no outbox message {message_id}.")
    return message
