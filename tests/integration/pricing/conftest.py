"""Rate cards loaded through the real import service."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from licensing.ratecards import services

EXAMPLE_CARD = Path(__file__).parents[2] / "unit" / "pricing" / "ratecard_example.json"


def example_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLE_CARD.read_text(), parse_float=Decimal)
    return document


def card_document(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(example_document())
    document.update(changes)
    return document


def flat_card(version: str, currency: str, amount: str, year: int = 2027) -> dict[str, Any]:
    """A card for `year` in `currency` that prices every use at one flat fee (the
    currency journeys' cards, rounds 62 and 64)."""
    return card_document(
        version=version,
        title=f"Schedule in {currency}",
        currency=currency,
        effective_from=f"{year}-01-01",
        effective_to=f"{year}-12-31",
        rules=[
            {
                "id": "every-use",
                "description": "Every use",
                "when": {},
                "model": {"type": "flat", "amount": amount},
            }
        ],
        adjustments=[],
    )


def development_estimate(**changes: str) -> dict[str, str]:
    """The estimator's query for one development use of software for providers by a
    commercial organization over 2028, on the card in effect (round 44), with `changes`."""
    return {
        "organization_type": "commercial",
        "term_start": "2028-01-01",
        "term_end": "2028-12-31",
        "rate_card": "",
        "uses-0-use": "development",
        "uses-0-product_type": "software",
        "uses-0-user_type": "provider",
        "uses-0-description": "SDK",
        **changes,
    }


def quote_body(**changes: Any) -> dict[str, Any]:
    """The quote API's body for the contract's example (2500 end users of a SaaS
    scrubber), with `changes`."""
    body: dict[str, Any] = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-01", "end": "2027-12-31"},
        "rate_card": "2027.1",
        "uses": [
            {
                "use": "distribution",
                "product_type": "saas",
                "user_type": "provider",
                "quantity": {"end_users": 2500},
                "revenue": "0",
                "description": "Claims scrubber",
            }
        ],
    }
    body.update(changes)
    return body


def use(**fields: Any) -> dict[str, Any]:
    """A use of a quote body: development of software for providers, with `fields`."""
    return {"use": "development", "product_type": "software", "user_type": "provider", **fields}


@pytest.fixture
def example_card(app: Flask) -> str:
    """The contract's example card (2027.1), published."""
    return services.import_card(example_document(), published_by="tests").version


def corrected_example() -> dict[str, Any]:
    """2027.2 (USD): the example card 2027.1 for the same days, its development fee
    corrected to 2,750.00 (the correction journeys of rounds 54 and 65)."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][2]["model"]["amount"] = "2750.00"
    return document
