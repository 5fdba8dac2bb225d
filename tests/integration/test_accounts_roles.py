"""Roles inside a vendor organization: administrators manage it, members do the work,
and it always keeps an active administrator."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, text, update

from licensing import db, migrations
from licensing.accounts import services
from licensing.accounts.models import OneTimeToken, Organization, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.errors import Conflict, DomainError, PermissionDenied
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer


def _actor(user: User) -> Actor:
    return Actor.of(services.principal_for(user))


def _fresh(user: User) -> User:
    found = db.session().get(User, user.id, populate_existing=True)
    assert found is not None
    return found


def _asked(user: User) -> str:
    return f"{user.full_name} ({user.email})"


@pytest.fixture
def member(app: Flask, vendor: User) -> User:
    """A member (not an administrator) of `vendor`'s organization."""
    return factories.make_vendor(db.session(), organization=vendor.organization, role="member")


# --- who starts as what ------------------------------------------------------------------


def test_whoever_signs_an_organization_up_administers_it(app: Flask) -> None:
    address = services.sign_up(
        email="founder@tidewater.example",
        password=factories.DEFAULT_PASSWORD,
        full_name="Rosa Lindqvist",
        organization=factories.organization_fields(),
    )
    user = db.session().scalars(select(User).where(User.email == address)).one()
    assert user.organization_role == "administrator"


def test_an_invitation_joins_as_a_member_unless_it_names_administrator(
    app: Flask, vendor: User
) -> None:
    organization_id = vendor.organization_id or 0
    plain = services.invite_member(organization_id, "plain@tidewater.example", _actor(vendor))
    chosen = services.invite_member(
        organization_id, "chosen@tidewater.example", _actor(vendor), role="administrator"
    )
    assert (plain.organization_role, chosen.organization_role) == ("member", "administrator")
    (mail,) = [
        message
        for message in db.session().scalars(select(OutboxMessage))
        if message.to == ["chosen@tidewater.example"]
    ]
    found = re.search(r"/invitations/([A-Za-z0-9_-]+)", mail.body_text)
    assert found is not None
    joined = services.accept_invitation(
        found.group(1), full_name="Chosen Person", password=factories.DEFAULT_PASSWORD
    )
    assert joined.organization_role == "administrator"


def test_an_invitation_email_and_its_page_say_the_role_it_joins_as(
    client: FlaskClient, vendor: User
) -> None:
    # An administrator-to-be learned of the role only after joining, and a member
    # read "manage invoices" as managing the organization.
    organization_id = vendor.organization_id or 0
    services.invite_member(organization_id, "plain@tidewater.example", _actor(vendor))
    services.invite_member(
        organization_id, "chosen@tidewater.example", _actor(vendor), role="administrator"
    )
    expected = {
        "plain@tidewater.example": ("as a member:", "as a member: you will apply"),
        "chosen@tidewater.example": (
            "as an administrator: to apply",
            "as an administrator: you will also manage the organization",
        ),
    }
    for message in db.session().scalars(select(OutboxMessage)):
        in_mail, on_page = expected[message.to[0]]
        assert in_mail in " ".join(message.body_text.split())
        found = re.search(r"(/invitations/[A-Za-z0-9_-]+)", message.body_text)
        assert found is not None
        page = client.get(found.group(1)).get_data(as_text=True)
        assert on_page in " ".join(page.split())


# --- refusals ------------------------------------------------------------------------------


def test_a_member_calling_an_administrators_api_route_gets_a_403_naming_the_administrators(
    client: FlaskClient, vendor: User, member: User
) -> None:
    organization_id = vendor.organization_id
    link = services.invite_member(organization_id or 0, "x@tidewater.example", _actor(vendor))
    headers = bearer(member)
    attempts = {
        "invite": client.post(
            f"/api/v1/organizations/{organization_id}/invitations",
            json={"email": "friend@tidewater.example"},
            headers=headers,
        ),
        "billing contact": client.patch(
            f"/api/v1/organizations/{organization_id}",
            json={"billing_email": "mine@elsewhere.example"},
            headers=headers,
        ),
        "withdraw": client.delete(f"/api/v1/invitations/{link.id}", headers=headers),
        "remove": client.patch(
            f"/api/v1/users/{vendor.id}", json={"is_active": False}, headers=headers
        ),
        "promote": client.patch(
            f"/api/v1/users/{member.id}", json={"role": "administrator"}, headers=headers
        ),
    }
    for what, response in attempts.items():
        assert response.status_code == 403, what
        assert response.mimetype == "application/problem+json", what
        assert _asked(vendor) in response.get_json()["detail"], what
    assert _fresh(vendor).is_active
    assert _fresh(member).organization_role == "member"
    organization = db.session().get(Organization, organization_id, populate_existing=True)
    assert organization is not None
    assert organization.billing_email != "mine@elsewhere.example"


