"""Every response, page or API, carries the security headers; HSTS only in
production; a client's request id only when it is plain."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response
from flask import g as flask_g
from flask.testing import FlaskClient

from licensing import access, headers
from licensing.app import create_app
from tests.conftest import make_config


@pytest.mark.parametrize(
    "path", ["/", "/estimate", "/sign-in", "/api/v1/", "/api/v1/docs", "/api/v1/nowhere"]
)
def test_pages_and_api_answers_carry_the_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "stripe" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # not in testing


def test_production_adds_hsts(app: Flask) -> None:
    config = make_config(
        app.config["LICENSING"].database_url, environment="production", overrides={}
    )
    response = create_app(config).test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_development_sends_no_hsts(app: Flask) -> None:
    config = make_config(app.config["LICENSING"].database_url, environment="development")
    response = create_app(config).test_client().get("/healthz")
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize("incoming", ["abc\tdefghij", "x" * 65, "ids/with/slashes", "é" * 10])
def test_a_request_id_that_is_not_plain_is_replaced(client: FlaskClient, incoming: str) -> None:
    echoed = client.get("/healthz", headers={"X-Request-Id": incoming}).headers["X-Request-Id"]
    assert echoed != incoming
    assert len(echoed) == 32


def test_a_plain_request_id_is_echoed(client: FlaskClient) -> None:
    echoed = client.get("/healthz", headers={"X-Request-Id": "lb-2027.01_15-0042"})
    assert echoed.headers["X-Request-Id"] == "lb-2027.01_15-0042"


def test_the_api_documentation_page_has_no_inline_script(client: FlaskClient) -> None:
    html = client.get("/api/v1/docs").get_data(as_text=True)
    assert "<script>" not in html
    assert "/static/js/api-docs.js" in html
    assert 'data-spec-url="/api/v1/openapi.json"' in html


def test_errors_pages_carry_the_headers_too(client: FlaskClient) -> None:
    response: Any = client.get("/no-such-page")
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_only_the_response_that_allows_stripe_js_carries_its_sources(app: Flask) -> None:
    def payment_like_page() -> str:
        headers.allow_stripe_js()
        return "card form"

    app.add_url_rule("/test-stripe-page", "test_stripe_page", access.public(payment_like_page))
    client = app.test_client()
    stripe_origin = headers._origin(app.config["LICENSING"].stripe_js_url)
    first = client.get("/test-stripe-page").headers["Content-Security-Policy"]
    assert f"script-src 'self' {stripe_origin}" in first
    assert "frame-src 'none'" not in first
    after = client.get("/").headers["Content-Security-Policy"]
    assert after == headers.content_security_policy()
    assert "stripe" not in after
    assert client.get("/test-stripe-page").headers["Content-Security-Policy"] == first


def test_a_response_that_set_our_headers_itself_carries_each_once(app: Flask) -> None:
    with app.test_request_context("/"):
        headers._start_request()
        response = Response(
            "x",
            headers={
                "x-frame-options": "SAMEORIGIN",
                "Referrer-Policy": "no-referrer",
                "X-Request-Id": "from-the-view",
                "Content-Security-Policy": "default-src *",
            },
        )
        headers._finish_headers(response)
    assert response.headers.getlist("X-Frame-Options") == ["DENY"]
    assert response.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert response.headers.getlist("Content-Security-Policy") == [headers.DEFAULT_POLICY]
    [request_id] = response.headers.getlist("X-Request-Id")
    assert request_id != "from-the-view"
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_an_api_answer_lists_the_security_headers_after_its_own_in_a_fixed_order(
    client: FlaskClient,
) -> None:
    response = client.get("/api/v1/nowhere")
    assert [name for name, _value in response.headers][-5:] == [
        "X-Request-Id",
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
    ]


def test_signed_in_pages_and_api_answers_are_never_stored(
    app: Flask, vendor: Any, signed_in: Any
) -> None:
    # A signed-in page carried no Cache-Control: after signing out on a shared
    # computer, the browser's cache (and Back) still showed the invoices and
    # agreements; nothing told a cache not to keep an API answer either.
    from tests.support.factories import bearer

    page = signed_in(app.test_client(), vendor)
    for path in ("/portal/", "/portal/invoices", "/account/tokens", "/organization"):
        assert page.get(path).headers.get("Cache-Control") == "no-store", path
    answer = app.test_client().get("/api/v1/me", headers=bearer(vendor))
    assert answer.headers.get("Cache-Control") == "no-store"


@pytest.mark.parametrize(
    "path", ["/reset/AbCdEfGh1234567890", "/permissions/status/AbCdEfGh1234567890"]
)
def test_a_page_opened_by_an_emailed_link_is_never_stored(client: FlaskClient, path: str) -> None:
    assert client.get(path).headers.get("Cache-Control") == "no-store"


@pytest.mark.parametrize("path", ["/", "/estimate", "/api/v1/openapi.json", "/static/css/app.css"])
def test_public_pages_keep_their_caching(client: FlaskClient, path: str) -> None:
    assert client.get(path).headers.get("Cache-Control") != "no-store"


def test_a_request_id_with_a_newline_is_refused_as_werkzeug_refuses_any_header(
    app: Flask,
) -> None:
    # Ours are appended without werkzeug's check on each response; a value that
    # would fail it (none of ours can) still fails.
    with app.test_request_context("/"):
        headers._start_request()
        flask_g.request_id = "forged\r\nSet-Cookie: x=1"
        with pytest.raises(ValueError, match="newline"):
            headers._finish_headers(Response("x"))


def test_header_values_made_once_are_checked_as_werkzeug_checks_them() -> None:
    with pytest.raises(ValueError, match="newline"):
        headers.checked_value("default-src 'self'\nX-Injected: 1")
    assert headers.checked_value(headers.DEFAULT_POLICY) == headers.DEFAULT_POLICY


def test_a_refusal_without_retry_after_of_its_own_gets_the_number_its_words_said(
    app: Flask,
) -> None:
    with app.test_request_context("/"):
        headers._start_request()
        flask_g.licensing_retry_after = 42
        response = headers._finish_headers(Response("slow down", status=429))
    assert response.headers["Retry-After"] == "42"
    assert response.headers["X-Frame-Options"] == "DENY"
