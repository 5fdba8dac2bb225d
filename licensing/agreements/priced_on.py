"""What a published rate card has priced (round 54): read only, for the card's page,
the check's page and answer, and the API's lists (cardcheck54).

Cards are immutable, so a wrong card is corrected by a new version, and what the
wrong one priced keeps its prices: an undecided application keeps its submitted
quote when approved (returned and resubmitted, it is priced again on the card in
effect), and an agreement keeps its fees, and its royalty reports are priced with
its own card (the royalty contract: "the agreement's rate card version"), a period
filed after the card has ended or been replaced included. The card's owner reads
here which records those are, to decide what to do with each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing import references
from licensing.accounts.models import Organization
from licensing.agreements import states
from licensing.agreements.models import Agreement, Application, QuoteVersion
from licensing.ratecards.models import RateCardRecord

# Undecided applications with a quote (drafts have none): approving keeps its prices.
WAITING = (states.SUBMITTED, states.RETURNED, states.IN_REVIEW, states.ESCALATED)
# Agreements whose fees or royalties the card still prices: awaiting acceptance,
# in force, or ended with reports still to come (an expired term's last period is
# reported after it ends).
PRICING = (states.ISSUED, states.ACTIVE, states.EXPIRED)
# How many of each the page lists (the count says how many there are).
LISTED = 20


@dataclass(frozen=True)
class PricedRecord:
    id: int
    reference: str
    organization: str
    state: str
    total: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class PricedOn:
    """The undecided applications whose latest quote the card priced, and the
    agreements issued on it: each count, and at most `LISTED` of each, oldest first."""

    applications: list[PricedRecord]
    application_count: int
    agreements: list[PricedRecord]
    agreement_count: int


def priced_on(session: Session, version: str) -> PricedOn:
    """What the card's page and the check (page and API) say of `version`: each
    count and the first `LISTED` of each, from the statements the API pages through
    (`waiting_on`, `issued_on`), so both edges list the same records."""
    applications = waiting_on(version)
    agreements = issued_on(version)
    return PricedOn(
        applications_read(session, applications.limit(LISTED)),
        _count(session, applications),
        agreements_read(session, agreements.limit(LISTED)),
        _count(session, agreements),
    )


def issued_on(version: str) -> Select[int, str, str, str, Decimal | None, str]:
    """The agreements issued on `version` that it still prices (`PRICING`), oldest first."""
    return (
        select(
            Agreement.id,
            Agreement.number,
            Organization.legal_name,
            Agreement.state,
            Agreement.total,
            Agreement.currency,
        )
        .join(Organization, Organization.id == Agreement.organization_id)
        .where(
            Agreement.rate_card == version,
            Agreement.state.in_(PRICING),
            _priced_by(version, Agreement.term_start),
        )
        .order_by(Agreement.id)
    )


def _priced_by(
    version: str, start: ColumnElement[date] | InstrumentedAttribute[date]
) -> ColumnElement[bool]:
    """Round 68: `hand_priced.priced_by_card` in SQL: the card published as `version`
    holds the term's first day `start`. A renewal licensing staff priced by hand names
    the renewed agreement's card, whose period does not hold its term: that card priced
    nothing of it, so its page and the API do not list it as the card's."""
    return exists().where(
        RateCardRecord.version == version,
        RateCardRecord.effective_from <= start,
        RateCardRecord.effective_to >= start,
    )


# The agreements a correction tells (`services.reissue.card_corrected`'s `_TOLD`):
# awaiting acceptance, or accepted (in force, ended, or renewed since).
TOLD = (states.ISSUED, states.ACTIVE, states.EXPIRED, states.SUPERSEDED)


def told_on_publishing(session: Session, version: str, first: date, last: date) -> list[str]:
    """The numbers of the agreements on `version` whose licensees a correction taking
    its days from `first` to `last` would email that their card was corrected (round
    66: the check's page said so only once the card was published): those awaiting
    acceptance or accepted (`TOLD`) whose term has a day in them, oldest first. A
    licensee told of an earlier correction pricing their uses alike is told again
    without an email (`reissue._priced_alike`): counted here all the same."""
    return list(
        session.scalars(
            select(Agreement.number)
            .where(
                Agreement.rate_card == version,
                Agreement.state.in_(TOLD),
                Agreement.term_start <= last,
                Agreement.term_end >= first,
            )
            .order_by(Agreement.id)
        )
    )


def applications_read(
    session: Session, statement: Select[int, str, str, Decimal, str]
) -> list[PricedRecord]:
    """The records of `waiting_on` (or a page or part of it)."""
    return [_record(*row) for row in session.execute(statement)]


def agreements_read(
    session: Session, statement: Select[int, str, str, str, Decimal | None, str]
) -> list[PricedRecord]:
    """The records of `issued_on` (or a page or part of it)."""
    return [PricedRecord(*row) for row in session.execute(statement)]


def waiting_records(session: Session, version: str, ids: Sequence[int]) -> list[PricedRecord]:
    """The records of `waiting_on(version)` with these ids (a page of the API's list)."""
    return applications_read(session, waiting_on(version).where(Application.id.in_(ids)))


def issued_records(session: Session, version: str, ids: Sequence[int]) -> list[PricedRecord]:
    """The records of `issued_on(version)` with these ids (a page of the API's list)."""
    return agreements_read(session, issued_on(version).where(Agreement.id.in_(ids)))


def ids_of(statement: Select[*tuple[Any, ...]]) -> Select[int]:
    """`waiting_on` or `issued_on` reading only the records' ids, same joins, same
    filter, same order: what the API counts and pages (its rows are then read for the
    page's ids alone)."""
    return statement.with_only_columns(statement.selected_columns[0])


def waiting_on(version: str) -> Select[int, str, str, Decimal, str]:
    """The undecided applications whose latest quote is on `version` (a card
    replaced since may still have priced the one staff are about to approve)."""
    latest = (
        select(QuoteVersion.application_id, func.max(QuoteVersion.version).label("version"))
        .join(Application, Application.id == QuoteVersion.application_id)
        .where(Application.state.in_(WAITING))
        .group_by(QuoteVersion.application_id)
        .subquery()
    )
    return (
        select(
            Application.id,
            Organization.legal_name,
            Application.state,
            QuoteVersion.total,
            QuoteVersion.currency,
        )
        .join(latest, latest.c.application_id == Application.id)
        .join(
            QuoteVersion,
            (QuoteVersion.application_id == Application.id)
            & (QuoteVersion.version == latest.c.version),
        )
        .join(Organization, Organization.id == Application.organization_id)
        .where(
            Application.state.in_(WAITING),
            QuoteVersion.rate_card == version,
            _priced_by(version, QuoteVersion.term_start),
        )
        .order_by(Application.id)
    )


def _record(
    application_id: int, organization: str, state: str, total: Decimal, currency: str
) -> PricedRecord:
    reference = references.APPLICATION(application_id)
    return PricedRecord(application_id, reference, organization, state, total, currency)


def _count(session: Session, statement: Select[*tuple[Any, ...]]) -> int:
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return session.scalar(counted) or 0
