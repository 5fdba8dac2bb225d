"""Builders for the pricing tests: the contract's example card, and small invented cards.

`ratecard_example.json` is a copy of `contracts/ratecard.example.json` (invented
figures, no CPT content), so that these tests run without the shared folder.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from licensing.pricing import (
    ProposedUse,
    Quote,
    QuoteRequest,
    RateCard,
    Term,
    parse_rate_card,
    price,
)

EXAMPLE_PATH = Path(__file__).with_name("ratecard_example.json")
_EXAMPLE_DOCUMENT: dict[str, Any] = json.loads(
    EXAMPLE_PATH.read_text(encoding="utf-8"), parse_float=Decimal
)

MakeCard = Callable[..., RateCard]
Ask = Callable[..., Quote]


@pytest.fixture
def example_document() -> dict[str, Any]:
    """A fresh deep copy each time: tests mutate it to make mistakes."""
    return copy.deepcopy(_EXAMPLE_DOCUMENT)


@pytest.fixture
def example_card(example_document: dict[str, Any]) -> RateCard:
    return parse_rate_card(example_document)


def card_document(
    rules: Sequence[Mapping[str, Any]],
    adjustments: Sequence[Mapping[str, Any]] = (),
    *,
    effective_from: str = "2027-01-01",
    effective_to: str = "2027-12-31",
    currency: str = "USD",
    version: str = "test.1",
) -> dict[str, Any]:
    return {
        "version": version,
        "title": "Invented card for tests",
        "currency": currency,
        "effective_from": effective_from,
        "effective_to": effective_to,
        "rules": [dict(rule) for rule in rules],
        "adjustments": [dict(item) for item in adjustments],
    }


@pytest.fixture
def make_document() -> Callable[..., dict[str, Any]]:
    """`make_document(rules, adjustments, effective_from=..., ...)` -> a card document."""
    return card_document


@pytest.fixture
def make_card() -> MakeCard:
    """`make_card(rules, adjustments, effective_from=..., ...)` -> a parsed card."""

    def make(
        rules: Sequence[Mapping[str, Any]],
        adjustments: Sequence[Mapping[str, Any]] = (),
        **header: str,
    ) -> RateCard:
        return parse_rate_card(card_document(rules, adjustments, **header))

    return make


@pytest.fixture
def ask() -> Ask:
    """`ask(card, *uses, organization_type=..., start=..., end=...)` -> the quote.

    The term defaults to the card's whole period.
    """

    def quote(
        card: RateCard,
        *uses: ProposedUse,
        organization_type: str = "commercial",
        start: date | None = None,
        end: date | None = None,
    ) -> Quote:
        term = Term(start or card.effective_from, end or card.effective_to)
        return price(card, QuoteRequest(organization_type, term, tuple(uses)))

    return quote