def test_a_member_posting_an_administrators_page_form_is_refused_with_whom_to_ask(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), member)
    refused = client.post("/organization/invitations", data={"email": "friend@tidewater.example"})
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert f"Only administrators of {vendor.organization.legal_name} can do this." in page
    assert _asked(vendor) in page
    assert client.post(f"/organization/members/{vendor.id}/deactivate").status_code == 403
    assert (
        client.post(
            f"/organization/members/{member.id}/role", data={"role": "administrator"}
        ).status_code
        == 403
    )
    assert _fresh(vendor).is_active


def test_a_member_sees_the_organization_read_only_and_whom_to_ask(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    page = signed_in(app.test_client(), member).get("/organization").get_data(as_text=True)
    assert f"Ask {_asked(vendor)} to invite a colleague" in page
    assert "<td>Administrator</td>" in page
    assert "<td>Member</td>" in page
    for offered in ("Send the invitation", "Remove access", "Make administrator", ">Save<"):
        assert offered not in page
    assert vendor.organization.billing_email in page  # shown, not editable
    profile = signed_in(app.test_client(), member).get("/account/").get_data(as_text=True)
    assert "<dt>Your role</dt><dd>Member: administrators manage" in profile

    managing = signed_in(app.test_client(), vendor).get("/organization").get_data(as_text=True)
    for offered in ("Send the invitation", "Remove access", "Make administrator", ">Save<"):
        assert offered in managing


def test_the_dashboards_invitation_items_are_for_administrators(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    link = services.invite_member(
        vendor.organization_id or 0, "late@tidewater.example", _actor(vendor)
    )
    db.session().execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == link.id)
        .values(expires_at=utcnow() - timedelta(days=1))
    )
    db.session().commit()
    words = "Invitation to late@tidewater.example expired unanswered"
    assert words in signed_in(app.test_client(), vendor).get("/portal/").get_data(as_text=True)
    assert words not in signed_in(app.test_client(), member).get("/portal/").get_data(as_text=True)


# --- changing roles ----------------------------------------------------------------------


def test_an_administrator_makes_a_member_administrator_audited_and_emailed(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    done = client.post(
        f"/organization/members/{member.id}/role",
        data={"role": "administrator"},
        follow_redirects=True,
    )
    # Round 34: the page says whom the change emailed, as the office's own steps do.
    assert (
        f"{member.full_name} is now an administrator. We emailed them at {member.email}."
        in done.get_data(as_text=True)
    )
    assert _fresh(member).organization_role == "administrator"
    (event,) = db.session().scalars(
        select(AuditEvent).where(
            AuditEvent.action == "user.role_changed", AuditEvent.entity_id == str(member.id)
        )
    )
    assert event.actor == vendor.email
    assert event.changes() == [("organization_role", "member", "administrator")]
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "role_changed")
    )
    assert mail.to == [member.email]
    assert mail.subject == f"You are now an administrator of {vendor.organization.legal_name}"
    body = " ".join(mail.body_text.split())
    assert f"{_asked(vendor)} made you an administrator" in body
    assert "you invite colleagues (choosing their role)" in body


def test_the_api_shows_roles_and_an_administrator_sets_them(
    client: FlaskClient, vendor: User, member: User
) -> None:
    headers = bearer(vendor)
    listed = client.get(
        f"/api/v1/organizations/{vendor.organization_id}/members", headers=headers
    ).get_json()
    assert {item["email"]: item["role"] for item in listed} == {
        vendor.email: "administrator",
        member.email: "member",
    }
    assert client.get("/api/v1/me", headers=bearer(member)).get_json()["user"]["role"] == "member"
    changed = client.patch(
        f"/api/v1/users/{member.id}", json={"role": "administrator"}, headers=headers
    )
    assert changed.status_code == 200
    assert changed.get_json()["role"] == "administrator"
    # Round 34: whom the change emailed, as round 33's steps answer it.
    assert changed.get_json()["recipients"] == [
        {"email": member.email, "audience": "person", "organization_id": member.organization_id}
    ]
    assert changed.get_json()["emailed_summary"] == f"emailed {member.email}"
    invited = client.post(
        f"/api/v1/organizations/{vendor.organization_id}/invitations",
        json={"email": "new@tidewater.example"},
        headers=headers,
    )
    assert invited.status_code == 201
    assert invited.get_json()["role"] == "member"
    unknown = client.patch(f"/api/v1/users/{member.id}", json={"role": "owner"}, headers=headers)
    assert unknown.status_code == 422


