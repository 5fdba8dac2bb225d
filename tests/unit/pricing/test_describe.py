"""Rate cards in plain words, and what changed between two versions."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from licensing.money import format_quantity, price_in_words
from licensing.pricing import (
    Condition,
    ProposedUse,
    RateCard,
    Rule,
    describe_condition,
    describe_rule,
    diff_cards,
    parse_rate_card,
)
from licensing.pricing.describe import (
    LONG_PERIOD_DAYS,
    long_period_words,
    proration_warnings,
    runs_long,
    term_proration_warnings,
    use_changes,
    warned_term,
)
from licensing.pricing.ratecard import proposed_term


def rule(card: RateCard, rule_id: str) -> Rule:
    found = card.find_rule(rule_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("rule_id", "words"),
    [
        (
            "distribution-software",
            "Per end user, graduated: the first 100 at 18.50 each, the next 900 at 15.50 each, "
            "above 1000 at 12.00 each; minimum 1000.00 a year (prorated)",
        ),
        (
            "distribution-payer",
            "Per member, volume (every unit at the price of the tier the total falls in): "
            "up to 100000 at 0.045 each, 100001 to 1000000 at 0.03 each, "
            "above 1000000 at 0.018 each; minimum 5000.00 a year (prorated)",
        ),
        ("development", "Flat fee of 2500.00 a year (prorated)"),
        ("education-commercial", "Flat fee of 1500.00; staff review"),
        (
            "internal-use",
            "The sum of: (1) flat fee of 82.50 a year (prorated); (2) per user: 18.50 each",
        ),
        ("distribution-print", "Per copy: 15.50 each"),
        ("distribution-data", "10% of revenue; minimum 5000.00 a year (prorated); staff review"),
        ("education-noncommercial", "Goes to the educational permissions queue; no fee"),
    ],
)
def test_each_rule_reads_as_plain_words(example_card: RateCard, rule_id: str, words: str) -> None:
    assert describe_rule(rule(example_card, rule_id), "USD") == words


def test_a_maximum_and_tier_flats_are_described(make_card: Any) -> None:
    tiers = [
        {"up_to": 10, "unit_price": "2", "flat": "100"},
        {"up_to": None, "unit_price": "1"},
    ]
    card = make_card(
        [
            {
                "id": "r",
                "when": {},
                "model": {"type": "per_unit", "unit": "seats", "mode": "graduated", "tiers": tiers},
                "maximum": "900",
            }
        ]
    )
    assert describe_rule(card.rules[0], "USD") == (
        "Per seat, graduated: the first 10 at 2.00 each plus 100.00 once the tier is reached, "
        "above 10 at 1.00 each; maximum 900.00 a year (prorated)"
    )


def test_amounts_are_described_in_the_currencys_minor_unit(example_card: RateCard) -> None:
    assert describe_rule(rule(example_card, "development"), "JPY") == (
        "Flat fee of 2500 a year (prorated)"
    )


@pytest.mark.parametrize(
    ("when", "words"),
    [
        (
            Condition(use=("distribution",), product_type=("software", "saas", "mobile_app")),
            "distribution of software, saas or mobile_app products",
        ),
        (Condition(), "any use"),
        (
            Condition(organization_type=("nonprofit", "academic")),
            "any use by nonprofit or academic organizations",
        ),
        (
            Condition(
                use=("distribution", "translation"),
                product_type=("print",),
                user_type=("payer",),
                organization_type=("government",),
            ),
            "distribution or translation of print products for payer users "
            "by government organizations",
        ),
    ],
)
def test_a_condition_reads_as_the_uses_it_matches(when: Condition, words: str) -> None:
    assert describe_condition(when) == words


def test_identical_cards_have_no_differences(example_card: RateCard) -> None:
    assert diff_cards(example_card, example_card) == []


def test_the_differences_between_two_versions_are_listed(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    document = example_document
    document["version"] = "2027.2"
    document["effective_to"] = "2027-06-30"
    document["rules"][5]["minimum"] = "1200.00"
    document["rules"][2]["review"] = "staff"
    document["rules"].insert(0, document["rules"].pop(3))  # internal-use first
    document["rules"] = [item for item in document["rules"] if item["id"] != "distribution-print"]
    document["rules"].append(
        {
            "id": "ai",
            "when": {"product_type": "ai_model"},
            "model": {"type": "flat", "amount": "9000"},
        }
    )
    document["adjustments"][0]["discount_percent"] = Decimal("25")
    document["adjustments"].append(
        {"id": "individual", "when": {"organization_type": "individual"}, "discount_percent": "5"}
    )
    changes = diff_cards(example_card, parse_rate_card(document))
    assert [(change.kind, change.subject, change.key) for change in changes] == [
        ("changed", "card", "version"),
        ("changed", "card", "effective_to"),
        ("changed", "rule", "development"),
        ("changed", "rule", "distribution-software"),
        ("added", "rule", "ai"),
        ("removed", "rule", "distribution-print"),
        ("reordered", "rule", None),
        ("changed", "adjustment", "nonprofit"),
        ("added", "adjustment", "individual"),
    ]
    sentences = [change.sentence for change in changes]
    assert sentences[0] == "Version changed from 2027.1 to 2027.2."
    assert sentences[2] == "Changed rule development: review from auto to staff."
    assert (
        sentences[3]
        == "Changed rule distribution-software: minimum from 1000.00 to 1200.00 a year."
    )
    assert sentences[4] == (
        "Added rule ai at position 10, for any use of ai_model products: "
        "Flat fee of 9000.00 a year (prorated)."
    )
    assert sentences[5].startswith(
        "Removed rule distribution-print, which applied to distribution of print"
    )
    assert "now internal-use, education-noncommercial" in sentences[6]
    assert sentences[7] == (
        "Changed adjustment nonprofit: now 25% discount for any use by nonprofit or academic "
        "organizations (was 20% discount for any use by nonprofit or academic organizations)."
    )


def test_a_changed_condition_and_model_are_both_described(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    example_document["rules"][6]["when"]["product_type"] = ["print", "electronic_publication"]
    example_document["rules"][6]["model"] = {"type": "percent_of_revenue", "percent": "7.5"}
    [change] = diff_cards(example_card, parse_rate_card(example_document))
    assert change.sentence == (
        "Changed rule distribution-print: applies to distribution of print or "
        "electronic_publication products (was distribution of print products); "
        "charge now 7.5% of revenue "
        "(was per copy: 15.50 each)."
    )


def test_a_removed_minimum_is_described(
    example_card: RateCard, example_document: dict[str, Any]
) -> None:
    del example_document["rules"][5]["minimum"]
    [change] = diff_cards(example_card, parse_rate_card(example_document))
    assert (
        change.sentence == "Changed rule distribution-software: minimum of 1000.00 a year removed."
    )


# Pages and documents (the rate card's page, the comparison, the agreement's PDF)
# pass these; the API's `in_plain_words` keeps the defaults (round 13).
@pytest.mark.parametrize(
    ("rule_id", "words"),
    [
        (
            "distribution-software",
            "Per end user, graduated: the first 100 at 18.50 USD each, the next 900 at "
            "15.50 USD each, above 1,000 at 12.00 USD each; minimum 1,000.00 USD a year "
            "(prorated)",
        ),
        (
            "distribution-payer",
            "Per member, volume (every unit at the price of the tier the total falls in): "
            "up to 100,000 at 0.045 USD each, 100,001 to 1,000,000 at 0.03 USD each, "
            "above 1,000,000 at 0.018 USD each; minimum 5,000.00 USD a year (prorated)",
        ),
        ("development", "Flat fee of 2,500.00 USD a year (prorated)"),
    ],
)
def test_a_rule_read_by_people_groups_its_amounts_and_its_tiers_bounds(
    example_card: RateCard, rule_id: str, words: str
) -> None:
    found = describe_rule(
        rule(example_card, rule_id), "USD", amount=price_in_words, count=format_quantity
    )
    assert found == words


def test_a_comparison_read_by_people_groups_a_changed_tiers_bounds(
    example_document: dict[str, Any],
) -> None:
    document = copy.deepcopy(example_document)
    document["version"] = "2027.2"
    software = next(r for r in document["rules"] if r["id"] == "distribution-software")
    software["model"]["tiers"][1]["up_to"] = 2000
    changes = diff_cards(
        parse_rate_card(example_document),
        parse_rate_card(document),
        amount=price_in_words,
        count=format_quantity,
    )
    (changed,) = [c for c in changes if c.key == "distribution-software"]
    assert "the next 1,900 at 15.50 USD each, above 2,000 at 12.00 USD each" in changed.sentence
    assert "(was per end user, graduated: the first 100 at 18.50 USD each" in changed.sentence


def test_an_open_ended_cards_end_reads_open_ended_in_a_comparison(
    example_document: dict[str, Any],
) -> None:
    # A card written with no last day stores 9999-12-31; a comparison said "Effective
    # to changed from 9999-12-31 to 2027-12-31."
    open_ended = parse_rate_card({**example_document, "effective_to": "9999-12-31"})
    closed = parse_rate_card(example_document)
    sentences = [change.sentence for change in diff_cards(open_ended, closed)]
    assert sentences == ["Effective to changed from open-ended to 2027-12-31."]
    back = [change.sentence for change in diff_cards(closed, open_ended)]
    assert back == ["Effective to changed from 2027-12-31 to open-ended."]


def test_a_cards_period_reads_in_one_way_everywhere() -> None:
    from datetime import date

    from licensing.pricing.ratecard import (
        OPEN_ENDED,
        day_words,
        days_words,
        period_length_words,
        period_words,
    )

    first, last = date(2027, 1, 1), date(2027, 12, 31)
    assert period_words(first, last) == "2027-01-01 to 2027-12-31"
    assert period_words(first, OPEN_ENDED) == "from 2027-01-01, open-ended"
    assert period_length_words(first, last) == "2027-01-01 to 2027-12-31 (365 days)"
    assert period_length_words(first, OPEN_ENDED) == "from 2027-01-01, open-ended"
    assert days_words(first, last) == "2027-01-01 to 2027-12-31"
    assert days_words(first, OPEN_ENDED) == "on or after 2027-01-01"
    assert (day_words(last), day_words(OPEN_ENDED)) == ("2027-12-31", "open-ended")
    assert date(9999, 12, 31) == OPEN_ENDED


# A day before the cards of these tests (from 2028-01-01) are in effect: their
# warning prices a year from their first day.
BEFORE_2028 = date(2027, 6, 1)


def open_ended_with_a_5000_fee(example_document: dict[str, Any]) -> RateCard:
    """The example card from 2028-01-01, open-ended, its development fee 5,000.00."""
    document = copy.deepcopy(example_document)
    document.update(effective_from="2028-01-01", effective_to="9999-12-31")
    rule_of = {item["id"]: item for item in document["rules"]}
    rule_of["development"]["model"]["amount"] = "5000.00"
    return parse_rate_card(document)


def test_an_open_ended_cards_prorated_amounts_are_warned_of_at_a_years_quote(
    example_document: dict[str, Any], ask: Any
) -> None:
    # Round 42: on a card to 9999-12-31 the contract prorates over 2,911,713 days.
    card = open_ended_with_a_5000_fee(example_document)
    assert runs_long(card, LONG_PERIOD_DAYS)
    warnings = proration_warnings(
        card, today=BEFORE_2028, long_period_days=LONG_PERIOD_DAYS, amount=price_in_words
    )
    assert [(w.rule, w.name, w.amount, w.prorated) for w in warnings] == [
        ("development", "flat fee", Decimal("5000.00"), Decimal("0.63")),
        ("internal-use", "flat fee", Decimal("82.50"), Decimal("0.01")),
        ("distribution-payer", "minimum", Decimal("5000.00"), Decimal("0.63")),
        ("distribution-software", "minimum", Decimal("1000.00"), Decimal("0.13")),
        ("distribution-data", "minimum", Decimal("5000.00"), Decimal("0.63")),
        ("derivative-work", "minimum", Decimal("2500.00"), Decimal("0.31")),
    ]
    assert warnings[0].sentence == (
        "Prorated over its period to 9999-12-31, the development flat fee of 5,000.00 USD "
        "would be 0.63 USD for a one-year term from 2028-01-01."
    )
    assert (warnings[0].term_start, warnings[0].term_end) == (date(2028, 1, 1), date(2028, 12, 31))
    # The figure is what a quote for that term charges.
    quote = ask(
        card,
        ProposedUse("development", "software", "provider"),
        start=warnings[0].term_start,
        end=warnings[0].term_end,
    )
    assert quote.total == Decimal("0.63")


def test_a_card_of_ten_years_or_less_is_not_warned_of_and_a_longer_one_is(
    example_document: dict[str, Any],
) -> None:
    document = copy.deepcopy(example_document)
    document.update(effective_from="2028-01-01", effective_to="2037-12-31")
    assert (
        proration_warnings(
            parse_rate_card(document), today=BEFORE_2028, long_period_days=LONG_PERIOD_DAYS
        )
        == []
    )
    document.update(effective_to="2038-01-01")
    warnings = proration_warnings(
        parse_rate_card(document), today=BEFORE_2028, long_period_days=LONG_PERIOD_DAYS
    )
    assert warnings[0].sentence == (
        "Prorated over its period to 2038-01-01, the development flat fee of 2500.00 USD "
        "would be 250.41 USD for a one-year term from 2028-01-01."
    )


def test_an_open_ended_card_with_nothing_prorated_is_not_warned_of(
    example_document: dict[str, Any],
) -> None:
    document = copy.deepcopy(example_document)
    document.update(effective_from="2028-01-01", effective_to="9999-12-31")
    document["rules"] = [r for r in document["rules"] if r["id"] == "distribution-print"]
    assert (
        proration_warnings(
            parse_rate_card(document), today=BEFORE_2028, long_period_days=LONG_PERIOD_DAYS
        )
        == []
    )


def test_the_long_card_threshold_is_passed_in_not_kept(
    example_document: dict[str, Any],
) -> None:
    # Round 44: `LONG_CARD_DAYS` is configuration; the core takes it as an argument.
    document = copy.deepcopy(example_document)
    document.update(effective_from="2028-01-01", effective_to="2029-12-31")  # 731 days
    card = parse_rate_card(document)
    assert not runs_long(card, LONG_PERIOD_DAYS)
    assert proration_warnings(card, today=BEFORE_2028, long_period_days=LONG_PERIOD_DAYS) == []
    assert runs_long(card, 730)
    assert not runs_long(card, 731)
    warned = proration_warnings(card, today=BEFORE_2028, long_period_days=730)
    assert warned[0].sentence == (
        "Prorated over its period to 2029-12-31, the development flat fee of 2500.00 USD "
        "would be 1251.71 USD for a one-year term from 2028-01-01."
    )
    assert (long_period_words(LONG_PERIOD_DAYS), long_period_words(730)) == (
        "ten years",
        "730 days",
    )


def test_the_warning_prices_the_term_the_service_would_propose_that_day(
    example_document: dict[str, Any], ask: Any
) -> None:
    # Round 45: a card already in effect was warned of over a year from its first day,
    # a year gone by; the warning's term is the one the service proposes that day.
    card = open_ended_with_a_5000_fee(example_document)
    on = date(2030, 3, 10)
    warnings = proration_warnings(card, today=on, long_period_days=LONG_PERIOD_DAYS)
    assert (warnings[0].term_start, warnings[0].term_end) == (on, date(2031, 3, 9))
    assert (on, date(2031, 3, 9)) == proposed_term(
        card.effective_from, card.effective_to, earliest=on
    )
    assert warnings[0].sentence == (
        "Prorated over its period to 9999-12-31, the development flat fee of 5000.00 USD "
        "would be 0.63 USD for a one-year term from 2030-03-10."
    )
    assert warned_term(card, on) == (on, date(2031, 3, 9))
    # The figure is what a quote for that term charges.
    quote = ask(
        card, ProposedUse("development", "software", "provider"), start=on, end=date(2031, 3, 9)
    )
    assert quote.total == warnings[0].prorated
    # Before the card's first day, a year from it, as before.
    assert warned_term(card, BEFORE_2028) == (date(2028, 1, 1), date(2028, 12, 31))


def test_a_long_card_in_its_last_year_is_warned_of_over_the_days_it_has_left(
    example_document: dict[str, Any], ask: Any
) -> None:
    document = copy.deepcopy(example_document)
    document.update(effective_from="2020-01-01", effective_to="2030-12-31")  # 4,018 days
    card = parse_rate_card(document)
    warnings = proration_warnings(card, today=date(2030, 9, 1), long_period_days=LONG_PERIOD_DAYS)
    assert (warnings[0].term_start, warnings[0].term_end) == (date(2030, 9, 1), date(2030, 12, 31))
    assert warnings[0].term_words == "the 122-day term"
    # 2,500.00 x 122/4018 = 75.908...
    assert warnings[0].sentence == (
        "Prorated over its period to 2030-12-31, the development flat fee of 2500.00 USD "
        "would be 75.91 USD for the 122-day term from 2030-09-01."
    )
    quote = ask(
        card,
        ProposedUse("development", "software", "provider"),
        start=date(2030, 9, 1),
        end=date(2030, 12, 31),
    )
    assert quote.total == Decimal("75.91")
    # A card already over proposes nothing: a year from its first day, what it charged.
    over = proration_warnings(card, today=date(2031, 2, 1), long_period_days=LONG_PERIOD_DAYS)
    assert (over[0].term_start, over[0].term_end) == (date(2020, 1, 1), date(2020, 12, 31))
    assert over[0].term_words == "a one-year term"
    assert over[0].sentence.endswith("for a one-year term from 2020-01-01.")


def test_a_quotes_term_is_warned_of_for_the_rules_it_priced_with(
    example_document: dict[str, Any], ask: Any
) -> None:
    # Round 44: a quote of a one-year development use on an open-ended card is a fee
    # of cents; what its page and the API's explanation say of it.
    card = open_ended_with_a_5000_fee(example_document)
    start, end = date(2028, 3, 1), date(2029, 2, 28)
    warnings = term_proration_warnings(
        card,
        start,
        end,
        ["development", None, "development", "distribution-print"],
        long_period_days=LONG_PERIOD_DAYS,
        amount=price_in_words,
    )
    # Each rule once; a line no rule priced, and a rule with nothing prorated, say nothing.
    assert [(w.rule, w.name, w.prorated) for w in warnings] == [
        ("development", "flat fee", Decimal("0.63"))
    ]
    assert warnings[0].sentence == (
        "Rate card 2027.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over "
        "all of it: the development flat fee of 5,000.00 USD is 0.63 USD for this term of "
        "365 days."
    )
    # The figure is the quote's own.
    quote = ask(card, ProposedUse("development", "software", "provider"), start=start, end=end)
    assert quote.total == warnings[0].prorated
    # A card of ten years or less: nothing.
    document = copy.deepcopy(example_document)
    document.update(effective_from="2028-01-01", effective_to="2029-12-31")
    normal = parse_rate_card(document)
    assert (
        term_proration_warnings(
            normal, start, end, ["development"], long_period_days=LONG_PERIOD_DAYS
        )
        == []
    )


def test_use_changes_say_for_each_use_the_rule_or_discount_a_correction_prices_it_by_otherwise(
    example_document: dict[str, Any], example_card: RateCard
) -> None:
    """Round 62 (correction62): what a correction changes for an agreement's uses, the
    words its email and page give (rules and figures, never a price worked out again)."""
    corrected = copy.deepcopy(example_document)
    corrected["version"] = "2027.2"
    corrected["rules"][2]["model"]["amount"] = "2000.00"  # development
    # Print moved from its own rule to one of 18.00 a copy placed before it.
    corrected["rules"].insert(
        6,
        {
            "id": "distribution-print-2",
            "when": {"use": "distribution", "product_type": "print"},
            "model": {
                "type": "per_unit",
                "unit": "copies",
                "mode": "graduated",
                "tiers": [{"up_to": None, "unit_price": "18.00"}],
            },
        },
    )
    corrected["adjustments"][0]["discount_percent"] = "25"
    new = parse_rate_card(corrected)
    uses = [
        ProposedUse(use="development", product_type="software", user_type="provider"),
        ProposedUse(use="distribution", product_type="print", user_type="provider"),
        ProposedUse(use="derivative_work", product_type="software", user_type="provider"),
    ]

    said = use_changes(example_card, new, uses, "commercial", amount=price_in_words)
    assert said == [
        "Use 1: rule development: charge now flat fee of 2,000.00 USD a year (prorated) "
        "(was flat fee of 2,500.00 USD a year (prorated)).",
        "Use 2: priced by rule distribution-print-2 (Per copy: 18.00 USD each) (was rule "
        "distribution-print (Per copy: 15.50 USD each)).",
    ]
    # A nonprofit's discount changed too; a card changing nothing of the uses, nothing.
    nonprofit = use_changes(example_card, new, uses[2:], "nonprofit")
    assert nonprofit == [
        "Use 1: discount now 25% discount for any use by nonprofit or academic organizations "
        "(was 20% discount for any use by nonprofit or academic organizations)."
    ]
    assert use_changes(example_card, example_card, uses, "commercial") == []
