"""The quote API's shortcuts read and write exactly what its marshmallow schemas do.

`plain_request` reads a plainly valid body without marshmallow, and the response
is sent without dumping it through `QuoteSchema`; both only pay off if nothing a
client can observe changes.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
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
    PRODUCT_TYPES,
    USER_TYPES,
    USES,
    ProposedUse,
    QuoteRequest,
    Term,
    parse_rate_card,
    price,
)

SCHEMA = QuoteRequestSchema()


def marshmallow_load(body: Any) -> Any:
    """What the schema loads (raises ValidationError)."""
    return SCHEMA.load(body, unknown=ma.RAISE)


def odd(*values: Any) -> st.SearchStrategy[Any]:
    """Values a client might send where something else is expected."""
    return st.sampled_from([None, True, 0, -1, "", " ", [], {}, Decimal("1.5"), *values])


def mostly(valid: st.SearchStrategy[Any], *oddities: Any) -> st.SearchStrategy[Any]:
    """`valid` 19 times in 20, else an odd value: most bodies are then valid, or
    wrong in one place, as real clients' are."""
    # 7: Hypothesis favours the ends of a range, which would make odd values common.
    return st.integers(0, 19).flatmap(lambda roll: odd(*oddities) if roll == 7 else valid)


days = mostly(
    st.dates(date(2026, 12, 1), date(2028, 1, 31)).map(date.isoformat),
    "2027-02-30",
    "20270101",
    "2027-1-1",
    "2027-W01-1",
    "2027-01-01T00:00",
)
# JSON object keys are always strings.
unit_names = st.sampled_from(
    ["end_users", "seats", "end_users", "seats", "", " ", "x" * 64, "x" * 65]
)
amounts = mostly(st.integers(0, 10**12), 2.5, "12", 10**12 + 1, 10**13)
revenues = mostly(
    st.decimals(0, 10**12, places=4).map(str) | st.decimals(0, 10**6, places=2) | st.integers(0),
    "1e3",
    "-0",
    "0.00001",
    "12.5",
    "١٢",
    10**12 + 1,
    str(10**12) + ".0001",
)
names = mostly(st.text(min_size=1, max_size=35), "x" * 36)


def vocabulary(values: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(values), "unheard_of", values[0].upper())


@st.composite
def uses(draw: st.DrawFn) -> Any:
    use: dict[str, Any] = {
        "use": draw(vocabulary(USES)),
        "product_type": draw(vocabulary(PRODUCT_TYPES)),
        "user_type": draw(vocabulary(USER_TYPES)),
    }
    optional = {
        "quantity": mostly(st.dictionaries(unit_names, amounts, max_size=3)),
        "revenue": revenues,
        "languages": mostly(st.lists(names, max_size=3), ["x"] * 201),
        "description": mostly(st.text(max_size=20), "d" * 2001),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            use[key] = draw(values)
    if draw(st.integers(0, 19)) == 7:
        use["unexpected"] = 1
    if draw(st.integers(0, 19)) == 7:
        del use[draw(st.sampled_from(["use", "product_type", "user_type"]))]
    return use


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {
        "organization_type": draw(vocabulary(ORGANIZATION_TYPES)),
        "term": draw(mostly(st.fixed_dictionaries({"start": days, "end": days}))),
        "uses": draw(mostly(st.lists(uses(), min_size=1, max_size=3), [{}] * 101)),
    }
    if draw(st.booleans()):
        body["rate_card"] = draw(mostly(st.just("2027.1") | st.none(), "v" * 65))
    if draw(st.integers(0, 19)) == 7 and isinstance(body["term"], dict):
        body["term"] = {**body["term"], "extra": 1}
    if draw(st.integers(0, 19)) == 7:
        body["unexpected"] = 1
    if draw(st.integers(0, 19)) == 7:
        del body[draw(st.sampled_from(sorted(body)))]
    return body


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