def test_a_role_change_sent_with_other_changes_stores_none_of_them(
    client: FlaskClient, vendor: User, member: User
) -> None:
    # Each change was once its own unit of work: the demotion was stored, then the
    # request refused for the deactivation (nobody deactivates themselves).
    services.set_organization_role(member.id, "administrator", _actor(vendor))
    both = client.patch(
        f"/api/v1/users/{vendor.id}",
        json={"role": "member", "is_active": False},
        headers=bearer(vendor),
    )
    assert both.status_code == 422
    assert "is_active" in both.get_json()["errors"]
    assert _fresh(vendor).organization_role == "administrator"
    assert _fresh(vendor).is_active


def test_a_role_change_and_a_removal_in_one_request_are_made_together(
    client: FlaskClient, vendor: User, member: User
) -> None:
    services.set_organization_role(member.id, "administrator", _actor(vendor))
    both = client.patch(
        f"/api/v1/users/{member.id}",
        json={"role": "member", "is_active": False},
        headers=bearer(vendor),
    )
    assert both.status_code == 200, both.get_json()
    assert both.get_json()["role"] == "member"
    assert both.get_json()["is_active"] is False
    # Two emails (access removed, role changed) to one address: one entry (round 34).
    assert both.get_json()["recipients"] == [
        {"email": member.email, "audience": "person", "organization_id": member.organization_id}
    ]
    assert both.get_json()["emailed_summary"] == f"emailed {member.email}"
    templates = [
        message.template
        for message in db.session().scalars(select(OutboxMessage))
        if message.to == [member.email]
    ]
    assert sorted(templates) == ["access_removed", "role_changed", "role_changed"]
    assert (_fresh(member).organization_role, _fresh(member).is_active) == ("member", False)


@pytest.mark.parametrize("who", ["licensing staff", "an administrator"])
def test_a_user_whose_access_was_removed_is_not_made_administrator(
    client: FlaskClient, vendor: User, member: User, licensing_staff: User, who: str
) -> None:
    # Made administrator, they counted as one (the organization's page and the
    # office's "None active" list said it had one) while they could not sign in.
    services.set_user_active(member.id, False, _actor(vendor))
    caller = {"licensing staff": licensing_staff, "an administrator": vendor}[who]
    asked = [{"role": "administrator"}]
    if caller is vendor:  # staff other than admins do not change who may sign in
        asked.append({"role": "administrator", "is_active": False})
    for sent in asked:
        refused = client.patch(f"/api/v1/users/{member.id}", json=sent, headers=bearer(caller))
        assert refused.status_code == 409, refused.get_json()
        assert (
            f"{member.full_name} cannot be made an administrator of "
            f"{vendor.organization.legal_name}: their access was removed"
        ) in refused.get_json()["detail"]
    assert (_fresh(member).organization_role, _fresh(member).is_active) == ("member", False)
    assert not _role_events(member)


def test_restoring_access_in_the_same_request_makes_them_administrator(
    client: FlaskClient, vendor: User, member: User
) -> None:
    services.set_user_active(member.id, False, _actor(vendor))
    both = client.patch(
        f"/api/v1/users/{member.id}",
        json={"role": "administrator", "is_active": True},
        headers=bearer(vendor),
    )
    assert both.status_code == 200, both.get_json()
    assert (_fresh(member).organization_role, _fresh(member).is_active) == ("administrator", True)


def _role_events(user: User) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.action == "user.role_changed", AuditEvent.entity_id == str(user.id)
            )
        )
    )


def test_staff_roles_sent_with_a_refused_change_are_not_stored(
    client: FlaskClient, admin: User
) -> None:
    # An admin may not deactivate themselves: the roles sent beside stay unchanged.
    other = factories.make_staff(db.session(), roles=("admin",))
    db.session().commit()
    both = client.patch(
        f"/api/v1/users/{admin.id}",
        json={"roles": ["admin", "billing"], "is_active": False},
        headers=bearer(admin),
    )
    assert both.status_code == 422, both.get_json()
    assert sorted(_fresh(admin).roles) == ["admin"]
    assert other.is_active


