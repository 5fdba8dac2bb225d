"""What a rate card, checked before publishing, would do to current licensees'
prices: read-only, stores nothing.

Two kinds of record would be priced on it once it is published:
- an undecided application (submitted, returned, in review or escalated) that
  names no card and whose term starts in its period: returned and resubmitted,
  it is priced again on the card in effect (`review`); never a closed
  organization's, which no one may approve (round 48); and
- an active or expired agreement, not yet renewed, whose renewal drawn on the day
  of the check would start in its period: a renewal names no card (`renewal`); once
  the card is in effect, that includes an agreement that ended before it began,
  renewed late from the day it is drawn (round 45).

Both only in the card's currency (round 62): an application already priced, and a
renewal, are priced again in their own currency, on the card in effect in it.

Each is priced on the new card, an application with the uses of its latest
quote over its own term, an agreement with the uses its renewal would be drawn
with (`renewal.renewed_uses_of`: its licensed uses, with the quantities last
reported where there are any) over the renewal's term, from the day after the
agreement's end (or the day of the check, when that has passed) for a year, never
past the new card's last day
(`ratecard.proposed_term`, as the renewal is drawn); against what it is priced at now
(the latest quote's total; the agreement's own total).

Round 67 (staff67): a renewal's change mixed two things, the card's and the usage's (the
quantities last reported in place of those applied for, over the renewal's term): a
correction raising 100 units by 0.50 showed +20,702.00. Each record is also priced, with
the same uses and term, on the card in effect now on its first day in its currency
(`in_effect_card`, what it would be priced on were the checked card not published):
`card_change` (the checked card against it) is the card's effect alone, `usage_change`
(it against the price now) the reported usage's and the term's; `usage` says what was
reported, so the figures can be checked by hand.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from itertools import chain

from sqlalchemy import ColumnElement, Select, and_, false, func, select
from sqlalchemy.orm import Session, joinedload

from licensing import calendar
from licensing.accounts.models import Organization
from licensing.accounts.states import SUSPENDED
from licensing.agreements import hand_priced
from licensing.agreements.models import Agreement, Application, QuoteVersion
from licensing.agreements.queries import organization_renews
from licensing.agreements.services.renewal import RenewedUses, renewal_request, renewed_uses_of
from licensing.agreements.states import (
    ACTIVE,
    ESCALATED,
    EXPIRED,
    IN_REVIEW,
    RETURNED,
    SUBMITTED,
    UNDECIDED,
)
from licensing.db import utcnow
from licensing.money import format_quantity
from licensing.pricing import Quote, QuoteInputError, QuoteRequest, RateCard, price
from licensing.ratecards import queries as ratecard_queries

# Undecided applications with a quote: drafts have none yet.
_REPRICED = (SUBMITTED, RETURNED, IN_REVIEW, ESCALATED)
# How many records and organizations the check lists, largest changes first (the
# totals count every one).
LISTED = 20
# How many records are read and priced at a time: the statements grow by one
# batch's few per BATCH records, and memory holds one batch.
BATCH = 200


@dataclass(frozen=True)
class Repriced:
    """One record priced on the card it is priced on now (`card`, `now`) and on
    the new card (`then`; None with `why` when the new card cannot price it all)."""

    kind: str  # "application" or "renewal"
    reference: str
    organization: str  # its legal name, as the check shows it
    organization_id: int
    # The card that priced it (round 68: by the one rule, `hand_priced.priced_by_card`;
    # None where licensing staff priced it, or will, by hand).
    card: str | None
    now: Decimal
    then: Decimal | None
    why: str | None = None
    # Whether the new card sends it to licensing staff's review (a use whose rule
    # says `review: staff`), round 42: a rule that now needs review showed no sign
    # of the renewals it would hold.
    staff_review: bool = False
    # Whether its organization is suspended (round 47): counted, since licensing staff
    # may reinstate it, but it draws nothing until then (`queries.organization_renews`).
    licensee_suspended: bool = False
    # Round 67: the card in effect now on its first day in its currency and the same
    # request priced on it (None: none in effect, or it cannot price it all), and the
    # usage a renewal is priced with, in words ("use 1: 2,000 units, reported in ...").
    in_effect_card: str | None = None
    in_effect: Decimal | None = None
    usage: tuple[str, ...] = ()

    @property
    def change(self) -> Decimal | None:
        return None if self.then is None else self.then - self.now

    @property
    def card_change(self) -> Decimal | None:
        """The checked card's own effect: on it against on the card in effect now."""
        if self.then is None or self.in_effect is None:
            return None
        return self.then - self.in_effect

    @property
    def usage_change(self) -> Decimal | None:
        """The rest: the uses and term it would be priced with (a renewal's reported
        usage) on the card in effect now, against its price now."""
        return None if self.in_effect is None else self.in_effect - self.now


