"""Quote requests generated from fixed seeds, against the sample card and an
invented card that reaches what the sample lacks (maxima, tier flats, nested
sums, fine prices, fractional discounts, currencies with 0 and 3 minor digits, a
leap-year period): what the recorded quotes (`tests/unit/pricing/recorded_quotes.json`)
were answered for, and what the faster paths are checked against. The same seed
gives the same request: change nothing here without recording again."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from licensing.pricing import (
    AXES,
    ORGANIZATION_TYPES,
    ProposedUse,
    QuoteRequest,
    RateCard,
    Term,
    parse_rate_card,
)

SAMPLE = Path(__file__).parents[1] / "unit" / "pricing" / "ratecard_example.json"

_TIERS = [
    {"up_to": 10, "unit_price": "3.3333", "flat": "25.00"},
    {"up_to": 250, "unit_price": "1.125", "flat": "0.005"},
    {"up_to": None, "unit_price": "0.0045", "flat": "7"},
]


def invented_document(currency: str, effective_to: str, version: str) -> dict[str, Any]:
    """A card that reaches every branch of the arithmetic and of the explanations."""
    return {
        "version": version,
        "title": "Invented card for the recorded quotes",
        "currency": currency,
        "effective_from": "2028-01-01",
        "effective_to": effective_to,
        "rules": [
            {
                "id": "routed",
                "description": "",
                "when": {"use": "education", "organization_type": "academic"},
                "route": "permission_request",
                "review": "staff",
            },
            {
                "id": "capped-graduated",
                "description": "Graduated with tier flats, a minimum and a maximum",
                "when": {"use": "distribution", "product_type": ["software", "saas"]},
                "model": {
                    "type": "per_unit",
                    "unit": "seats",
                    "mode": "graduated",
                    "tiers": _TIERS,
                },
                "minimum": "150.75",
                "maximum": "1999.99",
            },
            {
                "id": "capped-volume",
                "when": {"use": "distribution", "product_type": ["mobile_app", "print"]},
                "model": {"type": "per_unit", "unit": "copies", "mode": "volume", "tiers": _TIERS},
                "maximum": "333.33",
                "review": "staff",
            },
            {
                "id": "nested-sum",
                "description": "A flat fee, per-language tiers and a share of revenue, nested",
                "when": {"use": ["translation", "derivative_work"]},
                "model": {
                    "type": "sum",
                    "parts": [
                        {"type": "flat", "amount": "1.83"},
                        {
                            "type": "sum",
                            "parts": [
                                {
                                    "type": "per_unit",
                                    "unit": "languages",
                                    "mode": "volume",
                                    "tiers": [
                                        {"up_to": 3, "unit_price": "400.10", "flat": "9.99"},
                                        {"up_to": None, "unit_price": "350.05"},
                                    ],
                                },
                                {"type": "percent_of_revenue", "percent": "7.125"},
                                {"type": "flat", "amount": "12.34", "prorate": False},
                            ],
                        },
                    ],
                },
                "minimum": "500",
                "maximum": "20000",
            },
            {
                "id": "revenue-share",
                "when": {"use": "distribution", "product_type": ["data_file", "ai_model"]},
                "model": {"type": "percent_of_revenue", "percent": "0.3333333333"},
                "minimum": "0.01",
            },
            {
                "id": "prorated-flat",
                "when": {
                    "use": ["development", "internal_use"],
                    "user_type": ["provider", "payer"],
                },
                "model": {"type": "flat", "amount": "2500.01"},
                "maximum": "1000",
            },
            {
                "id": "fixed-flat",
                "when": {"use": ["development", "internal_use"]},
                "model": {"type": "flat", "amount": "99.995", "prorate": False},
            },
        ],
        "adjustments": [
            {
                "id": "academic",
                "when": {"organization_type": "academic"},
                "discount_percent": "12.5",
            },
            {
                "id": "nothing-off",
                "when": {"organization_type": "government"},
                "discount_percent": "0",
            },
            {
                "id": "all-off",
                "when": {"organization_type": "individual", "use": "translation"},
                "discount_percent": "100",
            },
            {
                "id": "nonprofit",
                "when": {"organization_type": "nonprofit"},
                "discount_percent": "33.3",
            },
        ],
    }


def cards() -> dict[str, RateCard]:
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return {
        "sample": parse_rate_card(sample),
        "invented-usd-leap": parse_rate_card(invented_document("USD", "2028-12-31", "i.1")),
        "invented-jpy": parse_rate_card(invented_document("JPY", "2028-09-30", "i.2")),
        "invented-kwd": parse_rate_card(invented_document("KWD", "2028-03-15", "i.3")),
    }


def _quantity(rng: random.Random) -> int:
    return rng.choice([0, 1, rng.randint(1, 12), rng.randint(1, 400), rng.randint(1, 3_000_000)])


def _use(rng: random.Random, invalid: bool) -> ProposedUse:
    axes = {axis: rng.choice(AXES[axis]) for axis in ("use", "product_type", "user_type")}
    if invalid and rng.random() < 0.3:
        axes[rng.choice(list(axes))] = "unheard_of"
    units = ["seats", "copies", "languages", "end_users", "members", "users"]
    quantity = {unit: _quantity(rng) for unit in units if rng.random() < 0.8}
    if invalid and rng.random() < 0.3:
        quantity[rng.choice(units)] = -rng.randint(1, 5)
    revenue = None
    if rng.random() < 0.8:
        cents = rng.choice([0, rng.randint(0, 10_000), rng.randint(0, 10**11)])
        revenue = Decimal(cents).scaleb(-rng.choice([0, 2, 4]))
    languages = tuple(rng.sample(["de", "DE ", "fr", "es", " es", "ja", "pt"], rng.randint(0, 5)))
    return ProposedUse(
        **axes, quantity=quantity, revenue=revenue, languages=languages, description="invented"
    )


def request_for(card: RateCard, seed: int) -> QuoteRequest:
    """The request of `seed`: mostly valid, one in five with something wrong."""
    rng = random.Random(seed)
    invalid = rng.random() < 0.2
    days = card.period_days
    first = rng.choice([0, 0, rng.randrange(days)])
    last = rng.choice([days - 1, rng.randrange(first, days)])
    start = card.effective_from + timedelta(days=first)
    end = card.effective_from + timedelta(days=last)
    if invalid and rng.random() < 0.3:
        end = end + timedelta(days=rng.choice([1, 400]))
    organization = rng.choice(ORGANIZATION_TYPES)
    if invalid and rng.random() < 0.2:
        organization = "unheard_of"
    uses = tuple(_use(rng, invalid) for _ in range(rng.choice([1, 1, 2, 3, 5])))
    return QuoteRequest(organization, Term(start, end), uses)
