"""Reading published rate cards."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, Select, event, func, select
from sqlalchemy.orm import Session, object_session

from licensing import errors
from licensing.pricing import RateCard, parse_rate_card
from licensing.pricing.ratecard import period_words
from licensing.ratecards.models import RateCardRecord


def by_version(session: Session, version: str) -> RateCardRecord | None:
    # A version is unique (the column's constraint).
    return session.scalars(
        select(RateCardRecord).where(RateCardRecord.version == version)
    ).one_or_none()


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


# The rate card list's order (`/console/rate-cards`): newest period first, then the
# version, then the id, so a page boundary never splits a tie differently.
LIST_ORDER = (
    RateCardRecord.effective_from.desc(),
    RateCardRecord.version.desc(),
    RateCardRecord.id.desc(),
)


def cards_query() -> Select[Any]:
    """Every published card in the list's order, for `paging.read_page`."""
    return select(RateCardRecord).order_by(*LIST_ORDER)


def replaced_on_page(session: Session, page: Sequence[Published]) -> dict[str, list[str]]:
    """`replaced_by` for the cards of one page of the list, reading only the cards
    that may replace them: a card's replacements start within its own period (on or
    after its first day, on or before its last), so those are the cards starting
    between the page's earliest first day and its latest last day, not every card
    ever published. Only the page's versions are in the answer."""
    if not page:
        return {}
    earliest = min(card.effective_from for card in page)
    latest = max(card.effective_to for card in page)
    nearby = list(
        session.execute(
            select(
                RateCardRecord.id,
                RateCardRecord.version,
                RateCardRecord.effective_from,
                RateCardRecord.effective_to,
                RateCardRecord.published_at,
                RateCardRecord.currency,
            )
            .where(RateCardRecord.effective_from.between(earliest, latest))
            .order_by(RateCardRecord.id)
        )
    )
    shown = {card.version for card in page}
    return {version: takers for version, takers in replaced_by(nearby).items() if version in shown}


class Published(Protocol):
    """A published card as `replaced_by` orders it: a row, or a catalogue's entry."""

    @property
    def id(self) -> int: ...
    @property
    def version(self) -> str: ...
    @property
    def effective_from(self) -> date: ...
    @property
    def effective_to(self) -> date: ...
    @property
    def published_at(self) -> datetime: ...
    @property
    def currency(self) -> str: ...


def replaced_by(cards: Sequence[Published]) -> dict[str, list[str]]:
    """The cards that take every day of a card's period from it (as `in_effect`
    chooses), by version: a card replaced so prices no quote that names no version.
    Cards only partly replaced are left out, and so are cards in another currency: a
    EUR card published beside a USD one for the same year is another price list, not
    its correction (round 61: the USD card and its agreements were said "corrected"
    by it)."""
    replaced: dict[str, list[str]] = {}
    for card in cards:
        rank = (card.effective_from, card.published_at, card.id)
        # Of the later cards starting on one day, the one `in_effect` prefers (published
        # last) first: it takes every day it covers, the others only the days after.
        # By start alone, such ties kept the order the cards were read in (none
        # stated), and a card in effect on no day could be named a replacement.
        later = sorted(
            (
                c
                for c in cards
                if (c.effective_from, c.published_at, c.id) > rank and c.currency == card.currency
            ),
            key=lambda c: (c.effective_from, -c.published_at.timestamp(), -c.id),
        )
        uncovered = card.effective_from  # the first day no later card has taken yet
        takers: list[str] = []
        covered = False
        for other in later:
            if other.effective_from > uncovered:
                break
            if other.effective_to >= uncovered:
                takers.append(other.version)
                # Covered to its last day: done, without stepping past it (cardwalk60:
                # the day after an open-ended card's 9999-12-31 overflowed, a 500 on the
                # list of cards and on a quote naming a corrected open-ended card).
                if other.effective_to >= card.effective_to:
                    covered = True
                    break
                uncovered = other.effective_to + timedelta(days=1)
        if covered:
            replaced[card.version] = takers
    return replaced


