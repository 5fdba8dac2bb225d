"""The pricing contract (`contracts/pricing.md`) read line by line in round 50: the
edges its clauses imply, through the HTTP API (docs/contract-coverage.md, "Edges the
contracts imply"). Each test quotes the clause it holds."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.ratecards import services
from licensing.ratecards.models import RateCardRecord
from tests.integration.pricing.conftest import example_document, quote_body
from tests.support.factories import bearer

PROBLEM = "application/problem+json"


def percent_card() -> str:
    """A card of two rules, no minimum, no discount: printed seats at 0.01 each, and
    10% of revenue for everything else."""
    document = {
        "version": "edges.1",
        "title": "Invented card for the contract's edges",
        "currency": "USD",
        "effective_from": "2027-01-01",
        "effective_to": "2027-12-31",
        "rules": [
            {
                "id": "seats",
                "when": {"product_type": "print"},
                "model": {
                    "type": "per_unit",
                    "unit": "seats",
                    "mode": "volume",
                    "tiers": [{"up_to": None, "unit_price": "0.01"}],
                },
            },
            {"id": "share", "when": {}, "model": {"type": "percent_of_revenue", "percent": "10"}},
        ],
        "adjustments": [],
    }
    return services.import_card(document, published_by="tests").version


def use(**fields: Any) -> dict[str, Any]:
    return {"use": "distribution", "product_type": "data_file", "user_type": "provider", **fields}


def raw_quote(client: FlaskClient, version: str, use_text: str) -> Any:
    """A quote whose single use is written as raw JSON text (numbers as they are)."""
    text = (
        '{"organization_type": "commercial", "term": {"start": "2027-01-01", "end":'
        f' "2027-12-31"}}, "rate_card": "{version}", "uses": [{use_text}]}}'
    )
    return client.post("/api/v1/quotes", data=text, content_type="application/json")


def quoted(client: FlaskClient, version: str, *uses: dict[str, Any]) -> Any:
    body = quote_body(rate_card=version, uses=list(uses))
    return client.post("/api/v1/quotes", json=body)


def amounts(response: Any) -> list[str | None]:
    assert response.status_code == 200, response.get_json()
    return [line["amount"] for line in response.get_json()["lines"]]


def refused_at(response: Any) -> list[str]:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM
    return sorted(response.get_json()["errors"])


def cards() -> int:
    return int(db.session().scalar(select(func.count()).select_from(RateCardRecord)) or 0)


# --- The quote endpoint: numbers ----------------------------------------------------------


def test_revenue_a_json_number_is_read_as_its_decimal_text_even_in_exponent_form(
    client: FlaskClient, app: Flask
) -> None:
    """ "`revenue` is a non-negative decimal string (a JSON number is accepted and read
    as its decimal text)": the number 1E+3 is 1000 exactly (10%: 100.00), 2.5E-1 is
    0.25; the string "1E+3" is not a decimal string, a 422 naming the field."""
    version = percent_card()
    base = '{"use": "distribution", "product_type": "data_file", "user_type": "provider"'
    assert amounts(raw_quote(client, version, base + ', "revenue": 1E+3}')) == ["100.00"]
    assert amounts(raw_quote(client, version, base + ', "revenue": 2.5E-1}')) == ["0.03"]
    assert refused_at(quoted(client, version, use(revenue="1E+3"))) == ["uses.0.revenue"]


@pytest.mark.parametrize("revenue", ['"-0"', '"-0.00"', "-0.0", "-0"])
def test_a_non_negative_revenue_takes_a_negative_zero_as_zero(
    client: FlaskClient, app: Flask, revenue: str
) -> None:
    """ "`revenue` is a non-negative decimal string": -0 is zero, never "-0.00"."""
    version = percent_card()
    use_text = (
        '{"use": "distribution", "product_type": "data_file", "user_type": "provider",'
        f' "revenue": {revenue}}}'
    )
    answer = raw_quote(client, version, use_text)
    assert amounts(answer) == ["0.00"]
    assert answer.get_json()["total"] == "0.00"
    assert "-0" not in answer.get_data(as_text=True)


def test_a_negative_revenue_or_quantity_other_than_zero_is_a_422_naming_it(
    client: FlaskClient, app: Flask
) -> None:
    """ "`quantity` maps unit names to non-negative integers; `revenue` is a
    non-negative decimal string": -0.01 and -1 are refused, each named."""
    version = percent_card()
    answer = quoted(
        client,
        version,
        use(revenue="-0.01"),
        use(product_type="print", quantity={"seats": -1}),
    )
    assert refused_at(answer) == ["uses.0.revenue", "uses.1.quantity.seats"]


