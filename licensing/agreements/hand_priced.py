"""An agreement no rate card priced, and what it says instead of its card (round 66,
currency66).

A renewal whose first day no card in its currency covers is priced by hand by licensing
staff (round 62); its quote names the renewed agreement's card, whose period does not
hold the term (the snapshot the pricing contract keeps), and the agreement copies that
card as its `rate_card`, which the royalty and correction code read. What the agreement
says of its card (its pages, PDF, API and export) is this instead: no card priced it,
and which card was in effect in its currency on its first day when it was issued,
stored at issue (`HandPricedAgreement`, agreements_0014) or, for one issued before,
worked out from the cards published by its issue (cards never change).

Round 67 (staff67): every sentence that names the card that priced an agreement (its
renewal's working, *Rate card* and *What changed*, the agreement then issued, the API's
`rate_card_before`, the export, the invoices' memos) asks `card_that_priced`, the one
rule, rather than reading `Agreement.rate_card`; `words.priced_words` says it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from licensing.calendar import day_text
from licensing.pricing import RateCard
from licensing.ratecards import queries as ratecard_queries
from licensing.words import BY_HAND

from .models import Agreement, HandPricedAgreement, QuoteVersion


def priced_by_card(card: RateCard | None, start: date) -> bool:
    """The one rule: `card` (an agreement's or a quote's, None where no card is
    published as it) priced a term starting `start` unless its period does not hold
    that day (a renewal licensing staff priced by hand names the renewed agreement's)."""
    return card is None or _holds(card, start)


def card_that_priced(session: Session, rate_card: str, start: date) -> str | None:
    """The card that priced an agreement (or quote) naming `rate_card` whose term starts
    `start`: `rate_card`, or None where licensing staff priced it by hand."""
    card = ratecard_queries.card_by_version(session, rate_card)
    return rate_card if priced_by_card(card, start) else None


@dataclass(frozen=True)
class HandPriced:
    """An agreement priced by hand: its currency, its first day, the card in effect in
    that currency on that day when it was issued (None: none was), the card its quote
    names, the agreement it renews (None: none) and the card that priced that one (None:
    it was priced by hand too; round 67)."""

    currency: str
    start: date
    in_effect: str | None
    named: str
    renews: str | None
    renews_card: str | None = None

    @property
    def page(self) -> str:
        """The agreement's *Rate card*, as its pages say it."""
        renews = f" ({self.renews}, which it renews, was {_priced_on(self.renews_card)})"
        if self.renews is None:
            renews = ""
        if self.in_effect is None:
            return (
                f"none: licensing staff priced it by hand, no rate card in {self.currency} "
                f"being in effect on its start date when it was issued{renews}"
            )
        return (
            f"none: licensing staff priced it by hand; rate card {self.in_effect}, in effect "
            f"on its start date in {self.currency} when it was issued, was published after it "
            f"was priced{renews}"
        )

    @property
    def document(self) -> str:
        """What the agreement's PDF says in place of "Royalties are computed with rate card
        2027.JPY." (the renewed agreement's card)."""
        first = day_text(self.start)
        if self.in_effect is None:
            return (
                "No rate card priced this agreement: the Licensor set its fees by hand, no rate "
                f"card in {self.currency} being in effect on {first} when it was issued."
            )
        return (
            "No rate card priced this agreement: the Licensor set its fees by hand, no rate "
            f"card in {self.currency} being in effect on {first} when they were set; rate card "
            f"{self.in_effect}, in effect on that day when this agreement was issued, was "
            "published since."
        )


def _holds(card: RateCard, day: date) -> bool:
    return card.effective_from <= day <= card.effective_to


def _priced_on(card: str | None) -> str:
    return f"priced on {card}" if card is not None else BY_HAND


def _renewed_card(session: Session, renewed: Agreement | None) -> str | None:
    if renewed is None:
        return None
    return card_that_priced(session, renewed.rate_card, renewed.term_start)


def at_issue(
    session: Session, version: QuoteVersion, renews: Agreement | None
) -> HandPriced | None:
    """For the quote version an agreement is issued on, what it says of its card when no
    card priced it (its card's period does not hold its first day); None when its card
    priced it. The card in effect is asked of the table, as the issue's transaction sees
    it."""
    if card_that_priced(session, version.rate_card, version.term_start) is not None:
        return None
    found = ratecard_queries.in_effect(session, version.term_start, version.currency)
    return HandPriced(
        version.currency,
        version.term_start,
        found.version if found is not None else None,
        version.rate_card,
        renews.number if renews is not None else None,
        _renewed_card(session, renews),
    )


def of_agreement(
    session: Session, agreement: Agreement, cards: ratecard_queries.Catalogue
) -> HandPriced | None:
    """What `agreement` says of its card when no card priced it, else None (a statement
    only for an agreement priced by hand: `cards` tells the others apart)."""
    if priced_by_card(cards.by_version(agreement.rate_card), agreement.term_start):
        return None
    stored = session.get(HandPricedAgreement, agreement.id)
    if stored is not None:
        in_effect = stored.in_effect
    else:  # issued before agreements_0014
        then = cards.in_effect_then(agreement.term_start, agreement.currency, agreement.issued_at)
        in_effect = then.version if then is not None else None
    renewed = agreement.renewal_of
    return HandPriced(
        agreement.currency,
        agreement.term_start,
        in_effect,
        agreement.rate_card,
        renewed.number if renewed is not None else None,
        _renewed_card(session, renewed),
    )
