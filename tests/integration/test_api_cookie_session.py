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


def _remember_cookie_after(app: Flask, path: str, marks: dict[str, str]) -> list[str]:
    """Set-Cookie headers Flask-Login's after-request hook adds to an answer at
    `path` whose session holds `marks`."""
    from licensing.extensions import login_manager

    with app.test_request_context(path):
        session.update(marks)
        response = login_manager._update_remember_cookie(app.response_class("{}"))
        return [v for v in _cookie_header_values(response) if v.startswith("remember_token=")]


def test_flask_logins_hook_leaves_an_empty_api_session_alone_even_refreshing_each_request(
    app: Flask,
) -> None:
    app.config["REMEMBER_COOKIE_REFRESH_EACH_REQUEST"] = True
    with app.test_request_context("/api/v1/quotes"):
        assert isinstance(session._get_current_object(), ApiSession)  # type: ignore[attr-defined]
    assert _remember_cookie_after(app, "/api/v1/quotes", {}) == []


@pytest.mark.parametrize("path", ["/api/v1/quotes", "/sign-in"])
def test_flask_logins_hook_still_acts_on_marks_in_any_session(app: Flask, path: str) -> None:
    # The hook returns at once only for an empty API session: marks left in
    # one (no route leaves any) are acted on as on a page.
    marks = {"_remember": "set", "_user_id": "1:fingerprint:0"}
    assert len(_remember_cookie_after(app, path, marks)) == 1


def test_an_api_request_skips_flask_logins_remember_cookie_work(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flask_login

    def remember_cookie_work(self: object, response: object) -> object:
        raise AssertionError("Flask-Login's hook ran for an empty API session")

    monkeypatch.setattr(flask_login.LoginManager, "_update_remember_cookie", remember_cookie_work)
    assert client.get("/api/v1/nowhere").status_code == 404
    with pytest.raises(AssertionError, match="Flask-Login's hook ran"):
        client.get("/sign-in")
