"""The API never opens, saves or varies on the page session cookie; pages keep it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, session
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.ratecards.cli import load_samples
from licensing.sessions import ApiSession, PageSessionInterface
from tests.support.factories import bearer

COOKIE = "licensing_session"
QUOTE = {
    "organization_type": "commercial",
    "term": {"start": "2027-01-01", "end": "2027-06-30"},
    "uses": [
        {
            "use": "distribution",
            "product_type": "saas",
            "user_type": "provider",
            "quantity": {"end_users": 100},
        }
    ],
}


def _cookie_header_values(response: object) -> list[str]:
    return response.headers.getlist("Set-Cookie")  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/me", "/api/v1/nowhere"])
def test_an_api_answer_to_a_signed_in_browser_neither_sets_nor_varies_on_the_cookie(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient], path: str
) -> None:
    client = signed_in(app.test_client(), vendor)
    response = client.get(path)
    assert _cookie_header_values(response) == []
    assert "Cookie" not in response.vary


def test_an_api_answer_to_a_token_neither_sets_nor_varies_on_the_cookie(
    client: FlaskClient, vendor: User
) -> None:
    response = client.get("/api/v1/me", headers=bearer(vendor))
    assert response.status_code == 200
    assert _cookie_header_values(response) == []
    assert "Cookie" not in response.vary


def test_an_anonymous_quote_neither_sets_nor_varies_on_the_cookie(client: FlaskClient) -> None:
    load_samples()
    response = client.post("/api/v1/quotes", json=QUOTE)
    assert response.status_code == 200
    assert _cookie_header_values(response) == []
    assert "Cookie" not in response.vary


def test_the_page_session_survives_api_requests_in_between(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    load_samples()
    client = signed_in(app.test_client(), vendor)
    before = client.get_cookie(COOKIE)
    assert before is not None
    client.get("/api/v1/me")
    assert client.post("/api/v1/quotes", json=QUOTE).status_code == 200
    after = client.get_cookie(COOKIE)
    assert after is not None
    assert after.value == before.value
    assert client.get("/portal/").status_code == 200


def test_pages_still_vary_on_the_session_cookie(client: FlaskClient) -> None:
    response = client.get("/sign-in")
    assert response.status_code == 200
    assert "Cookie" in response.vary


def test_an_api_request_sees_an_empty_session_even_with_a_page_cookie(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    with app.test_request_context("/api/v1/me", headers={"Cookie": f"{COOKIE}={cookie.value}"}):
        assert isinstance(session._get_current_object(), ApiSession)  # type: ignore[attr-defined]
        assert dict(session) == {}
    with app.test_request_context("/portal/", headers={"Cookie": f"{COOKIE}={cookie.value}"}):
        assert "_user_id" in session


def test_a_cookie_signed_with_a_replaced_secret_key_is_refused(app: Flask) -> None:
    interface = app.session_interface
    assert isinstance(interface, PageSessionInterface)
    signer = interface.get_signing_serializer(app)
    assert signer is not None
    old_cookie = signer.dumps({"_user_id": "1:x:0"})
    original = app.secret_key
    try:
        app.secret_key = "a-new-secret-key-for-this-test-only"
        with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={old_cookie}"}):
            assert "_user_id" not in session
        app.config["SECRET_KEY_FALLBACKS"] = [original]
        with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={old_cookie}"}):
            assert session["_user_id"] == "1:x:0"
    finally:
        app.secret_key = original
        app.config["SECRET_KEY_FALLBACKS"] = []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/static/css/app.css"),
        ("POST", "/webhooks/stripe"),
    ],
)
def test_health_checks_static_files_and_the_webhook_neither_set_nor_vary_on_the_cookie(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient], method: str, path: str
) -> None:
    client = signed_in(app.test_client(), vendor)
    response = client.open(path, method=method, data=b"{}")
    # (Readiness may answer 503 here: the test's database is held in one transaction.)
    assert response.status_code != 500
    assert _cookie_header_values(response) == []
    assert "Cookie" not in response.vary
    # The page session itself is untouched: the vendor is still signed in.
    assert client.get("/portal/").status_code == 200
