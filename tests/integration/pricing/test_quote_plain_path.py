"""A plainly valid quote body is answered without webargs and flask-smorest's
wrappers (issue 16). The shortcut changes nothing a client or a reader of the API
document can see: the same answer as through the wrappers, the same refusals,
and the route documented exactly as before (compared with a copy taken then:
the path item and the schemas it names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.api import quotes
from tests.integration.pricing.conftest import quote_body

DOCUMENTED = Path(__file__).with_name("openapi_quotes.json")
# Made per response, whichever path answered.
PER_RESPONSE = {"X-Request-Id", "Date"}


def _answer(client: FlaskClient, body: Any, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    response = client.post("/api/v1/quotes", json=body, **kwargs)
    headers = {name: value for name, value in response.headers if name not in PER_RESPONSE}
    return response.status_code, headers, response.get_data()


def _through_the_wrappers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """No body reads as plain any more: each goes the schemas' way. Returns the
    bodies the shortcut was asked about."""
    asked: list[Any] = []

    def never_plain(body: Any) -> None:
        asked.append(body)

    monkeypatch.setattr(quotes, "plain_request", never_plain)
    return asked


def test_the_quote_route_is_documented_exactly_as_before(client: FlaskClient) -> None:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    expected = json.loads(DOCUMENTED.read_text())
    schemas = document["components"]["schemas"]
    assert document["paths"]["/api/v1/quotes"] == expected["path"]
    assert {name: schemas[name] for name in expected["schemas"]} == expected["schemas"]


def test_a_plain_body_gets_the_answer_the_wrappers_give(
    client: FlaskClient, example_card: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = [
        quote_body(),
        quote_body(rate_card=None, term={"start": "2027-01-01", "end": "2027-06-30"}),
    ]
    plain = [_answer(client, body) for body in bodies]
    asked = _through_the_wrappers(monkeypatch)
    assert [_answer(client, body) for body in bodies] == plain
    assert asked == bodies  # the shortcut was asked, and the wrappers answered
    assert [status for status, _headers, _body in plain] == [200, 200]


def test_a_refused_body_is_refused_as_the_wrappers_refuse_it(
    client: FlaskClient, example_card: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpriceable = quote_body(term={"start": "2019-01-01", "end": "2019-12-31"}, rate_card=None)
    refused = _answer(client, unpriceable)
    _through_the_wrappers(monkeypatch)
    assert refused[0] == 422
    assert _answer(client, unpriceable) == refused


def test_a_plain_body_of_a_type_the_parser_refuses_is_still_a_415(
    client: FlaskClient, example_card: str
) -> None:
    # `+json` passes the API's own body check, but the arguments parser takes
    # only application/* types: the shortcut reads the body through that parser.
    response = client.post(
        "/api/v1/quotes", data=json.dumps(quote_body()), content_type="text/quote+json"
    )
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
