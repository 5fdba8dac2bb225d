"""Round 61 (currencywalk61): a use's revenue is an amount in its card's currency, so
a JPY card's application or estimate refuses a fraction of a yen, beside the field,
on the page and through the API, and stores nothing."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements.models import Application
from licensing.ratecards import services as ratecards
from tests.support.factories import bearer

WHOLE_YEN = "JPY has no minor unit: give a whole number of JPY, such as 1234."
JPY_CARD = {
    "version": "2027.JPY",
    "title": "Royalty schedule in yen",
    "currency": "JPY",
    "effective_from": "2027-01-01",
    "effective_to": "2027-12-31",
    "rules": [
        {
            "id": "derivative-work",
            "description": "Derivative works",
            "when": {"use": "derivative_work"},
            "model": {"type": "percent_of_revenue", "percent": "12"},
            "minimum": "300000",
        }
    ],
    "adjustments": [],
}
USE = {
    "product_name": "Lingua",
    "description": "Localized coding tools",
    "use": "derivative_work",
    "product_type": "software",
    "user_type": "provider",
    "delivery": "installed",
    "territories": "Japan",
    "languages": ["ja"],
}


def _publish() -> None:
    ratecards.import_card(JPY_CARD, published_by="tests")
    db.session().commit()


def test_the_api_refuses_a_fraction_of_a_yen_on_a_jpy_card_naming_the_field(
    app: Flask, client: FlaskClient, vendor: Any
) -> None:
    _publish()
    body = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "2027.JPY",
        "uses": [{**USE, "revenue": "1234.5"}],
    }
    refused = client.post("/api/v1/applications", json=body, headers=bearer(vendor))
    assert refused.status_code == 422
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["errors"] == {"uses.0.revenue": [WHOLE_YEN]}
    assert db.session().query(Application).count() == 0
    body["uses"][0]["revenue"] = "1234"
    saved = client.post("/api/v1/applications", json=body, headers=bearer(vendor))
    assert saved.status_code == 201, saved.get_json()


def test_the_application_page_labels_the_revenue_in_yen_and_refuses_a_fraction_of_one(
    app: Flask, client: FlaskClient, vendor: Any, signed_in: Any
) -> None:
    _publish()
    signed_in(client, vendor)
    fields = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "2027.JPY",
        **{f"uses-0-{name}": value for name, value in USE.items() if name != "languages"},
        "uses-0-languages": "ja",
        "uses-0-revenue": "1234.5",
        "save": "1",
    }
    page = client.post("/portal/applications/new", data=fields)
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert '<label for="uses-0-revenue">Expected annual revenue (JPY)</label>' in text
    assert WHOLE_YEN in text
    assert db.session().query(Application).count() == 0


def test_the_estimator_refuses_a_fraction_of_a_yen_and_gives_no_price(
    app: Flask, client: FlaskClient
) -> None:
    _publish()
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "2027.JPY",
        "uses-0-use": "derivative_work",
        "uses-0-product_type": "software",
        "uses-0-user_type": "provider",
        "uses-0-revenue": "1234.5",
    }
    text = client.get("/estimate", query_string=query).get_data(as_text=True)
    assert WHOLE_YEN in text
    assert "Estimated total" not in text
    assert "Expected annual revenue (JPY)" in text