@dataclass(frozen=True)
class OrganizationEffect:
    organization: str
    organization_id: int
    records: int
    now: Decimal
    then: Decimal
    # Whether the organization is suspended (round 48: the totals per organization did
    # not say which of them may not take the price until reinstated).
    suspended: bool = False

    @property
    def change(self) -> Decimal:
        return self.then - self.now


@dataclass(frozen=True)
class Share:
    """The part of the check's totals that is suspended organizations' (round 48):
    their priced records, and what those are priced at now and on the card. Part of
    the totals, not beside them: a suspension is undone by reinstating."""

    records: int = 0
    now: Decimal = Decimal(0)
    then: Decimal = Decimal(0)

    @property
    def change(self) -> Decimal:
        return self.then - self.now

    def plus(self, record: Repriced) -> Share:
        return Share(
            self.records + 1, self.now + record.now, self.then + (record.then or Decimal(0))
        )


@dataclass(frozen=True)
class CardEffect:
    """The effect on current licensees: every record counted in `count`, the
    priced ones' totals and per organization, at most `LISTED` of each listed,
    largest changes first; records the new card cannot price all of last."""

    currency: str
    count: int
    now: Decimal
    then: Decimal
    records: list[Repriced]
    organizations: list[OrganizationEffect]
    organization_count: int
    unpriced: int
    # The suspended organizations' share of the totals (round 48).
    suspended: Share = Share()
    # Round 67: of the priced records, those priced on the card in effect now too, the
    # change split into the card's and the usage's (their sum is those records' change);
    # the rest (no card in effect on their first day now) in `uncompared`.
    card_change: Decimal = Decimal(0)
    usage_change: Decimal = Decimal(0)
    uncompared: int = 0

    @property
    def change(self) -> Decimal:
        return self.then - self.now

    @property
    def uncompared_change(self) -> Decimal:
        """The change of the priced records with no card in effect now to compare."""
        return self.change - self.card_change - self.usage_change


def effect(session: Session, card: RateCard, *, today: date | None = None) -> CardEffect:
    """What publishing `card` would do to the prices of current licensees: every
    record priced, in a fixed number of statements per `BATCH` of records, keeping
    only the running figures and the records listed. A renewal is priced over the
    term it would be drawn for `today` (the office's day; never from a day gone by,
    round 44)."""
    today = today if today is not None else calendar.office_date(utcnow())
    tally = _Tally()
    cards = ratecard_queries.catalogue(session)
    for batch in chain(_applications(session, card, cards), _renewals(session, card, today, cards)):
        tally.add([_in_effect(cards, card, record, request) for record, request in batch])
    return tally.effect(card.currency)


def _in_effect(
    cards: ratecard_queries.Catalogue,
    card: RateCard,
    record: Repriced,
    request: QuoteRequest | None,
) -> Repriced:
    """`record` priced on the card in effect now on its first day in the checked card's
    currency (never the checked card itself), with the same request (round 67)."""
    if record.then is None or request is None:
        return record
    current = cards.in_effect(request.term.start, card.currency)
    if current is None or current.version == card.version:
        return record
    try:
        quote = price(current, request, breakdowns=False)
    except QuoteInputError:
        return replace(record, in_effect_card=current.version)
    total = quote.total if quote.fully_priced else None
    return replace(record, in_effect_card=current.version, in_effect=total)


class _Tally:
    """The running totals, per-organization sums and the `LISTED` largest changes:
    all the check keeps, however many records it prices."""

    def __init__(self) -> None:
        self.count = 0
        self.unpriced = 0
        self.now = Decimal(0)
        self.then = Decimal(0)
        # By the organization itself: two organizations may share a legal name.
        self.organizations: dict[int, OrganizationEffect] = {}
        self.listed: list[Repriced] = []
        self.suspended = Share()
        self.card_change = Decimal(0)
        self.usage_change = Decimal(0)
        self.uncompared = 0

    def add(self, records: list[Repriced]) -> None:
        for record in records:
            self.count += 1
            if record.then is None:
                self.unpriced += 1
                continue
            self.now += record.now
            self.then += record.then
            if record.card_change is not None and record.usage_change is not None:
                self.card_change += record.card_change
                self.usage_change += record.usage_change
            else:
                self.uncompared += 1
            if record.licensee_suspended:
                self.suspended = self.suspended.plus(record)
            self._organization(record)
        # A bounded heap: at most LISTED plus one batch are held at once.
        self.listed = heapq.nsmallest(LISTED, [*self.listed, *records], key=_largest_first)

    def _organization(self, record: Repriced) -> None:
        then = record.then or Decimal(0)
        found = self.organizations.get(record.organization_id)
        self.organizations[record.organization_id] = (
            OrganizationEffect(
                record.organization,
                record.organization_id,
                1,
                record.now,
                then,
                suspended=record.licensee_suspended,
            )
            if found is None
            else replace(
                found, records=found.records + 1, now=found.now + record.now, then=found.then + then
            )
        )

    def effect(self, currency: str) -> CardEffect:
        organizations = heapq.nsmallest(
            LISTED,
            self.organizations.values(),
            key=lambda o: (-abs(o.change), o.organization, o.organization_id),
        )
        return CardEffect(
            currency=currency,
            count=self.count,
            now=self.now,
            then=self.then,
            records=self.listed,
            organizations=organizations,
            organization_count=len(self.organizations),
            unpriced=self.unpriced,
            suspended=self.suspended,
            card_change=self.card_change,
            usage_change=self.usage_change,
            uncompared=self.uncompared,
        )


