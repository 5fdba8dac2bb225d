"""The royalty of a line, year to date, by the pricing contract (pure).

For each reportable line and period k: the usage to date (each customer's
largest quantity of a unit in periods 1..k, summed over customers; revenue
summed over every row), priced exactly as a quote of the line's use with the
agreement's rate card, organization type and term (`licensing.pricing.price`:
the same rules, discounts, proration, minimum and maximum and single rounding),
gives the amount to date `A_k`. The line is charged `C_k = max(U, A_k)` to date,
`U` being what was invoiced up front; the period's due is `C_k - C_(k-1)`.

No arithmetic of the pricing contract is repeated here: the amount to date is a
quote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property

from licensing.errors import InvalidInput, TooLargeToRecord
from licensing.money import (
    beyond_largest,
    exceeds_largest,
    format_amount,
    format_quantity,
    price_in_words,
)
from licensing.pricing import (
    ProposedUse,
    Quote,
    QuoteInputError,
    QuoteLine,
    QuoteRequest,
    RateCard,
    Rule,
    Term,
    needs_revenue,
    price,
    units_needed,
)
from licensing.words import humanize

# The working of a line whose amount licensing staff set by hand starts so
# (`licensing.agreements.issuing.AMENDED`); such a line is not reportable.
AMENDED_BY_HAND = "amended by the licensor"


@dataclass(frozen=True)
class ReportableLine:
    """A Schedule A line whose royalty depends on reported usage."""

    number: int  # the line's number in Schedule A, from 1
    use_index: int
    rule: Rule
    use: str
    product_type: str
    user_type: str
    up_front: Decimal  # U: invoiced when the agreement became active
    estimate_quantities: Mapping[str, int] = field(default_factory=dict)
    estimate_revenue: Decimal | None = None

    # Cached: a rule never changes (rate cards are immutable), and every row of a
    # report asks both.
    @cached_property
    def units(self) -> tuple[str, ...]:
        assert self.rule.model is not None
        return units_needed(self.rule.model)

    @cached_property
    def takes_revenue(self) -> bool:
        assert self.rule.model is not None
        return needs_revenue(self.rule.model)


def schedule_lines(quote: Quote) -> tuple[QuoteLine, ...]:
    """The licensed lines, in the order (and so with the numbers) of Schedule A."""
    return tuple(line for line in quote.lines if line.route == "license")


def _set_by_hand(line: QuoteLine) -> bool:
    return line.rule is None or any(step.startswith(AMENDED_BY_HAND) for step in line.explanation)


def reportable_lines(quote: Quote, card: RateCard) -> tuple[ReportableLine, ...]:
    """Lines whose rule's model counts usage (per unit, percent of revenue, or a sum
    with such a part), unless staff set the line's amount by hand."""
    rules = {rule.id: rule for rule in card.rules}
    request = quote.request
    found = []
    for number, line in enumerate(schedule_lines(quote), start=1):
        rule = rules.get(line.rule or "")
        if rule is None or rule.model is None or _set_by_hand(line):
            continue
        if not units_needed(rule.model) and not needs_revenue(rule.model):
            continue
        use = request.uses[line.use_index] if request is not None else None
        breakdown = line.breakdown
        found.append(
            ReportableLine(
                number=number,
                use_index=line.use_index,
                rule=rule,
                use=use.use if use else "",
                product_type=use.product_type if use else "",
                user_type=use.user_type if use else "",
                up_front=breakdown.fixed if breakdown is not None else Decimal(0),
                estimate_quantities=dict(breakdown.quantities) if breakdown else {},
                estimate_revenue=breakdown.revenue if breakdown else None,
            )
        )
    return tuple(found)


@dataclass(frozen=True)
class Usage:
    """A line's usage to date: per unit, the quantity and the customers counted."""

    quantities: Mapping[str, int]
    customers: Mapping[str, int]
    revenue: Decimal | None

    @classmethod
    def none(cls, line: ReportableLine) -> Usage:
        return cls(
            dict.fromkeys(line.units, 0),
            dict.fromkeys(line.units, 0),
            Decimal(0) if line.takes_revenue else None,
        )


@dataclass(frozen=True)
class LineRoyalty:
    line: int
    quantities_to_date: Mapping[str, int]
    revenue_to_date: Decimal | None
    amount_to_date: Decimal
    charged_before: Decimal
    charged_to_date: Decimal
    explanation: tuple[str, ...]

    @property
    def due(self) -> Decimal:
        return self.charged_to_date - self.charged_before


def _beyond_pricing(
    line: ReportableLine, usage: Usage, refused: QuoteInputError, currency: str
) -> InvalidInput:
    """Usage to date the pricing core refuses: each row was within its bounds, but
    their sum to date is beyond what a quote can price (a 422, not a 500). The
    figure as pages write it ("1,500,000 end users", "revenue 12,000.00 USD")."""
    problems = []
    for path, texts in refused.errors.items():
        field = path.rsplit(".", 1)[-1]
        if field == "revenue":
            revenue = usage.revenue
            what = "revenue" if revenue is None else f"revenue {price_in_words(revenue, currency)}"
        else:
            what = f"{format_quantity(usage.quantities.get(field))} {humanize(field)}"
        problems.append(
            f"Line {line.number}: {what} to date cannot be priced: "
            f"{' '.join(texts)} Check the quantities and revenue reported."
        )
    return InvalidInput("The usage to date cannot be priced.", {"rows": problems})


