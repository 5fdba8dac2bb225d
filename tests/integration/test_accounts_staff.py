"""Staff accounts and roles, managed by admins in the console and the API."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer

NEW_STAFF = "morgan@licensing-office.example"
PASSWORD = "granite-willow-sparrow-64"


def _user(user_id: int) -> User:
    found = db.session().get(User, user_id, populate_existing=True)
    assert found is not None
    return found


def test_an_admin_adds_a_staff_member_who_sets_a_password_by_email(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    response = client.post(
        "/console/users",
        data={"full_name": "Morgan Lee", "email": NEW_STAFF, "roles": ["licensing", "billing"]},
    )
    assert response.status_code == 302
    created = db.session().scalars(select(User).where(User.email == NEW_STAFF)).one()
    assert created.roles == frozenset({"licensing", "billing"})
    assert created.organization_id is None
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert message.to == [NEW_STAFF]
    link = re.search(r"http://testserver(/reset/\S+)", message.body_text)
    assert link
    newcomer = app.test_client()
    with pytest.raises(DomainError):  # no password chosen yet
        services.sign_in(NEW_STAFF, PASSWORD)
    newcomer.post(link.group(1), data={"password": PASSWORD, "confirm": PASSWORD})
    assert services.sign_in(NEW_STAFF, PASSWORD).id == created.id


def test_staff_need_at_least_one_known_role(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    response = client.post(
        "/console/users", data={"full_name": "Morgan Lee", "email": NEW_STAFF, "roles": []}
    )
    assert response.status_code == 422
    assert "at least one role" in response.get_data(as_text=True)
    api = client.post(
        "/api/v1/users",
        json={"full_name": "Morgan Lee", "email": NEW_STAFF, "roles": ["overlord"]},
        headers=bearer(admin),
    )
    assert api.status_code == 422
    assert "roles.0" in api.get_json()["errors"]
    assert db.session().scalars(select(User).where(User.email == NEW_STAFF)).first() is None


def test_changing_roles_is_audited(
    app: Flask, admin: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    response = client.post(
        f"/console/users/{licensing_staff.id}/roles", data={"roles": ["licensing", "billing"]}
    )
    assert response.status_code == 302
    assert _user(licensing_staff.id).roles == frozenset({"licensing", "billing"})
    event = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "user.roles_changed"))
        .one()
    )
    assert event.before_data == {"roles": ["licensing"]}
    assert event.after_data == {"roles": ["billing", "licensing"]}
    assert event.actor == admin.email


def test_the_last_active_admin_keeps_the_admin_role_and_nobody_deactivates_themselves(
    app: Flask, admin: User
) -> None:
    as_admin = Actor.of(services.principal_for(admin))
    with pytest.raises(Conflict, match="last active admin"):
        services.set_staff_roles(admin.id, ["licensing"], actor=as_admin)
    with pytest.raises(InvalidInput, match="your own account"):
        services.set_user_active(admin.id, False, Actor.of(services.principal_for(admin)))
    second = services.create_admin("second-admin@licensing-office.example", PASSWORD)
    services.set_staff_roles(admin.id, ["licensing"], actor=as_admin)
    assert _user(admin.id).roles == frozenset({"licensing"})
    assert _user(second.id).roles == frozenset({"admin"})


def test_non_admin_staff_cannot_manage_users(
    app: Flask, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    assert client.get("/console/users").status_code == 403
    assert client.get("/api/v1/users", headers=bearer(licensing_staff)).status_code == 403


def test_vendors_cannot_open_the_staff_console(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    for path in ("/console/organizations", "/console/users", "/console/audit", "/console/outbox"):
        assert client.get(path).status_code == 403, path


def test_the_staff_menu_shows_only_the_pages_a_role_may_open(
    app: Flask, billing_staff: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    billing = signed_in(app.test_client(), billing_staff).get("/console/organizations")
    billing_page = billing.get_data(as_text=True)
    assert 'href="/console/organizations"' in billing_page
    assert 'href="/console/users"' not in billing_page
    assert 'href="/console/audit"' not in billing_page
    admin_page = signed_in(app.test_client(), admin).get("/console/organizations")
    for path in ("/console/users", "/console/audit", "/console/outbox"):
        assert f'href="{path}"' in admin_page.get_data(as_text=True), path


def test_an_admin_unlocks_a_locked_account(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(DomainError):
            services.sign_in(vendor.email, "not-the-password-at-all")
    client = signed_in(app.test_client(), admin)
    assert "locked until" in client.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert client.post(f"/console/users/{vendor.id}/unlock").status_code == 302
    assert _user(vendor.id).locked_until is None


def test_an_admin_deactivates_and_reactivates_through_the_api(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    headers = bearer(admin)
    off = client.patch(f"/api/v1/users/{vendor.id}", json={"is_active": False}, headers=headers)
    assert off.status_code == 200
    assert off.get_json()["is_active"] is False
    on = client.patch(f"/api/v1/users/{vendor.id}", json={"is_active": True}, headers=headers)
    assert on.get_json()["is_active"] is True
    actions = [
        event.action
        for event in db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_id == str(vendor.id))
            .order_by(AuditEvent.seq)  # without it PostgreSQL may return any order
        )
        if event.entity_type == "user"
    ]
    assert actions[-2:] == ["user.deactivated", "user.reactivated"]


def test_a_vendor_cannot_undo_the_offices_deactivation_of_a_colleague(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    # The office deactivated a vendor user (shared credentials, say); any colleague
    # could switch the account back on through the API, and with it its tokens.
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    secret = bearer(colleague)
    off = client.patch(
        f"/api/v1/users/{colleague.id}", json={"is_active": False}, headers=bearer(admin)
    )
    assert off.status_code == 200
    again = client.patch(
        f"/api/v1/users/{colleague.id}", json={"is_active": True}, headers=bearer(vendor)
    )
    assert again.status_code == 403
    assert "licensing office" in again.get_json()["detail"]
    assert _user(colleague.id).is_active is False
    assert client.get("/api/v1/me", headers=secret).status_code == 401


def test_a_vendor_reactivates_a_colleague_their_organization_deactivated(
    client: FlaskClient, vendor: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    headers = bearer(vendor)
    for active in (False, True):
        answer = client.patch(
            f"/api/v1/users/{colleague.id}", json={"is_active": active}, headers=headers
        )
        assert answer.status_code == 200
        assert answer.get_json()["is_active"] is active


def test_the_members_a_vendor_may_restore_are_those_its_organization_removed(
    app: Flask, vendor: User, admin: User
) -> None:
    removed = factories.make_vendor(db.session(), organization=vendor.organization)
    by_office = factories.make_vendor(db.session(), organization=vendor.organization)
    services.set_user_active(removed.id, False, Actor.of(services.principal_for(vendor)))
    services.set_user_active(by_office.id, False, Actor.of(services.principal_for(admin)))
    members = [vendor, _user(removed.id), _user(by_office.id)]
    assert services.restorable_members(db.session(), members) == frozenset({removed.id})


def test_a_vendor_restores_a_removed_colleague_on_the_organization_page_audited_like_removal(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    client = signed_in(app.test_client(), vendor)
    asked = client.post(f"/organization/members/{colleague.id}/deactivate")
    text = asked.get_data(as_text=True)
    # It said "To give access again, invite them", but inviting a member is refused.
    assert "invite them" not in text
    assert "Restore access" in text
    removed = client.post(
        f"/organization/members/{colleague.id}/deactivate", data={"confirmed": "yes"}
    )
    assert removed.status_code == 302
    page = client.get("/organization").get_data(as_text=True)
    assert f'action="/organization/members/{colleague.id}/restore"' in page
    restored = client.post(f"/organization/members/{colleague.id}/restore")
    assert restored.status_code == 302
    assert _user(colleague.id).is_active is True
    assert "can sign in again" in client.get("/organization").get_data(as_text=True)
    events = db.session().scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "user", AuditEvent.entity_id == str(colleague.id))
        .order_by(AuditEvent.seq)
    )
    trail = [(event.action, event.actor, event.after_data) for event in events]
    assert trail[-2:] == [
        ("user.deactivated", vendor.email, {"is_active": False}),
        ("user.reactivated", vendor.email, {"is_active": True}),
    ]


def test_a_member_the_office_deactivated_has_no_restore_button_and_the_row_says_why(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    services.set_user_active(colleague.id, False, Actor.of(services.principal_for(admin)))
    client = signed_in(app.test_client(), vendor)
    page = client.get("/organization").get_data(as_text=True)
    assert f'action="/organization/members/{colleague.id}/restore"' not in page
    assert "Deactivated by the licensing office: only the office can restore" in page
    refused = client.post(f"/organization/members/{colleague.id}/restore")
    assert refused.status_code == 403
    assert _user(colleague.id).is_active is False


def test_vendors_cannot_give_themselves_roles(client: FlaskClient, vendor: User) -> None:
    response = client.patch(
        f"/api/v1/users/{vendor.id}", json={"roles": ["admin"]}, headers=bearer(vendor)
    )
    assert response.status_code == 422
    assert _user(vendor.id).roles == frozenset()


def test_an_admin_confirms_before_deactivating_an_account_on_its_page(
    app: Flask, admin: User, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    url = f"/console/users/{vendor.id}/active"
    asked = client.post(url, data={"active": "false"})
    assert asked.status_code == 200
    assert f"Deactivate {vendor.full_name}&#39;s account?" in asked.get_data(as_text=True)
    assert db.session().get(User, vendor.id, populate_existing=True).is_active is True
    done = client.post(url, data={"active": "false", "confirmed": "yes"})
    assert done.status_code == 302
    assert db.session().get(User, vendor.id, populate_existing=True).is_active is False
    again = client.post(url, data={"active": "true"})  # giving access back asks nothing
    assert again.status_code == 302
    assert db.session().get(User, vendor.id, populate_existing=True).is_active is True


def test_only_an_admin_changes_roles_or_lifts_a_lockout_whichever_edge_calls(
    app: Flask, admin: User, licensing_staff: User
) -> None:
    not_an_admin = Actor.of(services.principal_for(licensing_staff))
    with pytest.raises(PermissionDenied):
        services.set_staff_roles(licensing_staff.id, ["admin"], actor=not_an_admin)
    with pytest.raises(PermissionDenied):
        services.unlock_user(admin.id, actor=not_an_admin)
    assert _user(licensing_staff.id).roles == frozenset({"licensing"})
