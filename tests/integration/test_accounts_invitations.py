"""Vendors invite colleagues by email; invitees join with their own password."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from licensing import calendar, db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.accounts.services import invitations
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.support.factories import DEFAULT_PASSWORD, bearer
from tests.support.page_days import in_words
from tests.support.pages import text_of

COLLEAGUE = "priya@northwind.example"
PASSWORD = "silver-canyon-harvest-31"


def _invitation_link(address: str) -> str:
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert message.to == [address]
    found = re.search(r"http://testserver(/invitations/\S+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def test_a_colleague_accepts_an_invitation_and_joins_the_organization_signed_in(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    inviter = signed_in(app.test_client(), vendor)
    response = inviter.post("/organization/invitations", data={"email": COLLEAGUE})
    assert response.status_code == 302
    link = _invitation_link(COLLEAGUE)
    assert (
        vendor.full_name
        in db.session()
        .scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        .first()
        .body_text
    )  # type: ignore[union-attr]

    invitee = app.test_client()
    form = invitee.get(link)
    assert form.status_code == 200
    assert COLLEAGUE in form.get_data(as_text=True)
    joined = invitee.post(
        link, data={"full_name": "Priya Raman", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert joined.status_code == 302
    assert joined.headers["Location"].endswith("/portal/")
    assert invitee.get("/portal/").status_code == 200

    user = db.session().scalars(select(User).where(User.email == COLLEAGUE)).one()
    assert user.organization_id == vendor.organization_id
    assert user.email_verified_at is not None
    actions = [event.action for event in db.session().scalars(select(AuditEvent))]
    assert {"invitation.created", "user.created", "invitation.accepted"} <= set(actions)
    members = inviter.get("/organization").get_data(as_text=True)
    assert "Priya Raman" in members


def test_an_invitation_link_works_once(app: Flask, vendor: User) -> None:
    services.invite_member(
        vendor.organization_id or 0, COLLEAGUE, Actor.of(services.principal_for(vendor))
    )
    link = _invitation_link(COLLEAGUE)
    client = app.test_client()
    client.post(link, data={"full_name": "Priya Raman", "password": PASSWORD, "confirm": PASSWORD})
    again = app.test_client().get(link)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)


def test_an_invitation_expires_after_seven_days(app: Flask, vendor: User) -> None:
    services.invite_member(
        vendor.organization_id or 0, COLLEAGUE, Actor.of(services.principal_for(vendor))
    )
    link = _invitation_link(COLLEAGUE)
    with time_machine.travel(utcnow() + timedelta(days=7, minutes=1), tick=False):
        response = app.test_client().get(link)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_a_withdrawn_invitation_no_longer_works(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    link = services.invite_member(
        vendor.organization_id or 0, COLLEAGUE, Actor.of(services.principal_for(vendor))
    )
    url = _invitation_link(COLLEAGUE)
    client = signed_in(app.test_client(), vendor)
    assert client.post(f"/organization/invitations/{link.id}/revoke").status_code == 302
    response = app.test_client().get(url)
    assert response.status_code == 400
    assert "withdrawn" in response.get_data(as_text=True)


# An address with an account gets the answer a new one gets (round 8):
# tests/integration/journeys/test_security_round8.py.


def _invited_twice(client: FlaskClient, vendor: User) -> tuple[dict[str, Any], dict[str, Any]]:
    """The colleague invited by `vendor` through the API, then again: both answers."""
    headers = bearer(vendor)
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    first = client.post(url, json={"email": COLLEAGUE}, headers=headers).get_json()
    return first, client.post(url, json={"email": COLLEAGUE}, headers=headers).get_json()


def test_inviting_the_same_address_again_replaces_the_pending_invitation(
    client: FlaskClient, vendor: User
) -> None:
    first, second = _invited_twice(client, vendor)
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    listed = {
        item["id"]: item["status"] for item in client.get(url, headers=bearer(vendor)).get_json()
    }
    assert listed == {first["id"]: "revoked", second["id"]: "pending"}
    assert second["invited_by"] == vendor.email


def test_the_invitation_a_new_one_replaces_is_audited_as_withdrawn_by_it(
    client: FlaskClient, vendor: User
) -> None:
    first, second = _invited_twice(client, vendor)
    (revoked,) = db.session().scalars(
        select(AuditEvent).where(
            AuditEvent.action == "invitation.revoked", AuditEvent.entity_id == str(first["id"])
        )
    )
    assert revoked.actor == vendor.email
    assert revoked.before_data == {"revoked_at": None}
    assert revoked.after_data["revoked_at"] is not None
    assert revoked.note == f"Replaced by invitation {second['id']} to the same address."


def test_a_weak_password_on_acceptance_is_explained_and_nothing_is_created(
    app: Flask, vendor: User
) -> None:
    services.invite_member(
        vendor.organization_id or 0, COLLEAGUE, Actor.of(services.principal_for(vendor))
    )
    link = _invitation_link(COLLEAGUE)
    response = app.test_client().post(
        link,
        data={"full_name": "Priya Raman", "password": "qwertyuiop12", "confirm": "qwertyuiop12"},
    )
    assert response.status_code == 422
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert db.session().scalars(select(User).where(User.email == COLLEAGUE)).first() is None
    assert app.test_client().get(link).status_code == 200


def test_acceptance_reports_a_missing_name_and_a_weak_password_together(
    app: Flask, vendor: User
) -> None:
    # The password's rules used to be checked only once the name was given.
    services.invite_member(
        vendor.organization_id or 0, COLLEAGUE, Actor.of(services.principal_for(vendor))
    )
    response = app.test_client().post(
        _invitation_link(COLLEAGUE), data={"password": "short", "confirm": "short"}
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'id="full_name-error"' in text
    assert 'id="password-error"' in text
    assert "Use at least 12 characters" in text


def test_revoking_an_accepted_invitation_is_a_409(client: FlaskClient, vendor: User) -> None:
    link = services.invite_member(
        vendor.organization_id or 0, COLLEAGUE, Actor.of(services.principal_for(vendor))
    )
    services.accept_invitation(
        _invitation_link(COLLEAGUE).rsplit("/", 1)[-1], full_name="Priya Raman", password=PASSWORD
    )
    response = client.delete(f"/api/v1/invitations/{link.id}", headers=bearer(vendor))
    assert response.status_code == 409
    assert "accepted" in response.get_json()["detail"]


def test_removing_a_colleagues_access_asks_first_and_changes_nothing_until_confirmed(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    from tests.support import factories

    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    client = signed_in(app.test_client(), vendor)
    asked = client.post(f"/organization/members/{colleague.id}/deactivate")
    assert asked.status_code == 200
    assert f"Remove {colleague.full_name}&#39;s access?" in asked.get_data(as_text=True)
    refreshed = db.session().get(User, colleague.id, populate_existing=True)
    assert refreshed is not None
    assert refreshed.is_active is True


def test_a_vendor_removes_a_colleagues_access_but_not_their_own(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    from tests.support import factories

    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    client = signed_in(app.test_client(), vendor)
    removed = client.post(
        f"/organization/members/{colleague.id}/deactivate", data={"confirmed": "yes"}
    )
    assert removed.status_code == 302
    refreshed = db.session().get(User, colleague.id, populate_existing=True)
    assert refreshed is not None
    assert refreshed.is_active is False
    response = app.test_client().post(
        "/sign-in", data={"email": colleague.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 403
    own = client.patch(
        f"/api/v1/users/{vendor.id}", json={"is_active": False}, headers=bearer(vendor)
    )
    assert own.status_code == 422


def test_members_are_listed_through_the_api(client: FlaskClient, vendor: User) -> None:
    response = client.get(
        f"/api/v1/organizations/{vendor.organization_id}/members", headers=bearer(vendor)
    )
    assert [member["email"] for member in response.get_json()] == [vendor.email]


def _invitation_emails(address: str) -> int:
    return sum(
        1
        for message in db.session().scalars(select(OutboxMessage))
        if message.to == [address] and message.template.startswith("invitation")
    )


def test_one_address_is_invited_at_most_three_times_an_hour(
    client: FlaskClient, vendor: User
) -> None:
    """Re-inviting replaced the pending invitation and mailed the address again, as
    often as an administrator liked: the office mailed any address without end
    (round 30)."""
    headers = bearer(vendor)
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    for _ in range(services.LINKS_PER_HOUR):
        assert client.post(url, json={"email": COLLEAGUE}, headers=headers).status_code == 201
    refused = client.post(url, json={"email": COLLEAGUE}, headers=headers)
    assert refused.status_code == 422
    assert "invited 3 times in the last hour" in refused.get_json()["errors"]["email"][0]
    assert refused.mimetype == "application/problem+json"
    assert "available_from" in refused.get_json()
    assert _invitation_emails(COLLEAGUE) == services.LINKS_PER_HOUR
    # Another address is not held up, and an hour later this one is invited again.
    assert (
        client.post(url, json={"email": "ola@northwind.example"}, headers=headers).status_code
        == 201
    )
    with time_machine.travel(utcnow() + timedelta(hours=1, minutes=1), tick=False):
        assert client.post(url, json={"email": COLLEAGUE}, headers=headers).status_code == 201


def test_an_organization_sends_a_bounded_number_of_invitations_a_day(
    client: FlaskClient, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Withdrawing invitations frees places among the 25 pending, so the daily count
    is of invitations sent, withdrawn or not."""
    monkeypatch.setattr(invitations, "INVITATIONS_PER_DAY", 4)
    headers = bearer(vendor)
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    for number in range(4):
        sent = client.post(url, json={"email": f"p{number}@northwind.example"}, headers=headers)
        assert sent.status_code == 201
        revoke = client.delete(f"/api/v1/invitations/{sent.get_json()['id']}", headers=headers)
        assert revoke.status_code < 300, revoke.get_data(as_text=True)
    refused = client.post(url, json={"email": "p9@northwind.example"}, headers=headers)
    assert refused.status_code == 422
    assert "4 invitations in the last 24 hours" in refused.get_json()["errors"]["email"][0]
    assert _invitation_emails("p9@northwind.example") == 0
    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1), tick=False):
        again = client.post(url, json={"email": "p9@northwind.example"}, headers=bearer(vendor))
        assert again.status_code == 201


