"""Round 47 in Chromium: an admin reads an organization with more than a page of
members and of invitations on the console, with the keyboard alone through both
pagers. Each *Next* leads back to its own table (#members, #invitations), where the
next Tab lands, and keeps the other list's page; axe finds nothing serious on any
page. Pages of 5 members and 3 invitations (set on the live server's module, as
round 45's walk sets its queue's), 12 members and 7 invitations."""

from __future__ import annotations

from typing import Any

import pytest

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts import views as account_views
from licensing.accounts.models import User
from licensing.actors import Actor
from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.support import factories
from tests.support.axe import FOCUSED, assert_accessible
from tests.support.servers import LiveServer

MOST_TABS = 150
MEMBERS_NEXT = 'nav[aria-label="Pages of members"] a[rel="next"]'
MEMBERS_PREVIOUS = 'nav[aria-label="Pages of members"] a[rel="prev"]'
INVITATIONS_NEXT = 'nav[aria-label="Pages of invitations"] a[rel="next"]'


def _tab_until(tab: Any, css: str, *, back: bool = False) -> None:
    """Tab forward (Shift+Tab, `back`) until the focus is on `css`."""
    for _ in range(MOST_TABS):
        tab.keyboard.press("Shift+Tab" if back else "Tab")
        if tab.evaluate(FOCUSED, css)["matches"]:
            return
    raise AssertionError(f"Tab never reached {css}")


def _follow(tab: Any) -> None:
    """Enter on the focused link, and wait for its page."""
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    tab.wait_for_load_state()


def _member_rows(tab: Any) -> list[str]:
    return tab.locator('tr[id^="member-"]').evaluate_all("(rows) => rows.map((row) => row.id)")


def test_an_admin_keys_through_an_organizations_members_and_invitations(
    browser: Any, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor, _ = vendor_and_staff(live_server)
    with live_server.app.app_context():
        session = db.session()
        admin = factories.make_staff(session, roles=("licensing", "admin"))
        organization = session.get(User, vendor.id).organization
        members = [vendor.id] + [
            factories.make_vendor(session, organization, full_name="Sam Rivera").id
            for _ in range(11)
        ]
        session.commit()
        organization_id = organization.id
        actor = Actor.of(accounts.principal_for(session.get(User, vendor.id)))
        for index in range(7):
            accounts.invite_member(organization_id, f"colleague{index}@northwind.example", actor)
    monkeypatch.setattr(account_views, "MEMBERS_PER_PAGE", 5)
    monkeypatch.setattr(account_views, "INVITATIONS_PER_PAGE", 3)
    url = f"/console/organizations/{organization_id}"

    tab = signed_in_tab(browser, live_server, admin.email)
    tab.goto(url)
    assert _member_rows(tab) == [f"member-{id_}" for id_ in members[:5]]
    assert (
        "Members 1\u20135 of 12 \u00b7 page 1 of 3"
        in tab.locator('nav[aria-label="Pages of members"]').inner_text()
    )
    assert_accessible(tab)

    # Next, by the keyboard: the second page, the focus starting from its table.
    _tab_until(tab, MEMBERS_NEXT)
    _follow(tab)
    assert tab.url.endswith(f"{url}?page=2#members")
    assert _member_rows(tab) == [f"member-{id_}" for id_ in members[5:10]]
    tab.keyboard.press("Tab")
    assert tab.evaluate(FOCUSED, 'tr[id^="member-"] a')["text"] == "Sam Rivera"
    assert_accessible(tab)

    # The invitations' Next keeps the members' page 2.
    _tab_until(tab, INVITATIONS_NEXT)
    _follow(tab)
    assert tab.url.endswith(f"{url}?page=2&invitations_page=2#invitations")
    assert _member_rows(tab) == [f"member-{id_}" for id_ in members[5:10]]
    assert (
        "Invitations 4\u20136 of 7 \u00b7 page 2 of 3"
        in tab.locator('nav[aria-label="Pages of invitations"]').inner_text()
    )
    assert tab.locator('tr[id^="invitation-"]').count() == 3
    assert_accessible(tab)

    # Back up the page to the members' Previous: their first page, keeping the
    # invitations' page 2.
    _tab_until(tab, MEMBERS_PREVIOUS, back=True)
    _follow(tab)
    assert tab.url.endswith(f"{url}?invitations_page=2#members")
    assert _member_rows(tab) == [f"member-{id_}" for id_ in members[:5]]
    assert (
        "Invitations 4\u20136 of 7"
        in tab.locator('nav[aria-label="Pages of invitations"]').inner_text()
    )