def _largest_first(record: Repriced) -> tuple[bool, Decimal, str]:
    """Largest changes first; records the new card cannot price all of last."""
    change = record.change
    return (change is None, -abs(change or Decimal(0)), record.reference)


def _applications(
    session: Session, card: RateCard, cards: ratecard_queries.Catalogue
) -> Iterator[list[tuple[Repriced, QuoteRequest | None]]]:
    """Undecided applications whose latest quote starts in the card's period, in
    batches: only the latest quote of each is read."""
    found = session.execute(
        latest_quotes(card)
        .options(joinedload(Application.organization))
        .execution_options(yield_per=BATCH)
    )
    for rows in found.partitions():
        yield [
            repriced
            for application, latest_quote in rows
            if (repriced := _application(card, application, latest_quote, cards)) is not None
        ]


def latest_quotes(card: RateCard) -> Select[Application, QuoteVersion]:
    """(application, its latest quote) of the undecided applications naming no card
    whose latest quote starts in `card`'s period, by application id; never a closed
    organization's (round 48: `queries.organization_renews`).

    The latest version is found among the quote versions of those applications only
    (the subquery joins them), not grouped over every application's versions: the
    decided ones, most of them in time, are not read, so the work follows the
    records the check prices."""
    undecided = (Application.state.in_(_REPRICED), Application.rate_card.is_(None))
    latest = (
        select(QuoteVersion.application_id, func.max(QuoteVersion.version).label("version"))
        .join(Application, Application.id == QuoteVersion.application_id)
        .where(*undecided)
        .group_by(QuoteVersion.application_id)
        .subquery()
    )
    return (
        select(Application, QuoteVersion)
        .join(latest, latest.c.application_id == Application.id)
        .join(
            QuoteVersion,
            (QuoteVersion.application_id == Application.id)
            & (QuoteVersion.version == latest.c.version),
        )
        .where(
            *undecided,
            QuoteVersion.term_start.between(card.effective_from, card.effective_to),
            # Round 62: an application priced in another currency is priced again in
            # its own (`queries.asked_currency`), never on this card.
            QuoteVersion.currency == card.currency,
            # Round 48: not a closed organization's, which no one may approve (closing
            # withdraws them; one closed before round 48 may still wait); a suspended
            # one's is counted and marked, as its renewals are. The renewal lists' rule.
            organization_renews(Application),
        )
        .order_by(Application.id)
    )


def _application(
    card: RateCard,
    application: Application,
    latest: QuoteVersion,
    cards: ratecard_queries.Catalogue,
) -> tuple[Repriced, QuoteRequest] | None:
    request = Quote.from_snapshot(latest.snapshot).request
    if request is None:  # a quote kept without its request: priced by hand
        return None
    request = replace(request, rate_card=None)
    return _repriced(
        "application",
        application.reference,
        application.organization,
        (_priced_on(cards, latest.rate_card, latest.term_start), latest.currency, latest.total),
        card,
        request,
    ), request


def _renewals(
    session: Session, card: RateCard, today: date, cards: ratecard_queries.Catalogue
) -> Iterator[list[tuple[Repriced, QuoteRequest | None]]]:
    """Agreements whose renewal drawn `today` would start in the card's period
    (`renewal_candidates`), in batches, each batch's reported usage read at once."""
    found = session.scalars(
        renewal_candidates(card, today).options(*RENEWAL_LOADS).execution_options(yield_per=BATCH)
    )
    for agreements in found.partitions():
        # Priced as the renewal would be drawn and submitted: one source of its uses.
        renewed = renewed_uses_of(session, agreements)
        yield [
            _renewal(card, agreement, renewed[agreement.id], today, cards)
            for agreement in agreements
        ]


# What pricing a renewal candidate reads of it, loaded with it.
RENEWAL_LOADS = (
    joinedload(Agreement.quote),
    joinedload(Agreement.organization),
    joinedload(Agreement.application).selectinload(Application.uses),
)


