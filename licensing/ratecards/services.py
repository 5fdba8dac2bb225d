"""Use cases for rate cards: import (publish) and quote.

A card is validated whole by the pricing core before anything is stored;
re-importing a version with identical content is a no-op, with different content
it is refused, because a published card never changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from licensing import calendar, db, errors, printable
from licensing.audit import services as audit
from licensing.pricing import (
    ProposedUse,
    Quote,
    QuoteInputError,
    QuoteRequest,
    RateCard,
    RateCardInvalid,
    Term,
    content_digest,
    contract_json,
    diff_cards,
    parse_rate_card,
    price,
    price_text,
)
from licensing.pricing.describe import (
    LARGE_CHANGE_RATIO,
    LONG_PERIOD_DAYS,
    AmountText,
    Change,
    ConditionText,
    CountText,
    PriceChangeWarning,
    ProrationWarning,
    ReviewText,
    describe_condition,
    exact_amount,
    price_change_warnings,
    proration_warnings,
    runs_long,
    term_proration_warnings,
)
from licensing.pricing.ratecard import Problem
from licensing.ratecards import queries
from licensing.ratecards.models import RateCardRecord
from licensing.records import attributes
from licensing.signals import PublishedCard, rate_card_published

# What describes a card beside its rules: stored as columns, and audited on publishing.
_DESCRIBED = ("version", "title", "currency", "effective_from", "effective_to")


@dataclass(frozen=True)
class ImportResult:
    """The version published, and whether this import created it (or found it
    published with the same content); for a card created that runs long, what the
    proration makes of its prorated amounts over a year (`proration_warnings`, as
    the check gives them and the audit event records them; round 44)."""

    version: str
    created: bool
    proration_warnings: tuple[ProrationWarning, ...] = ()
    # Round 55: the check's price warnings against the card it follows, said again
    # as it is published (they were the check's alone).
    price_change_warnings: tuple[PriceChangeWarning, ...] = ()
    # Round 61 (correction61): for a card created, the days it took from cards
    # published before it (a correction, of every day of their period or part of it),
    # and the agreements whose licensees were emailed that their card was corrected.
    replaces: tuple[queries.Takeover, ...] = ()
    agreements_told: tuple[str, ...] = ()
    # Round 65: `replaces` is of the card's own currency alone; the cards in other
    # currencies whose days it took for quotes naming no card, published alongside.
    alongside: tuple[queries.Takeover, ...] = ()
    # Round 62: told without an email (a second correction of the same days pricing
    # their uses by the same rules and discounts as the one they were told of).
    agreements_not_emailed: tuple[str, ...] = ()


def validate(document: object) -> RateCard:
    """The card as the pricing core reads it, or `InvalidInput` listing every problem.
    `document` is whatever the file or request body held: not an object is invalid too."""
    if not isinstance(document, Mapping):
        raise errors.InvalidInput(
            "A rate card is a JSON object.", {"_body": ["A rate card is a JSON object."]}
        )
    padded = _padded_version(document)
    try:
        card = parse_rate_card(
            document, publishing=True, text_problem=printable.unprintable_problem
        )
    except RateCardInvalid as invalid:
        raise _card_invalid(RateCardInvalid([*padded, *invalid.problems])) from None
    if padded:
        raise _card_invalid(RateCardInvalid(padded))
    return card


def _padded_version(document: Mapping[Any, Any]) -> list[Problem]:
    """A version with spaces around it, refused on publishing (round 50): it would be
    a second card that reads as the first everywhere but that a quote naming the
    version never finds. Checked here, not by the parser, which also reads the
    cards already stored."""
    version = document.get("version")
    if isinstance(version, str) and version.strip() and version != version.strip():
        return [Problem("version", f"must not begin or end with spaces; got {version!r}")]
    return []


def _card_invalid(invalid: RateCardInvalid) -> errors.InvalidInput:
    count = len(invalid.problems)
    return errors.InvalidInput(
        f"The rate card has {count} problem{'s' if count != 1 else ''}; nothing was stored.",
        invalid.errors,
    )


@dataclass(frozen=True)
class CardCheck:
    """A card checked before publishing, what the check's page and the API's dry
    run both show: the card (valid); what publishing it would do with its version
    (`new`, or `identical`: a no-op); and, for a new one, the days it would take
    from published cards for quotes naming no version (`taken`), the cards starting
    later inside its period that keep theirs (`kept`), and the published card it
    follows (`base`: the one in effect on its first day, else the last before it)."""

    card: RateCard
    version_state: str
    taken: list[queries.Takeover] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    base: RateCardRecord | None = None
    # Round 65: the cards in other currencies whose days it would take for quotes naming
    # no card (the contract's rule, whatever the currency), which it corrects in nothing:
    # `taken` is the cards of its own currency alone.
    alongside: list[queries.Takeover] = field(default_factory=list)

    @property
    def base_in_effect_on_first_day(self) -> bool:
        """Whether `base` is the card in effect on the card's first day (else it is
        the last card ending before it: last year's)."""
        base = self.base
        return (
            base is not None
            and base.effective_from <= self.card.effective_from <= base.effective_to
        )

    def differences(
        self,
        *,
        amount: AmountText = exact_amount,
        count: CountText = str,
        condition: ConditionText = describe_condition,
        review: ReviewText = str,
    ) -> list[Change]:
        """What changed from `base`, figures and conditions as the API gives them
        unless the caller words them (pages group figures, name the currency and
        say conditions and review in the analyst's words)."""
        if self.base is None:
            return []
        return diff_cards(
            queries.domain_card(self.base),
            self.card,
            amount=amount,
            count=count,
            condition=condition,
            review=review,
        )

    def price_changes(
        self, *, amount: AmountText = exact_amount, ratio: Decimal = LARGE_CHANGE_RATIO
    ) -> list[PriceChangeWarning]:
        """The figures that changed many times over against `base`, or from or to
        nothing (`price_change_warnings`, round 54: 27500.00 typed for 2750.00 passed the
        check with only its differences and effect to show it); `ratio` the edges'
        `PRICE_CHANGE_RATIO` (round 55). Empty without a base."""
        if self.base is None:
            return []
        return price_change_warnings(
            queries.domain_card(self.base), self.card, amount=amount, ratio=ratio
        )


