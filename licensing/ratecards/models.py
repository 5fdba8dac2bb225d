"""A published rate card: its canonical document, never changed once stored."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from licensing.db import Base, UTCDateTime, utcnow
from licensing.pricing.ratecard import TITLE_MAX, VERSION_MAX
from licensing.records import refuse_changes


class PublishedCardChanged(RuntimeError):
    """Raised when code tries to update or delete a published rate card."""


class RateCardRecord(Base):
    __tablename__ = "rate_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(VERSION_MAX), unique=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[date] = mapped_column(Date, index=True)
    effective_to: Mapped[date] = mapped_column(Date)
    # The canonical JSON document (sorted keys, decimals as strings): the card
    # itself, from which the pricing core rebuilds it; `digest` is its SHA-256.
    document: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(320))
    # The account that published it (round 58, agreements_0011), as an application's
    # decision keeps its taker's: pages name the person by it, so an address changed
    # or given to someone else since names who published. None before, and from the
    # command line (`cli`). No foreign key, as `audit_events.actor_user_id` has none.
    published_by_id: Mapped[int | None] = mapped_column(Integer)


refuse_changes(
    RateCardRecord, PublishedCardChanged, lambda card: f"rate card {card.version} is published"
)
