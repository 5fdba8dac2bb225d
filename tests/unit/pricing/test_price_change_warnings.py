"""Round 54: the check warns of a figure changed many times over against the card it
follows (a typed slip: 27500.00 for 2750.00), and keeps quiet about ordinary revisions."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from licensing.money import price_in_words
from licensing.pricing import RateCard, parse_rate_card
from licensing.pricing.describe import LARGE_CHANGE_RATIO, price_change_warnings, ratio_text


def _next(document: dict[str, Any], version: str = "2028.1") -> dict[str, Any]:
    following = copy.deepcopy(document)
    following.update(version=version, effective_from="2028-01-01", effective_to="2028-12-31")
    return following


def _rules(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in document["rules"]}


def test_a_flat_fee_typed_with_a_digit_too_many_is_warned_of(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    following = _next(example_document)
    _rules(following)["development"]["model"]["amount"] = "25000.00"  # for 2500.00
    [warning] = price_change_warnings(
        example_card, parse_rate_card(following), amount=price_in_words
    )
    assert (warning.rule, warning.figure) == ("development", "flat fee")
    assert (warning.before, warning.after, warning.ratio) == (
        Decimal("2500.00"),
        Decimal("25000.00"),
        Decimal(10),
    )
    assert warning.sentence == (
        "Rule development's flat fee is 10 times that on 2027.1: 25,000.00 USD on 2028.1, "
        "2,500.00 USD on 2027.1. Check it is not a slip of a digit."
    )


def test_a_fall_a_tier_price_a_minimum_and_a_percent_are_each_warned_of_in_rule_order(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    following = _next(example_document)
    rules = _rules(following)
    rules["distribution-software"]["model"]["tiers"][1]["unit_price"] = "1.55"  # for 15.50
    rules["distribution-payer"]["minimum"] = "50000.00"  # for 5000.00
    rules["derivative-work"]["model"]["percent"] = "1.2"  # for 12
    rules["translation"]["model"]["parts"][1]["percent"] = "50"  # for 5
    warnings = price_change_warnings(example_card, parse_rate_card(following))
    assert [(w.rule, w.figure, str(w.before), str(w.after)) for w in warnings] == [
        ("distribution-payer", "minimum", "5000.00", "50000.00"),
        (
            "distribution-software",
            "price per end user of the tier 101 to 1000",
            "15.50",
            "1.55",
        ),
        ("derivative-work", "percent of revenue", "12", "1.2"),
        ("translation", "part 2's percent of revenue", "5", "50"),
    ]
    assert warnings[1].sentence == (
        "Rule distribution-software's price per end user of the tier 101 to 1,000 is 1/10 of "
        "that on 2027.1: 1.55 on 2028.1, 15.50 on 2027.1. Check it is not a slip of a digit."
    )
    assert warnings[2].sentence.startswith(
        "Rule derivative-work's percent of revenue is 1/10 of that on 2027.1: 1.2% on 2028.1, "
        "12% on 2027.1."
    )


def test_changes_within_the_ratio_and_figures_without_a_counterpart_are_not_warned_of(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    assert LARGE_CHANGE_RATIO == 2
    following = _next(example_document)
    rules = _rules(following)
    rules["development"]["model"]["amount"] = "5000.00"  # exactly twice: not more
    rules["education-commercial"]["model"]["amount"] = "750.00"  # exactly half
    rules["distribution-print"]["model"]["tiers"][0]["unit_price"] = "20.00"  # a revision
    # Tiers rebounded within the ratio, their prices against the tier holding their
    # first quantity within it too (round 55 compares them: see below).
    rules["distribution-payer"]["model"]["tiers"][0]["up_to"] = 50000
    rules["distribution-payer"]["model"]["tiers"][0]["unit_price"] = "0.06"
    # A model of another type, and a new rule: the differences list them.
    rules["internal-use"]["model"] = {"type": "flat", "amount": "82500.00"}
    following["rules"].append(
        {
            "id": "added",
            "description": "An added rule",
            "when": {"use": "education"},
            "model": {"type": "flat", "amount": "1.00"},
        }
    )
    assert price_change_warnings(example_card, parse_rate_card(following)) == []


def test_a_tenfold_rise_meant_is_warned_of_but_the_card_stays_valid(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    following = _next(example_document)
    _rules(following)["distribution-software"]["minimum"] = "10000.00"
    card = parse_rate_card(following, publishing=True)
    [warning] = price_change_warnings(example_card, card)
    assert (warning.figure, warning.ratio) == ("minimum", Decimal(10))


def test_a_tier_whose_bounds_moved_is_compared_with_the_tier_holding_its_first_quantity(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    # Round 54 named tiers by their bounds, so a price typed tenfold in a tier whose
    # bound moved too was compared with nothing.
    following = _next(example_document)
    tiers = _rules(following)["distribution-payer"]["model"]["tiers"]
    tiers[0].update(up_to=50000, unit_price="0.45")  # 0.045 up to 100000 on 2027.1
    warnings = price_change_warnings(
        example_card, parse_rate_card(following), amount=price_in_words
    )
    assert [(w.figure, str(w.before), str(w.after)) for w in warnings] == [
        ("price per member of the tier up to 50000", "0.045", "0.45"),
    ]
    assert warnings[0].sentence == (
        "Rule distribution-payer's price per member of the tier up to 50,000 is 10 times "
        "price per member of the tier up to 100,000 on 2027.1: 0.45 USD on 2028.1, 0.045 USD on "
        "2027.1. Check it is not a slip of a digit."
    )
    # A bound itself moved tenfold (1000000 typed for 100000) is warned of as a count.
    tiers[0].update(up_to=1000000, unit_price="0.045")
    tiers[1].update(up_to=2000000)
    [bound] = price_change_warnings(example_card, parse_rate_card(following))
    assert (bound.figure, bound.before, bound.after, bound.is_count) == (
        "upper bound of tier 1",
        Decimal(100000),
        Decimal(1000000),
        True,
    )
    assert bound.sentence.startswith(
        "Rule distribution-payer's upper bound of tier 1 is 10 times that on 2027.1: "
        "1,000,000 on 2028.1, 100,000 on 2027.1."
    )


def test_a_figure_rising_from_nothing_or_falling_to_nothing_is_warned_of_without_a_ratio(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    following = _next(example_document)
    rules = _rules(following)
    rules["development"]["model"]["amount"] = "0.00"  # the fee deleted by a slip
    rules["distribution-print"]["model"]["tiers"][0]["flat"] = "5000.00"  # 0 on 2027.1
    warnings = price_change_warnings(
        example_card, parse_rate_card(following), amount=price_in_words
    )
    assert [(w.rule, w.figure, w.ratio) for w in warnings] == [
        ("development", "flat fee", None),
        ("distribution-print", "tier flat fee", None),
    ]
    assert warnings[0].sentence == (
        "Rule development's flat fee falls to nothing from 2027.1: 0.00 USD on 2028.1, "
        "2,500.00 USD on 2027.1. Check it is meant, not a figure typed in the wrong place or "
        "deleted."
    )
    assert warnings[1].sentence == (
        "Rule distribution-print's tier flat fee rises from nothing on 2027.1: 5,000.00 USD "
        "on 2028.1, 0.00 USD on 2027.1. Check it is meant, not a figure typed in the wrong "
        "place or deleted."
    )


def test_a_discount_moved_many_times_over_or_to_all_of_a_price_is_warned_of(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    following = _next(example_document)
    discounts = {adjustment["id"]: adjustment for adjustment in following["adjustments"]}
    discounts["nonprofit"]["discount_percent"] = "100"  # 10 typed 100, from 20
    discounts["government"]["discount_percent"] = "12"  # a revision from 10
    [warning] = price_change_warnings(example_card, parse_rate_card(following))
    assert (warning.rule, warning.figure, warning.discount, warning.is_percent) == (
        "nonprofit",
        "discount percent",
        True,
        True,
    )
    assert warning.sentence == (
        "Discount nonprofit's discount percent is 5 times that on 2027.1: 100% on 2028.1, "
        "20% on 2027.1. Every use it matches is then priced at nothing but its minimum. "
        "Check it is not a slip of a digit."
    )


def test_the_ratio_is_the_callers_and_reads_below_one_in_two_significant_digits(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    following = _next(example_document)
    _rules(following)["development"]["model"]["amount"] = "7500.00"  # 3 times
    card = parse_rate_card(following)
    assert len(price_change_warnings(example_card, card)) == 1
    assert price_change_warnings(example_card, card, ratio=Decimal(5)) == []
    # Round 54 gave the API's ratio to two decimals: a cut to 1/1000 read "0.00".
    assert ratio_text(Decimal("27.50") / Decimal("27500.00")) == "0.0010"
    assert ratio_text(Decimal("0.5")) == "0.50"
    assert ratio_text(Decimal(10)) == "10.00"