def check_card(document: object) -> CardCheck:
    """Everything `import_card` checks, storing and auditing nothing: `InvalidInput`
    listing every problem, `Conflict` as publishing would refuse it; else what
    publishing the card would change."""
    card = validate(document)
    session = db.session()
    existing = queries.by_version(session, card.version)
    if existing is not None:
        if existing.digest == content_digest(card):
            return CardCheck(card, "identical")
        raise errors.Conflict(_CHANGED.format(version=card.version))
    taken, kept = queries.taken_over(
        queries.all_cards(session), card.effective_from, card.effective_to
    )
    return CardCheck(
        card,
        "new",
        [taking for taking in taken if taking.currency == card.currency],
        kept,
        queries.compared_with(session, card.effective_from),
        [taking for taking in taken if taking.currency != card.currency],
    )


_CHANGED = (
    "Rate card {version} is already published with different content; "
    "a published card never changes. Publish the changes under a new version."
)


def canonical_json(card: RateCard) -> str:
    return json.dumps(card.to_document(), sort_keys=True, separators=(",", ":"))


def import_card(
    document: object,
    *,
    published_by: str,
    published_by_id: int | None = None,
    long_period_days: int = LONG_PERIOD_DAYS,
    today: date | None = None,
    price_change_ratio: Decimal = LARGE_CHANGE_RATIO,
    amount: AmountText = exact_amount,
) -> ImportResult:
    """Publish a card; a no-op for an identical re-import, a conflict for a changed one.
    A card that runs open-ended or longer than `long_period_days` (the edges pass
    `LONG_CARD_DAYS`) is published as any other, and its audit event and result say
    what the proration makes of its prorated amounts (round 44) over the term the
    service would propose on it `today` (the office's day unless given; round 45).
    So are the check's price warnings against the card it follows (round 55: the check
    warned of 27500.00 typed for 2750.00, publishing straight from the command line or
    the API said nothing), `price_change_ratio` the edges' `PRICE_CHANGE_RATIO` and
    `amount` how the edge writes money."""
    card = validate(document)
    today = today if today is not None else calendar.office_date(db.utcnow())
    warnings = tuple(proration_warnings(card, long_period_days=long_period_days, today=today))
    digest = content_digest(card)
    with db.transaction() as session:
        existing = queries.by_version(session, card.version)
        if existing is not None:
            if existing.digest == digest:
                return ImportResult(card.version, created=False)
            raise errors.Conflict(_CHANGED.format(version=card.version))
        # Against the card it follows, as the check compares (before it is stored).
        base = queries.compared_with(session, card.effective_from)
        changes = tuple(
            price_change_warnings(
                queries.domain_card(base), card, ratio=price_change_ratio, amount=amount
            )
            if base is not None
            else ()
        )
        described = attributes(card, _DESCRIBED)
        session.add(
            RateCardRecord(
                **described,
                document=canonical_json(card),
                digest=digest,
                published_by=published_by,
                published_by_id=published_by_id,
            )
        )
        session.flush()
        replaced = tuple(replaced_parts(session, card.version))
        beside = tuple(alongside_parts(session, card.version))
        audit.record_event(
            session,
            "rate_card.published",
            card.version,
            after={
                **described,
                "digest": digest,
                "rules": len(card.rules),
                "adjustments": len(card.adjustments),
                # Only for a card that runs long: what the check warned of.
                **(
                    {"proration_warnings": [warning.sentence for warning in warnings]}
                    if warnings
                    else {}
                ),
                # Only when a figure changed many times over: what the check warned of.
                **(
                    {
                        "compared_with": base.version,
                        "price_change_warnings": [change.sentence for change in changes],
                    }
                    if changes and base is not None
                    else {}
                ),
                # Round 61: only for a correction: what it replaces, and whom it told.
                **(
                    {"replaces": [_takeover_fields(taken) for taken in replaced]}
                    if replaced
                    else {}
                ),
                # Round 65: only beside a card in another currency for the same days.
                **(
                    {
                        "alongside": [
                            {**_takeover_fields(taken), "currency": taken.currency}
                            for taken in beside
                        ]
                    }
                    if beside
                    else {}
                ),
            },
            actor=None,  # the caller as the audit log names it (the system on the CLI)
        )
    # Round 61: the licensees of the agreements it corrects are emailed (agreements'
    # receiver). Round 62: once the card is committed, in units of work of their own
    # (each batch's `rate_card.licensees_told` event names them), so publishing never
    # holds the write lock for more than a batch; a card rolled back tells nobody.
    told, unchanged = tell_licensees(card.version)
    return ImportResult(
        card.version,
        created=True,
        proration_warnings=warnings,
        price_change_warnings=changes,
        replaces=replaced,
        agreements_told=told,
        agreements_not_emailed=unchanged,
        alongside=beside,
    )


