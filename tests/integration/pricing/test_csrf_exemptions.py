"""With CSRF on, as in production: forms need their token; the API (an exempt
blueprint), Stripe's webhook and the estimator's form (exempt views) do not,
and an exempt request is neither checked nor marked as checked."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFError

from licensing.extensions import csrf
from tests.integration.pricing.conftest import quote_body


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"overrides": {}}  # CSRF on


def test_a_form_posted_without_its_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/sign-in", data={"email": "ana@juniper.example"})
    assert response.status_code == 400


def test_an_api_request_needs_no_token(client: FlaskClient, example_card: str) -> None:
    response = client.post("/api/v1/quotes", json=quote_body())
    assert response.status_code == 200
    assert response.get_json()["total"] == "33800.00"


def test_an_exempt_view_outside_the_api_needs_no_token(client: FlaskClient) -> None:
    response = client.post("/estimate", data={})
    assert response.status_code in (200, 422)


@pytest.mark.parametrize(
    ("path", "exempt"),
    [("/api/v1/quotes", True), ("/webhooks/stripe", True), ("/sign-in", False)],
)
def test_the_check_is_skipped_exactly_where_flask_wtf_skips_it(
    app: Flask, path: str, exempt: bool
) -> None:
    with app.test_request_context(path, method="POST", data={"csrf_token": "stale"}):
        if exempt:
            csrf.protect(apply_exemptions=True)
            assert "csrf_valid" not in g
        else:
            with pytest.raises(CSRFError):
                csrf.protect(apply_exemptions=True)
