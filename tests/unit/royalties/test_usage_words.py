"""A royalty line's working says how its usage to date was added up in the number's
own grammar (round 50: "each of 1 customers counted once")."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from licensing.pricing import parse_rate_card
from licensing.royalties.computation import Pricer, ReportableLine, Usage

CARD = parse_rate_card(
    json.loads(
        (Path(__file__).parents[1] / "pricing" / "ratecard_example.json").read_text("utf-8"),
        parse_float=Decimal,
    )
)


@pytest.mark.parametrize(
    ("customers", "words"),
    [
        (1, "60 end_users (1 customer, counted once at the largest quantity reported"),
        (2, "60 end_users (2 customers, each counted once at the largest quantity reported"),
    ],
)
def test_the_usage_to_date_counts_its_customers_in_the_singular_or_the_plural(
    customers: int, words: str
) -> None:
    rule = next(rule for rule in CARD.rules if rule.id == "distribution-software")
    line = ReportableLine(1, 0, rule, "distribution", "saas", "provider", Decimal("0"))
    pricer = Pricer(CARD, "commercial", date(2027, 1, 1), date(2027, 12, 31))
    usage = Usage({"end_users": 60}, {"end_users": customers}, None)
    first = pricer.royalty(line, usage, Decimal("0")).explanation[0]
    assert first == (
        "line 1, rule distribution-software of rate card 2027.1: usage to date "
        f"{words} for the term so far)"
    )