def test_the_api_description_says_who_may_manage_the_organization(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    invite = document["paths"]["/api/v1/organizations/{organization_id}/invitations"]["post"]
    assert "administrators" in invite["summary"] + invite.get("description", "")
    assert "403" in invite["responses"]
    update_user = document["paths"]["/api/v1/users/{user_id}"]["patch"]
    assert "409" in update_user["responses"]


# --- the last administrator ----------------------------------------------------------------


def test_the_last_administrator_is_neither_made_a_member_nor_removed(
    client: FlaskClient, vendor: User, member: User, admin: User
) -> None:
    demoted = client.patch(
        f"/api/v1/users/{vendor.id}", json={"role": "member"}, headers=bearer(vendor)
    )
    assert demoted.status_code == 409
    assert "make another member administrator first" in demoted.get_json()["detail"]
    with pytest.raises(Conflict, match="last active administrator"):
        services.set_user_active(vendor.id, False, _actor(admin))
    assert _fresh(vendor).organization_role == "administrator"
    assert _fresh(vendor).is_active

    # With a second administrator, either may step down or be removed.
    services.set_organization_role(member.id, "administrator", _actor(vendor))
    services.set_organization_role(vendor.id, "member", _actor(vendor))
    assert _fresh(vendor).organization_role == "member"


def test_the_only_administrator_is_not_offered_the_step_down_the_service_refuses(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    page = client.get("/organization").get_data(as_text=True)
    row = page.split(f'id="member-{vendor.id}"')[1].split("</tr>")[0]
    assert "Make yourself a member" not in row
    assert "The only administrator: to step down, make a colleague administrator first." in row

    # With a second administrator, each may step down: the page offers it.
    services.set_organization_role(member.id, "administrator", _actor(vendor))
    page = client.get("/organization").get_data(as_text=True)
    row = page.split(f'id="member-{vendor.id}"')[1].split("</tr>")[0]
    assert "Make yourself a member" in row


def test_each_button_on_the_members_list_names_its_colleague_for_a_screen_reader(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    services.invite_member(vendor.organization_id or 0, "x@tidewater.example", _actor(vendor))
    page = signed_in(app.test_client(), vendor).get("/organization").get_data(as_text=True)
    labels = set(re.findall(r'aria-label="([^"]+)">', page))
    assert {
        f"Make administrator: {member.full_name}",
        f"Remove access: {member.full_name}",
        "Withdraw: x@tidewater.example",
    } <= labels


def test_an_administrator_stepping_down_is_told_it_was_their_own_step_and_whom_to_ask_back(
    app: Flask, vendor: User, member: User
) -> None:
    # It read "<their own name> made you a member ... If you did not expect this change".
    services.set_organization_role(member.id, "administrator", _actor(vendor))
    services.set_organization_role(vendor.id, "member", _actor(vendor))
    (mail,) = [
        message
        for message in db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "role_changed")
        )
        if message.to == [vendor.email]
    ]
    body = " ".join(mail.body_text.split())
    assert f"You made yourself a member of {vendor.organization.legal_name}" in body
    assert "did not expect" not in body
    assert f"ask {_asked(member)} to make you an administrator" in body


def test_the_office_may_remove_an_organizations_only_user(app: Flask, admin: User) -> None:
    # Nobody is left to hand the organization to: refusing would keep the account open.
    alone = factories.make_vendor(db.session())
    services.set_user_active(alone.id, False, _actor(admin))
    assert not _fresh(alone).is_active


def test_an_organization_with_nobody_active_tells_the_office_to_reactivate_before_promoting(
    app: Flask, vendor: User, member: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The office removed the last administrator once nobody else was active: there
    # is no active member to make administrator, so "below" offered nothing.
    services.set_user_active(member.id, False, _actor(admin))
    services.set_user_active(vendor.id, False, _actor(admin))
    office = signed_in(app.test_client(), admin)
    url = f"/console/organizations/{vendor.organization_id}"
    page = " ".join(office.get(url).get_data(as_text=True).split())
    assert "Make one of its active members administrator below" not in page
    assert "None of its members is active either: reactivate one on their account" in page

    services.set_user_active(member.id, True, _actor(admin))
    page = " ".join(office.get(url).get_data(as_text=True).split())
    assert "Make one of its active members administrator below." in page
    assert "Make administrator" in page


def test_the_console_says_how_to_remove_a_last_administrator_instead_of_offering_it(
    app: Flask, vendor: User, member: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # Deactivate was offered, asked for confirmation, and then was refused.
    office = signed_in(app.test_client(), admin)
    page = " ".join(office.get(f"/console/users/{vendor.id}").get_data(as_text=True).split())
    assert ">Deactivate</button>" not in page
    assert f"{vendor.full_name} is the last active administrator" in page
    assert f'href="/console/organizations/{vendor.organization_id}#members"' in page

    services.set_organization_role(member.id, "administrator", _actor(vendor))
    page = office.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert ">Deactivate</button>" in page


def test_the_office_finds_the_organizations_whose_active_users_have_no_administrator(
    app: Flask, vendor: User, member: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # Only by opening each organization's page could the office find one to fix.
    services.set_user_active(member.id, False, _actor(admin))
    services.set_user_active(vendor.id, False, _actor(admin))
    services.set_user_active(member.id, True, _actor(admin))
    dormant = factories.make_vendor(db.session())
    services.set_user_active(dormant.id, False, _actor(admin))
    healthy = factories.make_vendor(db.session())
    office = signed_in(app.test_client(), admin)
    listed = office.get("/console/organizations?administrator=none").get_data(as_text=True)
    assert vendor.organization.legal_name in listed
    # Nobody active to promote, and an organization with its administrator: not listed.
    assert dormant.organization.legal_name not in listed
    assert healthy.organization.legal_name not in listed
    everything = office.get("/console/organizations").get_data(as_text=True)
    assert healthy.organization.legal_name in everything


def test_the_office_makes_a_member_administrator_on_the_console(
    app: Flask,
    vendor: User,
    member: User,
    admin: User,
    licensing_staff: User,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The only administrator left the company: the office removes them once a member
    # is made administrator in their place.
    with pytest.raises(Conflict):
        services.set_user_active(vendor.id, False, _actor(admin))
    url = f"/console/organizations/{vendor.organization_id}/members/{member.id}/role"
    billing = signed_in(app.test_client(), billing_staff)
    assert billing.post(url, data={"role": "administrator"}).status_code == 403
    office = signed_in(app.test_client(), licensing_staff)
    page = office.get(f"/console/organizations/{vendor.organization_id}").get_data(as_text=True)
    assert "Make administrator" in page
    done = office.post(url, data={"role": "administrator"}, follow_redirects=True)
    assert (
        f"{member.full_name} is now an administrator. We emailed them at {member.email}."
        in done.get_data(as_text=True)
    )
    services.set_user_active(vendor.id, False, _actor(admin))
    (event,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "user.role_changed")
    )
    assert event.actor == licensing_staff.email
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "role_changed")
    )
    assert "The CPT Licensing Office made you an administrator" in " ".join(mail.body_text.split())


def test_the_office_makes_an_administrator_a_member_on_the_console_but_keeps_the_last(
    app: Flask,
    vendor: User,
    member: User,
    licensing_staff: User,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The organization asked the office to step an administrator down.
    services.set_organization_role(member.id, "administrator", _actor(vendor))
    url = f"/console/organizations/{vendor.organization_id}/members/{member.id}/role"
    billing = signed_in(app.test_client(), billing_staff)
    assert billing.post(url, data={"role": "member"}).status_code == 403
    office = signed_in(app.test_client(), licensing_staff)
    page = office.get(f"/console/organizations/{vendor.organization_id}").get_data(as_text=True)
    assert page.count(">Make them a member</button>") == 2
    assert f'aria-label="Make them a member: {member.full_name}"' in page
    done = office.post(url, data={"role": "member"}, follow_redirects=True)
    assert f"{member.full_name} is now a member." in done.get_data(as_text=True)
    assert _fresh(member).organization_role == "member"
    (event,) = db.session().scalars(
        select(AuditEvent).where(
            AuditEvent.action == "user.role_changed", AuditEvent.actor == licensing_staff.email
        )
    )
    assert event.changes() == [("organization_role", "administrator", "member")]
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.subject.startswith("You are now a member"))
    )
    assert mail.to == [member.email]
    assert "The CPT Licensing Office made you a member" in " ".join(mail.body_text.split())

    # The last active administrator stays one: the row offers no step the service
    # refuses, and a hand-made request gets the API's words.
    page = office.get(f"/console/organizations/{vendor.organization_id}").get_data(as_text=True)
    assert ">Make them a member</button>" not in page
    assert "The only active administrator: make a member administrator" in page
    last = office.post(
        f"/console/organizations/{vendor.organization_id}/members/{vendor.id}/role",
        data={"role": "member"},
    )
    assert last.status_code == 409
    assert "is the last active administrator of" in " ".join(last.get_data(as_text=True).split())
    assert _fresh(vendor).organization_role == "administrator"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: one writer
def test_two_administrators_demoting_each_other_at_once_leave_one(
    committed_app: Flask,
) -> None:
    with committed_app.app_context():
        first = factories.make_vendor(db.session())
        second = factories.make_vendor(
            db.session(), organization=first.organization, role="administrator"
        )
        organization_id = first.organization_id
        pairs = [(_actor(first), second.id), (_actor(second), first.id)]
    outcomes: list[object] = []

    def demote(actor: Actor, user_id: int) -> None:
        with committed_app.app_context():
            try:
                outcomes.append(services.set_organization_role(user_id, "member", actor))
            except DomainError as refused:
                outcomes.append(refused)

    # Both wait on the organization's row, held here, and go the moment it is let go.
    engine = committed_app.extensions["licensing.db"].engine
    with engine.connect() as holder, holder.begin():
        holder.execute(
            text("SELECT id FROM organizations WHERE id = :id FOR UPDATE"), {"id": organization_id}
        )
        threads = [threading.Thread(target=demote, args=pair) for pair in pairs]
        for thread in threads:
            thread.start()
        _until_waiting_on_locks(holder, 2)
    for thread in threads:
        thread.join(30)
    refused = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert len(outcomes) == 2
    assert len(refused) == 1
    assert isinstance(refused[0], (PermissionDenied, Conflict))
    with committed_app.app_context():
        administrators = services.active_administrators(db.session(), organization_id or 0)
        assert len(administrators) == 1


def _until_waiting_on_locks(connection: Any, count: int) -> None:
    """Until `count` other transactions wait on a lock (the statistics are read
    afresh each time: within a transaction PostgreSQL keeps its first snapshot)."""
    for _ in range(200):
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()
        if waiting >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} transactions never waited on the organization's row")


