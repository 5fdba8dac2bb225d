"""The pricing contract (`contracts/pricing.md`), clause by clause, through the HTTP
API as the contract words it: the clauses that only the pure core's unit tests held
(docs/contract-coverage.md maps every clause to its tests)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.config import Config
from licensing.ratecards import services
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.factories import bearer
from tests.support.invalid_cards import INVALID_CARDS

PROBLEM = "application/problem+json"
# The core's cases whose only mistake is a binary float: JSON over HTTP has none, the
# API reads a JSON number as its exact decimal text (10.5 is Decimal("10.5")), so
# these are valid cards there (docs/contract-coverage.md, "Readings").
READ_EXACTLY = {
    "float minimum",
    "float flat amount",
    "discount as float",
    "bad part in a nested sum",
}
# The contract's worked example: 100 @ 18.00, up to 1000 @ 14.00, above @ 9.50.
WORKED_TIERS = [
    {"up_to": 100, "unit_price": "18.00"},
    {"up_to": 1000, "unit_price": "14.00"},
    {"up_to": None, "unit_price": "9.50"},
]
FLAT_TIERS = [
    {"up_to": 10, "unit_price": "1.00", "flat": "100.00"},
    {"up_to": None, "unit_price": "0.50", "flat": "50.00"},
]


def card(
    rules: list[dict[str, Any]],
    adjustments: list[dict[str, Any]] | None = None,
    *,
    version: str = "contract.1",
    currency: str = "USD",
    effective_from: str = "2027-01-01",
    effective_to: str = "2027-12-31",
) -> str:
    document = {
        "version": version,
        "title": "Invented card for the contract's clauses",
        "currency": currency,
        "effective_from": effective_from,
        "effective_to": effective_to,
        "rules": rules,
        "adjustments": adjustments or [],
    }
    return services.import_card(document, published_by="tests").version


def per_unit(rule_id: str, product_type: str, mode: str, tiers: Any, **extra: Any) -> Any:
    return {
        "id": rule_id,
        "when": {"product_type": product_type},
        "model": {"type": "per_unit", "unit": "seats", "mode": mode, "tiers": tiers},
        **extra,
    }


def use(product_type: str = "software", **fields: Any) -> dict[str, Any]:
    return {"use": "distribution", "product_type": product_type, "user_type": "provider", **fields}


def quote(
    client: FlaskClient,
    version: str,
    *uses: dict[str, Any],
    start: str = "2027-01-01",
    end: str = "2027-12-31",
    organization_type: str = "commercial",
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/quotes",
        json={
            "organization_type": organization_type,
            "term": {"start": start, "end": end},
            "rate_card": version,
            "uses": list(uses),
        },
    )
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def amounts(answer: dict[str, Any]) -> list[str | None]:
    return [line["amount"] for line in answer["lines"]]


# --- Models --------------------------------------------------------------------------------


def test_the_worked_tier_example_prices_graduated_and_volume_exactly(
    client: FlaskClient, app: Flask
) -> None:
    version = card(
        [
            per_unit("graduated", "software", "graduated", WORKED_TIERS),
            per_unit("volume", "saas", "volume", WORKED_TIERS),
        ]
    )
    answer = quote(
        client,
        version,
        use("software", quantity={"seats": 2500}),
        use("saas", quantity={"seats": 2500}),
    )
    # graduated = 100x18.00 + 900x14.00 + 1500x9.50; volume = 2500x9.50
    assert amounts(answer) == ["28650.00", "23750.00"]
    assert answer["total"] == "52400.00"


@pytest.mark.parametrize(
    ("seats", "graduated", "volume"),
    [
        (0, "0.00", "0.00"),  # a quantity of 0 gives 0 in both modes, flats included
        (1, "101.00", "101.00"),  # the first tier reached: its flat once
        (10, "110.00", "110.00"),  # the first tier's upper bound is inside it
        # graduated: 10 x 1.00 + 1 x 0.50 + both flats; volume: 11 x 0.50 + the 2nd flat
        (11, "160.50", "55.50"),
    ],
)
def test_tier_flats_are_added_once_per_tier_reached_or_for_the_whole_quantitys_tier(
    client: FlaskClient, app: Flask, seats: int, graduated: str, volume: str
) -> None:
    version = card(
        [
            per_unit("graduated", "software", "graduated", FLAT_TIERS),
            per_unit("volume", "saas", "volume", FLAT_TIERS),
        ]
    )
    answer = quote(
        client,
        version,
        use("software", quantity={"seats": seats}),
        use("saas", quantity={"seats": seats}),
    )
    assert amounts(answer) == [graduated, volume]


def test_a_sum_adds_its_parts_and_percent_of_revenue_takes_its_share(
    client: FlaskClient, app: Flask
) -> None:
    version = card(
        [
            {
                "id": "sum",
                "when": {},
                "model": {
                    "type": "sum",
                    "parts": [
                        {"type": "flat", "amount": "100.00", "prorate": False},
                        {"type": "percent_of_revenue", "percent": "12.5"},
                        {
                            "type": "per_unit",
                            "unit": "seats",
                            "mode": "volume",
                            "tiers": [{"up_to": None, "unit_price": "0.333"}],
                        },
                    ],
                },
            }
        ]
    )
    # 100.00 + 12.5% of 1000.01 (125.00125) + 7 x 0.333 (2.331) = 227.33225 -> 227.33
    answer = quote(client, version, use(quantity={"seats": 7}, revenue="1000.01"))
    assert amounts(answer) == ["227.33"]


# --- Proration and one use's amount --------------------------------------------------------


def test_a_flat_of_1_83_over_one_day_of_a_366_day_card_rounds_to_a_cent(
    client: FlaskClient, app: Flask
) -> None:
    version = card(
        [{"id": "flat", "when": {}, "model": {"type": "flat", "amount": "1.83"}}],
        effective_from="2028-01-01",
        effective_to="2028-12-31",
    )
    answer = quote(client, version, use(), start="2028-02-29", end="2028-02-29")
    assert answer["proration"] == "1/366"  # the fraction itself, not a rounded decimal
    assert amounts(answer) == ["0.01"]  # exactly 0.005, half-up


def test_proration_touches_flat_fees_minimums_and_maximums_never_usage(
    client: FlaskClient, app: Flask
) -> None:
    version = card(
        [
            {
                "id": "flat",
                "when": {"use": "development"},
                "model": {"type": "flat", "amount": "365.00"},
            },
            {
                "id": "unprorated",
                "when": {"use": "internal_use"},
                "model": {"type": "flat", "amount": "365.00", "prorate": False},
            },
            per_unit(
                "minimum",
                "software",
                "graduated",
                [{"up_to": None, "unit_price": "1.00"}],
                minimum="365.00",
            ),
            per_unit(
                "maximum",
                "saas",
                "graduated",
                [{"up_to": None, "unit_price": "1.00"}],
                maximum="365.00",
            ),
            per_unit("usage", "print", "graduated", [{"up_to": None, "unit_price": "1.00"}]),
        ]
    )
    answer = quote(
        client,
        version,
        {**use(), "use": "development"},
        {**use(), "use": "internal_use"},
        use("software", quantity={"seats": 1}),
        use("saas", quantity={"seats": 1000}),
        use("print", quantity={"seats": 1000}),
        start="2027-01-01",
        end="2027-01-10",  # 10 of 365 days
    )
    assert answer["proration"] == "2/73"
    assert amounts(answer) == ["10.00", "365.00", "10.00", "10.00", "1000.00"]


def test_a_discount_applies_then_the_minimum_then_the_maximum_each_prorated(
    client: FlaskClient, app: Flask
) -> None:
    tiers = [{"up_to": None, "unit_price": "10.00"}]
    version = card(
        [per_unit("bounded", "software", "graduated", tiers, minimum="100.00", maximum="1000.00")],
        [
            {
                "id": "nonprofit",
                "when": {"organization_type": "nonprofit"},
                "discount_percent": "20",
            },
            {"id": "never", "when": {"organization_type": "nonprofit"}, "discount_percent": "90"},
        ],
    )
    whole = quote(
        client,
        version,
        use(quantity={"seats": 5}),  # 50.00 less 20% = 40.00, lifted to 100.00
        use(quantity={"seats": 100}),  # 1000.00 less 20% = 800.00
        use(quantity={"seats": 200}),  # 2000.00 less 20% = 1600.00, capped at 1000.00
        organization_type="nonprofit",
    )
    assert amounts(whole) == ["100.00", "800.00", "1000.00"]
    half = quote(
        client,
        version,
        use(quantity={"seats": 5}),
        use(quantity={"seats": 200}),
        organization_type="nonprofit",
        start="2027-07-01",
    )
    # minimum 100.00 x 184/365 = 50.410958...; maximum 1000.00 x 184/365 = 504.109589...
    assert amounts(half) == ["50.41", "504.11"]
    assert half["total"] == "554.52"


@pytest.mark.parametrize(
    ("currency", "amount", "total"),
    [("JPY", "3", "3"), ("KWD", "2.740", "2.740"), ("USD", "2.74", "2.74")],
)
def test_money_has_exactly_the_currencys_minor_unit_digits(
    client: FlaskClient, app: Flask, currency: str, amount: str, total: str
) -> None:
    version = card(
        [{"id": "flat", "when": {}, "model": {"type": "flat", "amount": "1000"}}],
        currency=currency,
    )
    # 1000 x 1/365 = 2.739726...
    answer = quote(client, version, use(), end="2027-01-01")
    assert answer["currency"] == currency
    assert amounts(answer) == [amount]
    assert answer["total"] == total


# --- Rules: first match, routes, review ----------------------------------------------------


def test_the_first_matching_rule_wins_and_an_empty_when_matches_everything(
    client: FlaskClient, app: Flask
) -> None:
    version = card(
        [
            {
                "id": "payers",
                "when": {"user_type": ["payer", "government"]},
                "model": {"type": "flat", "amount": "1.00"},
            },
            {
                "id": "saas-payers",
                "when": {"user_type": "payer"},
                "model": {"type": "flat", "amount": "2.00"},
            },
            {"id": "everything", "when": {}, "model": {"type": "flat", "amount": "3.00"}},
        ]
    )
    answer = quote(
        client, version, {**use(), "user_type": "payer"}, {**use(), "user_type": "consumer"}
    )
    assert [line["rule"] for line in answer["lines"]] == ["payers", "everything"]
    assert amounts(answer) == ["1.00", "3.00"]


def test_a_routed_line_is_free_auto_unless_its_rule_asks_staff_and_then_needs_review(
    client: FlaskClient, app: Flask
) -> None:
    version = card(
        [
            {
                "id": "routed-staff",
                "when": {"user_type": "academic"},
                "route": "permission_request",
                "review": "staff",
            },
            {"id": "routed", "when": {}, "route": "permission_request"},
        ]
    )
    auto = quote(client, version, use())
    assert auto["lines"][0]["route"] == "permission_request"
    assert (auto["lines"][0]["review"], auto["requires_review"]) == ("auto", False)
    staff = quote(client, version, {**use(), "user_type": "academic"})
    assert staff["lines"][0] | {"explanation": None} == {
        "use_index": 0,
        "rule": "routed-staff",
        "route": "permission_request",
        "review": "staff",
        "amount": "0.00",
        "explanation": None,
    }
    assert staff["requires_review"] is True
    assert staff["total"] == "0.00"


# --- The quote endpoint --------------------------------------------------------------------


def test_without_configuration_the_quote_limit_is_120_a_minute_per_client() -> None:
    assert Config.from_env({}).quote_rate_limit == "120 per minute"


def test_unknown_values_and_keys_anywhere_in_a_request_are_422_never_a_silent_default(
    client: FlaskClient, example_card: str
) -> None:
    body = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-01", "end": "2027-12-31", "until": "2028-01-01"},
        "rate_card": "2027.1",
        "discount": "50",
        "uses": [{**use(quantity={"end_users": 1}), "territory": "EU"}],
    }
    response = client.post("/api/v1/quotes", json=body)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert {"term.until", "discount", "uses.0.territory"} <= set(response.get_json()["errors"])


# --- Loading a card ------------------------------------------------------------------------


def test_the_api_refuses_every_invalid_card_of_the_core_tests_naming_the_path_and_stores_nothing(
    client: FlaskClient, admin: Any
) -> None:
    headers = {**bearer(admin), "Content-Type": "application/json"}
    for name, mistake, path in INVALID_CARDS:
        if name in READ_EXACTLY:
            continue
        document = copy.deepcopy(example_document())
        mistake(document)
        body = json.dumps(document, default=float)  # a Decimal goes as a JSON number
        response = client.post("/api/v1/rate-cards", data=body, headers=headers)
        assert response.status_code == 422, name
        assert response.mimetype == PROBLEM, name
        assert path in response.get_json()["errors"], (name, response.get_json()["errors"])
    assert client.get("/api/v1/rate-cards").get_json() == []


def test_a_routed_line_is_not_part_of_any_invoice(
    client: FlaskClient, example_card: str, licensing_staff: Any
) -> None:
    session = db.session()
    academic = factories.make_vendor(
        session, organization=factories.make_organization(session, organization_type="academic")
    )
    development = {**AUTO_USE, "use": "development", "product_name": "Scrubber SDK"}
    education = {**AUTO_USE, "use": "education", "product_name": "Coding 101"}
    agreement = make_active_agreement(academic, licensing_staff, development, education, now=NOW)
    invoices = client.get("/api/v1/invoices", headers=bearer(academic)).get_json()
    assert len(invoices) == 1
    lines = client.get(
        f"/api/v1/invoices/{invoices[0]['id']}", headers=bearer(academic)
    ).get_json()["lines"]
    # development: 2500.00 less the academic 20% = 2000.00; the routed line bills nothing
    assert [(line["description"].split(":")[0], line["amount"]) for line in lines] == [
        ("Scrubber SDK", "2000.00")
    ]
    assert agreement.number in invoices[0]["source_reference"]


@pytest.mark.parametrize("field", ["use", "product_type", "user_type"])
def test_every_use_needs_its_use_product_type_and_user_type(
    client: FlaskClient, example_card: str, field: str
) -> None:
    given = use(quantity={"end_users": 1})
    del given[field]
    body = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-01", "end": "2027-12-31"},
        "uses": [given],
    }
    response = client.post("/api/v1/quotes", json=body)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert list(response.get_json()["errors"]) == [f"uses.0.{field}"]
