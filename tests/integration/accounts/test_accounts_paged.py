"""Round 45: the console's organizations and users lists a page at a time. They listed
every organization and every account on one page; they now page as the other lists
do, in their stated order (organizations by name then id: same-named ones keep their
places), the links keeping the filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import views as account_views
from tests.support import factories
from tests.support.pages import walk_pages


def test_the_organizations_and_users_lists_page_keeping_their_filters(
    app: Flask,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = db.session()
    # Five organizations of one name: only the id orders them.
    tied = [factories.make_organization(session, legal_name="Tidewater Press") for _ in range(5)]
    factories.make_organization(session, legal_name="Another Name Ltd")
    members = [
        factories.make_vendor(session, tied[0], email=f"member{index}@tidewater.example")
        for index in range(3)
    ]
    session.commit()
    monkeypatch.setattr(account_views, "ACCOUNTS_PER_PAGE", 2)
    client = signed_in(app.test_client(), admin)

    seen, urls = walk_pages(
        client,
        "/console/organizations?q=tidewater",
        r'/console/organizations/(\d+)">(?:<bdi>)?Tidewater',
    )
    assert seen == [str(organization.id) for organization in tied]
    assert urls[1:] == [
        "/console/organizations?q=tidewater&page=2",
        "/console/organizations?q=tidewater&page=3",
    ]
    last = client.get("/console/organizations?q=tidewater&page=7").get_data(as_text=True)
    assert "Organizations 5\u20135 of 5 \u00b7 page 3 of 3" in last

    emails, urls = walk_pages(
        client, "/console/users?kind=vendor&q=tidewater", r'/console/users/\d+">([^<]+)</a>'
    )
    assert emails == [member.email for member in members]
    assert urls[1:] == ["/console/users?kind=vendor&q=tidewater&page=2"]
