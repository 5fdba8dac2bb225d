"""Quotes: the contract's steps for each use, its examples, and every input error."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from licensing.money import round_fraction
from licensing.pricing import (
    ProposedUse,
    Quote,
    QuoteInputError,
    QuoteLine,
    QuoteRequest,
    RateCard,
    Term,
    price,
)

Ask = Callable[..., Quote]  # the `ask` fixture: (card, *uses, organization_type=, start=, end=)
MakeCard = Callable[..., RateCard]  # the `make_card` fixture: (rules, adjustments, **header)

HALF_YEAR = {"start": date(2027, 1, 1), "end": date(2027, 6, 30)}  # 181 of 365 days


def saas(end_users: int | None = None, **details: Any) -> ProposedUse:
    quantity = {} if end_users is None else {"end_users": end_users}
    return ProposedUse("distribution", "saas", "provider", quantity=quantity, **details)


def flat_rule(amount: str, **extra: Any) -> dict[str, Any]:
    return {"id": "flat", "when": {}, "model": {"type": "flat", "amount": amount}, **extra}


def unit_rule(unit_price: str, mode: str = "graduated", **extra: Any) -> dict[str, Any]:
    tiers = [{"up_to": None, "unit_price": unit_price}]
    model = {"type": "per_unit", "unit": "seats", "mode": mode, "tiers": tiers}
    return {"id": "seats", "when": {}, "model": model, **extra}


def seats(count: int) -> ProposedUse:
    return ProposedUse("development", "software", "internal", quantity={"seats": count})


def input_errors(card: RateCard, request: QuoteRequest) -> dict[str, list[str]]:
    with pytest.raises(QuoteInputError) as caught:
        price(card, request)
    return caught.value.errors


# --- the contract's examples ------------------------------------------------------------


def test_the_quote_endpoint_example_gives_the_contracts_response(
    example_card: RateCard, ask: Ask
) -> None:
    quote = ask(example_card, saas(2500, revenue=Decimal("0"), description="Claims scrubber"))
    response = quote.to_contract_dict()
    explanation = response["lines"][0].pop("explanation")
    assert response == {
        "rate_card": "2027.1",
        "currency": "USD",
        "proration": "1",
        "lines": [
            {
                "use_index": 0,
                "rule": "distribution-software",
                "route": "license",
                "review": "auto",
                "amount": "33800.00",
            }
        ],
        "total": "33800.00",
        "requires_review": False,
    }
    assert explanation[0] == (
        "2500 end_users, graduated: 100 x 18.50 + 900 x 15.50 + 1500 x 12.00 = 33800.00"
    )
    assert all(isinstance(step, str) for step in explanation)


def test_a_flat_of_1_83_over_one_day_of_a_leap_year_rounds_up_to_a_cent(
    make_card: MakeCard, ask: Ask
) -> None:
    card = make_card([flat_rule("1.83")], effective_from="2028-01-01", effective_to="2028-12-31")
    assert card.period_days == 366
    quote = ask(card, seats(0), start=date(2028, 2, 29), end=date(2028, 2, 29))
    assert quote.proration == Fraction(1, 366)
    assert quote.lines[0].amount == Decimal("0.01")
    assert quote.to_contract_dict()["proration"] == "1/366"
    assert quote.lines[0].breakdown is not None
    assert quote.lines[0].breakdown.unrounded == Fraction(1, 200)


# --- the example card, rule by rule ---------------------------------------------------------


def test_the_first_matching_rule_wins(example_card: RateCard, ask: Ask) -> None:
    # A payer-facing saas product matches distribution-payer before distribution-software.
    use = ProposedUse("distribution", "saas", "payer", quantity={"members": 200000})
    line = ask(example_card, use).lines[0]
    assert line.rule == "distribution-payer"
    assert line.amount == Decimal("6000.00")  # volume: 200000 x 0.030


@pytest.mark.parametrize(
    ("members", "amount"),
    [
        (100000, "5000.00"),  # 4500.00 lifted to the minimum
        (100001, "5000.00"),  # 3000.03, the second tier's price for every unit
        (1000000, "30000.00"),
        (1000001, "18000.02"),  # 18000.018 rounds half-up
    ],
)
def test_volume_pricing_per_member_with_a_minimum(
    example_card: RateCard, ask: Ask, members: int, amount: str
) -> None:
    use = ProposedUse("distribution", "data_file", "payer", quantity={"members": members})
    assert ask(example_card, use).lines[0].amount == Decimal(amount)


@pytest.mark.parametrize(
    ("organization_type", "amount", "adjustment"),
    [
        ("commercial", "33800.00", None),
        ("nonprofit", "27040.00", "nonprofit"),
        ("academic", "27040.00", "nonprofit"),
        ("government", "30420.00", "government"),
        ("individual", "33800.00", None),
    ],
)
def test_the_first_matching_adjustment_discounts_the_amount(
    example_card: RateCard, ask: Ask, organization_type: str, amount: str, adjustment: str | None
) -> None:
    line = ask(example_card, saas(2500), organization_type=organization_type).lines[0]
    assert line.amount == Decimal(amount)
    assert line.breakdown is not None
    assert line.breakdown.discount_id == adjustment
    assert ("no adjustment applies" in line.explanation) == (adjustment is None)


def test_a_discount_never_lowers_the_minimum(example_card: RateCard, ask: Ask) -> None:
    line = ask(example_card, saas(20), organization_type="nonprofit").lines[0]
    assert line.amount == Decimal("1000.00")
    breakdown = line.breakdown
    assert breakdown is not None
    assert breakdown.raw == 370
    assert breakdown.discounted == Fraction("296")
    assert breakdown.bound_applied == "minimum"
    assert any("discounts never lower a minimum" in step for step in line.explanation)


def test_the_minimum_is_prorated_to_the_term(example_card: RateCard, ask: Ask) -> None:
    quote = ask(example_card, saas(20), **HALF_YEAR)
    assert quote.proration == Fraction(181, 365)
    line = quote.lines[0]
    assert line.amount == Decimal("495.89")  # 1000.00 x 181/365 = 495.8904...
    assert line.breakdown is not None
    assert line.breakdown.minimum_prorated == Fraction(181000, 365)
    assert "minimum 1000.00 x 181/365 (prorated)" in line.explanation[2]


def test_per_unit_royalties_are_not_prorated(example_card: RateCard, ask: Ask) -> None:
    assert ask(example_card, saas(2500), **HALF_YEAR).lines[0].amount == Decimal("33800.00")


def test_a_flat_fee_is_prorated_over_the_term(example_card: RateCard, ask: Ask) -> None:
    use = ProposedUse("development", "software", "internal")
    line = ask(example_card, use, **HALF_YEAR).lines[0]
    assert line.amount == Decimal("1239.73")  # 2500.00 x 181/365 = 1239.726...
    assert line.explanation[0] == "flat 2500.00 x 181/365 (prorated) = 90500/73 (about 1239.726027)"


def test_a_one_day_term_prorates_to_one_day(example_card: RateCard, ask: Ask) -> None:
    use = ProposedUse("development", "software", "internal")
    quote = ask(example_card, use, start=date(2027, 12, 31), end=date(2027, 12, 31))
    assert quote.proration == Fraction(1, 365)
    assert quote.lines[0].amount == Decimal("6.85")  # 6.849...


def test_a_term_in_a_leap_year_card_counts_february_29(make_card: MakeCard, ask: Ask) -> None:
    card = make_card([flat_rule("2500.00")], effective_from="2028-01-01", effective_to="2028-12-31")
    quote = ask(card, seats(0), start=date(2028, 1, 1), end=date(2028, 6, 30))
    assert quote.proration == Fraction(182, 366)
    assert quote.lines[0].amount == Decimal("1243.17")  # 2500 x 182/366 = 1243.169...


def test_a_flat_that_is_not_prorated_is_charged_in_full(example_card: RateCard, ask: Ask) -> None:
    use = ProposedUse("education", "print", "consumer")
    quote = ask(example_card, use, **HALF_YEAR)
    line = quote.lines[0]
    assert (line.rule, line.amount, line.review) == (
        "education-commercial",
        Decimal("1500.00"),
        "staff",
    )
    assert quote.requires_review


def test_a_sum_model_prorates_only_its_flat_part(example_card: RateCard, ask: Ask) -> None:
    use = ProposedUse("internal_use", "software", "internal", quantity={"users": 10})
    full = ask(example_card, use).lines[0]
    assert full.amount == Decimal("267.50")  # 82.50 + 10 x 18.50
    half = ask(example_card, use, **HALF_YEAR).lines[0]
    assert half.amount == Decimal("225.91")  # 82.50 x 181/365 + 185.00
    assert half.breakdown is not None
    assert (half.breakdown.fixed, half.breakdown.variable) == (Decimal("40.91"), Decimal("185.00"))


def test_percent_of_revenue_with_a_minimum_and_staff_review(
    example_card: RateCard, ask: Ask
) -> None:
    use = ProposedUse(
        "distribution", "electronic_publication", "consumer", revenue=Decimal("120000.00")
    )
    quote = ask(example_card, use)
    line = quote.lines[0]
    assert line.amount == Decimal("12000.00")
    assert line.explanation[0] == "10% of revenue 120000.00 = 12000.00"
    assert line.review == "staff"
    assert quote.requires_review
    zero = ask(
        example_card, ProposedUse("distribution", "data_file", "consumer", revenue=Decimal(0))
    )
    assert zero.lines[0].amount == Decimal("5000.00")


# --- routes and unmatched uses -----------------------------------------------------------


def test_a_routed_use_goes_to_the_permissions_queue_at_no_charge(
    example_card: RateCard, ask: Ask
) -> None:
    use = ProposedUse("education", "print", "academic")
    quote = ask(example_card, use, organization_type="academic")
    assert quote.to_contract_dict()["lines"][0] | {"explanation": []} == {
        "use_index": 0,
        "rule": "education-noncommercial",
        "route": "permission_request",
        "review": "auto",
        "amount": "0.00",
        "explanation": [],
    }
    assert quote.total == Decimal("0.00")
    assert not quote.requires_review
    assert quote.lines[0].breakdown is None


def test_a_route_rule_can_ask_for_staff_review(make_card: MakeCard, ask: Ask) -> None:
    card = make_card(
        [{"id": "queue", "when": {}, "route": "permission_request", "review": "staff"}]
    )
    quote = ask(card, seats(1))
    assert (quote.lines[0].route, quote.lines[0].review) == ("permission_request", "staff")
    assert quote.requires_review


def test_a_use_no_rule_matches_is_left_for_staff_to_price(example_card: RateCard, ask: Ask) -> None:
    unmatched = ProposedUse("distribution", "ai_model", "consumer")
    quote = ask(example_card, saas(2500), unmatched)
    line = quote.to_contract_dict()["lines"][1]
    assert line["rule"] is None
    assert line["route"] == "license"
    assert line["amount"] is None
    assert line["review"] == "staff"
    assert "staff will price this use by hand" in line["explanation"][0]
    assert quote.requires_review
    assert quote.total == Decimal("33800.00")


# --- rounding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_price", "count", "amount"),
    [
        ("0.335", 3, "1.01"),  # 1.005: half a cent rounds up
        ("0.125", 1, "0.13"),
        ("0.004999", 1, "0.00"),
        ("0.0051", 1, "0.01"),
        ("2.675", 1, "2.68"),  # a float would have said 2.67
    ],
)
def test_the_amount_is_rounded_half_up_once(
    make_card: MakeCard, ask: Ask, unit_price: str, count: int, amount: str
) -> None:
    line = ask(make_card([unit_rule(unit_price)]), seats(count)).lines[0]
    assert line.amount == Decimal(amount)
    assert str(line.amount) == amount


def test_the_total_adds_the_rounded_lines(make_card: MakeCard, ask: Ask) -> None:
    quote = ask(make_card([unit_rule("0.005")]), seats(1), seats(1))
    # Each line rounds 0.005 up to 0.01; the exact sum 0.01 would have said otherwise.
    assert [line.amount for line in quote.lines] == [Decimal("0.01"), Decimal("0.01")]
    assert quote.total == Decimal("0.02")


@pytest.mark.parametrize(("currency", "amount"), [("JPY", "7"), ("KWD", "6.849"), ("EUR", "6.85")])
def test_amounts_use_the_currencys_minor_unit(
    make_card: MakeCard, ask: Ask, currency: str, amount: str
) -> None:
    card = make_card([flat_rule("2500")], currency=currency)
    quote = ask(card, seats(0), start=date(2027, 5, 5), end=date(2027, 5, 5))
    assert quote.to_contract_dict()["lines"][0]["amount"] == amount
    assert quote.to_contract_dict()["total"] == amount


# --- minimum, maximum and the fixed/variable split ---------------------------------------------


def _entity_fee_plus_seats(**bounds: str) -> dict[str, Any]:
    parts = [
        {"type": "flat", "amount": "300.00", "prorate": False},
        {
            "type": "per_unit",
            "unit": "seats",
            "mode": "graduated",
            "tiers": [{"up_to": None, "unit_price": "10.00"}],
        },
    ]
    return {"id": "mixed", "when": {}, "model": {"type": "sum", "parts": parts}, **bounds}


def test_the_maximum_caps_the_amount_and_is_prorated(make_card: MakeCard, ask: Ask) -> None:
    card = make_card([unit_rule("10.00", maximum="1000.00")])
    full = ask(card, seats(200)).lines[0]
    assert full.amount == Decimal("1000.00")
    assert full.breakdown is not None
    assert full.breakdown.bound_applied == "maximum"
    half = ask(card, seats(200), **HALF_YEAR).lines[0]
    assert half.amount == Decimal("495.89")
    assert ask(card, seats(40), **HALF_YEAR).lines[0].amount == Decimal("400.00")


def test_the_maximum_applies_after_the_discount(make_card: MakeCard, ask: Ask) -> None:
    card = make_card(
        [unit_rule("10.00", maximum="1000.00")],
        [{"id": "half", "when": {"organization_type": "nonprofit"}, "discount_percent": "50"}],
    )
    assert ask(card, seats(150), organization_type="nonprofit").lines[0].amount == Decimal("750.00")
    assert ask(card, seats(250), organization_type="nonprofit").lines[0].amount == Decimal(
        "1000.00"
    )


def test_the_split_puts_flat_fees_and_minimum_lifts_in_fixed(make_card: MakeCard, ask: Ask) -> None:
    card = make_card([_entity_fee_plus_seats(minimum="500.00", maximum="1000.00")])
    lifted = ask(card, seats(10)).lines[0].breakdown
    assert lifted is not None
    assert (lifted.fixed, lifted.variable, lifted.bound_applied) == (
        Decimal("400.00"),
        Decimal("100.00"),
        "minimum",
    )
    capped = ask(card, seats(100)).lines[0].breakdown
    assert capped is not None
    # 300 + 1000 capped at 1000: the cap cuts the usage royalties first.
    assert (capped.fixed, capped.variable, capped.bound_applied) == (
        Decimal("300.00"),
        Decimal("700.00"),
        "maximum",
    )


def test_a_cap_below_the_fixed_fee_cuts_the_fixed_fee(make_card: MakeCard, ask: Ask) -> None:
    card = make_card([_entity_fee_plus_seats(maximum="200.00")])
    breakdown = ask(card, seats(5)).lines[0].breakdown
    assert breakdown is not None
    assert (breakdown.fixed, breakdown.variable) == (Decimal("200.00"), Decimal("0.00"))


def test_the_split_adds_up_to_the_rounded_amount(example_card: RateCard, ask: Ask) -> None:
    use = ProposedUse("internal_use", "software", "internal", quantity={"users": 3})
    line = ask(
        example_card,
        use,
        organization_type="government",
        start=date(2027, 2, 3),
        end=date(2027, 9, 9),
    ).lines[0]
    assert line.breakdown is not None
    assert line.amount == line.breakdown.fixed + line.breakdown.variable


# --- languages -----------------------------------------------------------------------------


def test_listed_languages_count_when_no_languages_quantity_is_given(
    example_card: RateCard, ask: Ask
) -> None:
    use = ProposedUse(
        "translation",
        "print",
        "consumer",
        revenue=Decimal("1000"),
        languages=("de", "fr", "es", "FR "),
    )
    line = ask(example_card, use).lines[0]
    assert line.amount == Decimal("6050.00")  # 3 x 2000.00 + 5% of 1000.00
    assert (
        line.explanation[0]
        == "no languages quantity given: counted 3 distinct languages listed (de, fr, es)"
    )
    assert line.breakdown is not None
    assert line.breakdown.quantities == {"languages": 3}
    assert line.breakdown.revenue == Decimal("1000")


def test_one_listed_language_is_counted_in_the_singular(example_card: RateCard, ask: Ask) -> None:
    # Round 50: "counted 1 distinct languages listed (de)".
    use = ProposedUse(
        "translation", "print", "consumer", revenue=Decimal("0"), languages=("de", "DE ")
    )
    line = ask(example_card, use).lines[0]
    assert line.amount == Decimal("2000.00")
    assert line.explanation[0] == (
        "no languages quantity given: counted 1 distinct language listed (de)"
    )


def test_an_explicit_languages_quantity_wins_over_the_list(
    example_card: RateCard, ask: Ask
) -> None:
    use = ProposedUse(
        "translation",
        "print",
        "consumer",
        quantity={"languages": 1},
        revenue=Decimal("0"),
        languages=("de", "fr"),
    )
    assert ask(example_card, use).lines[0].amount == Decimal("2000.00")


# --- input errors ----------------------------------------------------------------------------


def _request(
    *uses: ProposedUse, organization_type: str = "commercial", **term: date
) -> QuoteRequest:
    dates = {"start": date(2027, 1, 1), "end": date(2027, 12, 31)} | term
    return QuoteRequest(organization_type, Term(**dates), tuple(uses))


def test_a_missing_quantity_is_named_by_its_path(example_card: RateCard) -> None:
    errors = input_errors(example_card, _request(saas()))
    assert list(errors) == ["uses.0.quantity.end_users"]
    assert "distribution-software" in errors["uses.0.quantity.end_users"][0]


def test_a_missing_revenue_is_named_by_its_path(example_card: RateCard) -> None:
    errors = input_errors(
        example_card, _request(ProposedUse("distribution", "data_file", "consumer"))
    )
    assert list(errors) == ["uses.0.revenue"]


def test_a_translation_without_languages_or_revenue_names_both(example_card: RateCard) -> None:
    errors = input_errors(example_card, _request(ProposedUse("translation", "print", "consumer")))
    assert set(errors) == {"uses.0.quantity.languages", "uses.0.revenue"}


def test_every_input_error_is_reported_at_once(example_card: RateCard) -> None:
    request = _request(
        saas(10),
        ProposedUse("distribution", "hologram", "provider"),
        ProposedUse("derivative_work", "software", "consumer"),
        ProposedUse("distribution", "saas", "provider", quantity={"end_users": -1}),
        ProposedUse("distribution", "data_file", "consumer", revenue=Decimal("-5")),
        organization_type="charity",
        end=date(2026, 12, 1),
    )
    assert set(input_errors(example_card, request)) == {
        "term.end",
        "organization_type",
        "uses.1.product_type",
        "uses.3.quantity.end_users",
        "uses.4.revenue",
    }


def test_quantities_and_revenue_are_checked_with_a_known_organization(
    example_card: RateCard,
) -> None:
    request = _request(
        saas(10),
        ProposedUse("derivative_work", "software", "consumer"),
        ProposedUse("internal_use", "software", "internal"),
    )
    assert set(input_errors(example_card, request)) == {"uses.1.revenue", "uses.2.quantity.users"}


def test_a_term_outside_the_cards_period_is_refused_naming_the_period(
    example_card: RateCard,
) -> None:
    errors = input_errors(
        example_card, _request(saas(10), start=date(2027, 7, 1), end=date(2028, 6, 30))
    )
    assert list(errors) == ["term"]
    assert "2027-01-01 to 2027-12-31" in errors["term"][0]
    before = input_errors(
        example_card, _request(saas(10), start=date(2026, 12, 31), end=date(2027, 1, 31))
    )
    assert list(before) == ["term"]


def test_a_refused_term_carries_the_card_whose_period_it_left(example_card: RateCard) -> None:
    # The service says what to do from the card's period, not by matching the words.
    with pytest.raises(QuoteInputError) as outside:
        price(example_card, _request(saas(10), start=date(2027, 7, 1), end=date(2028, 6, 30)))
    assert outside.value.outside is example_card
    with pytest.raises(QuoteInputError) as backwards:
        price(example_card, _request(saas(10), start=date(2027, 5, 2), end=date(2027, 5, 1)))
    assert backwards.value.outside is None


def test_a_term_that_ends_before_it_starts_is_refused(example_card: RateCard) -> None:
    errors = input_errors(
        example_card, _request(saas(10), start=date(2027, 5, 2), end=date(2027, 5, 1))
    )
    assert list(errors) == ["term.end"]


@pytest.mark.parametrize(
    ("use", "path"),
    [
        (ProposedUse("dancing", "saas", "provider"), "uses.0.use"),
        (ProposedUse("distribution", "Saas", "provider"), "uses.0.product_type"),
        (ProposedUse("distribution", "saas", "robots"), "uses.0.user_type"),
        # Not even hashable (the check's quick path looks values up in sets).
        (ProposedUse(["distribution"], "saas", "provider"), "uses.0.use"),  # type: ignore[arg-type]
    ],
)
def test_an_unknown_vocabulary_value_is_an_error(
    example_card: RateCard, use: ProposedUse, path: str
) -> None:
    assert list(input_errors(example_card, _request(use))) == [path]


def test_a_request_without_uses_is_an_error(example_card: RateCard) -> None:
    assert list(input_errors(example_card, _request())) == ["uses"]


def test_a_request_for_another_card_version_is_an_error(example_card: RateCard) -> None:
    term = Term(date(2027, 1, 1), date(2027, 12, 31))
    request = QuoteRequest("commercial", term, (saas(1),), rate_card="2026.1")
    assert list(input_errors(example_card, request)) == ["rate_card"]


def test_the_error_message_lists_the_paths(example_card: RateCard) -> None:
    with pytest.raises(QuoteInputError, match=r"uses\.0\.quantity\.end_users"):
        price(example_card, _request(saas()))


def test_extra_quantities_are_ignored(example_card: RateCard, ask: Ask) -> None:
    use = ProposedUse("distribution", "saas", "provider", quantity={"end_users": 1, "seats": 9})
    assert ask(example_card, use).lines[0].amount == Decimal("1000.00")


# --- shapes and snapshots ----------------------------------------------------------------------


def _mixed_quote(example_card: RateCard, ask: Ask) -> Quote:
    return ask(
        example_card,
        saas(20),
        ProposedUse("internal_use", "software", "internal", quantity={"users": 3}),
        ProposedUse(
            "translation", "print", "consumer", revenue=Decimal("10.10"), languages=("it",)
        ),
        ProposedUse("education", "print", "academic"),
        ProposedUse("distribution", "ai_model", "consumer"),
        organization_type="nonprofit",
        start=date(2027, 3, 1),
        end=date(2027, 8, 31),
    )


def test_the_contract_dict_has_exactly_the_contracts_keys(example_card: RateCard, ask: Ask) -> None:
    response = _mixed_quote(example_card, ask).to_contract_dict()
    assert set(response) == {
        "rate_card",
        "currency",
        "proration",
        "lines",
        "total",
        "requires_review",
    }
    for line in response["lines"]:
        assert set(line) == {"use_index", "rule", "route", "review", "amount", "explanation"}
    assert [line["use_index"] for line in response["lines"]] == [0, 1, 2, 3, 4]
    assert response["proration"] == "184/365"
    amounts = [Decimal(line["amount"]) for line in response["lines"] if line["amount"] is not None]
    assert Decimal(response["total"]) == sum(amounts)
    json.dumps(response)


def test_a_snapshot_is_json_and_reads_back_equal(example_card: RateCard, ask: Ask) -> None:
    quote = _mixed_quote(example_card, ask)
    snapshot = json.loads(json.dumps(quote.to_snapshot()))
    assert Quote.from_snapshot(snapshot) == quote
    assert snapshot["lines"][0]["breakdown"]["minimum_prorated"] == "36800/73"
    assert snapshot["request"]["uses"][2]["revenue"] == "10.10"


def test_an_unknown_snapshot_format_is_refused(example_card: RateCard, ask: Ask) -> None:
    snapshot = _mixed_quote(example_card, ask).to_snapshot() | {"format": 99}
    with pytest.raises(ValueError, match="format"):
        Quote.from_snapshot(snapshot)


def test_one_card_prices_terms_of_different_lengths_each_with_its_own_proration(
    example_card: RateCard, ask: Ask
) -> None:
    # The compiled card keeps each term length's proration: asking in turn
    # must never hand one term another's.
    terms = [HALF_YEAR, {}, {"start": date(2027, 3, 1), "end": date(2027, 3, 31)}, HALF_YEAR]
    quotes = [ask(example_card, saas(10), **term) for term in terms]
    assert [q.proration for q in quotes] == [
        Fraction(181, 365),
        Fraction(1),
        Fraction(31, 365),
        Fraction(181, 365),
    ]
    totals = [q.total for q in quotes]
    assert totals[0] == totals[3]
    assert len(set(totals[:3])) == 3


def test_proposed_uses_and_quote_lines_behave_as_frozen_dataclasses() -> None:
    # Both write their own __init__ (faster); what dataclasses give stays.
    first, second = ProposedUse("a", "b", "c"), ProposedUse("a", "b", "c")
    assert first == second
    assert first.quantity == {}
    assert first.quantity is not second.quantity  # a dict of its own
    assert (first.revenue, first.languages, first.description) == (None, (), "")
    given = ProposedUse(
        use="a",
        product_type="b",
        user_type="c",
        quantity={"seats": 2},
        revenue=Decimal(5),
        languages=("fr",),
        description="d",
    )
    assert dataclasses.replace(given, description="e") == ProposedUse(
        "a", "b", "c", {"seats": 2}, Decimal(5), ("fr",), "e"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        given.use = "x"  # type: ignore[misc]
    line = QuoteLine(0, "rule", "license", "auto", Decimal("1.00"), ("step",))
    assert line.breakdown is None
    assert hash(line) == hash(QuoteLine(0, "rule", "license", "auto", Decimal("1.00"), ("step",)))
    assert dataclasses.replace(line, amount=None).amount is None
    assert "use_index=0" in repr(line)
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.amount = None  # type: ignore[misc]


@pytest.mark.parametrize("unit_price", ["0.005", "0.0049", "2.675", "0.333", "18.50"])
@pytest.mark.parametrize("organization_type", ["commercial", "nonprofit"])
@pytest.mark.parametrize("term", [{}, HALF_YEAR], ids=["whole period", "half year"])
def test_a_per_unit_amount_is_rounded_half_up_from_its_exact_value_with_or_without_discount(
    make_card: MakeCard,
    ask: Ask,
    unit_price: str,
    organization_type: str,
    term: dict[str, date],
) -> None:
    # A per-unit amount is a plain decimal (nothing prorated): it is rounded by
    # quantizing it, not from the ratio of the scaled amount; the exact value
    # in the breakdown says what it must come to.
    third_off = {
        "id": "third",
        "when": {"organization_type": "nonprofit"},
        "discount_percent": "33.3",
    }
    card = make_card([unit_rule(unit_price)], [third_off])
    line = ask(card, seats(3), organization_type=organization_type, **term).lines[0]
    assert line.breakdown is not None
    assert line.amount == round_fraction(line.breakdown.unrounded, 2)
    assert len(str(line.amount).split(".")[1]) == 2  # the currency's minor digits
    exact = line.amount == line.breakdown.unrounded
    assert ("rounded half-up" in line.explanation[-1]) == (not exact)