# --- the migration -------------------------------------------------------------------------


def test_the_migration_makes_every_existing_vendor_user_an_administrator(
    committed_app: Flask,
) -> None:
    # Nobody loses an ability on the day of the upgrade: the organization narrows it.
    url = committed_app.config["LICENSING"].database_url
    with committed_app.app_context():
        first = factories.make_vendor(db.session())
        colleague = factories.make_vendor(db.session(), organization=first.organization)
        staff = factories.make_staff(db.session(), roles=("billing",))
        organization_id = first.organization_id
        ids = [first.id, colleague.id, staff.id]
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.downgrade(url, "accounts_0003")
    now = utcnow()
    with committed_app.app_context(), db.transaction() as session:
        session.execute(
            insert(OneTimeToken.__table__).values(
                purpose="invitation",
                token_hash="0" * 64,
                email="pending@tidewater.example",
                organization_id=organization_id,
                created_at=now,
                expires_at=now + timedelta(days=7),
            )
        )
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.upgrade(url)
    with committed_app.app_context():
        session = db.session()
        roles = [session.get(User, user_id).organization_role for user_id in ids]  # type: ignore[union-attr]
        assert roles == ["administrator", "administrator", None]
        invited = session.scalars(
            select(OneTimeToken.organization_role).where(
                OneTimeToken.email == "pending@tidewater.example"
            )
        ).one()
        assert invited == "member"