def tell_licensees(version: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tell the licensees of the agreements the published card `version` corrects and
    that were not told of it yet (round 62: `import_card` does once the card is stored;
    `licensing ratecards tell VERSION` finishes a telling stopped part-way): the numbers
    emailed, and those told without an email (a second correction pricing their uses
    by the same rules and discounts as the one they were told of)."""
    record = queries.by_version(db.session(), version)
    if record is None:
        raise errors.NotFound(f"There is no published rate card {version!r}.")
    published = PublishedCard(record.version, record.effective_from, record.effective_to)
    emailed: list[str] = []
    unchanged: list[str] = []
    for _receiver, answer in rate_card_published.send(published):
        if answer:
            emailed.extend(answer[0])
            unchanged.extend(answer[1])
    return tuple(emailed), tuple(unchanged)


def _takeover_fields(taken: queries.Takeover) -> dict[str, Any]:
    return {
        "version": taken.version,
        "first": taken.first.isoformat(),
        "last": taken.last.isoformat(),
        "whole": taken.whole,
    }


def replaced_parts(session: Any, version: str) -> list[queries.Takeover]:
    """The days the card published as `version` took from cards of its currency
    published before it, as `in_effect` among that currency's cards now chooses (round
    61): each card's days it prices now, `whole` when that is every day of the card's
    period (a correction for the same days). Empty for a card that took no one's days
    (a new year's). Round 65: of its own currency alone, as a card in another currency
    corrects none (`queries.replaced_by`); it took the cards of every currency, so a
    JPY card published after 2027.2 (USD) "replaced 2027.2" and a USD correction
    published after the JPY card "replaced 2027.JPY", naming 2027.1 nowhere."""
    return _taken_parts(session, version, same_currency=True)


def alongside_parts(session: Any, version: str) -> list[queries.Takeover]:
    """The days of cards in other currencies that the card published as `version` now
    prices for quotes naming no card (the contract's rule: the card in effect published
    last, whatever its currency), which it corrects in nothing (round 65): what names
    them, or is priced in their currency, stays on them."""
    return _taken_parts(session, version, same_currency=False)


def _taken_parts(session: Any, version: str, *, same_currency: bool) -> list[queries.Takeover]:
    cards = queries.catalogue(session)
    own = next((entry for entry in cards.entries if entry.version == version), None)
    if own is None:
        return []
    # The cards in effect before it was published, over its period: the days it now
    # prices were taken from the card pricing each then (among its currency's cards
    # for a correction; by the contract's rule, whatever the currency, beside).
    currency = own.currency if same_currency else None
    before = queries.Catalogue((), tuple(entry for entry in cards.entries if entry.id != own.id))
    now = cards.spans_of(own.effective_from, own.effective_to, currency)
    taken: list[queries.Takeover] = []
    for was in before.spans_of(own.effective_from, own.effective_to, currency):
        card = next(entry for entry in cards.entries if entry.version == was.version)
        if (card.currency == own.currency) != same_currency:
            continue
        for part in now:
            first, last = max(was.first, part.first), min(was.last, part.last)
            if part.version != version or first > last:
                continue
            whole = (first, last) == (card.effective_from, card.effective_to)
            taken.append(
                queries.Takeover(was.version, first, last, whole=whole, currency=card.currency)
            )
    return taken


def request_from(data: dict[str, Any]) -> QuoteRequest:
    """The pricing core's request from validated fields (the API's and the estimator's)."""
    return QuoteRequest(
        organization_type=data["organization_type"],
        term=Term(start=data["term"]["start"], end=data["term"]["end"]),
        rate_card=data.get("rate_card"),
        uses=tuple(
            ProposedUse(
                use=use["use"],
                product_type=use["product_type"],
                user_type=use["user_type"],
                quantity=dict(use.get("quantity") or {}),
                revenue=use.get("revenue"),
                languages=tuple(use.get("languages") or ()),
                description=use.get("description") or "",
            )
            for use in data["uses"]
        ),
    )


def quote(request: QuoteRequest, *, breakdowns: bool = True, currency: str | None = None) -> Quote:
    """Price a request with the card it names, or the card in effect on its start
    date: with `currency`, the card in effect in that currency (round 62: a renewal of
    a USD agreement, an application already priced in USD, staff re-pricing it, are
    never priced on a JPY card published later for the same days). `breakdowns=False`
    for an answer that is shown, never kept (`price`)."""
    card = _card_for(request, _catalogue(), currency)
    return quote_on(card, request, breakdowns=breakdowns, currency=currency)


def quote_on(
    card: RateCard,
    request: QuoteRequest,
    *,
    breakdowns: bool = True,
    currency: str | None = None,
) -> Quote:
    """`quote(request)` on a parsed card the caller holds (one of a catalogue it read
    once: a reissue's check of a page of agreements prices each without asking the
    database again which cards are published)."""
    try:
        return price(card, request, breakdowns=breakdowns)
    except QuoteInputError as invalid:
        asked = currency if currency is not None else _named_currency(request, card)
        raise _refused(invalid, request, asked) from None


def answered_quote(request: QuoteRequest, *, long_period_days: int) -> Quote:
    """`quote(request, breakdowns=False)` as the quote API answers it: on a card that
    runs long (`LONG_CARD_DAYS`), each line priced by a rule with prorated amounts
    ends its explanation with what the contract's proration made of them
    (`warned`, round 44)."""
    card = _card_for(request, _catalogue())
    try:
        priced = price(card, request, breakdowns=False)
    except QuoteInputError as invalid:
        raise _refused(invalid, request, _named_currency(request, card)) from None
    return warned(priced, card, long_period_days) if runs_long(card, long_period_days) else priced


def quote_text(
    request: QuoteRequest, *, long_period_days: int
) -> tuple[str, Replaced | None, tuple[RateCard, ...]]:
    """`answered_quote(request)` as the quote API writes it: the JSON text of its
    contract body (`price_text`, priced and written in one pass), and whether the
    card it names was replaced since (`replaced`), read from the same copy of the
    published cards. On a card that runs long (a flag worked out from the cached
    card, no query) the quote is priced the general way and warned (`warned`): the
    contract fixes the answer's fields and leaves an explanation's wording free, so
    the warning is a step of the explanation (round 44). Third, naming no card, the
    cards in effect in other currencies on its first day (`others_in_effect`, round
    62), read from the same copy."""
    cards = _catalogue()
    card = _card_for(request, cards)
    try:
        if runs_long(card, long_period_days):
            priced = price(card, request, breakdowns=False)
            text = contract_json(warned(priced, card, long_period_days))
        else:
            text = price_text(card, request)
    except QuoteInputError as invalid:
        raise _refused(invalid, request, _named_currency(request, card)) from None
    return text, _replaced(request, cards), _others(request, cards)


def other_currencies(request: QuoteRequest) -> tuple[RateCard, ...]:
    """Naming no card, the cards in effect on its first day in the currencies other
    than the one the contract's rule priced it in, one per currency (round 62: the
    estimator and the quote API say them); empty when it names a card."""
    return _others(request, _catalogue())


def _others(request: QuoteRequest, cards: queries.Catalogue) -> tuple[RateCard, ...]:
    return () if request.rate_card is not None else cards.others_in_effect(request.term.start)


def warned(priced: Quote, card: RateCard, long_period_days: int) -> Quote:
    """`priced` with each licensed line's explanation ending in the warnings of its
    rule's prorated amounts over the quote's term (`term_proration_warnings`: "Rate
    card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over
    all of it: the development flat fee of 5000.00 USD is 0.63 USD for this term of
    366 days."). The amounts are the contract's, unchanged."""
    if priced.request is None:
        return priced
    term = priced.request.term
    lines = []
    for line in priced.lines:
        said = (
            term_proration_warnings(
                card, term.start, term.end, [line.rule], long_period_days=long_period_days
            )
            if line.route == "license" and line.rule is not None
            else []
        )
        explanation = (*line.explanation, *(warning.sentence for warning in said))
        lines.append(replace(line, explanation=explanation) if said else line)
    return replace(priced, lines=tuple(lines))


def quote_warnings(
    priced: Quote, *, long_period_days: int, amount: AmountText
) -> list[ProrationWarning]:
    """What a quote shown on a page (the estimator's, an application's) is warned of:
    the prorated amounts of the rules its lines were priced with, when its card runs
    long (`term_proration_warnings`, round 44); empty otherwise, or when the card is
    not published or the quote keeps no request (an old snapshot: its term is then
    read from its proration)."""
    card = _catalogue().by_version(priced.rate_card)
    if card is None or not runs_long(card, long_period_days):
        return []
    if priced.request is not None:
        start, end = priced.request.term.start, priced.request.term.end
    else:  # days(term) = proration x days(card period)
        days = priced.proration * card.period_days
        if days.denominator != 1 or days < 1:
            return []
        start = card.effective_from
        end = start + timedelta(days=int(days) - 1)
    rules = [line.rule for line in priced.lines if line.route == "license"]
    return term_proration_warnings(
        card, start, end, rules, long_period_days=long_period_days, amount=amount
    )


def _refused(
    invalid: QuoteInputError, request: QuoteRequest, currency: str | None = None
) -> errors.InvalidInput:
    """The core's refusal; a term outside its card's period also says what to do
    about it (`term_advice`), the one place the API and the pages both take it from.
    `currency`: the one the request is priced in where a caller asked for it or named
    a card; None where the contract's rule chose the card."""
    problems = invalid.errors
    if invalid.outside is not None and "term" in problems:
        advice = term_advice(invalid.outside, request.term, currency)
        problems = {**problems, "term": [f"{message}: {advice}" for message in problems["term"]]}
    return errors.InvalidInput("The uses cannot be priced as given.", problems)


def replaces(version: str) -> str:
    """What publishing `version` replaced, in a sentence for the page's message and the
    command line (cardwalk60: a correction was "published." alone, though from then on
    it prices every quote, estimate, application and renewal naming no card in the
    corrected card's place, and what that card priced keeps its prices), or "". Round
    61: a card taking only part of an earlier card's period says which days too, and
    that card's licensees whose terms fall in them were emailed."""
    taken = replaced_parts(db.session(), version)
    whole = sorted({taking.version for taking in taken if taking.whole})
    said: list[str] = []
    if whole:
        cards, its = " and ".join(whole), "their" if len(whole) > 1 else "its"
        said.append(
            f"It replaces {cards} for every day of {its} period: quotes, estimates, "
            f"applications and renewals naming no card are priced on {version} from now on. "
            f"What {cards} priced keeps {its} prices, listed on {its} page."
        )
    partly: dict[str, list[queries.Takeover]] = {}
    for taking in taken:
        if not taking.whole:
            partly.setdefault(taking.version, []).append(taking)
    for card, parts in partly.items():
        days = " and ".join(f"from {part.first} to {part.last}" for part in parts)
        said.append(
            f"It replaces {card} {days}, part of its period: quotes, estimates, "
            f"applications and renewals naming no card for terms in those days are priced "
            f"on {version} from now on. What {card} priced keeps its prices, listed on its "
            "page; the agreements on it whose terms fall in those days are corrected by "
            f"{version}."
        )
    return " ".join(said)


def alongside(version: str) -> str:
    """The cards in other currencies whose days publishing `version` took for quotes
    naming no card, in a sentence after `replaces` (round 65), or "": "It is published
    alongside 2027.2 (USD) for every day of its period, and corrects nothing of it:
    ...". A card in another currency corrects no card (round 61), but the contract's
    rule prices a quote naming no card on the card in effect published last, whatever
    its currency, which the office wants to know as it publishes."""
    parts: dict[str, list[queries.Takeover]] = {}
    for taking in alongside_parts(db.session(), version):
        parts.setdefault(taking.version, []).append(taking)
    said: list[str] = []
    for card, taken in parts.items():
        currency = taken[0].currency
        whole = len(taken) == 1 and taken[0].whole
        days = (
            "for every day of its period"
            if whole
            else " and ".join(f"from {part.first} to {part.last}" for part in taken)
        )
        said.append(
            f"It is published alongside {card} ({currency}) {days}, and corrects nothing of "
            f"it: renewals and applications priced in {currency} stay on the {currency} "
            f"cards, and the licensees of {card} are not told. Quotes, estimates and "
            "applications naming no card whose currency is not known (a new licensee's) "
            f"{'' if whole else 'for terms starting in those days '}are priced on {version} "
            "from now on, the card in effect on the start date published last."
        )
    return " ".join(said)


def emailed(
    told: tuple[str, ...] | list[str],
    unchanged: tuple[str, ...] | list[str] = (),
    *,
    shown: int = 5,
) -> str:
    """Whom publishing a correction emailed, for the page's message and the command line
    (round 61), or "": "The licensees of 2 agreements it corrects were emailed that
    their rate card was corrected: CPT-2027-000001 and CPT-2027-000002." (the first
    `shown` named, the rest counted). Round 62: and those not emailed again, as a second
    correction of their days prices their uses as the one they were told of did."""
    said = []
    if told:
        said.append(
            f"The licensees of {_agreements(told)} it corrects were emailed that their rate "
            f"card was corrected: {_listed(told, shown)}."
        )
    if unchanged:
        said.append(
            f"The licensees of {_agreements(unchanged)} it corrects were not emailed again: "
            "it prices their uses by the same rules and discounts as the correction they "
            f"were told of, and their pages name it: {_listed(unchanged, shown)}."
        )
    return " ".join(said)


def _agreements(numbers: tuple[str, ...] | list[str]) -> str:
    return f"{len(numbers)} agreement{'s' if len(numbers) != 1 else ''}"


def _listed(numbers: tuple[str, ...] | list[str], shown: int) -> str:
    named = list(numbers[:shown])
    rest = len(numbers) - len(named)
    if rest:
        return f"{', '.join(named)} and {rest} more"
    return ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1]


