"""Reading the outbox (staff console and API)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.errors import NotFound
from licensing.mail.models import OutboxMessage


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
        pattern = f"%{recipient.strip().lower()}%"
        statement = statement.where(func.lower(OutboxMessage.recipients).like(pattern))
    newest_first = statement.order_by(OutboxMessage.id.desc())
    return db.one_page(session, newest_first, page=page, per_page=per_page)


def counts(session: Session) -> dict[str, int]:
    """How many messages are in each state."""
    rows = session.execute(
        select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state)
    )
    return {state: int(count) for state, count in rows}


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"There is no outbox message {message_id}.")
    return message
