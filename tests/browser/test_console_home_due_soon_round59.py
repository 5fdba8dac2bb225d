"""Round 59 in Chromium: a licensing officer's console home says how many permission
requests are due within two business days (it said "Needs attention: none" while the
oldest was at 6 of its 10 days) and the link opens the queue with the decision due
soonest first; a billing clerk reads a member's passkey step in the organization's
history without its values. Axe finds nothing serious on either page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from licensing import calendar, db
from licensing.accounts.models import User
from licensing.audit import services as audit
from licensing.permissions.models import PermissionRequest
from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.integration.permissions.conftest import routed_use, send_routed
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

PERMISSIONS_ROW = 'tr:has(a:text-is("Educational permission requests with the office"))'


def _requests_due(live_server: LiveServer) -> list[str]:
    """Three routed requests: due at the end of today, and two five business days on.
    Their references, the one due today first."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Bluefin Learning")
        session.commit()
        today = calendar.office_date(db.utcnow())
        made = []
        for index, days in enumerate((5, 0, 5)):
            request = send_routed(
                routed_use(
                    organization.id,
                    organization.legal_name,
                    application_id=5900 + index,
                    application_reference=f"APP-2027-00590{index}",
                )
            )
            due = calendar.end_of_office_day(calendar.add_business_days(today, days))
            session.execute(
                update(PermissionRequest)
                .where(PermissionRequest.id == request.id)
                .values(sla_due_at=due)
            )
            made.append((days, request.reference))
        session.commit()
        return [reference for _, reference in sorted(made)]


def test_the_officer_follows_the_homes_due_soon_link_to_the_queue_oldest_first(
    browser: Any, live_server: LiveServer
) -> None:
    _, officer = vendor_and_staff(live_server)
    references = _requests_due(live_server)
    tab = signed_in_tab(browser, live_server, officer.email)
    tab.goto("/console/")
    row = tab.locator(PERMISSIONS_ROW)
    row.wait_for()
    assert "1 due within 2 business days" in row.inner_text()
    assert_accessible(tab)

    row.get_by_role("link", name="1 due within 2 business days").click()
    tab.wait_for_url("**/console/permissions/?sort=due**")
    tab.locator("table").first.wait_for()
    listed = tab.locator("table").first.inner_text()
    assert listed.index(references[0]) < listed.index(references[1])
    assert listed.index(references[0]) < listed.index(references[2])
    assert_accessible(tab)


def test_a_billing_clerk_reads_a_members_passkey_step_without_its_name(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, _ = vendor_and_staff(live_server, example=False)
    with live_server.app.app_context():
        session = db.session()
        clerk = factories.make_staff(session, roles=("billing",))
        member = session.get(User, vendor.id)
        assert member is not None
        audit.record(
            session,
            action="user.passkey_added",
            entity_type="user",
            entity_id=member.id,
            before=None,
            after={"passkey": "Samira's security key", "passkeys": 1},
            actor=member.email,
            actor_user_id=member.id,
        )
        organization_id = member.organization_id
        session.commit()
    tab = signed_in_tab(browser, live_server, clerk.email)
    tab.goto(f"/console/organizations/{organization_id}")
    history = tab.locator("#history ~ table").first
    history.wait_for()
    said = history.inner_text()
    assert "User passkey added" in said
    assert "Shown to administrators" in said
    assert "security key" not in said
    assert_accessible(tab)