def in_effect(session: Session, on: date, currency: str | None = None) -> RateCardRecord | None:
    """The card whose period contains `on`.

    Where periods overlap, the card starting latest wins (a mid-year revision
    takes over from the annual card), and among cards starting the same day the
    one published last: publishing a corrected card under a new version is how
    staff replace one. With `currency`, among that currency's cards alone (round
    62: a caller that knows the currency it prices in, a renewal of a USD agreement,
    is never priced on a JPY card published later for the same days).
    """
    found = select(RateCardRecord).where(
        RateCardRecord.effective_from <= on, RateCardRecord.effective_to >= on
    )
    if currency is not None:
        found = found.where(RateCardRecord.currency == currency)
    return session.scalars(
        found.order_by(
            RateCardRecord.effective_from.desc(),
            RateCardRecord.published_at.desc(),
            RateCardRecord.id.desc(),
        ).limit(1)
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
#
# On a SQLite file, outside a transaction, even that query is skipped while
# nothing at all has been committed to the database since the catalogue was
# read: `_CommitCounter` tells, in microseconds, where the query costs a pooled
# connection, a transaction and a round trip (a sixth of a 1-use quote). A
# session inside a transaction (a unit of work, or a test's rolled-back one) may
# see rows not yet committed, so it always asks the table.


@dataclass(frozen=True)
class _Entry:
    """A published card and what orders cards of one period: its version and
    dates are the card's own (the row's columns are copied from it)."""

    id: int
    published_at: datetime
    card: RateCard

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def effective_from(self) -> date:
        return self.card.effective_from

    @property
    def currency(self) -> str:
        return self.card.currency

    @property
    def effective_to(self) -> date:
        return self.card.effective_to


@dataclass(frozen=True)
class CorrectedDays:
    """Days `first` to `last` of a term that card `version` now prices in place of the
    term's own card."""

    version: str
    first: date
    last: date


@dataclass(frozen=True)
class TermCorrection:
    """What later cards did to a term priced on an earlier one (`Catalogue.correction`):
    the cards now pricing some of its days (`takers`, in the order of the days), when
    the last of them was published, the days each prices (`parts`), whether that is
    every day of the term (`whole_term`), and whether they replace the term's card for
    every day of its period (`whole_card`: `replaced_by`, a correction for the same
    days)."""

    takers: tuple[str, ...]
    since: datetime
    parts: tuple[CorrectedDays, ...]
    whole_term: bool
    whole_card: bool


@dataclass(frozen=True)
class Catalogue:
    generation: tuple[Any, ...]
    entries: tuple[_Entry, ...]
    # `_CommitCounter.read()` just before the generation was read; None when the
    # catalogue was read inside a transaction or on another database.
    commits: tuple[int, int] | None = None
    # The card in effect by day, as found: every quote asks (a list, a max and a
    # lambda each time); the entries never change, so neither does an answer.
    _in_effect: dict[tuple[date, str | None], RateCard | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    # The cards in effect in other currencies, by day (`others_in_effect`).
    _others: dict[date, tuple[RateCard, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    # The cards replaced, by version (`replacement`), with "" once found.
    _replacements: dict[str, tuple[list[str], datetime] | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def by_version(self, version: str) -> RateCard | None:
        """The parsed card published as `version`."""
        for entry in self.entries:
            if entry.card.version == version:
                return entry.card
        return None

    def replacement(self, version: str) -> tuple[list[str], datetime] | None:
        """The cards that replace `version` for every day of its period
        (`replaced_by`) and when the last of them was published; None for a card
        in use (or none published). Every quote naming a card asks: found once."""
        replacements = self._replacements
        if not replacements:
            published = {entry.version: entry.published_at for entry in self.entries}
            replacements.update(
                (card, (takers, max(published[taker] for taker in takers)))
                for card, takers in replaced_by(self.entries).items()
            )
            replacements[""] = None  # found: even when no card is replaced
        return replacements.get(version) if version else None

    def in_effect(self, on: date, currency: str | None = None) -> RateCard | None:
        """The parsed card `in_effect` would return, without loading or parsing it;
        with `currency`, among that currency's cards alone."""
        known = self._in_effect
        key = (on, currency)
        if key in known:
            return known[key]
        found = self._find_in_effect(on, currency)
        if len(known) < 4096:  # days asked about: a client may ask any
            known[key] = found
        return found

    def _find_in_effect(self, on: date, currency: str | None = None) -> RateCard | None:
        """`in_effect`, worked out afresh (nothing remembered)."""
        entry = self._entry_in_effect(on, currency)
        return entry.card if entry is not None else None

    def others_in_effect(self, on: date) -> tuple[RateCard, ...]:
        """The cards in effect on `on` in the currencies other than that of the card in
        effect (the contract's rule, whatever its currency), one per currency (the card
        in effect in it), by currency: what a quote naming no card could have been
        priced on instead, by naming one (round 62). Empty where one currency's cards
        are in effect, as at most offices."""
        known = self._others
        if on in known:
            return known[on]
        chosen = self.in_effect(on)
        currencies = {e.currency for e in self.entries if e.effective_from <= on <= e.effective_to}
        found = tuple(
            card
            for currency in sorted(currencies)
            if chosen is not None
            and currency != chosen.currency
            and (card := self.in_effect(on, currency)) is not None
        )
        if len(known) < 4096:
            known[on] = found
        return found

    def in_effect_then(self, on: date, currency: str, at: datetime) -> RateCard | None:
        """The card `in_effect` in `currency` on `on` as it was at `at`: among the cards
        published by then (round 66: an agreement priced by hand before its card in effect
        was stored at issue). Nothing remembered: asked of a few agreements at most."""
        entry = self._entry_in_effect(on, currency, published_by=at)
        return entry.card if entry is not None else None

    def _entry_in_effect(
        self, on: date, currency: str | None = None, *, published_by: datetime | None = None
    ) -> _Entry | None:
        """The entry in effect on `on`; with `currency`, among that currency's cards alone;
        with `published_by`, among the cards published by then."""
        candidates = [
            e
            for e in self.entries
            if e.card.effective_from <= on <= e.card.effective_to
            and (currency is None or e.currency == currency)
            and (published_by is None or e.published_at <= published_by)
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda e: (e.card.effective_from, e.published_at, e.id))

    def spans(self, start: date, end: date, currency: str | None = None) -> list[CorrectedDays]:
        """The days from `start` to `end` cut where the card in effect changes: each
        part's card (as a quote naming no card prices a term from the part's first
        day; with `currency`, among that currency's cards), first and last day; empty
        when some day has no card."""
        found = self.spans_of(start, end, currency)
        return (
            found
            if sum((part.last - part.first).days + 1 for part in found) == (end - start).days + 1
            else []
        )

    def spans_of(self, start: date, end: date, currency: str | None = None) -> list[CorrectedDays]:
        """`spans`, leaving out the days no card prices rather than giving nothing."""
        return [
            CorrectedDays(entry.version, day, until)
            for entry, day, until in self._spans(start, end, currency)
            if entry is not None
        ]

    def _spans(
        self, first: date, last: date, currency: str | None = None
    ) -> list[tuple[_Entry | None, date, date]]:
        # Where the card in effect may change: each card's first day and the day after
        # its last, inside the days (an open-ended card's last day has no day after).
        # With `currency`, that currency's cards alone.
        cuts = {first}
        for entry in self.entries:
            if currency is not None and entry.currency != currency:
                continue
            if first < entry.effective_from <= last:
                cuts.add(entry.effective_from)
            if first <= entry.effective_to < last:
                cuts.add(entry.effective_to + timedelta(days=1))
        bounds = sorted(cuts)
        spans: list[tuple[_Entry | None, date, date]] = []
        for index, day in enumerate(bounds):
            until = bounds[index + 1] - timedelta(days=1) if index + 1 < len(bounds) else last
            taker = self._entry_in_effect(day, currency)
            if spans and spans[-1][0] is taker:
                spans[-1] = (taker, spans[-1][1], until)
            else:
                spans.append((taker, day, until))
        return spans

    def correction(self, version: str, start: date, end: date) -> TermCorrection | None:
        """Which days of a term from `start` to `end`, priced on the card published as
        `version`, later cards now price for quotes naming no card (as `in_effect`
        chooses), or None when none does (round 61, correction61: only a card replaced
        for every day of its period counted, so an agreement whose term lay in the part
        a correction covered was told nothing). A card published before `version` that
        keeps its own days (a later start) is no correction of it, nor is a card in
        another currency (currencywalk61: a JPY card published beside a USD one for the
        same days is another price list, as `replaced_by` says)."""
        own = next((entry for entry in self.entries if entry.version == version), None)
        if own is None:
            return None
        first, last = max(start, own.effective_from), min(end, own.effective_to)
        if first > last:
            return None
        rank = (own.published_at, own.id)
        parts: list[CorrectedDays] = []
        for entry, day, until in self._spans(first, last, own.currency):
            if entry is None or entry.id == own.id or (entry.published_at, entry.id) < rank:
                continue
            parts.append(CorrectedDays(entry.version, day, until))
        if not parts:
            return None
        takers = tuple(dict.fromkeys(part.version for part in parts))
        published = {entry.version: entry.published_at for entry in self.entries}
        return TermCorrection(
            takers=takers,
            since=max(published[taker] for taker in takers),
            parts=tuple(parts),
            whole_term=sum((part.last - part.first).days + 1 for part in parts)
            == (last - first).days + 1,
            whole_card=self.replacement(version) is not None,
        )


_CATALOGUES: dict[str, Catalogue] = {}


_GENERATION = select(
    func.count(RateCardRecord.id),
    func.max(RateCardRecord.id),
    func.max(RateCardRecord.published_at),
    # min and max digest make the key change when rolled-back rows are replaced
    # by different content under the same ids and timestamps.
    func.min(RateCardRecord.digest),
    func.max(RateCardRecord.digest),
)


class _CommitCounter:
    """Whether anything was committed to a SQLite database file, by any
    connection of any process, between two reads.

    `PRAGMA data_version` changes whenever another connection commits; read on a
    connection of this counter's own that never writes, every commit counts.
    The connection is reopened in a new process (after a fork) or when the file
    at the path is another file (replaced); each opening starts a new series,
    so readings of two connections never compare equal.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, int, int] | None = None
        self._openings = 0

    def read(self) -> tuple[int, int] | None:
        """A reading equal to an earlier one only if nothing was committed
        between them; None if the file cannot be read."""
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        identity = (os.getpid(), found.st_dev, found.st_ino)
        with self._lock:
            if self._connection is None or self._identity != identity:
                self._open(identity)
            assert self._connection is not None
            # fetchall: the statement runs to its end and holds no read snapshot.
            version = self._connection.execute("PRAGMA data_version").fetchall()[0][0]
            return self._openings, int(version)

    def _open(self, identity: tuple[int, int, int]) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._identity = identity
        self._openings += 1


_COUNTERS: dict[str, _CommitCounter] = {}
_KEYS: weakref.WeakKeyDictionary[Engine, tuple[str, str | None]] = weakref.WeakKeyDictionary()


def _database_key(engine: Engine) -> tuple[str, str | None]:
    """The catalogue's key (the database URL), and the SQLite file, if any."""
    known = _KEYS.get(engine)
    if known is None:
        url = engine.url
        path = url.database if url.get_backend_name() == "sqlite" and not url.query else None
        if path in {None, "", ":memory:"} or (path or "").startswith("file:"):
            path = None
        known = _KEYS[engine] = (url.render_as_string(hide_password=False), path)
    return known


def _commits(session: Session, path: str | None) -> tuple[int, int] | None:
    """The commit counter's reading, where it can stand in for the generation."""
    if path is None or session.in_transaction() or not isinstance(session.get_bind(), Engine):
        return None
    counter = _COUNTERS.get(path)
    if counter is None:
        counter = _COUNTERS.setdefault(path, _CommitCounter(path))
    return counter.read()


def _generation(session: Session) -> tuple[Any, ...]:
    # Core on the session's connection (same transaction): the ORM layer would
    # add a fifth of the check's time for a row of plain values.
    return tuple(session.connection().execute(_GENERATION).one())


# The catalogue a session's transaction found, kept in `session.info` under this key
# with that transaction (and the savepoint it was read in) as
# (transaction, savepoint, catalogue): asked again in the same transaction, it is the
# answer, with no statement. Round 67's sample read the generation four times in an
# agreement's page on the portal, 2.4 in an application's, 3.25 in a submission, each
# answering the same. A card stored in the transaction drops it
# (`_forget_on_write`), so the transaction's next read sees its own card at once; a
# card another process publishes is seen at the next transaction, as a transaction
# on SQLite saw it anyway (its snapshot is its first read's). One read in a savepoint
# holds inside it and in the savepoints it begins, not once it has ended, so a card
# stored in a savepoint rolled back is forgotten with it.
_IN_TRANSACTION = "licensing.ratecards.catalogue"


def _read_in_transaction(session: Session) -> Catalogue | None:
    """The catalogue this transaction of `session` found already, if any."""
    kept = session.info.get(_IN_TRANSACTION)
    if kept is None:
        return None
    transaction, savepoint, found = kept
    if transaction is None or transaction is not session.get_transaction():
        return None
    # Read in this savepoint or one it is inside (the transaction itself: None); a
    # savepoint ended since (released or rolled back) is no longer on the way up.
    current = session.get_nested_transaction()
    while current is not None and current is not savepoint:
        current = current.parent
    if current is not savepoint:
        return None
    assert isinstance(found, Catalogue)
    return found


def _keep_in_transaction(session: Session, found: Catalogue) -> None:
    transaction = session.get_transaction()
    if transaction is None:  # no transaction: the counter was the check
        session.info.pop(_IN_TRANSACTION, None)
        return
    session.info[_IN_TRANSACTION] = (transaction, session.get_nested_transaction(), found)


@event.listens_for(RateCardRecord, "after_insert")
@event.listens_for(RateCardRecord, "after_update")
@event.listens_for(RateCardRecord, "after_delete")
def _forget_on_write(_mapper: Any, _connection: Any, target: RateCardRecord) -> None:
    """A card written in a session's transaction (published, a correction): the
    transaction's next read asks the table again."""
    written_in = object_session(target)
    if written_in is not None:
        written_in.info.pop(_IN_TRANSACTION, None)


def _catalogue(session: Session) -> Catalogue:
    found = _read_in_transaction(session)
    if found is not None:
        return found
    found = _catalogue_read(session)
    _keep_in_transaction(session, found)
    return found


def _catalogue_read(session: Session) -> Catalogue:
    key, path = _database_key(session.get_bind().engine)
    commits = _commits(session, path)  # before the generation: a commit after it counts
    cached = _CATALOGUES.get(key)
    if cached is not None and commits is not None and cached.commits == commits:
        return cached
    generation = _generation(session)
    if cached is not None and cached.generation == generation:
        fresh = replace(cached, commits=commits)
    else:
        fresh = Catalogue(generation, _entries(session), commits)
    _CATALOGUES[key] = fresh
    return fresh


def _entries(session: Session) -> tuple[_Entry, ...]:
    return tuple(
        _Entry(stored.id, stored.published_at, domain_card(stored))
        for stored in session.scalars(select(RateCardRecord))
    )


def unchanged_catalogue(engine: Engine) -> Catalogue | None:
    """The catalogue read before from `engine`'s SQLite file, when its commit
    counter shows nothing committed since: no session and no query at all (a
    quote would otherwise open and close a session just to learn this). None
    when it cannot tell; read `catalogue(session)` then."""
    key, path = _database_key(engine)
    cached = _CATALOGUES.get(key)
    counter = _COUNTERS.get(path) if path is not None else None
    if cached is None or cached.commits is None or counter is None:
        return None
    return cached if counter.read() == cached.commits else None


def catalogue(session: Session) -> Catalogue:
    """The parsed published cards, as of `session`'s view of the database."""
    return _catalogue(session)


def card_by_version(session: Session, version: str) -> RateCard | None:
    """The parsed card published as `version`, without loading its document."""
    return _catalogue(session).by_version(version)


def rule_description(session: Session, version: str | None, rule_id: str | None) -> str:
    """A rule's `description` on the card published as `version`, stripped; empty when
    the card or rule is unknown or the rule has none (then the id names it). A
    published card never changes: the description read today is the one the card
    was priced with (round 37)."""
    if not version or not rule_id:
        return ""
    card = card_by_version(session, version)
    rule = next((r for r in card.rules if r.id == rule_id), None) if card else None
    return rule.description.strip() if rule is not None and rule.description else ""


def card_currency(
    session: Session, version: str | None, start: date | None, currency: str | None = None
) -> str | None:
    """The currency an application or estimate is priced in: the card it names, else
    `currency` where the caller knows it (a renewal's, round 62), else the card in
    effect on its first day; None where none is known yet."""
    if version:
        named = card_by_version(session, version)
        return named.currency if named else None
    if currency is not None:
        return currency
    found = card_in_effect(session, start) if start else None
    return found.currency if found else None


def card_in_effect(session: Session, on: date, currency: str | None = None) -> RateCard | None:
    """The parsed card `in_effect` would return, without loading or parsing it."""
    return _catalogue(session).in_effect(on, currency)


@dataclass(frozen=True)
class Takeover:
    """The days `first` to `last` of published card `version` that a new card would
    price for quotes naming no version; `whole`: every day of that card's period;
    `currency`: that card's (round 65: only a card in the new card's currency is
    replaced by it, one in another is published alongside)."""

    version: str
    first: date
    last: date
    whole: bool
    currency: str = ""


def taken_over(
    cards: list[RateCardRecord], start: date, end: date
) -> tuple[list[Takeover], list[str]]:
    """What a card for `start` to `end`, published now, would do to the published
    `cards` as `in_effect` chooses: the days it takes from each card starting on or
    before its first day (published last, it wins them), leaving out cards already
    wholly replaced; and the versions of the cards starting later inside its
    period, which keep their days (a card starting later wins)."""
    replaced = replaced_by(cards)
    taken: list[Takeover] = []
    keep: list[str] = []
    for card in sorted(cards, key=lambda c: (c.effective_from, c.version)):
        if card.effective_to < start or card.effective_from > end:
            continue
        if card.effective_from > start:
            keep.append(card.version)
        elif card.version not in replaced:
            taken.append(
                Takeover(
                    card.version,
                    max(card.effective_from, start),
                    min(card.effective_to, end),
                    whole=card.effective_from == start and card.effective_to <= end,
                    currency=card.currency,
                )
            )
    return taken, keep


def compared_with(session: Session, start: date) -> RateCardRecord | None:
    """The published card a new card starting on `start` is best compared with: the
    one in effect that day, else the last one ending before it (last year's)."""
    return (
        in_effect(session, start)
        or session.scalars(
            select(RateCardRecord)
            .where(RateCardRecord.effective_to < start)
            .order_by(
                RateCardRecord.effective_to.desc(),
                RateCardRecord.published_at.desc(),
                RateCardRecord.id.desc(),
            )
            .limit(1)
        ).first()
    )


def choice_labels(cards: list[RateCardRecord]) -> dict[str, str]:
    """Each card as a form's choice names it: "2027.1: 2027-01-01 to 2027-12-31",
    and "(replaced by 2027.2)" for a card a later one replaces for every day (a
    correction), so nobody picks the card with the mistake unawares."""
    replaced = replaced_by(cards)
    return {
        card.version: f"{card.version}: {period_words(card.effective_from, card.effective_to)}"
        + (
            f" (replaced by {' and '.join(replaced[card.version])})"
            if card.version in replaced
            else ""
        )
        for card in cards
    }
