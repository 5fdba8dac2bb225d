"""Audit events and the head of their hash chain."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from licensing.db import Base, UTCDateTime

# The hash a chain starts from: the `prev_hash` of the first event.
GENESIS_HASH = "0" * 64


class AuditEvent(Base):
    """One state change: who did what to which record, with the values before and after.

    Rows are only ever inserted. `hash` is the HMAC-SHA-256, under the audit
    key named by `key_id`, of a canonical JSON of every other field, including
    `prev_hash` (the hash of the event before), so editing, deleting or
    reordering a row breaks the chain, and without the key nobody can forge a
    new one. Rows written before the chain was keyed have no `key_id` and a
    plain SHA-256.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        # One action's events in seq order (round 59, accounts_0014): the accounts moved
        # out of or into an organization, newest first, read alone and never sorted (on
        # SQLite with statistics the index on the action alone lost to walking the whole
        # log by seq). It replaces that index, whose reads it serves.
        Index("ix_audit_events_action_seq", "action", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Who acted: a user's email, "anonymous" (a visitor), or "system" (CLI, jobs).
    actor: Mapped[str] = mapped_column(String(254), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(64))
    # Canonical JSON text, exactly as hashed.
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Which audit key signed the row (see `audit.keys`); None before keying.
    key_id: Mapped[str | None] = mapped_column(String(16))

    @property
    def before_data(self) -> Any:
        return None if self.before is None else json.loads(self.before)

    @property
    def after_data(self) -> Any:
        return None if self.after is None else json.loads(self.after)

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for each field that differs, for display."""
        before = self.before_data if isinstance(self.before_data, dict) else {}
        after = self.after_data if isinstance(self.after_data, dict) else {}
        return [
            (key, before.get(key), after.get(key))
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        ]


class AuditChainHead(Base):
    """The last event's sequence number and hash, in a single row (id 1).

    Appenders lock this row, so concurrent writers take turns and cannot fork
    the chain; and `verify` compares it with the last event, so deleting
    events from the end of the log is detected too.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
