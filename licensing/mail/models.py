"""The email outbox: messages written with the change that causes them."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from licensing.db import Base, UTCDateTime, utcnow

from .states import OUTBOX

SUBJECT_MAX = 255


class OutboxMessage(Base):
    """One email, rendered when queued, delivered later over SMTP.

    `next_attempt_at` is when it is next due: a sender claiming it moves it a
    few minutes ahead (so a crashed sender's claim lapses), a failed attempt
    moves it by the backoff.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(f"state IN ({', '.join(repr(s) for s in OUTBOX.states)})", name="state"),
        Index("ix_outbox_messages_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A JSON list of addresses.
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX))
    template: Mapped[str] = mapped_column(String(100))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        back_populates="message",
        order_by="OutboxAttachment.id",
        cascade="all, delete-orphan",
    )  # loaded only when the message is sent: lists of messages never read the files

    @property
    def to(self) -> list[str]:
        addresses: list[str] = json.loads(self.recipients)
        return addresses

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.state} {self.subject!r}>"


class OutboxAttachment(Base):
    """A file sent with a message (an invoice's PDF), stored as rendered when queued."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")
