"""Round 46: the members on the vendor's Organization page a page at a time. The
table listed every member; it now pages by id (unique), the count and links under it,
while what the page says of the whole organization (the last active administrator
offered no step down, the two-step summary) still counts every member, whichever page
is shown. A vendor pages through their own organization's members only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import ADMINISTRATOR, MEMBER
from licensing.accounts import views as account_views
from licensing.accounts.models import User
from tests.support import factories
from tests.support.pages import text_of, walk_pages

ROW = r'<tr id="member-(\d+)">'
SOLE = "The only administrator: to step down"
CONSOLE_SOLE = "The only active administrator: make a member administrator"


class Colleagues(NamedTuple):
    """The vendor's four colleagues, and another organization's administrator."""

    of_vendor: list[User]
    other: User


@pytest.fixture
def sam_riveras(vendor: Any, monkeypatch: pytest.MonkeyPatch) -> Colleagues:
    """Four colleagues of the vendor of one name (only the id orders them), the last
    deactivated; another organization's two members, neither listed nor counted;
    two members a page (the console's organization page too: round 47)."""
    session = db.session()
    made = [
        factories.make_vendor(session, vendor.organization, full_name="Sam Rivera")
        for _ in range(4)
    ]
    made[-1].is_active = False
    other = factories.make_vendor(session, full_name="Sam Rivera")
    factories.make_vendor(session, other.organization)
    session.commit()
    monkeypatch.setattr(account_views, "MEMBERS_PER_PAGE", 2)
    return Colleagues(made, other)


def test_the_members_page_by_id_and_the_page_speaks_for_every_member(
    app: Flask,
    vendor: Any,
    sam_riveras: Colleagues,
    signed_in: Callable[..., FlaskClient],
) -> None:
    session = db.session()
    organization = vendor.organization
    colleagues, other = sam_riveras
    client = signed_in(app.test_client(), vendor)

    seen, urls = walk_pages(client, "/organization", ROW)
    assert seen == [str(member.id) for member in (vendor, *colleagues)]
    # Round 47: the links lead back to the members table.
    assert urls[1:] == ["/organization?page=2#members", "/organization?page=3#members"]
    for url in urls:
        page = text_of(client.get(url))
        # Every active member counted, on every page (four active, none with the app).
        assert "0 of 4 active members sign in with a code" in page
        assert page.count("Sam Rivera (") == 3
        # The vendor, on page 1, is the only active administrator.
        assert (SOLE in page) is (url == urls[0])
    # Round 47: a colleague's access removed, restored and their role changed on page
    # 2 each return to page 2 (they returned to the first page).
    page_2 = client.get("/organization?page=2").get_data(as_text=True)
    member_id = colleagues[1].id
    for step, data in (
        ("deactivate", {"confirmed": "yes"}),
        ("restore", {}),
        ("role", {"role": ADMINISTRATOR}),
    ):
        action = f"/organization/members/{member_id}/{step}?page=2"
        assert f'action="{action}"' in client.get("/organization?page=2").get_data(as_text=True)
        done = client.post(action, data=data)
        assert done.status_code == 302, (step, done.get_data(as_text=True)[:300])
        assert done.headers["Location"].endswith("/organization?page=2#members"), step
    assert "Remove access" in page_2
    colleagues[1].organization_role = MEMBER
    session.commit()

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


def test_the_console_pages_the_members_and_counts_every_member_on_every_page(
    app: Flask,
    vendor: Any,
    admin: Any,
    sam_riveras: Colleagues,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 47: the console's organization page listed every member; it pages them
    as the vendor's page does, and says what it says of the whole organization (the
    only active administrator, none at all, the two-step summary) on every page."""
    session = db.session()
    organization = vendor.organization
    colleagues, other = sam_riveras
    client = signed_in(app.test_client(), admin)
    url = f"/console/organizations/{organization.id}"

    seen, urls = walk_pages(client, url, ROW)
    assert seen == [str(member.id) for member in (vendor, *colleagues)]
    assert str(other.id) not in seen
    assert urls[1:] == [f"{url}?page=2#members", f"{url}?page=3#members"]
    for shown in urls:
        page = text_of(client.get(shown))
        assert "0 of 4 active members sign in with a code" in page
        # Above the History, which names the members' own events too (round 58).
        members_part, _, history = page.partition("History What was recorded")
        assert history
        assert members_part.count("Sam Rivera (") == 3
        # The vendor, on page 1, is the only active administrator: said on their row.
        assert (CONSOLE_SOLE in page) is (shown == urls[0])
        assert "has no active administrator" not in page
    assert "Members 5\u20135 of 5 \u00b7 page 3 of 3" in text_of(client.get(f"{url}?page=9"))
    assert client.get(f"{url}?page=2&page=3").status_code == 400

    # No active administrator: page 3 shows only a deactivated member, and still says
    # that active members remain to make administrator (it read the page's rows).
    vendor.organization_role = MEMBER
    session.commit()
    last = text_of(client.get(f"{url}?page=3"))
    assert "has no active administrator" in last
    assert "Make one of its active members administrator below." in last
    assert "None of its members is active either" not in last
    # An administrator on page 2: nobody on page 1 is the only one, nor is the
    # organization without one.
    colleagues[1].organization_role = ADMINISTRATOR
    session.commit()
    first = text_of(client.get(url))
    assert "has no active administrator" not in first
    assert CONSOLE_SOLE not in first
    assert CONSOLE_SOLE in text_of(client.get(f"{url}?page=2"))

    # A role changed on page 2 returns to page 2 (it returned to the first page).
    page_2 = client.get(f"{url}?page=2").get_data(as_text=True)
    action = f"{url}/members/{colleagues[2].id}/role?page=2"
    assert f'action="{action}"' in page_2
    changed = client.post(action, data={"role": ADMINISTRATOR})
    assert changed.status_code == 302
    assert changed.headers["Location"].endswith(f"{url}?page=2#members")
