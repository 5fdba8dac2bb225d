"""Issue 15, item 9: one set of quantity and revenue limits, defined on the use,
holds in the quote API and the application API (the estimator: tests/browser)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from licensing.pricing import ProposedUse
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.support.factories import bearer

TOO_MANY = ProposedUse.MAX_QUANTITY + 1
TOO_MUCH = str(ProposedUse.MAX_REVENUE + 1)


def _quote(client: FlaskClient, use: dict[str, Any]) -> Any:
    body = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-01", "end": "2027-12-31"},
        "uses": [use],
    }
    return client.post("/api/v1/quotes", json=body)


def test_the_quote_api_refuses_quantities_and_revenue_past_the_limits(
    client: FlaskClient, example_card: str
) -> None:
    software = {"use": "distribution", "product_type": "saas", "user_type": "provider"}
    at_limit = _quote(client, {**software, "quantity": {"end_users": ProposedUse.MAX_QUANTITY}})
    assert at_limit.status_code == 200, at_limit.get_json()
    over = _quote(client, {**software, "quantity": {"end_users": 99999999999999999999999}})
    assert over.status_code == 422
    assert "uses.0.quantity.end_users" in over.get_json()["errors"]
    data = {"use": "distribution", "product_type": "data_file", "user_type": "provider"}
    rich = _quote(client, {**data, "revenue": TOO_MUCH})
    assert rich.status_code == 422
    assert "uses.0.revenue" in rich.get_json()["errors"]


def test_the_application_api_refuses_the_same_limits_with_a_422_not_a_500(
    client: FlaskClient, vendor: Any, example_card: str
) -> None:
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31"}
    many = {**AUTO_USE, "quantity": {"end_users": TOO_MANY}}
    rich = {**STAFF_USE, "revenue": "100000000000000"}  # past the money column's range
    for use, path in ((many, "uses.0.quantity.end_users"), (rich, "uses.0.revenue")):
        response = client.post(
            "/api/v1/applications", json={**body, "uses": [use]}, headers=bearer(vendor)
        )
        assert response.status_code == 422, response.get_json()
        assert path in response.get_json()["errors"], response.get_json()
