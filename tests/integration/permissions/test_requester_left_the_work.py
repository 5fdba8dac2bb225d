"""A permission request made from an application whose requester no longer does the
organization's licensing work (made a billing member, or removed): its news goes to
those who do, the administrators and members, with its portal page, not the
requester's status link."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.access import BILLING
from licensing.accounts.models import Organization, User
from licensing.mail.models import OutboxMessage
from licensing.permissions import services
from tests.integration.permissions.conftest import requested_by
from tests.support import factories


def _now_a(user: User, *, role: str | None = None, active: bool = True) -> None:
    with db.transaction() as session:
        found = session.get(User, user.id)
        assert found is not None
        found.organization_role = role or found.organization_role
        found.is_active = active


def _decisions() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "permission_decided")
        )
    )


def test_a_requester_made_a_billing_member_leaves_the_decision_to_the_administrators_and_members(
    client: FlaskClient, signed_in: Any, vendor: User
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    requester = factories.make_vendor(db.session(), organization)  # a member
    request = requested_by(requester)
    _now_a(requester, role=BILLING)

    services.approve(request.id, factories.staff_actor())

    (decision,) = _decisions()
    assert decision.to == [vendor.email]
    body = decision.body_text
    assert body.startswith("Hello,\n")
    assert f"{requester.full_name} asked for this permission from license application" in body
    assert "no longer does" in body
    assert f"http://testserver/portal/permissions/{request.id}\n" in body
    assert "/permissions/status/" not in body
    assert len(decision.attachments) == 1  # the grant letter comes along
    # The page the link opens shows the administrator the request and its status page.
    signed_in(client, vendor)
    page = client.get(f"/portal/permissions/{request.id}").get_data(as_text=True)
    assert "/permissions/status/" in page


def test_a_requester_whose_access_was_removed_is_not_sent_the_question(
    vendor: User,
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    requester = factories.make_vendor(db.session(), organization)
    request = requested_by(requester)
    _now_a(requester, active=False)

    services.ask_for_info(request.id, "Which course is it for?", factories.staff_actor())

    question = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "permission_needs_info"))
        .one()
    )
    assert question.to == [vendor.email]
    assert "Which course is it for?" in question.body_text


def test_a_requester_who_still_does_the_licensing_work_keeps_their_status_link(
    vendor: User,
) -> None:
    request = requested_by(vendor)

    services.approve(request.id, factories.staff_actor())

    (decision,) = _decisions()
    assert decision.to == [vendor.email]
    assert decision.body_text.startswith(f"Hello {request.requester_name},")
    assert "/permissions/status/" in decision.body_text


def test_with_nobody_left_to_do_the_licensing_work_the_billing_contact_is_told_whom_to_ask(
    vendor: User,
) -> None:
    request = requested_by(vendor)
    _now_a(vendor, role=BILLING)  # the only user, now a billing member

    services.approve(request.id, factories.staff_actor())

    (decision,) = _decisions()
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    assert decision.to == [organization.billing_email]
    assert "it comes to you as its billing contact: it has no active administrator" in (
        decision.body_text
    )
    assert "/permissions/status/" not in decision.body_text
