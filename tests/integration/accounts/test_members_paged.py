"""Round 46: the members on the vendor's Organization page a page at a time. The
table listed every member; it now pages by id (unique), the count and links under it,
while what the page says of the whole organization (the last active administrator
offered no step down, the two-step summary) still counts every member, whichever page
is shown. A vendor pages through their own organization's members only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import views as account_views
from tests.support import factories
from tests.support.pages import text_of, walk_pages

ROW = r'<tr id="member-(\d+)">'
SOLE = "The only administrator: to step down"


def test_the_members_page_by_id_and_the_page_speaks_for_every_member(
    app: Flask,
    vendor: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = db.session()
    organization = vendor.organization
    # Four colleagues of one name (only the id orders them), the last deactivated.
    colleagues = [
        factories.make_vendor(session, organization, full_name="Sam Rivera") for _ in range(4)
    ]
    colleagues[-1].is_active = False
    # Another organization's members are neither listed nor counted.
    other = factories.make_vendor(session, full_name="Sam Rivera")
    factories.make_vendor(session, other.organization)
    session.commit()
    monkeypatch.setattr(account_views, "MEMBERS_PER_PAGE", 2)
    client = signed_in(app.test_client(), vendor)

    seen, urls = walk_pages(client, "/organization", ROW)
    assert seen == [str(member.id) for member in (vendor, *colleagues)]
    assert urls[1:] == ["/organization?page=2", "/organization?page=3"]
    for url in urls:
        page = text_of(client.get(url))
        # Every active member counted, on every page (four active, none with the app).
        assert "0 of 4 active members sign in with a code" in page
        assert page.count("Sam Rivera (") == 3
        # The vendor, on page 1, is the only active administrator.
        assert (SOLE in page) is (url == urls[0])
    last = text_of(client.get("/organization?page=9"))
    assert "Members 5\u20135 of 5 \u00b7 page 3 of 3" in last
    assert f'member-{colleagues[-1].id}"' in client.get("/organization?page=9").get_data(
        as_text=True
    )
    own_id = organization.id
    assert walk_pages(client, f"/organizations/{own_id}", ROW)[0] == seen
    assert client.get(f"/organizations/{other.organization_id}").status_code == 404

    # An administrator listed on page 3 makes the vendor on page 1 no longer the only one.
    colleagues[2].organization_role = ADMINISTRATOR
    session.commit()
    first = text_of(client.get("/organization"))
    assert SOLE not in first
    assert re.search(r"Members 1\u20132 of 5", first)
