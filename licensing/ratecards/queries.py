"""Reading published rate cards."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import errors
from licensing.pricing import RateCard, parse_rate_card
from licensing.ratecards.models import RateCardRecord


def by_version(session: Session, version: str) -> RateCardRecord | None:
    return session.scalars(select(RateCardRecord).where(RateCardRecord.version == version)).first()


def get(session: Session, version: str) -> RateCardRecord:
    found = by_version(session, version)
    if found is None:
        raise errors.NotFound(f"There is no published rate card {version!r}.")
    return found


def all_cards(session: Session) -> list[RateCardRecord]:
    """Newest period first."""
    return list(
        session.scalars(
            select(RateCardRecord).order_by(
                RateCardRecord.effective_from.desc(), RateCardRecord.version.desc()
            )
        )
    )


def in_effect(session: Session, on: date) -> RateCardRecord | None:
    """The card whose period contains `on`.

    Where periods overlap, the card starting latest wins (a mid-year revision
    takes over from the annual card), and among cards starting the same day the
    one published last: publishing a corrected card under a new version is how
    staff replace one.
    """
    return session.scalars(
        select(RateCardRecord)
        .where(RateCardRecord.effective_from <= on, RateCardRecord.effective_to >= on)
        .order_by(
            RateCardRecord.effective_from.desc(),
            RateCardRecord.published_at.desc(),
            RateCardRecord.id.desc(),
        )
        .limit(1)
    ).first()


def domain_card(stored: RateCardRecord) -> RateCard:
    """The pricing core's card; parsed once per content digest (cards never change)."""
    return _parse(stored.digest, stored.document)


@lru_cache(maxsize=64)
def _parse(_digest: str, document: str) -> RateCard:
    return parse_rate_card(json.loads(document))