def too_large_to_invoice(problems: list[str]) -> TooLargeToRecord:
    """The report's refusal when what it charges cannot be recorded (round 50): the
    rows' field, as `_beyond_pricing`, so pages and the API show it where they show
    the rows' problems; nothing is stored."""
    return TooLargeToRecord(
        "The royalty cannot be invoiced.",
        {"rows": [*problems, "Check the quantities and revenue reported."]},
    )


@dataclass(frozen=True)
class Pricer:
    """Prices a line's usage to date as the agreement's quote would."""

    card: RateCard
    organization_type: str
    term_start: date
    term_end: date

    def amount_to_date(self, line: ReportableLine, usage: Usage) -> QuoteLine:
        request = QuoteRequest(
            organization_type=self.organization_type,
            term=Term(self.term_start, self.term_end),
            uses=(
                ProposedUse(
                    use=line.use,
                    product_type=line.product_type,
                    user_type=line.user_type,
                    quantity=dict(usage.quantities),
                    revenue=usage.revenue,
                ),
            ),
            rate_card=self.card.version,
        )
        try:
            priced = price(self.card, request).lines[0]
        except QuoteInputError as beyond:
            raise _beyond_pricing(line, usage, beyond, self.card.currency) from beyond
        if priced.rule != line.rule.id or priced.amount is None:
            # Cards never change once published, so the same use meets the same rule.
            raise ValueError(f"line {line.number} no longer meets rule {line.rule.id}")
        return priced

    def royalty(
        self,
        line: ReportableLine,
        usage: Usage,
        charged_before: Decimal,
        up_front_invoice: str | None = None,
    ) -> LineRoyalty:
        """`up_front_invoice`: the number of the invoice that charged the up-front
        amount on acceptance, named in the working when it charged this line any."""
        priced = self.amount_to_date(line, usage)
        amount = priced.amount
        assert amount is not None
        charged = max(line.up_front, amount)
        currency = self.card.currency
        if beyond_largest(charged):
            raise too_large_to_invoice(
                [f"Line {line.number}: the amount to date {exceeds_largest(charged, currency)}."]
            )

        def show(value: Decimal) -> str:
            return format_amount(value, currency)

        steps = [_usage_words(line, usage, currency, self.card.version), *priced.explanation]
        # Round 50: the up-front invoice by its number, so an analyst finds the line
        # that charged it (the working said "charged on acceptance" only).
        by = f" by invoice {up_front_invoice}" if up_front_invoice and line.up_front else ""
        steps.append(
            # Round 50: the up-front amount in the words its invoice line ends with
            # ("charged now (flat fees and the minimum's lift): 815.00 USD").
            f"charged to date = the larger of the up-front {show(line.up_front)} (flat fees "
            f"and the minimum's lift, charged on acceptance{by}) and the amount to date "
            f"{show(amount)} = {show(charged)}"
            if line.up_front
            # Round 51: a line charged nothing up front said "the larger of the up-front
            # 0.00 (..., charged on acceptance)", a charge the vendor was told there
            # was not.
            else f"charged to date = the amount to date {show(amount)} (nothing was charged "
            "up front on acceptance)"
        )
        steps.append(
            f"due = {show(charged)} charged to date - {show(charged_before)} charged before "
            f"= {show(charged - charged_before)}"
        )
        return LineRoyalty(
            line=line.number,
            quantities_to_date=dict(usage.quantities),
            revenue_to_date=usage.revenue,
            amount_to_date=amount,
            charged_before=charged_before,
            charged_to_date=charged,
            explanation=tuple(steps),
        )

    def charged_to_date(self, line: ReportableLine, usage: Usage) -> Decimal:
        amount = self.amount_to_date(line, usage).amount
        assert amount is not None
        return max(line.up_front, amount)


def _customers_counted(customers: int) -> str:
    """How a unit's usage to date was added up, in the number's own grammar (round
    50: "each of 1 customers counted once")."""
    largest = "at the largest quantity reported for the term so far"
    if customers == 1:
        return f"1 customer, counted once {largest}"
    return f"{customers} customers, each counted once {largest}"


def _usage_words(line: ReportableLine, usage: Usage, currency: str, card: str) -> str:
    counted = usage.customers
    parts = [
        f"{usage.quantities.get(unit, 0)} {unit} ({_customers_counted(counted.get(unit, 0))})"
        for unit in line.units
    ]
    if usage.revenue is not None:
        parts.append(f"revenue {format_amount(usage.revenue, currency)} (all periods so far)")
    # The card named: an analyst traces the amount to its rule and version (the
    # agreement after the year's turn is priced on next year's card).
    return (
        f"line {line.number}, rule {line.rule.id} of rate card {card}: usage to date "
        + ", ".join(parts)
    )
