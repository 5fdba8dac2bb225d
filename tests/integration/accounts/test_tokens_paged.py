"""Round 49: a person's API tokens (their *API tokens* page, and the console's page
of the user) are listed a page at a time, those that work first (then the newest,
the id last): both pages read every token ever made, revoked and expired included.
The console's count of working tokens is counted in SQL, and each page runs the
same statements at 10 and 100 tokens."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import views
from licensing.accounts.models import ApiToken, User
from licensing.db import utcnow
from tests.support.statements import statements_for

SignIn = Callable[..., FlaskClient]


def _tokens(user: User, count: int, *, start: int = 0) -> list[ApiToken]:
    """`count` tokens of `user`, in turn working, revoked, expired and working with
    no expiry (made before expiries existed)."""
    session = db.session()
    now = utcnow()
    made = []
    for index in range(start, start + count):
        kind = index % 4
        made.append(
            ApiToken(
                user_id=user.id,
                name=f"token {index:03d}",
                token_hash=secrets.token_hex(32),
                prefix=f"cpt_{index:08d}",
                created_at=now - timedelta(days=200 - index),
                expires_at=None if kind == 3 else now + timedelta(days=-1 if kind == 2 else 30),
                revoked_at=now - timedelta(days=1) if kind == 1 else None,
            )
        )
    session.add_all(made)
    session.commit()
    return made


def _names(markup: str) -> list[str]:
    return re.findall(r"<td>(token \d{3})</td>", markup)


def _expected(tokens: list[ApiToken]) -> list[str]:
    now = utcnow()
    ordered = sorted(tokens, key=lambda token: (not token.is_usable(now), -token.id))
    return [token.name for token in ordered]


def _walk(client: FlaskClient, url: str) -> tuple[list[str], list[str]]:
    """Every page of the list from `url`, following *Next*: the names, and each page."""
    names: list[str] = []
    pages: list[str] = []
    while url:
        markup = client.get(url).get_data(as_text=True)
        pages.append(markup)
        names += _names(markup)
        found = re.search(r'<a href="([^"]+)" rel="next">', markup)
        url = found[1].replace("&amp;", "&") if found else ""
    return names, pages


def test_a_person_pages_their_tokens_those_that_work_first(
    app: Flask, vendor: User, admin: User, signed_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "TOKENS_PER_PAGE", 3)
    made = _tokens(vendor, 10)
    client = signed_in(app.test_client(), vendor)
    names, pages = _walk(client, "/account/tokens")
    assert names == _expected(made)
    assert len(pages) == 4
    assert "Tokens 1\u20133 of 10" in pages[0]
    assert 'href="/account/tokens?page=2#tokens" rel="next"' in pages[0]

    # A revoke from page 2 returns to page 2.
    second = client.get("/account/tokens?page=2").get_data(as_text=True)
    action = re.search(r'action="(/account/tokens/\d+/revoke\?page=2)"', second)
    assert action is not None
    done = client.post(action[1], data={"confirmed": "yes"})
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/account/tokens?page=2")

    # The expiry reminder's `?replace=` fills the form from a token on any page.
    working_last = next(t for t in made if t.revoked_at is None)
    replacing = client.get(f"/account/tokens?replace={working_last.id}").get_data(as_text=True)
    assert f"Replacing “{working_last.name}”" in replacing

    # The console's page of the user lists them the same way, and counts the working.
    console = signed_in(app.test_client(), admin)
    url = f"/console/users/{vendor.id}"
    names, pages = _walk(console, url)
    made = [db.session().get(ApiToken, t.id, populate_existing=True) for t in made]
    assert names == _expected([t for t in made if t is not None])
    assert "4 active" in pages[0]  # 6 working less the one revoked above; not expired
    # Drawn again after a refused post, its pager still leads to the user's page.
    refused = console.post(f"/console/users/{vendor.id}/organization", data={})
    assert refused.status_code == 422
    assert f'href="/console/users/{vendor.id}?page=2#tokens" rel="next"' in refused.get_data(
        as_text=True
    )


def test_both_token_pages_run_the_same_statements_at_10_and_100_tokens(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    _tokens(vendor, 10)
    mine = signed_in(app.test_client(), vendor)
    console = signed_in(app.test_client(), admin)
    own, theirs = "/account/tokens", f"/console/users/{vendor.id}"
    at_10 = (statements_for(app, mine, own), statements_for(app, console, theirs))
    _tokens(vendor, 90, start=10)
    at_100 = (statements_for(app, mine, own), statements_for(app, console, theirs))
    assert at_100 == at_10
    assert len(_names(mine.get(own).get_data(as_text=True))) == 50
    assert len(_names(console.get(theirs).get_data(as_text=True))) == 50