def _named_currency(request: QuoteRequest, card: RateCard) -> str | None:
    """The currency a request asked for by naming its card; None when the contract's
    rule chose the card (the card in effect, whatever its currency)."""
    return card.currency if request.rate_card is not None else None


def term_advice(card: RateCard, term: Term, currency: str | None = None) -> str:
    """How to fit a term that does not lie inside `card`'s period. One that runs
    past the card's last day (a quote in December for a year from mid-December)
    can end on that day, or start the next day on the card in effect then (in
    `currency`, where the request is priced in one: round 62); with no such card
    yet, the term is kept within the period and renewed on the next card."""
    if card.open_ended:  # a term can only start before it
        return f"start the term on or after {card.effective_from}"
    period = card.period
    if not card.effective_from <= term.start <= card.effective_to < term.end:
        return f"keep the term within {period}"
    after = card.effective_to + timedelta(days=1)
    following = _catalogue().in_effect(after, currency)
    if following is None:
        return (
            f"keep the term within {period}; a license is renewed for the next period "
            "on the next card"
        )
    return (
        f"end it by {card.effective_to}, or start it on {after} to be priced on "
        f"rate card {following.version} ({following.period})"
    )


@dataclass(frozen=True)
class Replaced:
    """The card a quote named was replaced (corrected by later versions for every
    day of its period, in its currency): by which, when (the last of them was
    published), and the card that prices the same term in its currency (`priced_on`)
    for applications naming no version whose currency is known (a renewal, a licensee's
    next), and the one quotes naming none are priced on (`in_effect`, the contract's
    rule, whatever its currency), with its currency."""

    version: str
    replaced_by: list[str]
    since: datetime
    priced_on: str | None
    currency: str = ""
    in_effect: str | None = None
    in_effect_currency: str = ""


