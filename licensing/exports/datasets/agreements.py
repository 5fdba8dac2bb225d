"""agreements: the agreements register, one row per agreement."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Generator
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from licensing.accounts.models import Organization
from licensing.agreements import hand_priced
from licensing.agreements.models import Agreement, HandPricedAgreement, QuoteVersion
from licensing.agreements.queries import charged_to_date_column
from licensing.agreements.states import AGREEMENT_STATES
from licensing.db import Statement
from licensing.exports.base import DATE, MONEY, TEXT, Column, Dataset, ExportContext, Row
from licensing.exports.columns import AGREEMENT_NUMBER, CURRENCY, LICENSEE, one_of
from licensing.exports.filters import ISSUED, PERIOD, ExportFilter
from licensing.exports.ledger import uses_by_application
from licensing.exports.queries import (
    amount,
    at_times,
    counter,
    day_of,
    each_batch,
    licensee,
    of_licensee,
)
from licensing.money import quantize
from licensing.pricing import Quote, QuoteInputError, QuoteLine, RateCard, Term, price
from licensing.ratecards import queries as ratecard_queries

# How an agreement was priced (`priced`): on its rate card, or by hand on none.
PRICED = ("rate_card", "by_hand")

COLUMNS = (
    AGREEMENT_NUMBER,
    *LICENSEE,
    Column("organization_type", TEXT, "commercial, nonprofit, academic, government, individual."),
    Column("state", TEXT, one_of(AGREEMENT_STATES)),
    Column("term_start", DATE, "First day of the term."),
    Column("term_end", DATE, "Last day of the term."),
    # Round 66: empty for an agreement no card priced (`priced`: by_hand), as it says.
    Column("rate_card", TEXT, "The rate card version that priced it."),
    CURRENCY,
    Column("term_fees", MONEY, "The approved quote's total for the term."),
    Column(
        "annual_fees",
        MONEY,
        "The term's fees for a whole rate-card period: the uses priced with proration 1 "
        "(flat fees, minimums and maximums in full; per-unit and percent-of-revenue "
        "amounts as they are).",
    ),
    Column("up_front_fees", MONEY, "Of the term's fees, what is invoiced on activation."),
    Column("uses", TEXT, "The licensed uses, separated by ';'."),
    Column("issued_date", DATE, "Office day it was issued."),
    Column("activated_date", DATE, "Office day it was accepted and became active."),
    Column(
        "ended_date",
        DATE,
        "Office day it ended: its last day in force, or the day it was terminated.",
    ),
    Column("renewal_of", TEXT, "The agreement it renews."),
    # Added last: finance systems read the columns by name or by position.
    Column(
        "charged_to_date",
        MONEY,
        "What its invoices have charged so far less what was credited against them "
        "(late fees aside), as the agreements lists and the API say.",
    ),
    # Added last too (round 17): the API's and the pages' "Renewed by".
    Column(
        "renewed_by",
        TEXT,
        "The accepted renewal that takes over (or took over) from it; empty until one is accepted.",
    ),
    # Added last too (round 66): a renewal staff priced by hand named the renewed
    # agreement's card as `rate_card`, in effect on no day of its term.
    Column(
        "priced",
        TEXT,
        one_of(
            PRICED,
            "by_hand: licensing staff priced it by hand, no rate card in its currency being "
            "in effect on its first day",
        ),
    ),
    Column(
        "rate_card_in_effect",
        TEXT,
        "Priced by hand: the rate card in effect in its currency on its first day when it "
        "was issued, published after it was priced; empty where none was, and where a rate "
        "card priced it.",
    ),
)


def _statement(given: ExportFilter) -> Statement:
    renewed = aliased(Agreement)
    renewal = aliased(Agreement)  # the one that renews it, joined in: no query per row
    statement: Statement = (
        select(
            Agreement.number,
            *licensee(Agreement),
            Organization.organization_type,
            Agreement.state,
            Agreement.term_start,
            Agreement.term_end,
            Agreement.rate_card,
            Agreement.currency,
            Agreement.total,
            Agreement.application_id,
            QuoteVersion.snapshot_json,
            Agreement.issued_at,
            Agreement.activated_at,
            Agreement.ended_at,
            renewed.number.label("renewal_of"),
            charged_to_date_column().label("charged_to_date"),
            renewal.number.label("renewed_by"),
            HandPricedAgreement.agreement_id.label("by_hand"),
            HandPricedAgreement.in_effect.label("by_hand_in_effect"),
        )
        .join(QuoteVersion, QuoteVersion.id == Agreement.quote_id)
        .outerjoin(HandPricedAgreement, HandPricedAgreement.agreement_id == Agreement.id)
        .outerjoin(renewed, renewed.id == Agreement.renewal_of_id)
        .outerjoin(renewal, renewal.id == Agreement.superseded_by_id)
    )
    statement = of_licensee(statement, Agreement, given, by_state=True)
    if given.date_basis == PERIOD:  # terms that overlap the range
        if given.date_from:
            statement = statement.where(Agreement.term_end >= given.date_from)
        if given.date_to:
            statement = statement.where(Agreement.term_start <= given.date_to)
    elif given.date_basis == ISSUED:
        statement = at_times(statement, Agreement.issued_at, given)
    return statement


def _annual_fees(card: RateCard, quote: Quote, term_fees: Decimal) -> Decimal | None:
    """The quote's licensed uses priced for the card's whole period (p = 1), by the
    pricing contract: a flat fee that prorates and the minimum and maximum count in
    full, while per-unit and percent-of-revenue amounts, never prorated, stay as they
    are (so dividing the term's fees by p overstated them).

    A line whose amount licensing staff changed is scaled as the card's amount for
    its use scales (amount x whole period's / term's); a use no rule prices, which
    staff priced by hand for the term, counts as set. None when the quote kept no
    request to price again (it cannot be said)."""
    if quote.proration == 1:
        return term_fees
    if quote.request is None:
        return None
    whole = dataclasses.replace(quote.request, term=Term(card.effective_from, card.effective_to))
    try:
        for_term, for_whole = price(card, quote.request), price(card, whole)
    except QuoteInputError:  # cards never change, so this is a record edited behind us
        return None
    total = Fraction(0)
    for line, term_line, whole_line in zip(
        quote.lines, for_term.lines, for_whole.lines, strict=True
    ):
        if line.route != "license" or line.amount is None:
            continue
        total += _annual_line(line, term_line, whole_line)
    return quantize(total, quote.currency)


def _annual_line(line: QuoteLine, term_line: QuoteLine, whole_line: QuoteLine) -> Fraction:
    assert line.amount is not None
    if line.rule is None or term_line.amount is None or whole_line.amount is None:
        return Fraction(line.amount)  # priced by hand: as set
    if term_line.amount == line.amount:
        return Fraction(whole_line.amount)
    if not term_line.amount:
        return Fraction(line.amount)
    # Changed by staff: scaled as the card's amount for the use scales.
    return Fraction(line.amount) * Fraction(whole_line.amount) / Fraction(term_line.amount)


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    """The agreements a batch at a time from the server-side cursor, with the
    uses their applications asked for read in one statement per batch (it was
    one per agreement: issue 16, no N+1 on any list)."""
    session = context.session
    cards: dict[str, RateCard] = {}  # by version: an export reads each card once
    statement = _statement(given).order_by(Agreement.issued_at, Agreement.id)

    def card_of(version: str) -> RateCard:
        card = cards.get(version)
        if card is None:
            card = cards[version] = ratecard_queries.domain_card(
                ratecard_queries.get(session, version)
            )
        return card

    def in_effect_then(r: Any) -> str | None:
        """An agreement priced by hand before agreements_0014 stored its card in effect:
        the card in effect in its currency on its first day among those published by its
        issue (`hand_priced.of_agreement`)."""
        found = ratecard_queries.catalogue(session).in_effect_then(
            r.term_start, r.currency, r.issued_at
        )
        return found.version if found is not None else None

    for batch in each_batch(session, statement):
        asked_by = uses_by_application(session, {r.application_id for r in batch})
        for r in batch:
            found = _row(r, asked_by[r.application_id], card_of, given, in_effect_then)
            if found is not None:
                yield found


def _row(
    r: Any,
    asked: list[str],
    card_of: Callable[[str], RateCard],
    given: ExportFilter,
    in_effect_then: Callable[[Any], str | None],
) -> Row | None:
    """The register's row of the statement's result `r`, whose application asked
    for `asked` (its card from `card_of`); None when the filter's use is not one
    it licenses."""
    quote = Quote.from_snapshot(json.loads(r.snapshot_json))
    licensed = [line for line in quote.lines if line.route == "license"]
    uses = list(
        dict.fromkeys(asked[line.use_index] for line in licensed if line.use_index < len(asked))
    )
    if given.use and given.use not in uses:
        return None
    up_front = sum(
        (line.breakdown.fixed for line in licensed if line.breakdown is not None),
        start=quantize(0, r.currency),
    )
    card = card_of(r.rate_card)
    annual = _annual_fees(card, quote, r.total)
    # Round 66: no card priced it where its card does not hold its first day.
    by_hand = not hand_priced.priced_by_card(card, r.term_start)
    in_effect = None
    if by_hand:
        in_effect = r.by_hand_in_effect if r.by_hand is not None else in_effect_then(r)
    return (
        r.number,
        r.organization_id,
        r.legal_name,
        r.organization_type,
        r.state,
        r.term_start,
        r.term_end,
        None if by_hand else r.rate_card,
        r.currency,
        amount(r.total, r.currency),
        amount(annual, r.currency),
        amount(up_front, r.currency),
        ";".join(uses),
        day_of(r.issued_at),
        day_of(r.activated_at),
        day_of(r.ended_at),
        r.renewal_of,
        amount(r.charged_to_date, r.currency),
        r.renewed_by,
        PRICED[by_hand],
        in_effect,
    )


# The use is found agreement by agreement: no count when the filter names one.
count = counter(_statement, use_by_row=True)


DATASET = Dataset(
    name="agreements",
    title="Agreements register",
    description="Every agreement: licensee, term, rate card, fees and state.",
    schema_version=1,
    columns=COLUMNS,
    rows=rows,
    count=count,
    date_bases=(PERIOD, ISSUED),
    filters=frozenset({"organization", "state", "currency", "use"}),
    states=AGREEMENT_STATES,
    order=60,
)
