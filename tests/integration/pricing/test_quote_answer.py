"""The quote API writes its answer's JSON itself (`contract_json`), byte for byte
what Flask's jsonify made of the schema's dump of the quote, and only where that
holds: with an indenting JSON provider (debug mode) jsonify still writes it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.api import quotes
from licensing.api.quotes import QuoteSchema, contract_json
from licensing.pricing import Quote, QuoteInputError, parse_rate_card, price
from licensing.ratecards import services
from tests.integration.pricing.conftest import card_document, quote_body, use
from tests.support.generated_quotes import cards, request_for

# Text JSON must escape, and text only an ASCII-only writer escapes.
ODD_TEXT = 'Lehrmaterial «für» Schulen — "quoted", back\\slash, tab\t, 漢字, 🙃'


def _odd_card_document(version: str = "2027.1") -> dict[str, Any]:
    """The example card with the odd text in a rule id, a description shown in
    explanations (the routed rule's) and the version."""
    document = card_document(version=version)
    rules = copy.deepcopy(document["rules"])
    rules[0]["description"] = ODD_TEXT
    rules[2]["id"] = f"development {ODD_TEXT}"
    return {**document, "rules": rules}


def _jsonify_of_schema_dump(app: Flask, quote: Quote) -> str:
    """What the route answered before `contract_json`."""
    provider: Any = app.json
    return str(provider.response(QuoteSchema().dump(quote.to_contract_dict())).get_data(True))


def test_every_generated_quote_is_written_as_jsonify_wrote_its_schema_dump(app: Flask) -> None:
    written: list[dict[str, Any]] = []
    odd = parse_rate_card(_odd_card_document())
    generated = [
        (card, request_for(card, seed)) for card in cards().values() for seed in range(150)
    ]
    generated += [(odd, request_for(odd, seed)) for seed in range(150)]
    for card, request in generated:
        try:
            quote = price(card, request, breakdowns=False)
        except QuoteInputError:
            continue
        text = contract_json(quote)
        assert text == _jsonify_of_schema_dump(app, quote), request
        written.append(quote.to_contract_dict())
    # The quotes were as varied as the answer can be.
    lines = [line for quote in written for line in quote["lines"]]
    assert {quote["currency"] for quote in written} == {"USD", "JPY", "KWD"}
    assert {quote["requires_review"] for quote in written} == {True, False}
    assert {line["route"] for line in lines} == {"license", "permission_request"}
    assert any(line["amount"] is None and line["rule"] is None for line in lines)
    assert any(ODD_TEXT in step for line in lines for step in line["explanation"])
    assert any(line["rule"] and ODD_TEXT in line["rule"] for line in lines)


def _answers(client: FlaskClient, bodies: list[Any]) -> list[tuple[int, dict[str, str], bytes]]:
    answers = []
    for body in bodies:
        response = client.post("/api/v1/quotes", json=body)
        headers = {name: value for name, value in response.headers if name != "X-Request-Id"}
        headers.pop("Date", None)
        answers.append((response.status_code, headers, response.get_data()))
    return answers


BODIES = [
    quote_body(),
    quote_body(rate_card=None, term={"start": "2027-01-01", "end": "2027-06-30"}),
    quote_body(organization_type="nonprofit", uses=[use(), use(use="education")]),
    quote_body(uses=[use(use="internal_use", quantity={"users": 12}, description="é")]),
    quote_body(uses=[use(use="distribution", product_type="ai_model")]),  # no rule: null
    quote_body(uses=[use(use="distribution", product_type="print")]),  # 422: no copies
    quote_body(uses=[use(revenue=12.5)]),
    quote_body(organization_type="unheard_of"),  # 422 from the schema
    quote_body(term={"start": "2019-01-01", "end": "2019-12-31"}),  # 422: outside the card
]


def test_the_api_answers_every_body_as_it_did_through_jsonify(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.import_card(_odd_card_document(), published_by="tests")
    answered = _answers(client, BODIES)
    monkeypatch.setattr(quotes, "_writes_as_contract_json", lambda *_args: False)
    assert _answers(client, BODIES) == answered
    statuses = [status for status, _headers, _body in answered]
    assert statuses == [200, 200, 200, 200, 200, 422, 200, 422, 422]


ROUTED = quote_body(organization_type="academic", uses=[use(use="education")])


@pytest.mark.parametrize("setting", ["debug", "compact-false", "unsorted", "utf-8"])
def test_a_json_provider_that_writes_otherwise_still_writes_the_answer(
    app: Flask, client: FlaskClient, setting: str
) -> None:
    services.import_card(_odd_card_document(), published_by="tests")
    provider: Any = app.json
    if setting == "debug":
        app.debug = True
    elif setting == "compact-false":
        provider.compact = False
    elif setting == "unsorted":
        provider.sort_keys = False
    else:
        provider.ensure_ascii = False
    try:
        response = client.post("/api/v1/quotes", json=ROUTED)
        expected = provider.response(response.get_json()).get_data()
    finally:
        app.debug = False
        for name in ("compact", "sort_keys", "ensure_ascii"):
            provider.__dict__.pop(name, None)
    assert response.status_code == 200
    assert ODD_TEXT in response.get_json()["lines"][0]["explanation"][0]
    assert response.get_data() == expected
    request = quotes.plain_request(ROUTED)
    assert request is not None
    assert response.get_data() != contract_json(services.quote(request)).encode()
