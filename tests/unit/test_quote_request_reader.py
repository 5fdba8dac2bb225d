"""The quote API's shortcuts read and write exactly what its marshmallow schemas do.

`plain_request` reads a plainly valid body without marshmallow, and the response
is sent without dumping it through `QuoteSchema`; both only pay off if nothing a
client can observe changes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from json.encoder import encode_basestring_ascii
from typing import Any

import marshmallow as ma
from hypothesis import given
from hypothesis import strategies as st

from licensing.api.quotes import (
    REQUEST_EXAMPLE,
    QuoteRequestSchema,
    QuoteSchema,
    _json_texts,
    plain_request,
)
from licensing.pricing import (
    ORGANIZATION_TYPES,
    USES,
    ProposedUse,
    QuoteRequest,
    Term,
    parse_rate_card,
    price,
)
from tests.support.quote_bodies import bodies

SCHEMA = QuoteRequestSchema()


def marshmallow_load(body: Any) -> Any:
    """What the schema loads (raises ValidationError)."""
    return SCHEMA.load(body, unknown=ma.RAISE)


@given(bodies())
def test_a_body_read_plainly_is_the_request_marshmallow_would_load(body: Any) -> None:
    plain = plain_request(body)
    if plain is None:
        return
    loaded = marshmallow_load(body)
    assert repr(plain) == repr(loaded)


@given(bodies())
def test_every_body_loads_through_the_schema_as_marshmallow_loads_it(body: Any) -> None:
    try:
        expected: Any = marshmallow_load(body)
    except ma.ValidationError as error:
        expected = error.messages
    try:
        got: Any = SCHEMA.load(body, unknown=ma.RAISE)
    except ma.ValidationError as error:
        got = error.messages
    assert repr(got) == repr(expected)


def test_the_contracts_example_and_everyday_bodies_are_read_plainly() -> None:
    assert plain_request(REQUEST_EXAMPLE) == marshmallow_load(REQUEST_EXAMPLE)
    body = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-01", "end": "2027-06-30"},
        "uses": [
            {"use": "distribution", "product_type": "saas", "user_type": "provider"},
            {
                "use": "translation",
                "product_type": "print",
                "user_type": "consumer",
                "quantity": {"languages": 3},
                "revenue": Decimal("1250.5"),
                "languages": ["de", "fr"],
                "description": "Invented",
            },
        ],
    }
    assert plain_request(body) == marshmallow_load(body)


def _sample_card_quotes() -> list[dict[str, Any]]:
    text = resources.files("licensing.ratecards").joinpath("samples/2027.1.json").read_text()
    card = parse_rate_card(json.loads(text))
    quotes = []
    for index, use in enumerate(USES):
        end = card.effective_from + timedelta(days=30 * index + 7)
        counts = {"end_users": 7, "users": 3, "members": 120_000, "copies": 0, "languages": 2}
        uses = (
            ProposedUse(use, "saas", "provider", counts, Decimal("99.5")),
            ProposedUse(use, "print", "payer", counts, Decimal(0)),
            ProposedUse(use, "data_file", "consumer", counts, Decimal("12345.6789")),
            ProposedUse(use, "ai_model", "internal", counts, Decimal(1)),
        )
        for organization in ORGANIZATION_TYPES:
            request = QuoteRequest(organization, Term(card.effective_from, end), uses)
            quotes.append(price(card, request).to_contract_dict())
    return quotes


def test_a_quote_is_sent_exactly_as_its_schema_would_dump_it() -> None:
    quotes = _sample_card_quotes()
    assert any(line["amount"] is None for quote in quotes for line in quote["lines"])
    for body in quotes:
        assert json.dumps(QuoteSchema().dump(body), sort_keys=True) == json.dumps(
            body, sort_keys=True
        )


@given(st.lists(st.text(), max_size=5).map(tuple))
def test_explanations_are_written_as_the_json_encoder_writes_them(texts: tuple[str, ...]) -> None:
    # Any text at all: quotes, backslashes, control characters, DEL, non-ASCII,
    # lone surrogates; those the encoder writes as they are skip it.
    assert _json_texts(texts) == ",".join(map(encode_basestring_ascii, texts))


def test_plain_explanations_are_written_between_quotes_as_they_are() -> None:
    assert _json_texts(("no adjustment applies", "amount: 1.00 USD")) == (
        '"no adjustment applies","amount: 1.00 USD"'
    )
    assert _json_texts(()) == ""
    assert _json_texts(('say "hi"', "a\\b", "\x7f", "é")) == (
        '"say \\"hi\\"","a\\\\b","\\u007f","\\u00e9"'
    )