# --- whom removing a colleague or changing a role emailed (round 34) -----------------------


def test_removing_a_colleagues_access_says_they_were_emailed_where_it_is_decided_and_done(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 34 walk: an administrator removed a colleague who had left; the colleague
    was emailed who removed their access and whom to ask, and neither the confirmation
    nor the page's message said so ("did you tell them?")."""
    client = signed_in(app.test_client(), vendor)
    path = f"/organization/members/{member.id}/deactivate"

    asked = client.post(path).get_data(as_text=True)

    assert (
        f"They are emailed at {member.email} that you removed their access, what stopped "
        "working, and whom to ask." in asked
    )
    done = client.post(path, data={"confirmed": "yes"}, follow_redirects=True)
    assert (
        f"{member.full_name} can no longer sign in, and their API tokens are revoked. "
        f"We emailed them at {member.email}." in done.get_data(as_text=True)
    )
    (told,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "access_removed")
    )
    assert told.to == [member.email]


def test_stepping_down_oneself_says_you_were_emailed(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    services.set_organization_role(member.id, "administrator", _actor(vendor))
    client = signed_in(app.test_client(), vendor)

    done = client.post(
        f"/organization/members/{vendor.id}/role", data={"role": "member"}, follow_redirects=True
    )

    assert f"You are now a member. We emailed you at {vendor.email}." in done.get_data(as_text=True)


def test_the_office_deactivating_a_vendor_user_says_whom_it_emailed_and_a_staff_account_nobody(
    app: Flask, vendor: User, member: User, licensing_staff: User, admin: User, signed_in: Any
) -> None:
    console = signed_in(app.test_client(), admin)
    path = f"/console/users/{member.id}/active"
    asked = console.post(path, data={"active": "false"}).get_data(as_text=True)
    assert f"They are emailed at {member.email} that the office removed their access." in asked

    done = console.post(path, data={"active": "false", "confirmed": "yes"}, follow_redirects=True)

    assert (
        f"{member.email} can no longer sign in, and their API tokens are revoked. "
        f"We emailed them at {member.email}." in done.get_data(as_text=True)
    )
    staff_path = f"/console/users/{licensing_staff.id}/active"
    staff_asked = console.post(staff_path, data={"active": "false"}).get_data(as_text=True)
    assert "They are emailed" not in staff_asked
    staff_done = console.post(
        staff_path, data={"active": "false", "confirmed": "yes"}, follow_redirects=True
    ).get_data(as_text=True)
    assert f"{licensing_staff.email} can no longer sign in" in staff_done
    assert "We emailed" not in staff_done


def test_an_api_change_that_emails_nobody_answers_so_and_why(
    client: FlaskClient, vendor: User, member: User, licensing_staff: User, admin: User
) -> None:
    """A staff account's restored access and a change to nothing email nobody: the
    answer says so rather than leaving a client to guess (round 34)."""
    services.set_user_active(licensing_staff.id, False, _actor(admin))
    restored = client.patch(
        f"/api/v1/users/{licensing_staff.id}", json={"is_active": True}, headers=bearer(admin)
    )
    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["recipients"] == []
    assert restored.get_json()["emailed_summary"] == (
        "emailed nobody: only a vendor user is emailed, about a removed or restored access "
        "or a new role"
    )
    unchanged = client.patch(
        f"/api/v1/users/{member.id}", json={"role": "member"}, headers=bearer(vendor)
    )
    assert unchanged.get_json()["recipients"] == []
    assert unchanged.get_json()["emailed_summary"].startswith("emailed nobody: ")


# --- restoring access is emailed (round 34's own walk) -------------------------------------


def _restored_emails() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "access_restored")
        )
    )


