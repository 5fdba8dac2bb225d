"""What a rate card, checked before publishing, would do to current licensees'
prices: read-only, stores nothing.

Two kinds of record would be priced on it once it is published:
- an undecided application (submitted, returned, in review or escalated) that
  names no card and whose term starts in its period: returned and resubmitted,
  it is priced again on the card in effect (`review`); and
- an active or expired agreement, not yet renewed, whose renewal would start in
  its period: a renewal names no card (`renewal`).

Each is priced on the new card, an application with the uses of its latest
quote over its own term, an agreement with the uses its renewal would be drawn
with (`renewal.renewed_uses`: its licensed uses, with the quantities last
reported where there are any) over the renewal's term, the day after the
agreement's end to the new card's last day; against what it is priced at now
(the latest quote's total; the agreement's own total).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from licensing.accounts.models import Organization
from licensing.agreements.models import Agreement, Application
from licensing.agreements.services.renewal import renewed_uses
from licensing.agreements.services.submission import quote_request
from licensing.agreements.states import (
    ACTIVE,
    ESCALATED,
    EXPIRED,
    IN_REVIEW,
    RETURNED,
    SUBMITTED,
    UNDECIDED,
)
from licensing.pricing import Quote, QuoteInputError, QuoteRequest, RateCard, price

# Undecided applications with a quote: drafts have none yet.
_REPRICED = (SUBMITTED, RETURNED, IN_REVIEW, ESCALATED)
# How many records and organizations the check lists, largest changes first (the
# totals count every one).
LISTED = 20


@dataclass(frozen=True)
class Repriced:
    """One record priced on the card it is priced on now (`card`, `now`) and on
    the new card (`then`; None with `why` when the new card cannot price it all)."""

    kind: str  # "application" or "renewal"
    reference: str
    organization: str  # its legal name, as the check shows it
    organization_id: int
    card: str
    now: Decimal
    then: Decimal | None
    why: str | None = None

    @property
    def change(self) -> Decimal | None:
        return None if self.then is None else self.then - self.now


@dataclass(frozen=True)
class OrganizationEffect:
    organization: str
    organization_id: int
    records: int
    now: Decimal
    then: Decimal

    @property
    def change(self) -> Decimal:
        return self.then - self.now


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

    @property
    def change(self) -> Decimal:
        return self.then - self.now


def effect(session: Session, card: RateCard) -> CardEffect:
    """What publishing `card` would do to the prices of current licensees."""
    found = [
        *_applications(session, card),
        *_renewals(session, card),
    ]
    priced = [record for record in found if record.then is not None]
    # By the organization itself: two organizations may share a legal name.
    by_organization: dict[int, list[Repriced]] = defaultdict(list)
    for record in priced:
        by_organization[record.organization_id].append(record)
    organizations = sorted(
        (
            OrganizationEffect(
                records[0].organization,
                organization_id,
                len(records),
                sum((r.now for r in records), Decimal(0)),
                sum((r.then or Decimal(0) for r in records), Decimal(0)),
            )
            for organization_id, records in by_organization.items()
        ),
        key=lambda o: (-abs(o.change), o.organization, o.organization_id),
    )
    listed = sorted(
        found,
        key=lambda r: (r.change is None, -abs(r.change or Decimal(0)), r.reference),
    )
    return CardEffect(
        currency=card.currency,
        count=len(found),
        now=sum((r.now for r in priced), Decimal(0)),
        then=sum((r.then or Decimal(0) for r in priced), Decimal(0)),
        records=listed[:LISTED],
        organizations=organizations[:LISTED],
        organization_count=len(organizations),
        unpriced=len(found) - len(priced),
    )


def _in_period(card: RateCard, day: date | None) -> bool:
    return day is not None and card.effective_from <= day <= card.effective_to


def _applications(session: Session, card: RateCard) -> Iterator[Repriced]:
    found = session.scalars(
        select(Application)
        .where(Application.state.in_(_REPRICED), Application.rate_card.is_(None))
        .options(selectinload(Application.quotes), selectinload(Application.organization))
    )
    for application in found:
        if not application.quotes:
            continue
        latest = application.quotes[-1]
        if not _in_period(card, latest.term_start):
            continue
        request = Quote.from_snapshot(latest.snapshot).request
        if request is None:  # a quote kept without its request: priced by hand
            continue
        yield _repriced(
            "application",
            application.reference,
            application.organization,
            (latest.rate_card, latest.currency, latest.total),
            card,
            replace(request, rate_card=None),
        )


def _renewals(session: Session, card: RateCard) -> Iterator[Repriced]:
    found = session.scalars(
        select(Agreement)
        .where(
            Agreement.state.in_((ACTIVE, EXPIRED)),
            Agreement.superseded_by_id.is_(None),
            Agreement.term_end >= card.effective_from - timedelta(days=1),
            Agreement.term_end < card.effective_to,
        )
        .options(
            selectinload(Agreement.quote),
            selectinload(Agreement.organization),
            selectinload(Agreement.application).selectinload(Application.uses),
        )
    )
    # An agreement whose renewal is drawn already is counted as that application.
    renewing = set(
        session.scalars(
            select(Application.renewal_of_id).where(
                Application.renewal_of_id.is_not(None), Application.state.in_(UNDECIDED)
            )
        )
    )
    for agreement in found:
        if agreement.id in renewing:
            continue
        # Priced as the renewal would be drawn and submitted: one source of its uses.
        request = quote_request(
            agreement.organization.organization_type,
            (agreement.term_end + timedelta(days=1), card.effective_to),
            None,
            renewed_uses(session, agreement).fields(),
        )
        yield _repriced(
            "renewal",
            agreement.number,
            agreement.organization,
            (agreement.rate_card, agreement.currency, agreement.total),
            card,
            request,
        )


def _repriced(
    kind: str,
    reference: str,
    organization: Organization,
    now: tuple[str, str, Decimal],
    card: RateCard,
    request: QuoteRequest,
) -> Repriced:
    version, currency, total = now
    record = Repriced(
        kind, reference, organization.legal_name, organization.id, version, total, None
    )
    if currency != card.currency:
        return replace(record, why=f"priced in {currency} now, {card.currency} on the new card")
    try:
        quote = price(card, request, breakdowns=False)
    except QuoteInputError as refused:
        return replace(record, why=_first(refused.errors.values()))
    if not quote.fully_priced:
        return replace(record, why="a use no rule prices: licensing staff would price it")
    return replace(record, then=quote.total)


def _first(messages: Iterable[list[str]]) -> str:
    for listed in messages:
        if listed:
            return listed[0]
    return "it cannot be priced"
