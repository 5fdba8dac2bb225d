"""API tokens expire (30 to 365 days, chosen when made) and are `read` or `write`:
an expired token is a 401 saying when; a read-only one is a 403 on anything that
changes state, enforced once for every route (`access.enforce`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import access, db
from licensing.accounts import services
from licensing.accounts.models import ApiToken, User
from licensing.actors import Actor
from licensing.api.quotes import REQUEST_EXAMPLE
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.ratecards import services as ratecards
from tests.integration.pricing.conftest import example_document

PROBLEM = "application/problem+json"
MADE = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _made(user: User, *, scope: str = "write", days: int = 90) -> tuple[ApiToken, dict[str, str]]:
    token, raw = services.create_api_token(
        user.id, "finance sync", actor=Actor.SYSTEM, scope=scope, expires_in_days=days, now=MADE
    )
    return token, {"Authorization": f"Bearer {raw}"}


# --- expiry -----------------------------------------------------------------------------


def test_a_token_works_until_its_expiry_and_one_second_past_it_is_a_401_saying_when(
    client: FlaskClient, vendor: User
) -> None:
    token, headers = _made(vendor, days=30)
    assert token.expires_at == MADE + timedelta(days=30)
    with time_machine.travel(MADE + timedelta(days=30, seconds=-1), tick=False):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    with time_machine.travel(MADE + timedelta(days=30, seconds=1), tick=False):
        refused = client.get("/api/v1/me", headers=headers)
        listed = client.get("/api/v1/tokens", headers={**headers})
    assert refused.status_code == 401
    assert refused.mimetype == PROBLEM
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    detail = refused.get_json()["detail"]
    assert "expired at 2027-03-31T12:00:00+00:00" in detail
    # Round 33: as a member too, as every refusal naming an instant gives it.
    assert refused.get_json()["expired_at"] == "2027-03-31T12:00:00+00:00"
    # The full address under PUBLIC_URL, as the emails give it: a link in a log.
    assert f"(http://testserver/account/tokens?replace={token.id}#create starts" in detail
    assert listed.status_code == 401


def test_an_expired_tokens_401_says_which_scope_to_create_and_links_a_form_with_it(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The page's default is Read only: a nightly upload whose write token expired
    # was given a read-only replacement and refused again.
    _token, headers = _made(vendor, scope="write", days=30)
    with time_machine.travel(MADE + timedelta(days=31), tick=False):
        detail = app.test_client().get("/api/v1/me", headers=headers).get_json()["detail"]
    assert "Create a new one with scope `write`" in detail
    found = re.search(r"(/account/tokens\?replace=\d+)", detail)
    assert found is not None
    page = signed_in(app.test_client(), vendor).get(found.group(1)).get_data(as_text=True)
    assert "Replacing “finance sync”" in page
    assert re.search(r'<option[^>]*selected[^>]*value="write"|value="write"[^>]*selected', page)


def test_an_expired_token_is_listed_as_expired_and_not_active(
    client: FlaskClient, vendor: User
) -> None:
    expiring, _headers = _made(vendor, days=30)
    _later, headers = _made(vendor, days=365)
    with time_machine.travel(MADE + timedelta(days=31), tick=False):
        listed = client.get("/api/v1/tokens", headers=headers).get_json()
    rows = {row["id"]: row for row in listed}
    assert rows[expiring.id]["expired"] is True
    assert rows[expiring.id]["active"] is False
    assert rows[expiring.id]["expires_at"] == "2027-03-31T12:00:00+00:00"
    assert rows[_later.id]["expired"] is False
    assert rows[_later.id]["active"] is True
    assert rows[_later.id]["scope"] == "write"


def test_an_expired_tokens_use_is_not_noted(client: FlaskClient, vendor: User) -> None:
    token, headers = _made(vendor, days=30)
    with time_machine.travel(MADE + timedelta(days=40), tick=False):
        client.get("/api/v1/me", headers=headers)
    assert db.session().get(ApiToken, token.id, populate_existing=True).last_used_at is None


@pytest.mark.parametrize("days", [0, 7, 29, 366, 10_000])
def test_only_the_offered_expiries_are_accepted(vendor: User, days: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.create_api_token(vendor.id, "x", actor=Actor.SYSTEM, expires_in_days=days)
    assert "expires_in" in refused.value.errors


def test_expired_tokens_leave_room_for_new_ones_without_being_revoked(vendor: User) -> None:
    long_ago = utcnow() - timedelta(days=60)
    for number in range(services.MAX_ACTIVE_TOKENS):
        services.create_api_token(
            vendor.id, f"old {number}", actor=Actor.SYSTEM, expires_in_days=30, now=long_ago
        )
    token, _raw = services.create_api_token(vendor.id, "new", actor=Actor.SYSTEM)
    assert token.is_usable()


def test_a_token_name_is_one_line_as_the_reminder_email_writes_it(vendor: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.create_api_token(vendor.id, "sync\n\nClick here", actor=Actor.SYSTEM)
    assert "one line" in refused.value.errors["name"][0]


def test_creation_is_audited_with_the_scope_and_expiry(vendor: User) -> None:
    token, _headers = _made(vendor, scope="read", days=180)
    event = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "api_token.created", AuditEvent.entity_id == str(token.id)
            )
        )
        .one()
    )
    after = json.loads(event.after or "{}")
    assert after["scope"] == "read"
    assert after["expires_at"].startswith("2027-08-28T12:00:00")


# --- read-only tokens -------------------------------------------------------------------


def test_a_read_only_token_reads_and_estimates_prices(client: FlaskClient, vendor: User) -> None:
    ratecards.import_card(example_document(), published_by="tests")  # REQUEST_EXAMPLE's card
    _token, headers = _made(vendor, scope="read")
    with time_machine.travel(MADE, tick=False):
        for path in ("/api/v1/me", "/api/v1/applications", "/api/v1/agreements", "/api/v1/tokens"):
            assert client.get(path, headers=headers).status_code == 200, path
        assert client.head("/api/v1/me", headers=headers).status_code == 200
        # POST /quotes stores nothing (`access.stores_nothing`): a read token may ask.
        quote = client.post("/api/v1/quotes", json=REQUEST_EXAMPLE, headers=headers)
        assert quote.status_code == 200, quote.get_json()
        # A report's preview too: past the scope check, the agreement is not found.
        preview = client.post(
            "/api/v1/agreements/999999/royalty-reports/2027-01-01/preview",
            json={"lines": []},
            headers=headers,
        )
        assert preview.status_code == 404, preview.get_json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/applications"),
        ("PUT", "/api/v1/applications/1"),
        ("POST", "/api/v1/agreements/1/acceptance"),
        ("POST", "/api/v1/agreements/1/royalty-reports/2027-01-01"),
        ("PATCH", "/api/v1/organizations/1"),
        ("POST", "/api/v1/organizations/1/invitations"),
        ("DELETE", "/api/v1/tokens/1"),
        ("PATCH", "/api/v1/users/1"),
        ("POST", "/api/v1/signups"),
    ],
)
def test_a_read_only_token_asking_to_change_anything_is_a_403_saying_how_to_get_one_that_writes(
    client: FlaskClient, vendor: User, method: str, path: str
) -> None:
    _token, headers = _made(vendor, scope="read")
    with time_machine.travel(MADE, tick=False):
        refused = client.open(path, method=method, json={}, headers=headers)
    assert refused.status_code == 403
    assert refused.mimetype == PROBLEM
    detail = refused.get_json()["detail"]
    assert "read-only" in detail
    assert "`write`" in detail
    assert "API tokens page (http://testserver/account/tokens) after signing in" in detail


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ({"data": "{not json", "content_type": "application/json"}, ""),
        ({"data": "role=member", "content_type": "text/plain"}, ""),
        ({"data": "role=mem\x00ber", "content_type": "application/x-www-form-urlencoded"}, ""),
        ({"json": {"role": "member"}}, "?note=a%00b"),
    ],
    ids=["malformed JSON", "wrong content type", "unstorable form", "unstorable query"],
)
def test_a_read_only_tokens_write_is_refused_for_its_scope_before_its_body_is_checked(
    client: FlaskClient, vendor: User, body: dict[str, Any], query: str
) -> None:
    # Told what to fix in the body, the caller would fix it and only then learn
    # that the token cannot write at all.
    _token, headers = _made(vendor, scope="read")
    with time_machine.travel(MADE, tick=False):
        refused = client.patch(f"/api/v1/users/{vendor.id}{query}", headers=headers, **body)
    assert refused.status_code == 403, refused.get_json()
    assert "read-only" in refused.get_json()["detail"]


@pytest.mark.parametrize(
    ("who", "status"),
    [("write token", 422), ("unknown token", 401), ("no token", 401)],
)
def test_a_write_token_hears_about_unstorable_text_and_a_caller_not_known_is_asked_who_first(
    client: FlaskClient, vendor: User, who: str, status: int
) -> None:
    _token, written = _made(vendor, scope="write")
    headers = {
        "write token": written,
        "unknown token": {"Authorization": "Bearer lic_not-a-token"},
        "no token": {},
    }[who]
    with time_machine.travel(MADE, tick=False):
        answered = client.patch(
            f"/api/v1/users/{vendor.id}",
            headers=headers,
            data="role=mem\x00ber",
            content_type="application/x-www-form-urlencoded",
        )
    assert answered.status_code == status
    # Who before what (round 21): only a caller the route admits hears about the text.
    assert ("cannot be stored" in answered.get_json()["detail"]) == (status == 422)


def test_a_staff_members_read_only_token_reads_invoices_but_issues_none(
    client: FlaskClient, billing_staff: User
) -> None:
    _token, headers = _made(billing_staff, scope="read")
    with time_machine.travel(MADE, tick=False):
        assert client.get("/api/v1/invoices", headers=headers).status_code == 200
        assert client.get("/api/v1/exports", headers=headers).status_code == 200
        assert client.post("/api/v1/invoices", json={}, headers=headers).status_code == 403
        assert client.post("/api/v1/invoices/1/void", json={}, headers=headers).status_code == 403


def test_a_write_token_still_does_everything_its_user_may(
    client: FlaskClient, vendor: User
) -> None:
    token, headers = _made(vendor, scope="write")
    with time_machine.travel(MADE, tick=False):
        assert client.delete(f"/api/v1/tokens/{token.id}", headers=headers).status_code == 204


def test_only_the_routes_declared_as_storing_nothing_take_a_read_tokens_post(app: Flask) -> None:
    """The decision, read from the declarations beside the routes: a read-only
    token's only unsafe calls are a price estimate, a royalty report's preview and a
    rate card's check."""
    reader = access.Principal(user_id=1, email="r@example.test", via_token=True, read_only=True)
    allowed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        declaration = access.declaration_for(app, rule.endpoint)
        assert declaration is not None
        for method in (rule.methods or set()) - access.SAFE_METHODS:
            if not access.read_only_token_refusal(method, declaration, reader):
                allowed.add((method, rule.rule))
    assert allowed == {
        ("POST", "/api/v1/quotes"),
        ("POST", "/api/v1/rate-cards/checks"),
        ("POST", "/api/v1/agreements/<int:agreement_id>/royalty-reports/<period_start>/preview"),
    }


