"""Reading rate cards: the example card, every validation rule, and selecting a card."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from licensing.pricing import (
    AXES,
    ORGANIZATION_TYPES,
    PRODUCT_TYPES,
    USER_TYPES,
    USES,
    Condition,
    FlatModel,
    PercentOfRevenueModel,
    PerUnitModel,
    RateCard,
    RateCardInvalid,
    SumModel,
    Tier,
    content_digest,
    parse_rate_card,
    select_card,
)
from licensing.pricing.ratecard import OPEN_ENDED, _MetDiscounts, proposed_term
from tests.support.invalid_cards import INVALID_CARDS, flat_rule, tiered_rule

Document = dict[str, Any]


def problems_of(document: Any) -> dict[str, list[str]]:
    with pytest.raises(RateCardInvalid) as caught:
        parse_rate_card(document)
    return caught.value.errors


# --- vocabulary -----------------------------------------------------------------------


def test_the_vocabulary_is_exactly_the_contracts() -> None:
    assert USES == (
        "development",
        "distribution",
        "internal_use",
        "derivative_work",
        "translation",
        "education",
    )
    assert PRODUCT_TYPES == (
        "software",
        "saas",
        "mobile_app",
        "data_file",
        "print",
        "electronic_publication",
        "ai_model",
    )
    assert USER_TYPES == ("provider", "payer", "consumer", "academic", "government", "internal")
    assert ORGANIZATION_TYPES == ("commercial", "nonprofit", "academic", "government", "individual")
    assert set(AXES) == {"use", "product_type", "user_type", "organization_type"}


# --- the example card -----------------------------------------------------------------------


def test_the_example_card_parses_into_its_rules_and_adjustments(example_card: RateCard) -> None:
    assert example_card.version == "2027.1"
    assert example_card.currency == "USD"
    assert example_card.effective_from == date(2027, 1, 1)
    assert example_card.effective_to == date(2027, 12, 31)
    assert example_card.period_days == 365
    assert [rule.id for rule in example_card.rules][:3] == [
        "education-noncommercial",
        "education-commercial",
        "development",
    ]
    assert len(example_card.rules) == 10
    assert [item.id for item in example_card.adjustments] == ["nonprofit", "government"]


def test_the_example_card_reads_models_exactly(example_card: RateCard) -> None:
    payer = example_card.find_rule("distribution-payer")
    assert payer is not None
    assert payer.model == PerUnitModel(
        "members",
        "volume",
        (
            Tier(100000, Decimal("0.045")),
            Tier(1000000, Decimal("0.030")),
            Tier(None, Decimal("0.018")),
        ),
    )
    assert payer.minimum == Decimal("5000.00")
    assert payer.review == "auto"
    internal = example_card.find_rule("internal-use")
    assert internal is not None
    assert isinstance(internal.model, SumModel)
    assert internal.model.parts[0] == FlatModel(Decimal("82.50"), prorate=True)
    commercial_education = example_card.find_rule("education-commercial")
    assert commercial_education is not None
    assert commercial_education.model == FlatModel(Decimal("1500.00"), prorate=False)
    assert commercial_education.review == "staff"
    routed = example_card.rules[0]
    assert routed.route == "permission_request"
    assert routed.model is None
    assert routed.review == "auto"


def test_the_example_card_round_trips_through_its_canonical_document(
    example_card: RateCard,
) -> None:
    document = example_card.to_document()
    assert parse_rate_card(document) == example_card
    # The document is plain JSON: it survives a trip through text unchanged.
    assert parse_rate_card(json.loads(json.dumps(document))) == example_card


def test_the_canonical_document_writes_decimals_as_strings_and_dates_in_iso(
    example_card: RateCard,
) -> None:
    document = example_card.to_document()
    assert document["effective_from"] == "2027-01-01"
    software = next(rule for rule in document["rules"] if rule["id"] == "distribution-software")
    assert software["minimum"] == "1000.00"
    assert software["model"]["tiers"][0] == {"up_to": 100, "unit_price": "18.50", "flat": "0"}
    assert software["when"] == {
        "use": "distribution",
        "product_type": ["software", "saas", "mobile_app"],
    }


def test_identical_content_has_the_same_digest_and_changed_content_another(
    example_document: Document,
) -> None:
    card = parse_rate_card(example_document)
    assert content_digest(card) == content_digest(parse_rate_card(card.to_document()))
    example_document["rules"][2]["model"]["amount"] = "2500.0"  # same price, other digits
    assert content_digest(parse_rate_card(example_document)) == content_digest(card)
    example_document["rules"][2]["model"]["amount"] = "2600.00"
    assert content_digest(parse_rate_card(example_document)) != content_digest(card)
    assert len(content_digest(card)) == 64


def test_a_title_change_is_changed_content(example_document: Document) -> None:
    card = parse_rate_card(example_document)
    example_document["title"] = "Another title"
    assert content_digest(parse_rate_card(example_document)) != content_digest(card)


def test_decimal_fields_accept_strings_ints_and_decimals(
    make_document: Callable[..., Document],
) -> None:
    rules = [
        {"id": "a", "when": {}, "model": {"type": "flat", "amount": 100}},
        {"id": "b", "when": {}, "model": {"type": "flat", "amount": Decimal("12.5")}},
        {"id": "c", "when": {}, "model": {"type": "flat", "amount": "7.25"}},
    ]
    card = parse_rate_card(make_document(rules))
    assert [rule.model for rule in card.rules] == [
        FlatModel(Decimal(100)),
        FlatModel(Decimal("12.5")),
        FlatModel(Decimal("7.25")),
    ]


def test_a_yaml_date_is_read_like_its_text(make_document: Callable[..., Document]) -> None:
    document = make_document([{"id": "a", "when": {}, "model": {"type": "flat", "amount": "1"}}])
    document["effective_from"] = date(2027, 1, 1)
    assert parse_rate_card(document).effective_from == date(2027, 1, 1)


def test_optional_fields_take_the_contracts_defaults(
    make_document: Callable[..., Document],
) -> None:
    document = make_document(
        [
            {
                "id": "catch-all",
                "model": {
                    "type": "per_unit",
                    "unit": "seats",
                    "mode": "graduated",
                    "tiers": [{"up_to": None, "unit_price": "1"}],
                },
            }
        ]
    )
    del document["adjustments"]
    rule = parse_rate_card(document).rules[0]
    assert rule.when == Condition()
    assert rule.when.matches("education", "print", "consumer", "individual")
    assert rule.review == "auto"
    assert rule.description == ""
    assert isinstance(rule.model, PerUnitModel)
    assert rule.model.tiers[0].flat == 0


def test_a_condition_matches_on_every_axis_it_names() -> None:
    when = Condition(use=("distribution",), product_type=("saas", "software"))
    assert when.matches("distribution", "saas", "payer", "commercial")
    assert when.matches("distribution", "software", "consumer", "government")
    assert not when.matches("distribution", "print", "payer", "commercial")
    assert not when.matches("development", "saas", "payer", "commercial")


# --- validation: every problem at once ------------------------------------------------------


def test_a_card_with_many_mistakes_reports_every_problem_with_its_path() -> None:
    document = {
        "version": "",
        "currency": "usd",
        "effective_from": "2027-12-31",
        "effective_to": "2027-01-01",
        "colour": "blue",
        "rules": [
            {
                "id": "a",
                "when": {"use": "distribution", "planet": "mars"},
                "model": {
                    "type": "per_unit",
                    "unit": "seats",
                    "mode": "stepped",
                    "tiers": [
                        {"up_to": 100, "unit_price": 18.5},
                        {"up_to": 50, "unit_price": "-1"},
                        {"up_to": 500, "unit_price": "2"},
                    ],
                },
                "minimum": "500",
                "maximum": "100",
                "review": "manual",
            },
            {"id": "a", "when": {"product_type": ["saas", "spaceship"]}, "route": "elsewhere"},
        ],
        "adjustments": [{"id": "x", "when": {}, "discount_percent": "150"}],
    }
    errors = problems_of(document)
    assert set(errors) == {
        "version",
        "currency",
        "effective_to",
        "colour",
        "rules.0.when.planet",
        "rules.0.model.mode",
        "rules.0.model.tiers.0.unit_price",
        "rules.0.model.tiers.1.up_to",
        "rules.0.model.tiers.1.unit_price",
        "rules.0.model.tiers.2.up_to",
        "rules.0.maximum",
        "rules.0.review",
        "rules.1.when.product_type.1",
        "rules.1.route",
        "rules.1.id",
        "adjustments.0.discount_percent",
    }


def test_the_error_lists_every_problem_in_its_message(
    make_document: Callable[..., Document],
) -> None:
    document = make_document([{"id": "a", "when": {"use": "dancing"}, "route": "x"}])
    document["currency"] = "XYZ"
    with pytest.raises(RateCardInvalid) as caught:
        parse_rate_card(document)
    text = str(caught.value)
    assert "3 problems" in text
    assert "rules.0.when.use: unknown use 'dancing'" in text
    assert "currency: 'XYZ' is not an ISO 4217 currency code" in text
    assert [problem.path for problem in caught.value.problems] == [
        "currency",
        "rules.0.when.use",
        "rules.0.route",
    ]


def test_a_document_that_is_not_an_object_is_one_problem() -> None:
    assert problems_of(["not", "a", "card"]) == {"_body": ["must be an object (a rate card)"]}


def test_an_empty_document_lists_each_required_field() -> None:
    assert set(problems_of({})) == {
        "version",
        "currency",
        "effective_from",
        "effective_to",
        "rules",
    }


@pytest.mark.parametrize(
    ("mistake", "path"),
    [(change, path) for _, change, path in INVALID_CARDS],
    ids=[name for name, _, _ in INVALID_CARDS],
)
def test_each_validation_rule_reports_its_problem_at_its_path(
    example_document: Document, mistake: Callable[[Document], None], path: str
) -> None:
    mistake(example_document)
    errors = problems_of(example_document)
    assert list(errors) == [path], errors


def test_a_floating_point_number_is_named_as_the_problem(
    make_document: Callable[..., Document],
) -> None:
    errors = problems_of(make_document([flat_rule(minimum=10.5)]))
    assert "not a floating-point number" in errors["rules.0.minimum"][0]


def test_a_zero_discount_and_a_full_discount_are_valid(
    make_document: Callable[..., Document],
) -> None:
    adjustments = [
        {"id": "none", "when": {"organization_type": "commercial"}, "discount_percent": "0"},
        {"id": "all", "when": {}, "discount_percent": "100"},
    ]
    card = parse_rate_card(make_document([flat_rule()], adjustments))
    assert [item.discount_percent for item in card.adjustments] == [0, 100]


def test_null_minimum_and_maximum_mean_none(make_document: Callable[..., Document]) -> None:
    card = parse_rate_card(make_document([flat_rule(minimum=None, maximum=None)]))
    assert card.rules[0].minimum is None
    assert card.rules[0].maximum is None


def test_equal_minimum_and_maximum_are_valid(make_document: Callable[..., Document]) -> None:
    card = parse_rate_card(make_document([flat_rule(minimum="10", maximum="10.00")]))
    assert card.rules[0].minimum == card.rules[0].maximum


def test_a_repeated_value_in_a_when_is_kept_once(make_document: Callable[..., Document]) -> None:
    rule = flat_rule(when={"product_type": ["saas", "saas", "print"]})
    card = parse_rate_card(make_document([rule]))
    assert card.rules[0].when.product_type == ("saas", "print")


def test_tiers_must_be_strictly_ascending_even_when_equal(
    make_document: Callable[..., Document],
) -> None:
    tiers = [
        {"up_to": 10, "unit_price": "1"},
        {"up_to": 10, "unit_price": "1"},
        {"up_to": None, "unit_price": "1"},
    ]
    assert list(problems_of(make_document([tiered_rule(tiers)]))) == ["rules.0.model.tiers.1.up_to"]


def test_a_single_open_tier_is_a_valid_price_list(make_document: Callable[..., Document]) -> None:
    card = parse_rate_card(
        make_document([tiered_rule([{"up_to": None, "unit_price": "2"}], "volume")])
    )
    assert card.rules[0].model == PerUnitModel("seats", "volume", (Tier(None, Decimal(2)),))


def test_sum_models_nest(make_document: Callable[..., Document]) -> None:
    model = {
        "type": "sum",
        "parts": [
            {"type": "flat", "amount": "1"},
            {"type": "sum", "parts": [{"type": "percent_of_revenue", "percent": "2.5"}]},
        ],
    }
    card = parse_rate_card(make_document([{"id": "s", "when": {}, "model": model}]))
    assert card.rules[0].model == SumModel(
        (FlatModel(Decimal(1)), SumModel((PercentOfRevenueModel(Decimal("2.5")),)))
    )


# --- periods and selection ----------------------------------------------------------------


def _card(version: str, start: date, end: date) -> RateCard:
    return RateCard(version, "", "USD", start, end, rules=())


def test_the_period_counts_its_first_and_last_day() -> None:
    assert _card("a", date(2028, 1, 1), date(2028, 12, 31)).period_days == 366
    assert _card("a", date(2027, 3, 1), date(2027, 3, 1)).period_days == 1


def test_a_card_covers_only_terms_wholly_inside_its_period() -> None:
    card = _card("a", date(2027, 1, 1), date(2027, 12, 31))
    assert card.covers(date(2027, 1, 1), date(2027, 12, 31))
    assert card.covers(date(2027, 6, 1), date(2027, 6, 1))
    assert not card.covers(date(2026, 12, 31), date(2027, 6, 1))
    assert not card.covers(date(2027, 6, 1), date(2028, 1, 1))
    assert not card.covers(date(2027, 6, 2), date(2027, 6, 1))


def test_the_card_in_effect_on_a_day_is_selected() -> None:
    old = _card("2026.1", date(2026, 1, 1), date(2026, 12, 31))
    new = _card("2027.1", date(2027, 1, 1), date(2027, 12, 31))
    assert select_card([old, new], date(2027, 1, 1)) is new
    assert select_card([old, new], date(2026, 12, 31)) is old
    assert select_card([old, new], date(2028, 1, 1)) is None
    assert select_card([], date(2027, 1, 1)) is None


def test_among_overlapping_cards_the_latest_start_then_the_highest_version_wins() -> None:
    year = _card("2027.1", date(2027, 1, 1), date(2027, 12, 31))
    midyear = _card("2027.2", date(2027, 7, 1), date(2027, 12, 31))
    assert select_card([midyear, year], date(2027, 8, 1)) is midyear
    assert select_card([midyear, year], date(2027, 6, 30)) is year
    ninth = _card("2027.9", date(2027, 1, 1), date(2027, 12, 31))
    tenth = _card("2027.10", date(2027, 1, 1), date(2027, 12, 31))
    assert select_card([tenth, ninth], date(2027, 3, 1)) is tenth


def test_a_version_with_digits_other_than_ascii_is_ordered_as_text_not_a_failure() -> None:
    # "2027²": "²" is a digit to str.isdigit() and a ValueError to int(), and
    # choosing a card (every quote) failed once such a card was published.
    odd = _card("2027\u00b2", date(2027, 1, 1), date(2027, 12, 31))
    arabic = _card("2027.\u0661", date(2027, 1, 1), date(2027, 12, 31))
    plain = _card("2027.1", date(2027, 1, 1), date(2027, 12, 31))
    assert select_card([odd, arabic, plain], date(2027, 3, 1)) in (odd, arabic, plain)
    assert select_card([odd], date(2027, 3, 1)) is odd


def test_a_rate_cards_numbers_are_bounded_naming_the_limit(example_document: Document) -> None:
    rule = next(r for r in example_document["rules"] if r["id"] == "distribution-software")
    index = example_document["rules"].index(rule)
    model = rule["model"]
    model["tiers"][0]["up_to"] = 10**30
    model["tiers"][1]["unit_price"] = Decimal("1E+999999999")
    model["tiers"][2]["unit_price"] = "0.00000000001"
    errors = problems_of(example_document)
    tiers = f"rules.{index}.model.tiers"
    assert "at most 1000000000000" in errors[f"{tiers}.0.up_to"][0]
    assert "14 digits before the decimal point" in errors[f"{tiers}.1.unit_price"][0]
    assert "at most 10 decimal places" in errors[f"{tiers}.2.unit_price"][0]


def test_a_proposed_term_runs_a_year_and_never_past_the_cards_last_day() -> None:
    # Round 42: the terms the service proposes ran to an open-ended card's 9999-12-31.
    start = date(2028, 1, 1)
    today = date(2026, 12, 5)
    assert proposed_term(start, OPEN_ENDED, earliest=today) == (start, date(2028, 12, 31))
    assert proposed_term(start, date(2029, 12, 31), earliest=today) == (start, date(2028, 12, 31))
    assert proposed_term(start, date(2028, 6, 30), earliest=today) == (start, date(2028, 6, 30))
    assert proposed_term(date(2027, 7, 1), None, earliest=today) == (
        date(2027, 7, 1),
        date(2028, 6, 30),
    )
    assert proposed_term(date(2028, 2, 29), None, earliest=today) == (
        date(2028, 2, 29),
        date(2029, 2, 28),
    )
    assert proposed_term(date(9999, 3, 1), OPEN_ENDED, earliest=today) == (
        date(9999, 3, 1),
        OPEN_ENDED,
    )


def test_a_proposed_term_starts_on_the_day_it_is_proposed_for_never_before() -> None:
    # Round 44: an open-ended card in effect since 2020 proposed 2020-01-01 to 2020-12-31.
    today = date(2026, 12, 5)
    assert proposed_term(date(2020, 1, 1), OPEN_ENDED, earliest=today) == (
        today,
        date(2027, 12, 4),
    )
    # Never past the card's last day, from today either.
    assert proposed_term(date(2026, 1, 1), date(2026, 12, 31), earliest=today) == (
        today,
        date(2026, 12, 31),
    )
    # The day itself and the days after it are kept.
    assert proposed_term(today, OPEN_ENDED, earliest=today) == (today, date(2027, 12, 4))
    # From 29 February, the year ends on 28 February.
    assert proposed_term(date(2027, 1, 1), None, earliest=date(2028, 2, 29)) == (
        date(2028, 2, 29),
        date(2029, 2, 28),
    )


# --- Publishing: a rule no use could be recorded under, with the contract's discounts --
# Round 50 took the card's largest discount for every rule; a use gets the first
# adjustment whose `when` matches it, and a rule prices only the uses no earlier rule
# matches (round 51).

ENTITY_FEE = {"type": "flat", "amount": "70000000000000.00", "prorate": False}
INTERNAL_USE = {
    "id": "internal-use",
    "when": {"use": "internal_use"},
    "model": {"type": "sum", "parts": [ENTITY_FEE, ENTITY_FEE]},
}
EVERYTHING_ELSE = {"id": "everything-else", "when": {}, "model": {"type": "flat", "amount": "10"}}
BEYOND = (
    ", whatever the term and usage: more than the largest amount the office can record "
    "and invoice, 99,999,999,999,999.99 USD, so no use it prices could be applied for"
)


def publishing_problems(
    make_document: Callable[..., Document],
    rules: list[Document],
    adjustments: list[Document],
) -> dict[str, list[str]]:
    document = make_document(rules, adjustments)
    parse_rate_card(document)  # a stored card is read whatever the check says
    try:
        parse_rate_card(document, publishing=True)
    except RateCardInvalid as invalid:
        return invalid.errors
    return {}


def adjustment(adjustment_id: str, percent: str, **when: Any) -> Document:
    return {"id": adjustment_id, "when": when, "discount_percent": percent}


def test_a_discount_that_applies_to_none_of_a_rule_s_uses_does_not_let_it_publish(
    make_document: Callable[..., Document],
) -> None:
    # 50% for education only: internal use pays 140 trillion whoever applies.
    classroom = adjustment("classroom", "50", use="education")
    assert publishing_problems(make_document, [INTERNAL_USE, EVERYTHING_ELSE], [classroom]) == {
        "rules.0.model": [
            "its fees that are not prorated come to 140,000,000,000,000.00 USD at the least"
            + BEYOND
        ]
    }


def test_an_adjustment_an_earlier_one_takes_every_use_from_is_not_counted(
    make_document: Callable[..., Document],
) -> None:
    # Academic organizations meet the 20% first: the 50% after it applies to no use.
    adjustments = [
        adjustment("nonprofit", "20", organization_type=["nonprofit", "academic"]),
        adjustment("academic", "50", organization_type="academic"),
    ]
    assert publishing_problems(make_document, [INTERNAL_USE, EVERYTHING_ELSE], adjustments) == {
        "rules.0.model": [
            "its fees that are not prorated come to 112,000,000,000,000.00 USD at the least "
            f"after the largest discount its uses get (20%, nonprofit){BEYOND}"
        ]
    }


def test_a_discount_for_uses_an_earlier_rule_prices_is_not_counted(
    make_document: Callable[..., Document],
) -> None:
    # Government internal use is priced by the rule before: its 60% is no discount
    # any use the entity-fee rule prices gets.
    government = {
        "id": "government-internal",
        "when": {"use": "internal_use", "organization_type": "government"},
        "model": {"type": "flat", "amount": "10"},
    }
    adjustments = [adjustment("government", "60", organization_type="government")]
    problems = publishing_problems(
        make_document, [government, INTERNAL_USE, EVERYTHING_ELSE], adjustments
    )
    assert list(problems) == ["rules.1.model"]
    assert "140,000,000,000,000.00 USD at the least," in problems["rules.1.model"][0]


def test_a_discount_that_some_use_of_the_rule_gets_brings_it_within_the_largest(
    make_document: Callable[..., Document],
) -> None:
    # Non-profits' internal use comes to 70 trillion: it can be applied for.
    rules = [INTERNAL_USE, EVERYTHING_ELSE]
    narrow = adjustment(
        "nonprofit-internal", "50", use="internal_use", organization_type="nonprofit"
    )
    assert publishing_problems(make_document, rules, [narrow]) == {}
    assert publishing_problems(make_document, rules, [adjustment("everyone", "50")]) == {}
    # 28.5714% leaves 100,000,040,000,000.00: still beyond; 28.5715% brings it within.
    assert list(publishing_problems(make_document, rules, [adjustment("x", "28.5714")])) == [
        "rules.0.model"
    ]
    assert publishing_problems(make_document, rules, [adjustment("x", "28.5715")]) == {}


def test_a_rule_that_prices_no_use_is_not_refused_for_its_fees(
    make_document: Callable[..., Document],
) -> None:
    # Every internal use meets the rule before it: no amount is ever computed under
    # the entity fees, so none is beyond the largest (round 50 refused the card).
    cheap = {
        "id": "internal-cheap",
        "when": {"use": "internal_use"},
        "model": EVERYTHING_ELSE["model"],
    }
    assert publishing_problems(make_document, [cheap, INTERNAL_USE, EVERYTHING_ELSE], []) == {}


def random_when(draw: random.Random) -> Document:
    axes = draw.sample(list(AXES), draw.randint(0, 2))
    return {axis: draw.sample(AXES[axis], draw.randint(1, 3)) for axis in axes}


def test_the_discount_the_check_counts_is_the_largest_a_quote_of_the_rule_s_uses_gets(
    make_document: Callable[..., Document],
) -> None:
    # Against the quote's own matching (`rule_for`, `adjustment_for`) over every
    # combination of the axes, on cards drawn from fixed seeds.
    combinations = list(itertools.product(USES, PRODUCT_TYPES, USER_TYPES, ORGANIZATION_TYPES))
    for seed in range(60):
        draw = random.Random(seed)

        rules = [
            {**flat_rule(when=random_when(draw)), "id": f"r{i}"} for i in range(draw.randint(1, 6))
        ]
        adjustments = [
            adjustment(f"a{i}", str(draw.randint(0, 100)), **random_when(draw))
            for i in range(draw.randint(0, 4))
        ]
        card = parse_rate_card(make_document(rules, adjustments))
        met = _MetDiscounts(card.rules, card.adjustments)
        for index, rule in enumerate(card.rules):
            got = [
                found.discount_percent if found is not None else Decimal(0)
                for axes in combinations
                if card.rule_for(*axes) is rule
                for found in [card.adjustment_for(*axes)]
            ]
            largest = met.largest(index)
            expected = max(got) if got else None
            assert (largest and largest.discount_percent) == expected, (seed, index)
