"""Renewal: a new draft prefilled from an active or expired agreement, for the next
rate card year, with the quantities the licensee last reported in place of its old
estimates (`agreements.reported_usage`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.accounts.services.standing import NamedStanding, standing_block_reason
from licensing.actors import Actor
from licensing.agreements import issuing, queries, reported_usage
from licensing.agreements.commands import ProposedUseInput
from licensing.agreements.models import (
    Agreement,
    Application,
    ApplicationUse,
)
from licensing.agreements.services._common import (
    _called,
    _new_draft,
    _now,
    _owned,
    _require_vendor,
)
from licensing.agreements.services.submission import quote_request
from licensing.agreements.states import ACTIVE, EXPIRED
from licensing.errors import Conflict
from licensing.pricing import Quote, QuoteInputError, QuoteRequest, RateCard, price
from licensing.pricing.describe import (
    AmountText,
    ProrationWarning,
    runs_long,
    term_proration_warnings,
)
from licensing.pricing.ratecard import proposed_term
from licensing.ratecards import queries as ratecard_queries

# Agreements a vendor may renew: in force, or ended by its term (not terminated).
RENEWABLE = (ACTIVE, EXPIRED)


@dataclass(frozen=True)
class RenewalOpens:
    """The day a renewal of an active agreement may first be drawn (`on`, `days`
    before its term ends on `term_end`), while that day is still ahead, and the
    renewal's first day (`starts`)."""

    on: date
    days: int
    term_end: date
    starts: date

    def refusal(self, agreement: Agreement) -> str:
        """What drawing it earlier is refused with (the API's 409)."""
        return (
            f"{_called(agreement)} can be renewed from {self.on}, {self.days} days before "
            f"its term ends on {self.term_end}."
        )


def window_opens(agreement: Agreement) -> date:
    """The first day of the agreement's renewal window: `RENEWAL_WINDOW_DAYS` before
    its term ends."""
    return agreement.term_end - timedelta(days=queries.RENEWAL_WINDOW_DAYS)


def renewal_opens(agreement: Agreement, today: date) -> RenewalOpens | None:
    """When a renewal of `agreement` may first be drawn, if not yet on `today` (the
    office's day): an active agreement from `RENEWAL_WINDOW_DAYS` before its term
    ends, when the office lists it among the renewals due and the vendor's dashboard
    asks for it; an expired one at once. The one rule for the page's *Renew* (round
    52) and the service, so the API's too (round 53: the API drew a renewal on any
    day, a year early, while the page offered it from the window)."""
    if agreement.state != ACTIVE:
        return None
    opens = window_opens(agreement)
    if today >= opens:
        return None
    return RenewalOpens(
        opens,
        queries.RENEWAL_WINDOW_DAYS,
        agreement.term_end,
        agreement.term_end + timedelta(days=1),
    )


def renewal_refusal(
    agreement: Agreement, renewing_id: int | None, organization: NamedStanding, today: date
) -> str | None:
    """Why a renewal of `agreement` cannot be drawn on `today` (the office's day), or
    None when it can: the agreement is neither active nor expired, application
    `renewing_id` renews it already, its organization is not in good standing (as for
    any application), or its renewal window is still ahead (`renewal_opens`).
    `start_renewal` refuses with it; the API's `renewal.available` reads it."""
    if agreement.state not in RENEWABLE:
        state = agreement.state.replace("_", " ")
        return f"{_called(agreement)} is {state}; only active or expired agreements are renewed."
    if renewing_id is not None:
        return f"{Application.REFERENCE(renewing_id)} already renews agreement {agreement.number}."
    if (blocked := standing_block_reason(organization)) is not None:
        return blocked
    opens = renewal_opens(agreement, today)
    return opens.refusal(agreement) if opens is not None else None


def renewal_starts(agreement: Agreement, today: date) -> date:
    """The first day of a renewal of `agreement` drawn on `today` (the office's day):
    the day after its term, or `today` once that has passed (an expired agreement
    renewed late: round 44). The days between its term's end and `today` are then
    licensed by neither. The one rule for the draw, the API's `renewal.term_start`,
    the Renewal panel and the dashboard (round 59: the API said the day after the
    term to an agreement expired weeks before, whose renewal started that day)."""
    return max(agreement.term_end + timedelta(days=1), today)


def renewal_card(agreement: Agreement, when: str = "then") -> str:
    """The card a renewal of `agreement` is priced on, as the renewal's sentences say it
    (the ending reminder, the dashboard, the agreement's Renewal panel): "the rate card
    in effect then in JPY (the agreement's currency)". Round 64: they said "the rate
    card in effect then" alone, so a licensee holding agreements in two currencies read
    the same words of each, though each renews on its own currency's card
    (`_next_term`, round 62)."""
    return f"the rate card in effect {when} in {agreement.currency} (the agreement's currency)"


def _next_term(session: Session, agreement: Agreement, today: date) -> tuple[date, date]:
    """From `renewal_starts`, for a year, never past the last day of the card in
    effect on that first day in the agreement's currency (`ratecard.proposed_term`;
    round 62: a JPY card published beside the USD one set a USD renewal's term)."""
    start = renewal_starts(agreement, today)
    card = ratecard_queries.in_effect(session, start, agreement.currency)
    return proposed_term(start, card.effective_to if card is not None else None, earliest=today)