# --- the page ---------------------------------------------------------------------------


def _secret(page: str) -> str:
    found = re.search(r'<p class="secret" id="new-token">([^<]+)</p>', page)
    assert found
    return found.group(1)


def test_the_page_makes_a_read_only_token_for_90_days_unless_told_otherwise(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    form = client.get("/account/tokens").get_data(as_text=True)
    assert '<option selected value="read">' in form
    assert '<option selected value="90">' in form
    made = client.post("/account/tokens", data={"name": "finance sync"})
    assert made.status_code == 200
    raw = _secret(made.get_data(as_text=True))
    stored = db.session().scalars(select(ApiToken).where(ApiToken.user_id == vendor.id)).one()
    assert stored.scope == "read"
    assert stored.expires_at is not None
    assert timedelta(days=89, hours=23) < stored.expires_at - utcnow() <= timedelta(days=90)
    headers = {"Authorization": f"Bearer {raw}"}
    api = app.test_client()
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    assert api.post("/api/v1/applications", json={}, headers=headers).status_code == 403
    writer = client.post(
        "/account/tokens", data={"name": "report filer", "scope": "write", "expires_in": "365"}
    )
    assert writer.status_code == 200
    rows = client.get("/account/tokens").get_data(as_text=True)
    assert "read and write" in rows
    assert "read only" in rows


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"scope": "admin"}, "scope", "reading only"),
        ({"expires_in": "1000"}, "expires_in", "30, 90, 180 or 365 days"),
        ({"expires_in": "never"}, "expires_in", "30, 90, 180 or 365 days"),
        ({"expires_in": ""}, "expires_in", "30, 90, 180 or 365 days"),
    ],
)
def test_a_scope_or_expiry_the_page_does_not_offer_is_a_form_error_and_nothing_is_made(
    app: Flask,
    vendor: User,
    signed_in: Callable[..., FlaskClient],
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    client = signed_in(app.test_client(), vendor)
    refused = client.post("/account/tokens", data={"name": "finance sync", **data})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert message in page
    assert 'id="new-token"' not in page
    assert db.session().scalars(select(ApiToken).where(ApiToken.user_id == vendor.id)).all() == []


def test_a_token_made_before_expiries_says_it_does_not_expire_on_both_pages(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    token, _headers = _made(vendor)
    token.expires_at = None  # as the migration leaves tokens made before it
    db.session().flush()
    advice = "does not expire: create a new one with an expiry and revoke this one"
    own = signed_in(app.test_client(), vendor).get("/account/tokens").get_data(as_text=True)
    assert advice in own
    console = signed_in(app.test_client(), admin).get(f"/console/users/{vendor.id}")
    assert advice in console.get_data(as_text=True)


def test_the_console_lists_a_tokens_expiry_last_use_and_that_it_expired(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _made(vendor, days=30)
    with time_machine.travel(MADE + timedelta(days=31), tick=False):
        page = signed_in(app.test_client(), admin).get(f"/console/users/{vendor.id}")
    text = page.get_data(as_text=True)
    assert "<dd>0 active</dd>" in text
    assert "2027-03-31" in text  # its expiry, at the office
    assert "expired" in text
    assert "never" in text  # last used