def replaced(request: QuoteRequest) -> Replaced | None:
    """Whether the card `request` names was replaced since (None when it names
    none, or the card is in use)."""
    return None if request.rate_card is None else _replaced(request, _catalogue())


def _replaced(request: QuoteRequest, cards: queries.Catalogue) -> Replaced | None:
    if request.rate_card is None:
        return None
    found = cards.replacement(request.rate_card)
    named = cards.by_version(request.rate_card)
    if found is None or named is None:
        return None
    # Round 64: its successor in its own currency. The card in effect whatever its
    # currency (the contract's rule) was named as the card replacing it, though a card
    # in another currency corrects none (round 61): 2027.JPY, published with 2027.2 on
    # the same day, was said to price 2027.1's quotes.
    own = cards.in_effect(request.term.start, named.currency)
    anyone = cards.in_effect(request.term.start)
    return Replaced(
        request.rate_card,
        *found,
        own.version if own is not None else None,
        named.currency,
        anyone.version if anyone is not None else None,
        anyone.currency if anyone is not None else "",
    )


def _card_for(
    request: QuoteRequest, cards: queries.Catalogue, currency: str | None = None
) -> RateCard:
    """The card a request names, or the one in effect on its start date (in
    `currency`, where the caller knows the currency it prices in)."""
    card: RateCard | None
    if request.rate_card is not None:
        card = cards.by_version(request.rate_card)
        if card is None:
            raise errors.InvalidInput.for_field(
                "rate_card", f"There is no published rate card {request.rate_card!r}."
            )
    else:
        card = cards.in_effect(request.term.start, currency)
        if card is None:
            raise errors.InvalidInput.for_field(
                "term.start",
                f"No rate card {f'in {currency} ' if currency else ''}is in effect on "
                f"{request.term.start.isoformat()}; name one with rate_card.",
            )
    return card


def _catalogue() -> queries.Catalogue:
    """The published cards: without a session while the process's copy is
    known to be current (SQLite), else through the request's session."""
    engine = db.idle_engine()
    unchanged = queries.unchanged_catalogue(engine) if engine is not None else None
    return unchanged or queries.catalogue(db.session())
