"""Shortcuts in pricing a use give exactly what the longer way gave.

Pricing a use skips adding a tier's flat that is a zero adding could not change,
writes a per-unit amount with `str` rather than the "f" format, words the
last step of an amount that needs no rounding from the text already written, and
takes a per-unit amount at the minor unit already as its own rounding.
Each is checked here, on generated tiers, currencies, terms and discounts,
against the long way or against the exact value (`Fraction`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from licensing.money import minor_units, round_fraction
from licensing.pricing import (
    ProposedUse,
    QuoteRequest,
    Term,
    Tier,
    exact_text,
    parse_rate_card,
    price,
)
from licensing.pricing.models import EXACT, PerUnitModel, Scale, TierTable, compile_model

# Prices with 0 to 4 decimals, and flats that are zeros written every way a card
# may write them (the shortcut's edge), or not zero.
price_texts = st.sampled_from(["12", "18.50", "0.045", "2.675", "0.0049", "0", "0.00", "1500"])
flat_texts = st.sampled_from(["0", "0.0", "0.00", "0.000", "0.0000", "25.00", "0.005", "7"])
currencies = st.sampled_from(["USD", "JPY", "BHD", "CLF"])  # 2, 0, 3 and 4 minor digits


@st.composite
def tier_lists(draw: st.DrawFn) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.integers(1, 5_000), max_size=3)))
    tops: list[int | None] = [*bounds, None]
    return tuple(Tier(top, Decimal(draw(price_texts)), Decimal(draw(flat_texts))) for top in tops)


def graduated_the_long_way(tiers: tuple[Tier, ...], quantity: int) -> Decimal:
    """Each tier reached: its units at its price, then its flat, always added."""
    amount, lower = Decimal(0), 0
    for tier in tiers:
        top = quantity if tier.up_to is None else min(tier.up_to, quantity)
        units = top - lower
        amount = EXACT.add(EXACT.add(amount, EXACT.multiply(units, tier.unit_price)), tier.flat)
        if tier.up_to is None or quantity <= tier.up_to:
            return amount
        lower = tier.up_to
    raise AssertionError("the last tier is open-ended")


def volume_the_long_way(tiers: tuple[Tier, ...], quantity: int) -> Decimal:
    tier = next(t for t in tiers if t.up_to is None or quantity <= t.up_to)
    return EXACT.add(EXACT.multiply(quantity, tier.unit_price), tier.flat)


@given(tier_lists(), st.integers(1, 20_000), st.integers(0, 4))
def test_a_tier_amount_is_the_same_decimal_digit_for_digit_whether_a_zero_flat_is_added_or_not(
    tiers: tuple[Tier, ...], quantity: int, places: int
) -> None:
    table = TierTable(tiers, places)
    # as_tuple: the same value with the same exponent ("12.00", not "12" or "12.000").
    assert table.graduated(quantity)[0].as_tuple() == (
        graduated_the_long_way(tiers, quantity).as_tuple()
    )
    assert table.volume(quantity)[0].as_tuple() == volume_the_long_way(tiers, quantity).as_tuple()


@given(
    tier_lists(),
    st.sampled_from(["graduated", "volume"]),
    st.integers(0, 20_000),
    st.integers(0, 4),
)
def test_a_per_unit_amount_said_to_be_at_the_minor_unit_is_unchanged_by_rounding_to_it(
    tiers: tuple[Tier, ...], mode: str, quantity: int, places: int
) -> None:
    pricer = compile_model(PerUnitModel("seats", mode, tiers), places)
    plain = pricer.price(Scale(Fraction(181, 365), places), {"seats": quantity}, None).plain
    assert plain is not None
    rounded = plain.quantize(Decimal(1).scaleb(-places))
    if pricer.rounded_at(places) and plain:
        # The same value with the same exponent: what the line and total are made of.
        assert rounded.as_tuple() == plain.as_tuple()
    if rounded.as_tuple() != plain.as_tuple() and plain:
        assert not pricer.rounded_at(places)
    assert not pricer.rounded_at(places + 1)


def per_unit_card(
    tiers: tuple[Tier, ...], mode: str, currency: str, discount: str
) -> dict[str, Any]:
    document_tiers = [
        {"up_to": tier.up_to, "unit_price": str(tier.unit_price), "flat": str(tier.flat)}
        for tier in tiers
    ]
    return {
        "version": "written.1",
        "currency": currency,
        "effective_from": "2027-01-01",
        "effective_to": "2027-12-31",
        "rules": [
            {
                "id": "seats",
                "when": {},
                "model": {
                    "type": "per_unit",
                    "unit": "seats",
                    "mode": mode,
                    "tiers": document_tiers,
                },
            }
        ],
        "adjustments": [
            {"id": "less", "when": {"organization_type": "nonprofit"}, "discount_percent": discount}
        ],
    }


@given(
    tier_lists(),
    st.sampled_from(["graduated", "volume"]),
    currencies,
    st.sampled_from(["0", "20", "33.3"]),
    st.sampled_from(["commercial", "nonprofit"]),
    st.sampled_from([date(2027, 12, 31), date(2027, 6, 30)]),  # whole period, 181/365
    st.integers(0, 20_000),
)
def test_a_per_unit_lines_working_and_last_step_show_its_exact_and_rounded_amounts(
    tiers: tuple[Tier, ...],
    mode: str,
    currency: str,
    discount: str,
    organization_type: str,
    end: date,
    quantity: int,
) -> None:
    card = parse_rate_card(per_unit_card(tiers, mode, currency, discount))
    use = ProposedUse("development", "software", "internal", {"seats": quantity})
    request = QuoteRequest(organization_type, Term(date(2027, 1, 1), end), (use,))
    line = price(card, request).lines[0]
    assert line.breakdown is not None
    assert line.amount is not None
    places = minor_units(currency)
    # The working's result is the model's exact raw amount.
    assert line.explanation[0].endswith(f" = {exact_text(line.breakdown.raw, places)}")
    unrounded = line.breakdown.unrounded
    rounded = round_fraction(unrounded, places)
    assert line.amount == rounded
    assert str(line.amount) == f"{rounded:f}"
    if rounded == unrounded:
        assert line.explanation[-1] == f"amount: {rounded:f} {currency}"
    else:
        assert line.explanation[-1] == (
            f"amount: {exact_text(unrounded, places)} rounded half-up to {rounded:f} {currency}"
        )


def test_a_tier_table_gives_its_working_in_parts_that_the_step_writes_in_one_text() -> None:
    tiers = (
        Tier(100, Decimal("18.50")),
        Tier(1000, Decimal("15.50")),
        Tier(None, Decimal("12.00")),
    )
    table = TierTable(tiers, 2)
    assert table.graduated(1003) == (
        Decimal("15836.00"),
        "100 x 18.50 + 900 x 15.50 + ",
        3,
        " x 12.00",
    )
    assert table.volume(1003) == (
        Decimal("12036.00"),
        "all in tier 3 (above 1000), ",
        1003,
        " x 12.00",
    )
    pricer = compile_model(PerUnitModel("end_users", "graduated", tiers), 2, "")
    (step,) = pricer.price(Scale(Fraction(1), 2), {"end_users": 1003}, None).steps
    assert step == "1003 end_users, graduated: 100 x 18.50 + 900 x 15.50 + 3 x 12.00 = 15836.00"
