"""Round 58 in Chromium: an admin reads an organization's whole history on the
console, its invitations' events among its own, named by the invited address, and
follows the history's own pager to the older events (pages of 3, set on the live
server's module); the members' and invitations' tables stay where they were, and axe
finds nothing serious."""

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
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

EVENTS_NEXT = 'nav[aria-label="Pages of events"] a[rel="next"]'


def _history(tab: Any) -> str:
    return str(tab.locator("#history + p + table").inner_text())


def test_an_admin_reads_an_organizations_invitations_in_its_history_page_by_page(
    browser: Any, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor, _ = vendor_and_staff(live_server)
    with live_server.app.app_context():
        session = db.session()
        admin = factories.make_staff(session, roles=("licensing", "admin"))
        organization_id = session.get(User, vendor.id).organization_id
        session.commit()
        actor = Actor.of(accounts.principal_for(session.get(User, vendor.id)))
        for index in range(5):
            accounts.invite_member(organization_id, f"colleague{index}@northwind.example", actor)
    monkeypatch.setattr(account_views, "HISTORY_PER_PAGE", 3)
    tab = signed_in_tab(browser, live_server, admin.email)
    tab.goto(f"/console/organizations/{organization_id}")
    newest = _history(tab)
    assert "the invitation to colleague4@northwind.example" in newest
    assert "the invitation to colleague3@northwind.example" in newest
    assert "colleague0@northwind.example" not in newest
    assert_accessible(tab)

    tab.locator(EVENTS_NEXT).click()
    tab.wait_for_url("**history_page=2**")
    tab.locator("#history").wait_for()
    older = _history(tab)
    assert "the invitation to colleague1@northwind.example" in older
    assert "colleague4@northwind.example" not in older
    assert "page 2 of" in tab.locator('nav[aria-label="Pages of events"]').inner_text()
    assert_accessible(tab)
