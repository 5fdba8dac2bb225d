"""Properties that hold for every card and use, checked with generated examples.

Only true properties are asserted. Volume pricing in particular is NOT monotonic
in the quantity: one more unit can move the whole quantity into a cheaper tier
(100 x 18.00 = 1800.00 but 101 x 14.00 = 1414.00), so for volume only the
properties that do hold are checked (monotonic inside one tier, and equal to
graduated when every tier has the same price and no flat).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from licensing.money import minor_units, quantize
from licensing.pricing import (
    Adjustment,
    Condition,
    FlatModel,
    Inputs,
    Model,
    PercentOfRevenueModel,
    PerUnitModel,
    ProposedUse,
    QuoteRequest,
    RateCard,
    Rule,
    SumModel,
    Term,
    Tier,
    exact_text,
    graduated_amount,
    parse_rate_card,
    percent_amount,
    price,
    volume_amount,
    work,
)

prices = st.decimals(min_value=0, max_value=1000, places=3)
fees = st.decimals(min_value=0, max_value=10000, places=2)
percents = st.decimals(min_value=0, max_value=100, places=2)
quantities = st.integers(min_value=0, max_value=100_000)


@st.composite
def tier_lists(draw: st.DrawFn, *, max_tiers: int = 4) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.integers(1, 50_000), max_size=max_tiers - 1)))
    tiers = [Tier(up_to, draw(prices), draw(fees)) for up_to in bounds]
    return (*tiers, Tier(None, draw(prices), draw(fees)))


def leaf_models() -> st.SearchStrategy[Model]:
    return st.one_of(
        st.builds(FlatModel, fees, st.booleans()),
        st.builds(
            PerUnitModel,
            st.sampled_from(["seats", "copies"]),
            st.sampled_from(["graduated", "volume"]),
            tier_lists(),
        ),
        st.builds(PercentOfRevenueModel, percents),
    )


models: st.SearchStrategy[Model] = st.recursive(
    leaf_models(),
    lambda children: st.builds(SumModel, st.lists(children, min_size=1, max_size=3).map(tuple)),
    max_leaves=6,
)

CARD_START = date(2027, 1, 1)


@st.composite
def terms(draw: st.DrawFn, period_days: int = 365) -> Term:
    start = draw(st.integers(0, period_days - 1))
    end = draw(st.integers(start, period_days - 1))
    return Term(CARD_START + timedelta(days=start), CARD_START + timedelta(days=end))


def card_with(
    model: Model,
    *,
    currency: str = "USD",
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    discount: Decimal | None = None,
) -> RateCard:
    rule = Rule("r", "", Condition(), model=model, minimum=minimum, maximum=maximum)
    adjustments = () if discount is None else (Adjustment("a", Condition(), discount),)
    return RateCard("p.1", "", currency, CARD_START, date(2027, 12, 31), (rule,), adjustments)


def quote_one(card: RateCard, term: Term, seats: int, copies: int, revenue: Decimal) -> Decimal:
    use = ProposedUse(
        "development", "software", "internal", {"seats": seats, "copies": copies}, revenue
    )
    amount = price(card, QuoteRequest("commercial", term, (use,))).lines[0].amount
    assert amount is not None
    return amount


@given(quantities, prices, fees)
def test_graduated_and_volume_agree_when_there_is_one_tier(
    quantity: int, unit_price: Decimal, flat: Decimal
) -> None:
    tiers = (Tier(None, unit_price, flat),)
    assert graduated_amount(tiers, quantity) == volume_amount(tiers, quantity)


@given(tier_lists(), quantities, st.integers(0, 1000))
def test_graduated_amounts_never_decrease_as_quantity_grows(
    tiers: tuple[Tier, ...], quantity: int, more: int
) -> None:
    assert graduated_amount(tiers, quantity + more) >= graduated_amount(tiers, quantity)


@given(tier_lists(), st.data())
def test_volume_amounts_never_decrease_inside_one_tier(
    tiers: tuple[Tier, ...], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(tiers) - 1), label="tier")
    lower = 0 if index == 0 else tiers[index - 1].up_to
    assert lower is not None
    upper = tiers[index].up_to or lower + 100_000
    low = data.draw(st.integers(lower + 1, upper), label="low")
    high = data.draw(st.integers(low, upper), label="high")
    assert volume_amount(tiers, high) >= volume_amount(tiers, low)


@given(tier_lists(), quantities)
def test_volume_equals_graduated_when_every_tier_has_one_price_and_no_flat(
    tiers: tuple[Tier, ...], quantity: int
) -> None:
    same = tuple(Tier(tier.up_to, tiers[0].unit_price) for tier in tiers)
    assert volume_amount(same, quantity) == graduated_amount(same, quantity)


@given(percents, fees, fees)
def test_percent_of_revenue_never_decreases_as_revenue_grows(
    percent: Decimal, revenue: Decimal, more: Decimal
) -> None:
    model = PercentOfRevenueModel(percent)
    assert percent_amount(model, revenue + more) >= percent_amount(model, revenue)


@given(st.lists(models, min_size=1, max_size=4), quantities, quantities, fees, terms())
def test_a_sum_model_equals_the_sum_of_its_parts(
    parts: list[Model], seats: int, copies: int, revenue: Decimal, term: Term
) -> None:
    inputs = Inputs({"seats": seats, "copies": copies}, revenue, Fraction(term.days, 365))
    whole = work(SumModel(tuple(parts)), inputs)
    assert whole.amount == sum((work(part, inputs).amount for part in parts), Fraction(0))
    assert whole.fixed == sum((work(part, inputs).fixed for part in parts), Fraction(0))


@given(st.integers(1, 800), st.integers(2020, 2040))
def test_the_whole_period_prorates_by_exactly_one(length: int, year: int) -> None:
    start = date(year, 1, 1)
    end = start + timedelta(days=length - 1)
    card = RateCard(
        "w.1",
        "",
        "USD",
        start,
        end,
        (Rule("r", "", Condition(), model=FlatModel(Decimal("99.99"))),),
    )
    use = ProposedUse("development", "software", "internal")
    quote = price(card, QuoteRequest("commercial", Term(start, end), (use,)))
    assert quote.proration == 1
    assert quote.to_contract_dict()["proration"] == "1"
    assert quote.total == Decimal("99.99")


@given(models, fees, percents, terms(), quantities, fees)
def test_a_discount_never_takes_an_amount_below_its_minimum(
    model: Model, minimum: Decimal, discount: Decimal, term: Term, seats: int, revenue: Decimal
) -> None:
    card = card_with(model, minimum=minimum, discount=discount)
    amount = quote_one(card, term, seats, seats, revenue)
    floor = Fraction(minimum) * Fraction(term.days, card.period_days)
    # The exact amount is at least the floor; rounding both the same way keeps that.
    assert amount >= quantize(floor, "USD")


@given(models, fees, fees, terms(), quantities, fees)
def test_the_maximum_caps_and_the_minimum_lifts(
    model: Model, first: Decimal, second: Decimal, term: Term, seats: int, revenue: Decimal
) -> None:
    minimum, maximum = sorted((first, second))
    card = card_with(model, minimum=minimum, maximum=maximum)
    line = price(
        card,
        QuoteRequest(
            "commercial",
            term,
            (
                ProposedUse(
                    "development",
                    "software",
                    "internal",
                    {"seats": seats, "copies": seats},
                    revenue,
                ),
            ),
        ),
    ).lines[0]
    assert line.breakdown is not None
    p = Fraction(term.days, card.period_days)
    assert Fraction(minimum) * p <= line.breakdown.unrounded <= Fraction(maximum) * p
    assert line.amount == line.breakdown.fixed + line.breakdown.variable
    assert line.breakdown.fixed >= 0
    assert line.breakdown.variable >= 0


@given(
    models,
    st.sampled_from(["USD", "JPY", "KWD", "EUR", "CLF"]),
    terms(),
    quantities,
    fees,
    st.none() | percents,
)
def test_amounts_are_always_rounded_to_the_currencys_minor_unit(
    model: Model, currency: str, term: Term, seats: int, revenue: Decimal, discount: Decimal | None
) -> None:
    amount = quote_one(
        card_with(model, currency=currency, discount=discount), term, seats, seats, revenue
    )
    assert amount.as_tuple().exponent == -minor_units(currency)


@given(st.fractions(min_value=-(10**9), max_value=10**9, max_denominator=10**6))
def test_an_exact_text_that_terminates_reads_back_exactly(value: Fraction) -> None:
    text = exact_text(value)
    if "/" not in text:
        assert Fraction(text) == value
    else:
        assert text.startswith(f"{value.numerator}/{value.denominator} ")


@given(models, st.none() | fees, st.none() | percents)
def test_a_generated_card_round_trips_through_its_document(
    model: Model, minimum: Decimal | None, discount: Decimal | None
) -> None:
    card = card_with(model, minimum=minimum, discount=discount)
    assert parse_rate_card(card.to_document()) == card


# --- the arithmetic against the contract's formulas, written plainly --------------------


def _contract_raw(model: Model, seats: int, revenue: Decimal, p: Fraction) -> Fraction:
    """The contract's raw amount in `Fraction`s, one model type per line: the oracle
    the scaled-Decimal arithmetic of the core is checked against."""
    if isinstance(model, FlatModel):
        return Fraction(model.amount) * (p if model.prorate else 1)
    if isinstance(model, PercentOfRevenueModel):
        return Fraction(revenue) * Fraction(model.percent) / 100
    if isinstance(model, SumModel):
        return sum((_contract_raw(part, seats, revenue, p) for part in model.parts), Fraction(0))
    lower, total = 0, Fraction(0)
    for tier in model.tiers:
        upper = tier.up_to
        inside = seats > lower and (upper is None or seats <= upper)
        if model.mode == "graduated" and seats > lower:
            top = seats if upper is None else min(seats, upper)
            total += (top - lower) * Fraction(tier.unit_price) + Fraction(tier.flat)
        elif model.mode == "volume" and inside:
            total = seats * Fraction(tier.unit_price) + Fraction(tier.flat)
        lower = upper if upper is not None else lower
    return total


def _tier_edges(model: Model) -> list[int]:
    if isinstance(model, SumModel):
        return [edge for part in model.parts for edge in _tier_edges(part)]
    if isinstance(model, PerUnitModel):
        return [tier.up_to for tier in model.tiers if tier.up_to is not None]
    return []


@given(
    models,
    st.none() | fees,
    st.none() | fees,
    st.none() | percents,
    terms(),
    st.data(),
    fees,
    st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_every_amount_is_the_contracts_formula_computed_in_fractions(
    model: Model,
    minimum: Decimal | None,
    maximum: Decimal | None,
    discount: Decimal | None,
    term: Term,
    data: st.DataObject,
    revenue: Decimal,
    currency: str,
) -> None:
    # Tier boundaries and their neighbours, where an off-by-one would hide.
    edges = sorted({edge + step for edge in _tier_edges(model) for step in (-1, 0, 1)})
    seats = data.draw(quantities | st.sampled_from(edges or [0]), label="seats")
    if minimum is not None and maximum is not None and minimum > maximum:
        minimum, maximum = maximum, minimum
    card = card_with(model, currency=currency, minimum=minimum, maximum=maximum, discount=discount)
    use = ProposedUse(
        "development", "software", "internal", {"seats": seats, "copies": seats}, revenue
    )
    line = price(card, QuoteRequest("commercial", term, (use,))).lines[0]
    p = Fraction(term.days, card.period_days)
    raw = _contract_raw(model, seats, revenue, p)
    discounted = raw * (100 - Fraction(discount or 0)) / 100
    amount = discounted
    if minimum is not None:
        amount = max(amount, Fraction(minimum) * p)
    if maximum is not None:
        amount = min(amount, Fraction(maximum) * p)
    assert line.breakdown is not None
    assert (line.breakdown.raw, line.breakdown.discounted) == (raw, discounted)
    assert line.breakdown.unrounded == amount
    assert line.amount == quantize(amount, currency)
    assert str(line.amount) == str(quantize(amount, currency))
