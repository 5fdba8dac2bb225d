"""A vendor organization's administrators list and remove a member's passkeys through
the API (round 49), as the Organization page does (round 47): their own
organization's members only, with a reason; audited, the member emailed, a session
signed in with a removed passkey ended. Real ceremonies, as in
`test_accounts_passkeys_vendor_admin.py`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import BILLING
from licensing.accounts.models import User
from tests.support import factories
from tests.support.factories import bearer
from tests.support.passkey_records import (
    emails_to,
    passkey_id,
    passkey_names,
    still_signed_in,
)
from tests.support.passkeys import (
    add_passkey,
    authenticator,
    laptop_and_phone,
)
from tests.support.two_step import events_of

SignIn = Callable[..., FlaskClient]


@pytest.fixture
def member(app: Flask, vendor: User) -> User:
    """A member of `vendor`'s organization (`vendor` administers it)."""
    return factories.make_vendor(db.session(), vendor.organization, full_name="Noor Haddad")


def _paths(member: User, organization_id: int | None = None) -> tuple[str, str]:
    base = f"/api/v1/organizations/{organization_id or member.organization_id}/members/{member.id}"
    return f"{base}/passkeys", f"{base}/remove-passkeys"


def test_an_administrator_lists_and_removes_a_members_passkey_through_the_api(
    app: Flask, vendor: User, member: User, signed_in: SignIn
) -> None:
    devices = laptop_and_phone(app, member, signed_in)
    on_the_laptop, by_password = devices.on_the_laptop, devices.by_password
    client, headers = app.test_client(), bearer(vendor)
    listing, removing = _paths(member)

    listed = client.get(listing, headers=headers)
    assert listed.status_code == 200, listed.get_json()
    assert [(p["name"], p["last_used_at"] is not None) for p in listed.get_json()] == [
        ("Laptop", True),
        ("Phone", False),
    ]
    assert set(listed.get_json()[0]) == {"id", "name", "created_at", "last_used_at"}

    laptop_id = passkey_id(member, "Laptop")
    no_reason = client.post(removing, json={"passkey_id": laptop_id}, headers=headers)
    assert no_reason.status_code == 422
    assert "reason" in json.dumps(no_reason.get_json())
    assert passkey_names(member) == ["Laptop", "Phone"]  # nothing done

    done = client.post(
        removing,
        json={"passkey_id": laptop_id, "reason": "Laptop left on a train"},
        headers=headers,
    )
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["passkeys_removed"] == ["Laptop"]
    assert body["user"]["id"] == member.id
    assert body["recipients"] == [
        {"email": member.email, "audience": "member", "organization_id": member.organization_id}
    ]
    assert body["summary"] == (
        f"Removed Laptop of {member.email}: a session signed in with it ends at its next "
        f"request; emailed {member.email}."
    )
    assert passkey_names(member) == ["Phone"]
    (event,) = events_of(member, "user.passkey_removed")
    assert json.loads(event.before) == {"passkeys": ["Laptop"]}
    assert event.note == "Laptop left on a train"
    assert event.actor_user_id == vendor.id
    (email,) = emails_to(member, "passkeys_removed_by_administrator")
    assert "Reason given: Laptop left on a train" in " ".join(email.body_text.split())
    # As on the page: the laptop's session rested on the passkey and ends; the
    # password session stays.
    assert not still_signed_in(on_the_laptop)
    assert still_signed_in(by_password)

    gone = client.post(removing, json={"passkey_id": laptop_id, "reason": "again"}, headers=headers)
    assert gone.status_code == 404  # not one of theirs any more
    everything = client.post(removing, json={"reason": "Bag stolen"}, headers=headers)
    assert everything.get_json()["passkeys_removed"] == ["Phone"]
    none_left = client.post(removing, json={"reason": "Bag stolen"}, headers=headers)
    assert none_left.status_code == 409
    assert "has no passkey" in none_left.get_json()["detail"]
    assert client.get(listing, headers=headers).get_json() == []


def test_a_removal_retried_with_its_idempotency_key_gets_the_first_answer(
    app: Flask, vendor: User, member: User, signed_in: SignIn
) -> None:
    assert add_passkey(signed_in(app.test_client(), member), authenticator(), "Laptop")
    _, removing = _paths(member)
    keyed = {**bearer(vendor), "Idempotency-Key": "member-passkeys-49"}
    first = app.test_client().post(removing, json={"reason": "Stolen"}, headers=keyed)
    again = app.test_client().post(removing, json={"reason": "Stolen"}, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert len(events_of(member, "user.passkey_removed")) == 1


def test_only_the_members_own_organizations_administrators_reach_their_passkeys(
    app: Flask,
    vendor: User,
    member: User,
    other_vendor: User,
    admin: User,
    signed_in: SignIn,
) -> None:
    assert add_passkey(signed_in(app.test_client(), member), authenticator(), "Laptop")
    assert add_passkey(signed_in(app.test_client(), vendor), authenticator(), "Mine")
    colleague = factories.make_vendor(db.session(), vendor.organization)
    clerk = factories.make_vendor(db.session(), vendor.organization, role=BILLING)
    client = app.test_client()
    listing, removing = _paths(member)
    reason = {"reason": "Stolen"}

    # Another organization's administrator: 404, under their own organization's id
    # or the member's.
    outsider = bearer(other_vendor)
    for organization_id in (member.organization_id, other_vendor.organization_id):
        their_listing, their_removing = _paths(member, organization_id)
        assert client.get(their_listing, headers=outsider).status_code == 404
        assert client.post(their_removing, json=reason, headers=outsider).status_code == 404
    # A person not a member of the organization named: 404, for its administrator too.
    stranger_listing, stranger_removing = _paths(other_vendor, vendor.organization_id)
    assert client.get(stranger_listing, headers=bearer(vendor)).status_code == 404
    refused = client.post(stranger_removing, json=reason, headers=bearer(vendor))
    assert refused.status_code == 404
    # Its members and billing members: 403; the office's admins have their own routes.
    for caller in (colleague, clerk, admin):
        assert client.get(listing, headers=bearer(caller)).status_code == 403
        assert client.post(removing, json=reason, headers=bearer(caller)).status_code == 403
    # The administrator's own: listed, but removed on the two-step page (the password).
    own_listing, own_removing = _paths(vendor)
    assert [p["name"] for p in client.get(own_listing, headers=bearer(vendor)).get_json()] == [
        "Mine"
    ]
    own = client.post(own_removing, json=reason, headers=bearer(vendor))
    assert own.status_code == 409
    assert "two-step sign-in page" in own.get_json()["detail"]
    assert passkey_names(member) == ["Laptop"]
    assert passkey_names(vendor) == ["Mine"]
    assert events_of(member, "user.passkey_removed") == []


def test_the_api_document_lists_the_members_passkey_routes_and_their_errors(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    base = "/api/v1/organizations/{organization_id}/members/{user_id}"
    paths = spec["paths"]
    listing = paths[f"{base}/passkeys"]["get"]
    assert {"200", "403", "404"} <= set(listing["responses"])
    removing = paths[f"{base}/remove-passkeys"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(removing["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in removing.get("parameters", []))
