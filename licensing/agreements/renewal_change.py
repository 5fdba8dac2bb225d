"""What a renewal's price changes from the agreement it renews, and why (round 42).

A vendor renewing on next year's card saw the renewal's price alone: nothing said
it was 250.00 more than the agreement, nor that the card's development fee had gone
up. `renewal_change` sets each use of a renewal, as priced now (the draft's estimate
or the submitted quote), beside the same use of the agreement it renews, and says
why the amount moved, in the card comparison's own sentences: the rule's changes
between the two cards (`diff_cards`, the staff pages' words), another rule pricing
it, and changed quantities or revenue. Read only; nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from licensing.agreements.hand_priced import card_that_priced
from licensing.agreements.models import Application, ApplicationUse
from licensing.money import format_quantity, price_in_words
from licensing.pricing import Condition, Quote, QuoteLine, diff_cards
from licensing.pricing.describe import AmountText, ConditionText, CountText, ReviewText
from licensing.ratecards import queries as ratecard_queries
from licensing.words import AXIS_NAMES, condition_words, in_a_sentence, review_words


def _in_a_sentence(condition: Condition) -> str:
    return in_a_sentence(condition_words({axis: getattr(condition, axis) for axis in AXIS_NAMES}))


@dataclass(frozen=True)
class Wording:
    """How the reasons say figures, conditions and review: the pages' words (`PAGE`,
    as the card comparison's page says them) or the API's (its own instance, as
    `POST /api/v1/rate-cards/checks`' `differences` say them)."""

    amount: AmountText
    count: CountText
    condition: ConditionText
    review: ReviewText


PAGE = Wording(price_in_words, format_quantity, _in_a_sentence, review_words)


@dataclass(frozen=True)
class UseChange:
    """One use of the renewal (`number`, 1-based) against the agreement's same use:
    `before` is None for a use the agreement did not license, `after` None while
    licensing staff price it by hand."""

    number: int
    name: str
    before: Decimal | None
    after: Decimal | None
    reasons: tuple[str, ...]
    # Round 65: `before` is in another currency than `after` (a card named since in
    # another): no difference is worked out across currencies.
    across_currencies: bool = False

    @property
    def change(self) -> Decimal | None:
        if self.before is None or self.after is None or self.across_currencies:
            return None
        return self.after - self.before


@dataclass(frozen=True)
class RenewalChange:
    """A renewal's price against its agreement's: totals, each use, and the uses the
    renewal no longer licenses (`dropped`, by product name)."""

    agreement: str
    # Round 67: the cards that priced the agreement and the renewal, by the one rule
    # (`hand_priced.card_that_priced`): None where licensing staff priced it by hand.
    card_before: str | None
    card_after: str | None
    currency: str
    total_before: Decimal
    total_after: Decimal | None
    uses: tuple[UseChange, ...]
    dropped: tuple[str, ...]
    # Round 65: the agreement's currency, where the renewal names a card in another (its
    # total and each use's were set beside the renewal's as if in one currency).
    currency_before: str = ""

    @property
    def across_currencies(self) -> bool:
        return bool(self.currency_before) and self.currency_before != self.currency

    @property
    def change(self) -> Decimal | None:
        if self.total_after is None or self.across_currencies:
            return None
        return self.total_after - self.total_before


class Figures(Protocol):
    """What a use's price is computed from, as an application's use or a quote
    snapshot's request holds it (round 57: a resubmission is read against the quote
    the question was asked on, whose uses are in its snapshot only)."""

    @property
    def quantity(self) -> Mapping[str, int]: ...

    @property
    def revenue(self) -> Decimal | None: ...


def _same(use: ApplicationUse) -> tuple[str, str, str, str]:
    return (use.product_name, use.use, use.product_type, use.user_type)


def _matched(
    renewed: Sequence[ApplicationUse], licensed: Sequence[ApplicationUse]
) -> list[int | None]:
    """For each renewed use, the index of the agreement's use it renews (the first
    not yet taken with the same product, use, product type and user type)."""
    free = list(range(len(licensed)))
    found: list[int | None] = []
    for use in renewed:
        index = next((i for i in free if _same(licensed[i]) == _same(use)), None)
        if index is not None:
            free.remove(index)
        found.append(index)
    return found


def card_sentences(
    session: Session, before: str, after: str, words: Wording
) -> dict[tuple[str, str], str]:
    """Each rule's and discount's difference between the two cards, by (subject, id)."""
    old = ratecard_queries.card_by_version(session, before)
    new = ratecard_queries.card_by_version(session, after)
    if old is None or new is None or before == after:
        return {}
    changes = diff_cards(
        old,
        new,
        amount=words.amount,
        count=words.count,
        condition=words.condition,
        review=words.review,
    )
    return {(c.subject, c.key): c.sentence for c in changes if c.key is not None}


def figure_changes(old: Figures, new: Figures, currency: str, words: Wording) -> list[str]:
    """Each quantity and the revenue that moved from `old` to `new`, as sentences."""
    reasons = []
    for unit in sorted(set(old.quantity) | set(new.quantity)):
        was, now = old.quantity.get(unit), new.quantity.get(unit)
        if was != now:
            name = unit.replace("_", " ").capitalize()
            was_text = words.count(was) if was is not None else "none"
            now_text = words.count(now) if now is not None else "none"
            reasons.append(f"{name} from {was_text} to {now_text}.")
    if old.revenue != new.revenue:
        was_text = words.amount(old.revenue, currency) if old.revenue is not None else "none"
        now_text = words.amount(new.revenue, currency) if new.revenue is not None else "none"
        reasons.append(f"Expected annual revenue from {was_text} to {now_text}.")
    return reasons


def rule_changes(
    old_line: QuoteLine,
    new_line: QuoteLine,
    sentences: dict[tuple[str, str], str],
    card: str | None,
) -> list[str]:
    if old_line.rule != new_line.rule:
        if card is None:  # round 67: a renewal no card prices (`card_that_priced`)
            return ["No rate card prices it: licensing staff price it by hand."]
        if new_line.rule is None:
            return [f"No rule of rate card {card} prices it: licensing staff price it by hand."]
        # Round 67: "(was rule None)" where licensing staff had priced it by hand.
        was = f"rule {old_line.rule}" if old_line.rule else "priced by hand by licensing staff"
        return [f"Rate card {card} prices it by rule {new_line.rule} (was {was})."]
    sentence = sentences.get(("rule", new_line.rule or ""))
    return [sentence] if sentence else []


def renewal_change(
    session: Session, application: Application, priced: Quote | None, words: Wording = PAGE
) -> RenewalChange | None:
    """`application`'s price (`priced`) against the agreement it renews, or None for
    an application that renews nothing or is not priced; the reasons in `words`."""
    agreement = application.renewal_of
    if agreement is None or priced is None:
        return None
    before = Quote.from_snapshot(agreement.quote.snapshot)
    card_before = card_that_priced(session, agreement.rate_card, agreement.term_start)
    start = priced.request.term.start if priced.request else application.term_start
    card_after: str | None = priced.rate_card
    if start is not None:
        card_after = card_that_priced(session, priced.rate_card, start)
    # No card's rules priced a use the agreement's staff priced by hand: none compared.
    sentences = {}
    if card_before is not None and card_after is not None:
        sentences = card_sentences(session, card_before, card_after, words)
    licensed = list(agreement.application.uses)
    renewed = list(application.uses)
    old_lines = {line.use_index: line for line in before.lines}
    new_lines = {line.use_index: line for line in priced.lines}
    uses = []
    matches = _matched(renewed, licensed)
    for index, (use, match) in enumerate(zip(renewed, matches, strict=True)):
        new_line = new_lines.get(index)
        old_line = old_lines.get(match) if match is not None else None
        after = new_line.amount if new_line else None
        if old_line is None or new_line is None or match is None:
            uses.append(
                UseChange(index + 1, use.product_name, None, after, ("Not licensed before.",))
            )
            continue
        reasons = rule_changes(old_line, new_line, sentences, card_after)
        reasons += figure_changes(licensed[match], use, priced.currency, words)
        if not reasons and after != old_line.amount:
            # Nothing of its own moved: the card's changed discounts may have.
            reasons = [text for (subject, _), text in sentences.items() if subject == "adjustment"]
        uses.append(
            UseChange(
                index + 1,
                use.product_name,
                old_line.amount,
                after,
                tuple(reasons),
                across_currencies=before.currency != priced.currency,
            )
        )
    taken = {m for m in matches if m is not None}
    dropped = tuple(u.product_name for i, u in enumerate(licensed) if i not in taken)
    return RenewalChange(
        agreement=agreement.number,
        card_before=card_before,
        card_after=card_after,
        currency=priced.currency,
        total_before=before.total,
        total_after=priced.total if priced.fully_priced else None,
        uses=tuple(uses),
        dropped=dropped,
        currency_before=before.currency,
    )
