"""Raw amounts of each model, at every tier boundary, with their workings."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from licensing.money import format_quantity, price_in_words
from licensing.pricing import (
    FlatModel,
    Inputs,
    PercentOfRevenueModel,
    PerUnitModel,
    RateCard,
    SumModel,
    Tier,
    exact_text,
    graduated_amount,
    needs_revenue,
    units_needed,
    volume_amount,
    work,
)
from licensing.pricing.describe import describe_rule, exact_amount
from licensing.pricing.models import tier_bounds, tier_range

# The contract's worked example: 100 @ 18.00, up to 1000 @ 14.00, above @ 9.50.
CONTRACT_TIERS = (
    Tier(100, Decimal("18.00")),
    Tier(1000, Decimal("14.00")),
    Tier(None, Decimal("9.50")),
)

# Invented tiers with a flat fee on each tier.
FLAT_TIERS = (
    Tier(10, Decimal("2.00"), Decimal("100.00")),
    Tier(20, Decimal("1.00"), Decimal("50.00")),
    Tier(None, Decimal("0.50"), Decimal("25.00")),
)


def inputs(
    quantity: int = 0,
    unit: str = "end_users",
    *,
    revenue: Decimal | None = None,
    proration: Fraction = Fraction(1),
) -> Inputs:
    return Inputs({unit: quantity}, revenue, proration)


def test_graduated_tiers_price_each_unit_at_its_own_tier() -> None:
    assert graduated_amount(CONTRACT_TIERS, 2500) == Fraction("28650.00")


def test_volume_tiers_price_every_unit_at_the_tier_the_total_falls_in() -> None:
    assert volume_amount(CONTRACT_TIERS, 2500) == Fraction("23750.00")


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        (0, "0", "0"),
        (1, "18.00", "18.00"),
        (99, "1782.00", "1782.00"),
        (100, "1800.00", "1800.00"),  # the last unit of the first tier
        (101, "1814.00", "1414.00"),  # the first unit of the second tier
        (1000, "14400.00", "14000.00"),
        (1001, "14409.50", "9509.50"),
        (2500, "28650.00", "23750.00"),
    ],
)
def test_tier_boundaries_belong_to_the_lower_tier(
    quantity: int, graduated: str, volume: str
) -> None:
    assert graduated_amount(CONTRACT_TIERS, quantity) == Fraction(graduated)
    assert volume_amount(CONTRACT_TIERS, quantity) == Fraction(volume)


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        (0, "0", "0"),  # a quantity of 0 pays no flat either
        (1, "102.00", "102.00"),
        (10, "120.00", "120.00"),
        (11, "171.00", "61.00"),  # graduated: every tier reached adds its flat once
        (20, "180.00", "70.00"),
        (21, "205.50", "35.50"),  # volume: only the flat of the tier the total is in
    ],
)
def test_per_tier_flat_fees_follow_each_mode(quantity: int, graduated: str, volume: str) -> None:
    assert graduated_amount(FLAT_TIERS, quantity) == Fraction(graduated)
    assert volume_amount(FLAT_TIERS, quantity) == Fraction(volume)


def test_the_graduated_working_lists_each_tier() -> None:
    model = PerUnitModel("end_users", "graduated", CONTRACT_TIERS)
    working = work(model, inputs(2500))
    assert working.steps == (
        "2500 end_users, graduated: 100 x 18.00 + 900 x 14.00 + 1500 x 9.50 = 28650.00",
    )
    assert working.amount == 28650
    assert working.fixed == 0


def test_the_volume_working_shows_the_one_tier_used() -> None:
    model = PerUnitModel("end_users", "volume", CONTRACT_TIERS)
    assert work(model, inputs(2500)).steps == (
        "2500 end_users, volume: all in tier 3 (above 1000), 2500 x 9.50 = 23750.00",
    )


@pytest.mark.parametrize(
    ("quantity", "step"),
    [
        (1, "1 end_users, volume: all in tier 1 (up to 100), 1 x 18.00 = 18.00"),
        (100, "100 end_users, volume: all in tier 1 (up to 100), 100 x 18.00 = 1800.00"),
        (101, "101 end_users, volume: all in tier 2 (101 to 1000), 101 x 14.00 = 1414.00"),
        (1000, "1000 end_users, volume: all in tier 2 (101 to 1000), 1000 x 14.00 = 14000.00"),
        (1001, "1001 end_users, volume: all in tier 3 (above 1000), 1001 x 9.50 = 9509.50"),
    ],
)
def test_a_volume_working_names_the_tier_the_whole_quantity_falls_in_with_its_bounds(
    quantity: int, step: str
) -> None:
    # Round 50: "150000 x 0.03" left the analyst to find which tier 0.03 is; the
    # tier is numbered as the card lists it and bounded as the card's document
    # words a volume tier ("101 to 1000 at 14.00 each").
    model = PerUnitModel("end_users", "volume", CONTRACT_TIERS)
    assert work(model, inputs(quantity)).steps == (step,)


def test_a_volume_working_writes_each_price_as_the_cards_document_does(
    example_card: RateCard,
) -> None:
    # Round 50's decision: one form of a card's price everywhere, the currency's
    # minor digits and more only where the price is finer. The card publishes
    # "0.030" for its second tier; the working, the card's document (`describe_rule`)
    # and its pages (`price_in_words`) all write it "0.03", and its bounds alike.
    rule = next(rule for rule in example_card.rules if rule.id == "distribution-payer")
    assert isinstance(rule.model, PerUnitModel)
    document = describe_rule(rule, "USD")
    page = describe_rule(rule, "USD", amount=price_in_words, count=format_quantity)
    for number, (lower, upper, tier) in enumerate(tier_bounds(rule.model.tiers), 1):
        quantity = lower + 1
        (step,) = work(rule.model, inputs(quantity, "members")).steps
        price = exact_amount(tier.unit_price, "USD")
        bounds = tier_range(lower, upper)
        assert step.startswith(
            f"{quantity} members, volume: all in tier {number} ({bounds}), {quantity} x {price} ="
        )
        assert f"{bounds} at {price} each" in document
        assert f"{tier_range(lower, upper, format_quantity)} at {price} USD each" in page
    assert "0.030" not in document + page


def test_a_volume_model_of_one_tier_has_no_tier_to_name() -> None:
    model = PerUnitModel("languages", "volume", (Tier(None, Decimal("2000.00")),))
    assert work(model, inputs(3, "languages")).steps == (
        "3 languages, volume: 3 x 2000.00 = 6000.00",
    )


def test_tier_flat_fees_appear_in_the_working() -> None:
    graduated = work(PerUnitModel("seats", "graduated", FLAT_TIERS), inputs(11, "seats"))
    assert graduated.steps == (
        "11 seats, graduated: 10 x 2.00 + flat 100.00 + 1 x 1.00 + flat 50.00 = 171.00",
    )
    volume = work(PerUnitModel("seats", "volume", FLAT_TIERS), inputs(21, "seats"))
    assert volume.steps == (
        "21 seats, volume: all in tier 3 (above 20), 21 x 0.50 + flat 25.00 = 35.50",
    )
    # Tier flats are usage royalties: they depend on the quantity.
    assert graduated.fixed == 0


def test_a_zero_quantity_working_says_there_is_nothing_to_pay() -> None:
    working = work(PerUnitModel("seats", "volume", FLAT_TIERS), inputs(0, "seats"))
    assert working.amount == 0
    assert working.steps == ("0 seats, volume: nothing to pay = 0.00",)


def test_a_prorated_flat_is_the_exact_fraction_of_the_amount() -> None:
    model = FlatModel(Decimal("2500.00"))
    working = work(model, inputs(proration=Fraction(181, 365)))
    assert working.amount == Fraction(2500) * Fraction(181, 365)
    assert working.fixed == working.amount
    assert working.steps == ("flat 2500.00 x 181/365 (prorated) = 90500/73 (about 1239.726027)",)


def test_a_flat_without_proration_ignores_the_term() -> None:
    model = FlatModel(Decimal("1500.00"), prorate=False)
    working = work(model, inputs(proration=Fraction(1, 365)))
    assert working.amount == 1500
    assert working.steps == ("flat 1500.00, not prorated = 1500.00",)


def test_a_flat_over_the_whole_period_is_the_amount() -> None:
    working = work(FlatModel(Decimal("2500.00")), inputs())
    assert working.amount == 2500
    assert working.steps == ("flat 2500.00 for the whole card period = 2500.00",)


def test_percent_of_revenue_is_exact_and_never_prorated() -> None:
    model = PercentOfRevenueModel(Decimal("10"))
    working = work(model, inputs(revenue=Decimal("120000.00"), proration=Fraction(1, 2)))
    assert working.amount == 12000
    assert working.steps == ("10% of revenue 120000.00 = 12000.00",)
    fractional = work(PercentOfRevenueModel(Decimal("12.5")), inputs(revenue=Decimal("0.01")))
    assert fractional.amount == Fraction(1, 800)
    assert fractional.steps == ("12.5% of revenue 0.01 = 0.00125",)


def test_per_unit_amounts_are_never_prorated() -> None:
    model = PerUnitModel("seats", "graduated", (Tier(None, Decimal("3.00")),))
    assert work(model, inputs(7, "seats", proration=Fraction(1, 365))).amount == 21


def test_a_sum_adds_its_parts_and_keeps_their_workings() -> None:
    model = SumModel(
        (
            FlatModel(Decimal("82.50")),
            PerUnitModel("users", "graduated", (Tier(None, Decimal("18.50")),)),
            SumModel((PercentOfRevenueModel(Decimal("5")),)),
        )
    )
    working = work(
        model,
        Inputs({"users": 10}, Decimal("1000"), Fraction(181, 365)),
    )
    flat = Fraction("82.50") * Fraction(181, 365)
    assert working.amount == flat + 185 + 50
    assert working.fixed == flat
    assert working.variable == 235
    assert working.steps == (
        "part 1: flat 82.50 x 181/365 (prorated) = 5973/146 (about 40.910959)",
        "part 2: 10 users, graduated: 10 x 18.50 = 185.00",
        "part 3.1: 5% of revenue 1000.00 = 50.00",
        "part 3: sum of the parts: 50.00 = 50.00",
        "sum of the parts: 5973/146 (about 40.910959) + 185.00 + 50.00"
        " = 40283/146 (about 275.910959)",
    )


def test_a_model_names_the_quantities_and_revenue_it_needs() -> None:
    model = SumModel(
        (
            PerUnitModel("languages", "volume", (Tier(None, Decimal(1)),)),
            SumModel((PerUnitModel("copies", "volume", (Tier(None, Decimal(1)),)),)),
            PerUnitModel("languages", "graduated", (Tier(None, Decimal(1)),)),
        )
    )
    assert units_needed(model) == ("languages", "copies")
    assert not needs_revenue(model)
    assert needs_revenue(SumModel((FlatModel(Decimal(1)), PercentOfRevenueModel(Decimal(1)))))
    assert units_needed(FlatModel(Decimal(1))) == ()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(1, 200), "0.005"),
        (Fraction(12), "12.00"),
        (Fraction(-3, 4), "-0.75"),
        (Decimal("0.045"), "0.045"),
        (Decimal("0.030"), "0.03"),
        (Decimal("18.5"), "18.50"),
        (Fraction(1, 3), "1/3 (about 0.333333)"),
    ],
)
def test_exact_values_are_shown_as_decimals_when_they_end_else_as_fractions(
    value: Fraction | Decimal, text: str
) -> None:
    assert exact_text(value) == text


def test_exact_text_follows_the_places_asked_for() -> None:
    assert exact_text(Fraction(1500), 0) == "1500"
    assert exact_text(Fraction(3, 2), 3) == "1.500"