def renewal_candidates(card: RateCard, today: date) -> Select[Agreement]:
    """Active or expired agreements, not renewed, whose renewal drawn `today` would
    start in `card`'s period, by id. A renewal starts the day after its agreement
    ends, or `today` when that has passed (round 44: drawn late, it starts the day it
    is drawn), so:
    - before the card's first day, the agreements ending from the day before it to
      the day before its last (their renewal starts the day after them, in it);
    - once the card is in effect, every agreement ending before its last day: one
      that ended before the card began is renewed today, on it (round 45: only those
      ending inside its period were counted, so the late renewals the card would
      price were not);
    - after its last day, none: a renewal drawn today starts after it.
    Never a closed organization's (round 47: `queries.organization_renews`)."""
    if today > card.effective_to:
        ends: ColumnElement[bool] = false()
    elif today >= card.effective_from:
        ends = Agreement.term_end < card.effective_to
    else:
        ends = and_(
            Agreement.term_end >= card.effective_from - timedelta(days=1),
            Agreement.term_end < card.effective_to,
        )
    # An agreement whose renewal is drawn already is counted as that application.
    renewing = select(Application.renewal_of_id).where(
        Application.renewal_of_id.is_not(None), Application.state.in_(UNDECIDED)
    )
    return (
        select(Agreement)
        .where(
            Agreement.state.in_((ACTIVE, EXPIRED)),
            Agreement.superseded_by_id.is_(None),
            ends,
            # Round 62: a renewal is priced in its agreement's currency, never on a card
            # in another (a JPY card prices no USD licensee's renewal).
            Agreement.currency == card.currency,
            Agreement.id.not_in(renewing),
            # Round 47: not a closed organization's, which renews nothing (a
            # suspended one's is counted: it may be reinstated); the rule of every
            # renewal list, `queries.organization_renews`.
            organization_renews(),
        )
        .order_by(Agreement.id)
    )


def _renewal(
    card: RateCard,
    agreement: Agreement,
    renewed: RenewedUses,
    today: date,
    cards: ratecard_queries.Catalogue,
) -> tuple[Repriced, QuoteRequest]:
    request = renewal_request(agreement, renewed, card, today)
    record = _repriced(
        "renewal",
        agreement.number,
        agreement.organization,
        (
            _priced_on(cards, agreement.rate_card, agreement.term_start),
            agreement.currency,
            agreement.total,
        ),
        card,
        request,
    )
    return replace(record, usage=_usage_words(renewed)), request


def _usage_words(renewed: RenewedUses) -> tuple[str, ...]:
    """What a renewal is priced with, use by use: each quantity last reported, beside
    what was applied for ("use 1, users: 1,100 reported in RR-000007 for 2027-01-01 to
    2027-03-31 (1,000 applied for)"), or that the use keeps what was applied for."""
    said = []
    for position, (index, use) in enumerate(renewed.uses, start=1):
        usage = renewed.usage.get(index)
        if usage is None or not usage.quantities:
            said.append(f"use {position}: as applied for (nothing reported)")
            continue
        applied = use.fields().get("quantity", {})
        for unit, value in sorted(usage.quantities.items()):
            before = applied.get(unit)
            was = f" ({format_quantity(before)} applied for)" if before is not None else ""
            said.append(
                f"use {position}, {unit.replace('_', ' ')}: {format_quantity(value)} reported "
                f"in {usage.report} for {usage.period_start} to {usage.period_end}{was}"
            )
    return tuple(said)


def _priced_on(cards: ratecard_queries.Catalogue, version: str, start: date) -> str | None:
    """Round 68: the card that priced a record naming `version` whose term starts
    `start`, by the one rule (`hand_priced.priced_by_card`): None where licensing staff
    price it by hand (a renewal's quote names the renewed agreement's card)."""
    return version if hand_priced.priced_by_card(cards.by_version(version), start) else None


def _repriced(
    kind: str,
    reference: str,
    organization: Organization,
    now: tuple[str | None, str, Decimal],
    card: RateCard,
    request: QuoteRequest,
) -> Repriced:
    version, currency, total = now
    record = Repriced(
        kind,
        reference,
        organization.legal_name,
        organization.id,
        version,
        total,
        None,
        licensee_suspended=organization.standing == SUSPENDED,
    )
    if currency != card.currency:
        return replace(record, why=f"priced in {currency} now, {card.currency} on the new card")
    try:
        quote = price(card, request, breakdowns=False)
    except QuoteInputError as refused:
        return replace(record, why=_first(refused.errors.values()))
    if not quote.fully_priced:
        return replace(record, why="a use no rule prices: licensing staff would price it")
    return replace(record, then=quote.total, staff_review=quote.requires_review)


def _first(messages: Iterable[list[str]]) -> str:
    for listed in messages:
        if listed:
            return listed[0]
    return "it cannot be priced"
