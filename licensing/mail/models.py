"""The email outbox: messages written with the change that causes them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship

from licensing.db import Base, UTCDateTime, utcnow

from .states import OUTBOX

SUBJECT_MAX = 255
FILENAME_MAX = 200
KIND_MAX = 30

# A kept document's bytes by its id, as the package that keeps it reads them (None:
# no such row). Registered by that package (`register_kept_source`): the outbox
# imports none of them (round 48).
KeptReader = Callable[[Session, int], bytes | None]
_KEPT_SOURCES: dict[str, KeptReader] = {}


def register_kept_source(kind: str, read: KeptReader) -> None:
    """Say how to read a kept document of `kind` ("kept_pdf", "permission_letter")
    that an attachment names instead of holding its bytes."""
    if len(kind) > KIND_MAX:
        raise ValueError(f"a kept source's kind is at most {KIND_MAX} characters: {kind!r}")
    _KEPT_SOURCES[kind] = read


def kept_source(kind: str) -> KeptReader:
    try:
        return _KEPT_SOURCES[kind]
    except KeyError:
        raise LookupError(f"no kept source {kind!r} is registered with the outbox") from None


class KeptBytesUnavailable(Exception):
    """An attachment's kept document is gone (or was never stored, or its kind has no
    reader), or its bytes are not those queued: the message is not sent, and fails at
    once with this as its error (round 54; it was retried for two hours first)."""


class OutboxMessage(Base):
    """One email, rendered when queued, delivered later over SMTP.

    A message that carries a secret (a one-time link) keeps it only in
    `body_text`/`body_html`, the bodies delivered; staff see `display_text`,
    where every secret is masked. Once sent, the delivered bodies are replaced
    by the masked ones, so the secret leaves the database.

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
    # The bodies with each secret masked; None when the message carries none.
    masked_text: Mapped[str | None] = mapped_column(Text)
    masked_html: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        order_by="OutboxAttachment.id", cascade="all, delete-orphan"
    )

    @property
    def display_text(self) -> str:
        """The text staff may read: never a live secret."""
        return self.masked_text if self.masked_text is not None else self.body_text

    @property
    def to(self) -> list[str]:
        addresses: list[str] = json.loads(self.recipients)
        return addresses

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.state} {self.subject!r}>"


class OutboxAttachment(Base):
    """A file sent with an outbox message (a report's PDF), so the message can be
    retried exactly as queued: its bytes stored here (`stored`), or, since round 48
    (`finance_0002`), a kept document named instead (`kept_kind`, `kept_id`: an issued
    invoice's kept PDF, a decision letter), insert-only where it is kept, read when
    the message is sent and checked against the SHA-256 and size taken when queued."""

    __tablename__ = "outbox_attachments"
    __table_args__ = (
        CheckConstraint(
            "(content IS NOT NULL AND kept_kind IS NULL AND kept_id IS NULL) OR "
            "(content IS NULL AND kept_kind IS NOT NULL AND kept_id IS NOT NULL "
            "AND sha256 IS NOT NULL)",
            name="bytes_or_kept",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX))
    content_type: Mapped[str] = mapped_column(String(100))
    # The bytes, when the outbox holds its own copy (None for a kept document's):
    # read by `content` alone, never with the row, so the outbox's pages, which list
    # attachments by name and size, load no report's PDF (round 51; reading it on a
    # row loaded without it raises).
    stored: Mapped[bytes | None] = mapped_column(
        "content", LargeBinary, deferred=True, deferred_raiseload=True
    )
    kept_kind: Mapped[str | None] = mapped_column(String(KIND_MAX))
    kept_id: Mapped[int | None] = mapped_column(Integer)
    # Of the kept document's bytes as queued (a stored copy's need no check).
    sha256: Mapped[str | None] = mapped_column(String(64))
    # In bytes, so the outbox's pages need not read a kept document to say it.
    size: Mapped[int] = mapped_column(Integer)

    @property
    def content(self) -> bytes:
        """The bytes sent: the stored copy, or the kept document's, read now and
        checked (`KeptBytesUnavailable` when they are gone or not those queued)."""
        # Queued in this session with its own copy: the bytes are at hand.
        queued: bytes | None = self.__dict__.get("stored")
        if queued is not None:
            return queued
        session = object_session(self)
        if session is None:
            raise KeptBytesUnavailable(f"attachment {self.filename} is read outside a session")
        if self.kept_kind is None:  # its own copy (`bytes_or_kept`), read now, alone
            session.refresh(self, ["stored"])
            assert self.stored is not None  # `bytes_or_kept`: a copy where nothing is named
            return self.stored
        assert self.kept_id is not None
        try:
            read = kept_source(self.kept_kind)
        except LookupError as error:  # not this message's sender's to crash on
            raise KeptBytesUnavailable(f"attachment {self.filename}: {error}") from None
        content = read(session, self.kept_id)
        if content is None:
            raise KeptBytesUnavailable(
                f"attachment {self.filename}: {self.kept_kind} {self.kept_id} is not kept"
            )
        if len(content) != self.size or hashlib.sha256(content).hexdigest() != self.sha256:
            raise KeptBytesUnavailable(
                f"attachment {self.filename}: the bytes of {self.kept_kind} {self.kept_id} "
                "are not those queued (their SHA-256 differs)"
            )
        return content
