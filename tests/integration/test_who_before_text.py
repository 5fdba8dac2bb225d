"""Who before what, for text that cannot be stored: a route that needs a caller
answers an anonymous one 401 (the API) or sends them to sign in (pages) before it
refuses a NUL in the path, query or form, and sends nothing of that text on to
the sign-in page; public routes keep the 422, and a caller the route admits
still hears about the text."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from licensing.accounts.models import User
from tests.integration.permissions.conftest import request_fields

NUL = "\x00"
PROBLEM = "application/problem+json"


def _next_of(response: Any) -> list[str]:
    """The `next` the sign-in redirect carries (none: an empty list)."""
    location = response.headers["Location"]
    assert urlsplit(location).path == "/sign-in", location
    return parse_qs(urlsplit(location).query).get("next", [])


def test_an_anonymous_api_caller_with_a_nul_in_the_query_is_asked_for_a_token(
    client: FlaskClient,
) -> None:
    answered = client.get("/api/v1/invoices", query_string={"status": f"a{NUL}"})
    assert answered.status_code == 401
    assert answered.mimetype == PROBLEM
    assert "Authorization: Bearer" in answered.get_json()["detail"]


def test_an_anonymous_api_caller_with_a_nul_in_a_form_is_asked_for_a_token(
    client: FlaskClient, vendor: User
) -> None:
    answered = client.patch(
        f"/api/v1/users/{vendor.id}",
        data="role=mem\x00ber",
        content_type="application/x-www-form-urlencoded",
    )
    assert answered.status_code == 401
    assert answered.mimetype == PROBLEM


def test_an_unknown_token_with_a_nul_is_told_its_token_is_not_valid(
    client: FlaskClient, vendor: User
) -> None:
    answered = client.patch(
        f"/api/v1/users/{vendor.id}?note=a%00b",
        json={"role": "member"},
        headers={"Authorization": "Bearer lic_not-a-token"},
    )
    assert answered.status_code == 401
    assert "not valid" in answered.get_json()["detail"]


def test_an_anonymous_visitor_with_a_nul_in_a_pages_path_is_sent_to_sign_in_without_it(
    client: FlaskClient,
) -> None:
    answered = client.get(f"/console/rate-cards/2027{NUL}.1")
    assert answered.status_code == 302
    assert _next_of(answered) == []
    # The sign-in page it leads to opens: it carries no text it would refuse.
    assert client.get(answered.headers["Location"]).status_code == 200


def test_an_anonymous_visitor_with_a_nul_in_a_pages_query_comes_back_to_the_page(
    client: FlaskClient,
) -> None:
    answered = client.get("/console/invoices", query_string={"q": f"a{NUL}"})
    assert answered.status_code == 302
    assert _next_of(answered) == ["/console/invoices"]
    assert client.get(answered.headers["Location"]).status_code == 200


def test_an_anonymous_visitor_posting_a_nul_to_a_page_is_sent_to_sign_in(
    client: FlaskClient,
) -> None:
    answered = client.post("/organization/invitations", data={"email": f"a{NUL}@example.org"})
    assert answered.status_code == 302
    assert _next_of(answered) == ["/organization/invitations"]


def test_a_signed_in_caller_the_route_admits_still_hears_about_the_text(
    client: FlaskClient, billing_staff: User, signed_in: Any
) -> None:
    signed_in(client, billing_staff)
    answered = client.get("/console/invoices", query_string={"q": f"a{NUL}"})
    assert answered.status_code == 422


def test_a_signed_in_caller_the_route_does_not_admit_is_refused_before_the_text(
    client: FlaskClient, vendor: User, signed_in: Any
) -> None:
    signed_in(client, vendor)
    answered = client.get("/console/invoices", query_string={"q": f"a{NUL}"})
    assert answered.status_code == 403


def test_public_routes_keep_the_refusal_of_the_text(client: FlaskClient) -> None:
    api = client.post(
        "/api/v1/permission-requests", data=request_fields(institution=f"Cedar{NUL}Ridge")
    )
    assert api.status_code == 422
    assert api.mimetype == PROBLEM
    quote = client.post("/api/v1/quotes?note=a%00b", json={})
    assert quote.status_code == 422
    sign_in = client.post("/sign-in", data={"email": f"a{NUL}@example.org", "password": "x"})
    assert sign_in.status_code == 422