def renewal_request(
    agreement: Agreement, renewed: RenewedUses, card: RateCard, today: date
) -> QuoteRequest:
    """What a renewal of `agreement` not yet drawn is priced with on `card`, drawn
    `today`: its renewed uses (`renewed_uses_of`) over the term `start_renewal` would
    draw, from the day after the agreement (or `today`, once that has passed) for a
    year, never past the card's last day. The card's check (`card_effect`) and the
    ending reminder's proration warning (round 47) price it so."""
    return quote_request(
        agreement.organization.organization_type,
        proposed_term(agreement.term_end + timedelta(days=1), card.effective_to, earliest=today),
        None,
        renewed.fields(),
    )


def renewal_proration_warnings(
    session: Session,
    agreement: Agreement,
    today: date,
    *,
    long_card_days: int,
    amount: AmountText,
) -> list[ProrationWarning]:
    """What a renewal of `agreement` drawn `today` would be told of its card's
    proration, when the card in effect on its first day runs open-ended or longer than
    `long_card_days` (`LONG_CARD_DAYS`): the pricing core's sentence per prorated
    amount of each rule the renewal would be priced with, over its term
    (`term_proration_warnings`, as its quote will say). Empty for any other card, with
    no card yet, or when the card cannot price the renewal (staff price it by hand).
    The ending reminder says it (round 47: it said "priced on the rate card in effect
    then", and the renewal's quote came to cents with no word before)."""
    # The parsed cards the process keeps: no card parsed, nor read, per agreement.
    start = renewal_starts(agreement, today)
    card = ratecard_queries.catalogue(session).in_effect(start, agreement.currency)
    if card is None or not runs_long(card, long_card_days):
        return []
    request = renewal_request(agreement, renewed_uses(session, agreement), card, today)
    try:
        quote = price(card, request, breakdowns=False)
    except QuoteInputError:
        return []
    return term_proration_warnings(
        card,
        request.term.start,
        request.term.end,
        [line.rule for line in quote.lines if line.route == "license"],
        long_period_days=long_card_days,
        amount=amount,
    )


def start_renewal(agreement_id: int, actor: Actor, *, now: datetime | None = None) -> Application:
    """A new draft application prefilled from the agreement, for the next rate card
    year; when its agreement is accepted this one names it, and is superseded when
    its term ends (`expiry`)."""
    _require_vendor(actor)
    moment = _now(now)
    with db.transaction() as session:
        agreement = _owned(session, Agreement, agreement_id, actor)
        pending = queries.live_renewal(session, agreement.id)
        today = calendar.office_date(moment)
        refusal = renewal_refusal(
            agreement, pending.id if pending else None, agreement.organization, today
        )
        if refusal is not None:
            raise Conflict(refusal)
        start, end = _next_term(session, agreement, today)
        renewed = renewed_uses(session, agreement)
        application = _new_draft(
            session,
            actor,
            term=(start, end),
            # No version named: the renewal is priced on the card in effect on its
            # start, in the agreement's currency (`submission.asked_currency`), when
            # it is submitted, so a card corrected (a new version) after the renewal
            # was drawn prices it, not the card with the mistake.
            rate_card=None,
            uses=[ProposedUseInput.from_fields(fields) for fields in renewed.fields()],
            now=moment,
            renewal_of=agreement,
        )
        # Round 64: the draft says the currency it is priced in from the start, its
        # agreement's (the API's `currency`, its revenue's digits, its page): it was
        # null until submitted, and a JPY renewal's revenue read with USD's digits.
        application.currency = agreement.currency
        # Kept as drawn: a report filed later changes neither figure nor its source.
        application.renewal_sources_json = reported_usage.sources(
            agreement, renewed.uses, renewed.usage
        )
        return application


@dataclass(frozen=True)
class RenewedUses:
    """What a renewal of an agreement proposes: its licensed uses (with their index
    in the agreement's application) and what the licensee last reported of each."""

    uses: list[tuple[int, ApplicationUse]]
    usage: dict[int, reported_usage.ReportedUsage]

    def fields(self) -> list[dict[str, Any]]:
        """Each renewed use's fields, the reported quantities in place of the estimates."""
        return [
            reported_usage.proposed(use.fields(), self.usage.get(index)) for index, use in self.uses
        ]


def renewed_uses(session: Session, agreement: Agreement) -> RenewedUses:
    """The uses a renewal of `agreement` is drawn with (`start_renewal`): the batch
    of one of `renewed_uses_of`."""
    return renewed_uses_of(session, [agreement])[agreement.id]


def renewed_uses_of(session: Session, agreements: Sequence[Agreement]) -> dict[int, RenewedUses]:
    """By agreement id, the uses a renewal of each is drawn with, and what the
    rate-card check prices a renewal not yet drawn on (`card_effect`): one source,
    so the check shows what a renewal would cost. The usage last reported is read
    for all of them at once (a fixed number of statements however many)."""
    # What the licensee last reported beats what it estimated a term ago.
    usage = reported_usage.reported_of(session, agreements)
    return {
        agreement.id: RenewedUses(_licensed_uses(agreement), usage[agreement.id])
        for agreement in agreements
    }


def _licensed_uses(agreement: Agreement) -> list[tuple[int, ApplicationUse]]:
    """The agreement's licensed uses, with their index in its application."""
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    licensed = {line.use_index for line in issuing.licensed_lines(quote)}
    return [
        (index, use) for index, use in enumerate(agreement.application.uses) if index in licensed
    ]