def test_restoring_a_colleagues_access_emails_them_who_did_and_where_to_sign_in(
    app: Flask, vendor: User, member: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 34 left: restoring a colleague's access emailed nobody, so the person found
    out only at their next sign-in attempt. They are told who restored it and where to
    sign in, and the page's message says whom it emailed."""
    services.set_user_active(member.id, False, _actor(vendor))
    client = signed_in(app.test_client(), vendor)

    done = client.post(f"/organization/members/{member.id}/restore", follow_redirects=True)

    assert f"{member.full_name} can sign in again." in done.get_data(as_text=True)
    assert f"We emailed them at {member.email}." in done.get_data(as_text=True)
    [told] = _restored_emails()
    assert told.to == [member.email]
    organization = member.organization
    assert organization is not None
    assert told.subject == f"Your access to {organization.legal_name} was restored"
    assert f"{vendor.full_name} ({vendor.email}) restored your access" in told.body_text
    assert "/portal" in told.body_text
    assert "stay revoked" in told.body_text
    assert "requires two-step sign-in" not in told.body_text


def test_a_restored_colleague_is_told_the_next_sign_in_asks_for_two_step_sign_in(
    app: Flask, vendor: User, member: User
) -> None:
    """Round 34 left: the restore email did not say that the organization requires
    two-step sign-in, so a restored person without it met the set-up unwarned at their
    next sign-in. Told as the move's email tells it."""
    services.set_user_active(member.id, False, _actor(vendor))
    organization = db.session().get(Organization, member.organization_id)
    assert organization is not None
    organization.two_step_required = True
    db.session().commit()

    services.set_user_active(member.id, True, _actor(vendor))

    [told] = _restored_emails()
    assert (
        f"{organization.legal_name} requires two-step sign-in of its members: after your "
        "password you are asked to set it up (with an authenticator app on your phone) "
        "before its pages open."
    ) in told.body_text


def test_the_office_reactivating_a_vendor_user_emails_them_and_a_staff_account_nobody(
    app: Flask, vendor: User, member: User, licensing_staff: User, admin: User, signed_in: Any
) -> None:
    services.set_user_active(member.id, False, _actor(admin))
    services.set_user_active(licensing_staff.id, False, _actor(admin))
    console = signed_in(app.test_client(), admin)

    done = console.post(
        f"/console/users/{member.id}/active", data={"active": "true"}, follow_redirects=True
    ).get_data(as_text=True)

    assert f"{member.email} can sign in again" in done
    assert f"We emailed them at {member.email}." in done
    [told] = _restored_emails()
    assert told.to == [member.email]
    assert "The CPT Licensing Office restored your access" in told.body_text
    staff_done = console.post(
        f"/console/users/{licensing_staff.id}/active",
        data={"active": "true"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"{licensing_staff.email} can sign in again" in staff_done
    assert "We emailed" not in staff_done
    assert len(_restored_emails()) == 1


def test_restoring_access_through_the_api_answers_whom_it_emailed(
    client: FlaskClient, vendor: User, member: User
) -> None:
    services.set_user_active(member.id, False, _actor(vendor))

    restored = client.patch(
        f"/api/v1/users/{member.id}", json={"is_active": True}, headers=bearer(vendor)
    )

    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["recipients"] == [
        {"email": member.email, "audience": "person", "organization_id": member.organization_id}
    ]
    assert restored.get_json()["emailed_summary"] == f"emailed {member.email}"
    [told] = _restored_emails()
    assert told.to == [member.email]


# --- round 61: a role lowered mid-way (attack61) ----------------------------------------


def test_an_administrator_made_a_member_loses_the_invitations_they_sent(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """An administrator about to be demoted invited an address of their own as an
    administrator: once a member, that invitation would have made them one again.
    Demotion withdraws what they sent, as a removal does; a colleague's stays."""
    organization_id = vendor.organization_id or 0
    colleague = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    theirs = services.invite_member(
        organization_id, "back-door@elsewhere.example", _actor(vendor), role="administrator"
    )
    kept = services.invite_member(organization_id, "newcomer@tidewater.example", _actor(colleague))
    client = signed_in(app.test_client(), colleague)
    client.post(f"/organization/members/{vendor.id}/role", data={"role": "member"})
    assert _fresh(vendor).organization_role == "member"
    now = utcnow()
    statuses = {
        link.email: link.status(now)
        for link in db.session().scalars(
            select(OneTimeToken).where(OneTimeToken.id.in_([theirs.id, kept.id]))
        )
    }
    assert statuses == {
        "back-door@elsewhere.example": "revoked",
        "newcomer@tidewater.example": "pending",
    }
    (event,) = db.session().scalars(
        select(AuditEvent).where(
            AuditEvent.action == "invitation.revoked", AuditEvent.entity_id == str(theirs.id)
        )
    )
    assert event.note == (
        f"{vendor.email} is no longer an administrator: the invitations they sent are withdrawn."
    )


def test_the_role_change_email_lists_the_invitations_withdrawn_at_a_demotion(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 62 (security62): the demoted administrator reads, in the email telling them
    of their new role, which of the invitations they sent were withdrawn (the address
    and the role each offered), newest first, as the audit log records them; before,
    only the audit log said so, and an invitee's silence was a puzzle. A demotion
    withdrawing nothing says nothing of invitations."""
    organization_id = vendor.organization_id or 0
    colleague = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    services.invite_member(organization_id, "first@tidewater.example", _actor(vendor))
    services.invite_member(
        organization_id, "second@tidewater.example", _actor(vendor), role="administrator"
    )
    services.invite_member(organization_id, "theirs@tidewater.example", _actor(colleague))
    client = signed_in(app.test_client(), colleague)
    client.post(f"/organization/members/{vendor.id}/role", data={"role": "member"})
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "role_changed")
    )
    told = {mail.to[0]: " ".join(mail.body_text.split())}
    assert (
        "The invitations you sent that were still pending are withdrawn, as only an "
        "administrator invites: second@tidewater.example (as an administrator) and "
        "first@tidewater.example (as a member). Ask an administrator to invite them "
        "again if they are still wanted."
    ) in told[vendor.email]
    assert "theirs@tidewater.example" not in told[vendor.email]  # a colleague's stays


def test_a_demotion_that_withdraws_no_invitation_says_nothing_of_invitations(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    colleague = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    signed_in(app.test_client(), colleague).post(
        f"/organization/members/{vendor.id}/role", data={"role": "member"}
    )
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "role_changed")
    )
    assert "invitation" not in mail.body_text


def test_an_administrator_made_a_member_through_the_api_loses_their_invitations(
    client: FlaskClient, vendor: User
) -> None:
    colleague = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    theirs = services.invite_member(
        vendor.organization_id or 0, "back-door@elsewhere.example", _actor(vendor)
    )
    changed = client.patch(
        f"/api/v1/users/{vendor.id}", json={"role": "billing"}, headers=bearer(colleague)
    )
    assert changed.status_code == 200, changed.get_json()
    link = db.session().get(OneTimeToken, theirs.id, populate_existing=True)
    assert link is not None
    assert link.status(utcnow()) == "revoked"