def test_the_organization_page_says_the_address_was_invited_enough_beside_the_field(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    browser = signed_in(app.test_client(), vendor)
    for _ in range(services.LINKS_PER_HOUR):
        assert (
            browser.post("/organization/invitations", data={"email": COLLEAGUE}).status_code == 302
        )
    refused = browser.post("/organization/invitations", data={"email": COLLEAGUE})
    assert refused.status_code == 422
    assert f"{COLLEAGUE} was invited 3 times in the last hour, the most an hour" in refused.text


def test_an_invitation_refused_for_too_many_says_from_when_it_can_go(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 31: "try again later" and "try again tomorrow" left the administrator
    guessing; the window rolls, so the refusal says the minute a place frees."""
    first = utcnow().replace(second=30, microsecond=0) + timedelta(minutes=1)
    browser = signed_in(app.test_client(), vendor)
    for minutes in range(services.LINKS_PER_HOUR):
        with time_machine.travel(first + timedelta(minutes=10 * minutes), tick=False):
            sent = browser.post("/organization/invitations", data={"email": COLLEAGUE})
            assert sent.status_code == 302
    with time_machine.travel(first + timedelta(minutes=40), tick=False):
        refused = browser.post("/organization/invitations", data={"email": COLLEAGUE})
        # The API's twin (round 36): `available_from` is the minute the page names.
        refused_api = _invite_by_api(app, vendor, COLLEAGUE)
    assert refused.status_code == 422
    # The first invitation leaves the hour at hh:mm:30: from the next minute, never early.
    one_hour_on = first.replace(second=0) + timedelta(hours=1, minutes=1)
    frees = calendar.instant_text(one_hour_on)
    assert refused_api.status_code == 422
    assert refused_api.get_json()["available_from"] == calendar.instant_iso(one_hour_on)
    assert refused_api.get_json()["errors"]["email"][0].endswith(f"again from {frees}.")
    # The page says the minute in words (round 58, days58); the API's message as is.
    assert in_words(
        f"{COLLEAGUE} was invited 3 times in the last hour, the most an hour: invite them "
        f"again from {frees}."
    ) in text_of(refused)
    with time_machine.travel(one_hour_on, tick=False):
        again = browser.post("/organization/invitations", data={"email": COLLEAGUE})
        assert again.status_code == 302
    # The organization's day: the one that frees a place is the oldest of the 24 hours.
    monkeypatch.setattr(invitations, "INVITATIONS_PER_DAY", 4)
    with time_machine.travel(one_hour_on + timedelta(minutes=5), tick=False):
        refused = _invite_by_api(app, vendor, "p9@northwind.example")
    # Four sent (at 0, 10, 20 and 60 minutes): the first leaves the 24 hours first.
    day_on = first.replace(second=0) + timedelta(days=1, minutes=1)
    frees = calendar.instant_text(day_on)
    assert refused.status_code == 422
    assert refused.get_json()["available_from"] == calendar.instant_iso(day_on)
    assert refused.get_json()["errors"]["email"] == [
        "Your organization sent 4 invitations in the last 24 hours, the most a day: the "
        f"next can go from {frees}, or ask the office."
    ]


def _invite_by_api(app: Flask, vendor: User, email: str) -> TestResponse:
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    return app.test_client().post(url, json={"email": email}, headers=bearer(vendor))
