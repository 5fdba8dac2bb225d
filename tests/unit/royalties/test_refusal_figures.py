"""The royalty intake's refusals give their counts and amounts as pages write
figures (round 13): "1,500 more problems", "1,500,000,000 end users",
"revenue 12,000,000,000,000.00 USD"; until then bare ("1500", "end_users")."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from licensing.pricing import QuoteInputError
from licensing.royalties import computation
from licensing.royalties.rows import MAX_PROBLEMS, Problems


def test_problems_beyond_the_cap_are_counted_grouped() -> None:
    problems = Problems()
    for number in range(MAX_PROBLEMS + 1500):
        problems.add(f"rows.{number}.quantity", "Must be a whole number.")
    assert problems.summary()["rows"] == ["and 1,500 more problems not listed"]


def _refused(field: str, usage: Any) -> list[str]:
    line: Any = SimpleNamespace(number=2)
    refused = QuoteInputError({f"uses.0.{field}": ["Too large."]})
    found = computation._beyond_pricing(line, usage, refused, "USD")
    return found.errors["rows"]


def test_usage_to_date_beyond_pricing_names_its_figure_grouped_in_words() -> None:
    usage = computation.Usage(
        quantities={"end_users": 1_500_000_000},
        customers={"end_users": 3},
        revenue=Decimal("12000000000000.50"),
    )
    assert _refused("end_users", usage) == [
        "Line 2: 1,500,000,000 end users to date cannot be priced: Too large. "
        "Check the quantities and revenue reported."
    ]
    assert _refused("revenue", usage) == [
        "Line 2: revenue 12,000,000,000,000.50 USD to date cannot be priced: Too large. "
        "Check the quantities and revenue reported."
    ]
