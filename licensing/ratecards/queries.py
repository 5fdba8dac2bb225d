"""Reading published rate cards."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
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


# Parsed cards by content digest (SHA-256 of the canonical document): a digest
# names one content for ever, so the entry never goes stale. Bounded in practice
# by the number of cards ever published.
_PARSED: dict[str, RateCard] = {}


def _parse(digest: str, document: str) -> RateCard:
    card = _PARSED.get(digest)
    if card is None:
        card = _PARSED[digest] = parse_rate_card(json.loads(document))
    return card


# --- the published cards, cached per database ------------------------------------
#
# The quote path asks for "the card in effect" on every request. Cards are
# append-only, so the set of published cards only changes when one is published;
# each process keeps the parsed cards with the generation of the table they were
# read at, and re-reads them when the generation it sees differs (a card
# published by another process, or a test's rolled-back card replaced by another
# under the same id). The generation is one aggregate query over a few rows.


@dataclass(frozen=True)
class _Entry:
    id: int
    version: str
    effective_from: date
    effective_to: date
    published_at: datetime
    card: RateCard


@dataclass(frozen=True)
class _Catalogue:
    generation: tuple[Any, ...]
    entries: tuple[_Entry, ...]


_CATALOGUES: dict[str, _Catalogue] = {}


_GENERATION = select(
    func.count(RateCardRecord.id),
    func.max(RateCardRecord.id),
    func.max(RateCardRecord.published_at),
    # min and max digest make the key change when rolled-back rows are replaced
    # by different content under the same ids and timestamps.
    func.min(RateCardRecord.digest),
    func.max(RateCardRecord.digest),
)


def _generation(session: Session) -> tuple[Any, ...]:
    # Core on the session's connection (same transaction): the ORM layer would
    # add a fifth of the check's time for a row of plain values.
    return tuple(session.connection().execute(_GENERATION).one())


def _catalogue(session: Session) -> _Catalogue:
    key = session.get_bind().engine.url.render_as_string(hide_password=False)
    generation = _generation(session)
    cached = _CATALOGUES.get(key)
    if cached is not None and cached.generation == generation:
        return cached
    entries = tuple(
        _Entry(
            id=stored.id,
            version=stored.version,
            effective_from=stored.effective_from,
            effective_to=stored.effective_to,
            published_at=stored.published_at,
            card=domain_card(stored),
        )
        for stored in session.scalars(select(RateCardRecord))
    )
    fresh = _Catalogue(generation, entries)
    _CATALOGUES[key] = fresh
    return fresh


def card_by_version(session: Session, version: str) -> RateCard | None:
    """The parsed card published as `version`, without loading its document."""
    for entry in _catalogue(session).entries:
        if entry.version == version:
            return entry.card
    return None


def card_in_effect(session: Session, on: date) -> RateCard | None:
    """The parsed card `in_effect` would return, without loading or parsing it."""
    candidates = [
        entry
        for entry in _catalogue(session).entries
        if entry.effective_from <= on <= entry.effective_to
    ]
    if not candidates:
        return None
    latest = max(candidates, key=lambda e: (e.effective_from, e.published_at, e.id))
    return latest.card
