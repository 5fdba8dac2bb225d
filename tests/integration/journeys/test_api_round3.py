"""Round 3: rough edges an integrator meets in the API. Problem documents carry
one title a status, whoever found the problem. On both backends."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.integration.agreements.conftest import AUTO_USE
from tests.support import factories


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def test_a_422_is_titled_invalid_input_whether_the_schema_or_the_service_refused_it(
    client: FlaskClient, vendor: Any
) -> None:
    # Before: the schema's 422 said "Unprocessable Entity", the service's "Invalid input".
    headers = factories.bearer(vendor)
    by_schema = client.get("/api/v1/applications?colour=red", headers=headers)
    by_service = client.get("/api/v1/applications?assignee=me", headers=headers)
    assert _problem(by_schema, 422)["title"] == "Invalid input"
    assert _problem(by_service, 422)["title"] == "Invalid input"
    assert "query.colour" in by_schema.get_json()["errors"]
    assert "query.assignee" in by_service.get_json()["errors"]


def test_a_404_is_titled_not_found_whether_no_route_or_no_record_answered(
    client: FlaskClient, vendor: Any
) -> None:
    headers = factories.bearer(vendor)
    no_route = client.get("/api/v1/no-such-thing", headers=headers)
    no_record = client.get("/api/v1/invoices/999999", headers=headers)
    assert _problem(no_route, 404)["title"] == _problem(no_record, 404)["title"] == "Not found"


def test_every_refusal_is_titled_by_its_status_alone(
    client: FlaskClient,
    apply: Any,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    application = apply(vendor, AUTO_USE)  # approved at once: a rejection is an illegal step
    illegal = client.post(
        f"/api/v1/applications/{application.id}/reject",
        json={"reason": "too late"},
        headers=factories.bearer(licensing_staff),
    )
    wrong_method = client.delete("/api/v1/quotes")
    wrong_type = client.post("/api/v1/quotes", data="a=1", content_type="text/plain")
    anonymous = client.get("/api/v1/invoices")
    assert _problem(illegal, 409)["title"] == "Conflict"
    assert _problem(wrong_method, 405)["title"] == "Method not allowed"
    assert _problem(wrong_type, 415)["title"] == "Unsupported media type"
    assert _problem(anonymous, 401)["title"] == "Authentication required"