def test_the_largest_and_smallest_numbers_a_quote_takes_and_one_past_each_bound(
    client: FlaskClient, app: Flask
) -> None:
    """ "non-negative integers", "non-negative decimal string": a quantity up to 10^12
    and a revenue up to 1,000,000,000,000.00 with at most 4 decimal places (docs/
    pricing.md); the largest are priced exactly, one past each is a 422 naming it."""
    version = percent_card()
    largest = quoted(
        client,
        version,
        use(revenue="1000000000000.00"),
        use(product_type="print", quantity={"seats": 10**12}),
    )
    assert amounts(largest) == ["100000000000.00", "10000000000.00"]
    # 10% of 0.0001 is 0.00001: rounded once, half-up, to 0.00; 0 seats cost 0.
    smallest = quoted(
        client, version, use(revenue="0.0001"), use(product_type="print", quantity={"seats": 0})
    )
    assert amounts(smallest) == ["0.00", "0.00"]
    past = quoted(
        client,
        version,
        use(revenue="1000000000000.01"),
        use(product_type="print", quantity={"seats": 10**12 + 1}),
        use(revenue="0.00001"),
    )
    assert refused_at(past) == ["uses.0.revenue", "uses.1.quantity.seats", "uses.2.revenue"]


def test_whitespace_around_a_revenue_is_read_but_a_vocabulary_value_must_be_exact(
    client: FlaskClient, app: Flask
) -> None:
    """ "An unknown value anywhere is a validation error (HTTP 422), never a silent
    default": " distribution" is not `distribution`; a revenue " 10 " is the number 10."""
    version = percent_card()
    assert amounts(quoted(client, version, use(revenue=" 10 "))) == ["1.00"]
    padded = quoted(client, version, use(use=" distribution", user_type="Provider", revenue="1"))
    assert refused_at(padded) == ["uses.0.use", "uses.0.user_type"]


def test_unknown_fields_at_every_level_of_a_quote_are_named(
    client: FlaskClient, app: Flask, example_card: str
) -> None:
    """ "An unknown value anywhere is a validation error (HTTP 422)": an unknown key at
    the top, in the term and in a use is named by its path, never ignored."""
    body = quote_body(colour="red", term={"start": "2027-01-01", "end": "2027-12-31", "x": 1})
    body["uses"][0]["colour"] = "red"
    answer = client.post("/api/v1/quotes", json=body)
    assert refused_at(answer) == ["colour", "term.x", "uses.0.colour"]


def test_the_same_use_twice_is_two_lines_and_the_total_adds_both(
    client: FlaskClient, app: Flask, example_card: str
) -> None:
    """ "A quote's `total` is the sum of its lines' rounded amounts": a use given twice
    (duplicate rows) is priced twice, each line on its own (33800.00 each)."""
    body = quote_body()
    body["uses"] = body["uses"] * 2
    answer = client.post("/api/v1/quotes", json=body)
    assert amounts(answer) == ["33800.00", "33800.00"]
    assert [line["use_index"] for line in answer.get_json()["lines"]] == [0, 1]
    assert answer.get_json()["total"] == "67600.00"


# --- Loading a card: numbers --------------------------------------------------------------


def test_a_cards_decimal_strings_refuse_exponent_forms_and_a_json_number_is_read_exactly(
    client: FlaskClient, admin: Any
) -> None:
    """ "`minimum` and `maximum` (annual amounts, decimal strings)", "`amount`": a string
    "1E+3" makes the card invalid, named by its path, nothing stored; a JSON number
    1E+3 is read as its decimal text, 1000 (docs/contract-coverage.md, "Readings")."""
    document = example_document()
    document["version"] = "edges.exponent"
    document["rules"][2]["model"]["amount"] = "1E+3"  # development: a flat fee
    before = cards()
    refused = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
    assert refused.status_code == 422
    assert refused.mimetype == PROBLEM
    assert list(refused.get_json()["errors"]) == ["rules.2.model.amount"]
    assert cards() == before
    text = json.dumps(example_document() | {"version": "edges.number"})
    text = text.replace('"2500.00"', "1E+3", 1)
    published = client.post(
        "/api/v1/rate-cards", data=text, content_type="application/json", headers=bearer(admin)
    )
    assert published.status_code == 200, published.get_json()
    body = quote_body(rate_card="edges.number")
    body["uses"] = [{"use": "development", "product_type": "software", "user_type": "provider"}]
    assert amounts(client.post("/api/v1/quotes", json=body)) == ["1000.00"]


