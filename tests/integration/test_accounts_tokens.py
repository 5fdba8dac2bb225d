"""Personal API tokens: shown once, stored hashed, revocable; bearer on the API only."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import ApiToken, User
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.web.filters import timed
from tests.support.factories import bearer

PROBLEM = "application/problem+json"


def _token(token_id: int) -> ApiToken:
    found = db.session().get(ApiToken, token_id, populate_existing=True)
    assert found is not None
    return found


def test_a_token_is_shown_once_on_the_page_and_only_its_hash_is_stored(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    response = client.post("/account/tokens", data={"name": "billing system"})
    assert response.status_code == 200
    secret = re.search(
        r'<p class="secret" id="new-token">([^<]+)</p>', response.get_data(as_text=True)
    )
    assert secret
    raw = secret.group(1)
    stored = db.session().scalars(select(ApiToken).where(ApiToken.user_id == vendor.id)).one()
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(stored.prefix)
    assert raw not in client.get("/account/tokens").get_data(as_text=True)
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200
    assert me.get_json()["user"]["email"] == vendor.email


def test_a_token_carries_its_users_permissions(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    assert client.get("/api/v1/users", headers=bearer(vendor)).status_code == 403
    assert client.get("/api/v1/users", headers=bearer(admin)).status_code == 200


def test_a_revoked_token_is_refused_with_a_401_problem(client: FlaskClient, vendor: User) -> None:
    token, raw = services.create_api_token(
        vendor.id, "laptop", actor=Actor.of(services.principal_for(vendor))
    )
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/tokens/{token.id}", headers=headers).status_code == 204
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.mimetype == PROBLEM
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "revoked" in refused.get_json()["detail"]


def test_an_unknown_token_is_a_401_even_on_a_public_route(client: FlaskClient) -> None:
    response = client.get("/api/v1/", headers={"Authorization": "Bearer lic_made-up"})
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    basic = client.get("/api/v1/", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    assert "Bearer" in basic.get_json()["detail"]


def test_an_api_call_without_a_token_says_how_to_send_one_and_where_to_get_it(
    client: FlaskClient,
) -> None:
    # It used to answer "Sign in to continue.", which a program cannot do.
    for path in ("/api/v1/me", "/api/v1/invoices", "/api/v1/exports"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.mimetype == PROBLEM
        detail = response.get_json()["detail"]
        assert "Authorization: Bearer" in detail
        assert "(http://testserver/account/tokens)" in detail  # under PUBLIC_URL
        assert "Sign in" not in detail


def test_the_api_ignores_the_session_cookie(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    assert client.get("/portal/").status_code == 200
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM


def test_pages_ignore_bearer_tokens(client: FlaskClient, vendor: User) -> None:
    response = client.get("/portal/", headers=bearer(vendor))
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_a_deactivated_users_tokens_stop_working(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    headers = bearer(vendor)
    services.set_user_active(vendor.id, False, Actor.of(services.principal_for(admin)))
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_last_use_is_noted_to_the_minute(client: FlaskClient, vendor: User) -> None:
    token, raw = services.create_api_token(
        vendor.id, "ci", actor=Actor.of(services.principal_for(vendor))
    )
    headers = {"Authorization": f"Bearer {raw}"}
    client.get("/api/v1/me", headers=headers)
    first = _token(token.id).last_used_at
    assert first is not None
    client.get("/api/v1/me", headers=headers)
    assert _token(token.id).last_used_at == first
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        client.get("/api/v1/me", headers=headers)
    later = _token(token.id).last_used_at
    assert later is not None
    assert later > first


def test_tokens_are_listed_and_revoked_through_the_api(client: FlaskClient, vendor: User) -> None:
    headers = bearer(vendor, name="bootstrap")
    token, _raw = services.create_api_token(
        vendor.id, "reporting", actor=Actor.of(services.principal_for(vendor))
    )
    listed = client.get("/api/v1/tokens", headers=headers).get_json()
    assert {item["name"] for item in listed} == {"bootstrap", "reporting"}
    assert all("token" not in item for item in listed)
    assert client.get(f"/api/v1/tokens/{token.id}", headers=headers).status_code == 200
    revoked = client.delete(f"/api/v1/tokens/{token.id}", headers=headers)
    assert revoked.status_code == 204
    # No body, so no Content-Type (round 14: it said application/json over nothing,
    # and a client decoding by content type failed on the empty body).
    assert revoked.data == b""
    assert "Content-Type" not in revoked.headers
    assert client.get(f"/api/v1/tokens/{token.id}", headers=headers).get_json()["active"] is False


def test_a_token_cannot_create_tokens_so_a_leaked_one_ends_when_revoked(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    # A token could create more tokens, so whoever held a leaked one kept access
    # after it was revoked.
    for user in (vendor, admin):
        headers = bearer(user, name="leaked")
        before = db.session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
        refused = client.post("/api/v1/tokens", json={"name": "spare"}, headers=headers)
        assert refused.status_code == 403
        assert refused.mimetype == PROBLEM
        detail = refused.get_json()["detail"]
        assert "An API token cannot create API tokens" in detail
        assert "page (http://testserver/account/tokens);" in detail
        after = db.session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
        assert len(after) == len(before)
    unsigned = client.post("/api/v1/tokens", json={"name": "spare"})
    assert unsigned.status_code == 401


def test_a_token_needs_a_name_of_reasonable_length(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    for name in ("", "n" * 101):
        response = client.post("/account/tokens", data={"name": name})
        assert response.status_code == 422
    tokens = db.session().scalars(select(ApiToken).where(ApiToken.user_id == vendor.id)).all()
    assert tokens == []


def test_colleagues_do_not_see_each_others_tokens(client: FlaskClient, vendor: User) -> None:
    from tests.support import factories

    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    token, _raw = services.create_api_token(
        colleague.id, "theirs", actor=Actor.of(services.principal_for(colleague))
    )
    response = client.get(f"/api/v1/tokens/{token.id}", headers=bearer(vendor))
    assert response.status_code == 404
    revoke = client.delete(f"/api/v1/tokens/{token.id}", headers=bearer(vendor))
    assert revoke.status_code == 404
    assert _token(token.id).revoked_at is None


def test_revoking_on_the_page_stops_the_token(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    token, raw = services.create_api_token(
        vendor.id, "old laptop", actor=Actor.of(services.principal_for(vendor))
    )
    client = signed_in(app.test_client(), vendor)
    asked = client.post(f"/account/tokens/{token.id}/revoke")
    assert asked.status_code == 200
    assert "Revoke the token “old laptop”?" in asked.get_data(as_text=True)
    assert _token(token.id).revoked_at is None  # nothing changes until confirmed
    done = client.post(f"/account/tokens/{token.id}/revoke", data={"confirmed": "yes"})
    assert done.status_code == 302
    assert _token(token.id).revoked_at is not None
    assert (
        app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code
        == 401
    )


def test_the_caller_of_one_request_is_not_the_caller_of_the_next(
    app: Flask, client: FlaskClient, vendor: User
) -> None:
    with app.app_context():  # one `g` for both requests, as the test client shares it
        assert client.get("/api/v1/me", headers=bearer(vendor)).status_code == 200
        assert client.get("/api/v1/me").status_code == 401


def test_each_revoke_button_names_its_token_for_a_screen_reader(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # A list read by a screen reader offered "Revoke, Revoke": which one?
    for name in ("ERP", "nightly upload"):
        services.create_api_token(vendor.id, name, actor=Actor.SYSTEM)
    page = signed_in(app.test_client(), vendor).get("/account/tokens").get_data(as_text=True)
    labels = re.findall(r'aria-label="(Revoke: [^"]+)">Revoke</button>', page)
    assert sorted(labels) == ["Revoke: ERP", "Revoke: nightly upload"]


def test_the_new_tokens_panel_says_what_it_may_do_and_when_it_expires(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The secret is copied into the finance system from this panel: what it is
    # allowed and until when belongs beside it, not only in the list below.
    client = signed_in(app.test_client(), vendor)
    made = client.post("/account/tokens", data={"name": "ERP", "scope": "read", "expires_in": "30"})
    panel = made.get_data(as_text=True).split('id="new-token"')[1].split("</div>")[0]
    token = db.session().scalars(select(ApiToken).where(ApiToken.name == "ERP")).one()
    assert token.expires_at is not None
    assert f"“ERP” may read only and expires {timed(token.expires_at)}" in panel
