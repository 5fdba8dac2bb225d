"""Round 49: the API's list of the caller's tokens (`GET /api/v1/tokens`) read every
token and paged them in Python. It pages in SQL, the working tokens first (neither
revoked nor expired), then newest first; the same statements at 10 and at 100 tokens."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import ApiToken, User
from licensing.db import utcnow
from tests.support import factories
from tests.support.factories import bearer
from tests.support.statements import sent_by


def _listed(client: FlaskClient, headers: dict[str, str], url: str) -> int:
    warm = client.get(url, headers=headers)
    assert warm.status_code == 200
    with sent_by(client.application) as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    # The page is read in SQL: the tokens' SELECT is windowed, not every row read.
    listing = [sql for sql in statements if "FROM api_tokens" in sql and "ORDER BY" in sql]
    assert listing
    assert all("LIMIT" in sql for sql in listing), listing
    return len(statements)


def test_the_tokens_list_reads_one_page_in_sql_whatever_the_count(
    app: Flask, client: FlaskClient, vendor: User
) -> None:
    headers = bearer(vendor, name="caller")
    factories.api_tokens(vendor, 9, 1)
    at_10 = _listed(client, headers, "/api/v1/tokens?per_page=5")
    factories.api_tokens(vendor, 90, 10)
    at_100 = _listed(client, headers, "/api/v1/tokens?per_page=5")
    assert at_100 == at_10
    response = client.get("/api/v1/tokens?per_page=5&page=2", headers=headers)
    assert response.headers["X-Total-Count"] == "100"
    assert len(response.get_json()) == 5
    assert 'rel="next"' in response.headers["Link"]
    assert "page=20" in response.headers["Link"]  # last


def test_working_tokens_come_first_then_the_newest(client: FlaskClient, vendor: User) -> None:
    now = utcnow()
    headers = bearer(vendor, name="caller")  # working, made first
    (revoked,) = factories.api_tokens(vendor, 1, 1, revoked_at=now - timedelta(days=1))
    (expired,) = factories.api_tokens(vendor, 1, 2, expires_at=now - timedelta(hours=1))
    (working,) = factories.api_tokens(vendor, 1, 3, expires_at=now + timedelta(days=3))
    (revoked_later,) = factories.api_tokens(vendor, 1, 4, revoked_at=now - timedelta(hours=2))
    listed = client.get("/api/v1/tokens", headers=headers).get_json()
    ids = [item["id"] for item in listed]
    caller = (
        db.session()
        .scalars(
            select(ApiToken.id).where(ApiToken.user_id == vendor.id, ApiToken.name == "caller")
        )
        .one()
    )
    assert ids == [working, caller, revoked_later, expired, revoked]
    one = client.get("/api/v1/tokens?per_page=2&page=2", headers=headers).get_json()
    assert [item["id"] for item in one] == [revoked_later, expired]