def test_a_discount_percent_of_negative_zero_is_no_discount(
    client: FlaskClient, admin: Any
) -> None:
    """ "`discount_percent` (decimal string, 0-100)": "-0" is 0, so a nonprofit's
    development fee is undiscounted (2500.00)."""
    document = example_document()
    document["version"] = "edges.zero"
    document["adjustments"][0]["discount_percent"] = "-0"
    published = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
    assert published.status_code == 200, published.get_json()
    body = quote_body(rate_card="edges.zero", organization_type="nonprofit")
    body["uses"] = [{"use": "development", "product_type": "software", "user_type": "provider"}]
    assert amounts(client.post("/api/v1/quotes", json=body)) == ["2500.00"]


# --- No 500 on any input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "null",
        "[]",
        "1",
        '"x"',
        "{}",
        '{"uses": null}',
        '{"organization_type": "commercial", "term": null, "uses": [{}]}',
        '{"organization_type": "commercial", "term": {"start": 1, "end": []}, "uses": [1]}',
        '{"organization_type": "commercial", "term": {"start": "2027-01-01", "end": '
        '"2027-12-31"}, "uses": [{"use": "distribution", "product_type": "saas", "user_type": '
        '"provider", "quantity": {"end_users": 1e400}}]}',
        '{"organization_type": "commercial", "term": {"start": "2027-01-01", "end": '
        '"2027-12-31"}, "uses": [{"use": "distribution", "product_type": "saas", "user_type": '
        '"provider", "quantity": [], "revenue": {}}]}',
        '{"organization_type": "commercial", "term": {"start": "2027-01-01", "end": '
        '"2027-12-31"}, "uses": [{"use": "distribution", "product_type": "data_file", '
        '"user_type": "provider", "revenue": -1e-400}]}',
        '{"organization_type": "commercial", "term": {"start": "0001-01-01", "end": '
        '"9999-12-31"}, "uses": [{"use": "development", "product_type": "software", '
        '"user_type": "provider"}]}',
        '{"organization_type": "commercial", "rate_card": "", "term": {"start": "2027-01-01", '
        '"end": "2027-12-31"}, "uses": [{"use": "development", "product_type": "software", '
        '"user_type": "provider", "languages": [1, null]}]}',
    ],
)
def test_no_quote_body_however_odd_is_ever_a_500(
    client: FlaskClient, app: Flask, example_card: str, text: str
) -> None:
    """ "Errors are `application/problem+json`": every odd body is a 4xx problem."""
    answer = client.post("/api/v1/quotes", data=text, content_type="application/json")
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.data)
    assert answer.mimetype == PROBLEM


@pytest.mark.parametrize("version", [" 2027.9", "2027.9 ", "\t2027.9\n"])
def test_a_cards_version_with_spaces_around_it_is_refused_with_every_other_problem(
    client: FlaskClient, admin: Any, version: str
) -> None:
    """ "`version` string, unique, e.g. "2027.1"": a version padded with spaces would be
    a second card that reads as "2027.9" everywhere but that a quote naming "2027.9"
    never finds; it is refused naming `version`, with the card's other problems, and
    nothing is stored."""
    document = example_document()
    document["version"] = version
    document["currency"] = "XYZ"
    before = cards()
    refused = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
    assert refused.status_code == 422
    assert refused.mimetype == PROBLEM
    assert sorted(refused.get_json()["errors"]) == ["currency", "version"]
    assert "spaces" in refused.get_json()["errors"]["version"][0]
    document["currency"] = "USD"
    alone = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
    assert list(alone.get_json()["errors"]) == ["version"]
    assert cards() == before


def test_the_import_command_refuses_a_version_with_spaces_around_it_too(
    app: Flask, tmp_path: Path
) -> None:
    """ "Command line: `licensing ratecards import FILE` ... validate the whole card
    first and store nothing when it is invalid, printing every problem found"."""
    document = example_document()
    document["version"] = "2027.9 "
    path = tmp_path / "card.json"
    path.write_text(json.dumps(document, default=str))
    before = cards()
    result = app.test_cli_runner().invoke(args=["ratecards", "import", str(path)])
    assert result.exit_code != 0
    assert "version: must not begin or end with spaces" in result.output, result.output
    assert cards() == before


def test_the_rate_cards_page_refuses_a_version_with_spaces_around_it_naming_it(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    """ "Both validate the whole card first and store nothing when it is invalid":
    the *Rate cards* page, where admins upload a card, says so beside the others."""
    signed_in(client, admin)
    document = example_document()
    document["version"] = " 2027.9"
    before = cards()
    refused = client.post(
        "/console/rate-cards/",
        data={"card": (io.BytesIO(json.dumps(document, default=str).encode()), "c.json")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "must not begin or end with spaces" in html.unescape(refused.get_data(as_text=True))
    assert cards() == before
