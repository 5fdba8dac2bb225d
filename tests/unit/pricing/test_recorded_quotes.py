"""The pricing core gives the very quotes it gave before it was made faster.

Requests are generated here from fixed seeds (random uses, terms, quantities,
revenues and organization types, some of them invalid) against the sample card
and an invented card that exercises what the sample lacks (maxima, tier flats,
nested sums, fine prices, fractional discounts, currencies with 0 and 3 minor
digits, a leap-year period). `recorded_quotes.json` holds what the Fraction-based
core answered for each: the amounts in the clear and a SHA-256 of the whole
snapshot (explanations, breakdowns, exact fractions), or the input errors.

A change that alters any byte of any quote fails here. To record again after a
deliberate change of wording or arithmetic (then say so in the commit):

    .venv/bin/python tests/unit/pricing/test_recorded_quotes.py --record
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from licensing.pricing import (
    AXES,
    ORGANIZATION_TYPES,
    ProposedUse,
    Quote,
    QuoteInputError,
    QuoteRequest,
    RateCard,
    Term,
    parse_rate_card,
    price,
)

RECORDED = Path(__file__).with_name("recorded_quotes.json")
SAMPLE = Path(__file__).with_name("ratecard_example.json")
REQUESTS_PER_CARD = 400

_TIERS = [
    {"up_to": 10, "unit_price": "3.3333", "flat": "25.00"},
    {"up_to": 250, "unit_price": "1.125", "flat": "0.005"},
    {"up_to": None, "unit_price": "0.0045", "flat": "7"},
]


def _invented_document(currency: str, effective_to: str, version: str) -> dict[str, Any]:
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
        "invented-usd-leap": parse_rate_card(_invented_document("USD", "2028-12-31", "i.1")),
        "invented-jpy": parse_rate_card(_invented_document("JPY", "2028-09-30", "i.2")),
        "invented-kwd": parse_rate_card(_invented_document("KWD", "2028-03-15", "i.3")),
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


def outcome(card: RateCard, request: QuoteRequest) -> dict[str, Any]:
    """What the core answers, small enough to keep: amounts in the clear, and a
    digest of everything else."""
    try:
        quote = price(card, request)
    except QuoteInputError as error:
        return {"errors": error.errors}
    snapshot = json.dumps(quote.to_snapshot(), sort_keys=True, separators=(",", ":"))
    return {
        "total": str(quote.total),
        "amounts": [None if line.amount is None else str(line.amount) for line in quote.lines],
        "sha256": hashlib.sha256(snapshot.encode("utf-8")).hexdigest(),
    }


def all_outcomes() -> dict[str, list[dict[str, Any]]]:
    return {
        name: [outcome(card, request_for(card, seed)) for seed in range(REQUESTS_PER_CARD)]
        for name, card in cards().items()
    }


@pytest.fixture(scope="module")
def recorded() -> dict[str, list[dict[str, Any]]]:
    loaded: dict[str, list[dict[str, Any]]] = json.loads(RECORDED.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("name", list(cards()))
def test_every_generated_request_is_answered_exactly_as_recorded(
    name: str, recorded: dict[str, list[dict[str, Any]]]
) -> None:
    card = cards()[name]
    expected = recorded[name]
    assert len(expected) == REQUESTS_PER_CARD
    for seed, before in enumerate(expected):
        request = request_for(card, seed)
        assert outcome(card, request) == before, f"seed {seed}: {request}"


def _answer(card: RateCard, request: QuoteRequest, breakdowns: bool) -> Any:
    try:
        return price(card, request, breakdowns=breakdowns)
    except QuoteInputError as error:
        return error.errors


@pytest.mark.parametrize("name", list(cards()))
def test_without_breakdowns_every_request_is_answered_alike_but_for_them(name: str) -> None:
    # The quote API prices with breakdowns=False: its answer must not change.
    card = cards()[name]
    for seed in range(REQUESTS_PER_CARD):
        request = request_for(card, seed)
        whole, bare = _answer(card, request, True), _answer(card, request, False)
        if not isinstance(whole, Quote):
            assert bare == whole, f"seed {seed}"  # the same errors
            continue
        assert bare.to_contract_dict() == whole.to_contract_dict(), f"seed {seed}"
        assert [line.breakdown for line in bare.lines] == [None] * len(whole.lines)
        assert bare == replace(
            whole, lines=tuple(replace(line, breakdown=None) for line in whole.lines)
        )


# A phrase of each kind of step the explanations have: the generated requests
# must reach every one of them, or the recording proves less than it seems to.
STEPS = (
    "no rule in rate card",
    "goes to the educational permissions queue",
    "distinct languages listed",
    "nothing to pay",
    ", graduated: ",
    ", volume: ",
    "% of revenue ",
    "flat 0.005",
    "not prorated",
    "for the whole card period",
    "(prorated)",
    "(about ",
    "part 2.1: ",
    "sum of the parts",
    "no adjustment applies",
    "% off ",
    "so the minimum applies (discounts never lower a minimum)",
    "is not below it",
    "so the maximum applies",
    "is not above it",
    "rounded half-up",
)


def test_the_generated_requests_reach_every_kind_of_answer(
    recorded: dict[str, list[dict[str, Any]]],
) -> None:
    everything = [item for outcomes in recorded.values() for item in outcomes]
    assert sum("errors" in item for item in everything) > 100
    assert sum("total" in item for item in everything) > 1000
    texts = set()
    for card in cards().values():
        for seed in range(REQUESTS_PER_CARD):
            try:
                quote = price(card, request_for(card, seed))
            except QuoteInputError:
                continue
            texts.update(step for line in quote.lines for step in line.explanation)
    assert [phrase for phrase in STEPS if not any(phrase in text for text in texts)] == []


def recording(outcomes: dict[str, list[dict[str, Any]]]) -> str:
    """The recording as JSON, one request's outcome a line."""
    cards = [
        f"{json.dumps(name)}: [\n" + ",\n".join(json.dumps(item, sort_keys=True) for item in items)
        for name, items in outcomes.items()
    ]
    return "{\n" + "\n],\n".join(cards) + "\n]\n}\n"


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    RECORDED.write_text(recording(all_outcomes()))
    print(f"recorded {RECORDED}")
