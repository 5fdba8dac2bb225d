"""Account steps through the API (round 28): the licensing office's HR automation
moves a person to their new employer's organization and unlocks an account with a
staff token, as an admin does on the console, instead of shelling into a host."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support import factories, settings
from tests.support.servers import SMTPServer, message_text
from tests.support.two_step import turn_on

REASON = "Joined Harbor Analytics as a consultant."


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    """The outbox delivers to the test SMTP server, as a deployment's does."""
    return {"smtp_url": smtp_server.url}


def _reloaded(user: User) -> User:
    found = db.session().get(User, user.id, populate_existing=True)
    assert found is not None
    return found


def _move(
    client: FlaskClient,
    headers: dict[str, str],
    user: User,
    organization_id: int,
    *,
    expected: int | None = None,
    reason: str = REASON,
) -> Any:
    return client.post(
        f"/api/v1/users/{user.id}/move",
        headers=headers,
        json={
            "organization_id": organization_id,
            "reason": reason,
            "expected_organization_id": expected or user.organization_id,
        },
    )


def _moves_emailed() -> int:
    return db.session().scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.template == "account_moved")
    )


def _audited(action: str, user: User) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.entity_id == str(user.id)
            )
        )
    )


def _read_token(user: User) -> dict[str, str]:
    _token, secret = accounts.create_api_token(user.id, "hr sync", actor=Actor.SYSTEM, scope="read")
    return {"Authorization": f"Bearer {secret}"}


def test_an_admin_moves_a_person_through_the_api_and_hears_what_ended_and_whom_it_emailed(
    client: FlaskClient, vendor: User, other_vendor: User, admin: User, mailbox: SMTPServer
) -> None:
    session = db.session()
    colleague = factories.make_vendor(
        session, organization=vendor.organization, role="administrator", full_name="Ana Ruiz"
    )
    accounts.invite_member(
        colleague.organization_id or 0,
        "newcomer@northwind.example",
        Actor.of(accounts.principal_for(colleague)),
    )
    their_token = factories.bearer(colleague, name="laptop")
    left = colleague.organization_id or 0
    joined = other_vendor.organization_id or 0
    hr = factories.bearer(admin, name="hr sync")
    mail.deliver_due(settings.delivery())  # the invitation
    mailbox.wait_for(1)
    mailbox.clear()

    moved = _move(client, hr, colleague, joined)

    assert moved.status_code == 200, moved.get_json()
    answer = moved.get_json()
    assert answer["user"] == client.get(f"/api/v1/users/{colleague.id}", headers=hr).get_json()
    assert answer["user"]["organization_id"] == joined
    assert answer["user"]["role"] == "billing"
    assert answer["left_organization_id"] == left
    assert answer["ended"] == {
        "sessions": True,
        "api_tokens_revoked": ["laptop"],
        "invitations_withdrawn": 1,
    }
    assert answer["emailed"] == {
        "person": colleague.email,
        "recipients": [
            {"email": colleague.email, "audience": "person", "organization_id": joined},
            {"email": vendor.email, "audience": "left", "organization_id": left},
            {"email": other_vendor.email, "audience": "joined", "organization_id": joined},
        ],
        "administrators_of": [left, joined],
        "summary": "they, and both organizations' administrators",
    }
    # Round 31: the top-level `recipients`, as every step that emails answers it.
    assert answer["recipients"] == answer["emailed"]["recipients"]
    assert client.get("/api/v1/me", headers=their_token).status_code == 401
    (event,) = _audited("user.moved", colleague)
    assert event.note == REASON
    assert event.actor_user_id == admin.id
    mail.deliver_due(settings.delivery())
    received = {message["To"]: message for message in mailbox.wait_for(3)}
    assert set(received) == {each["email"] for each in answer["emailed"]["recipients"]}
    assert other_vendor.organization is not None
    assert received[colleague.email]["Subject"] == (
        f"Your account now acts for {other_vendor.organization.legal_name}"
    )
    assert REASON in message_text(received[colleague.email])


def test_a_retried_move_is_refused_and_neither_moves_nor_emails_twice(
    client: FlaskClient, vendor: User, other_vendor: User, admin: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    left = colleague.organization_id or 0
    hr = factories.bearer(admin)
    assert _move(client, hr, colleague, other_vendor.organization_id or 0).status_code == 200
    emailed = _moves_emailed()

    # The same body again, as a client retrying after a timeout sends it.
    again = _move(client, hr, colleague, other_vendor.organization_id or 0, expected=left)

    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    # The console's "open their page again" would mean nothing to the script.
    assert again.get_json()["detail"] == (
        f"{colleague.full_name}'s account acts for organization {other_vendor.organization_id} "
        "already: a move sent before went through, and nothing was moved or emailed again. "
        f"GET /api/v1/users/{colleague.id} shows it."
    )
    assert _moves_emailed() == emailed
    assert len(_audited("user.moved", colleague)) == 1
    assert _reloaded(colleague).organization_id == other_vendor.organization_id


def test_a_move_the_rules_refuse_is_a_409_in_the_rules_words(
    client: FlaskClient, vendor: User, other_vendor: User, admin: User
) -> None:
    session = db.session()
    member = factories.make_vendor(session, organization=vendor.organization, role="member")
    clerk = factories.make_vendor(session, organization=vendor.organization, role="billing")
    organization = session.get(Organization, vendor.organization_id)
    assert organization is not None
    organization.billing_email = clerk.email
    closed = factories.make_organization(session, standing="closed")
    session.commit()
    hr = factories.bearer(admin)
    elsewhere = other_vendor.organization_id or 0

    refusals = {
        "is the last active administrator of": _move(client, hr, vendor, elsewhere),
        "billing contact": _move(client, hr, clerk, elsewhere),
        "account is closed": _move(client, hr, member, closed.id),
        f"acts for organization {vendor.organization_id}, not organization {closed.id} "
        "(expected_organization_id): it was moved meanwhile, or the expected organization is "
        f"wrong. Read GET /api/v1/users/{clerk.id}, and send the organization it acts for now "
        "as expected_organization_id": _move(client, hr, clerk, elsewhere, expected=closed.id),
    }

    for words, refused in refusals.items():
        assert refused.status_code == 409, (words, refused.get_json())
        assert refused.mimetype == "application/problem+json"
        assert words in refused.get_json()["detail"]
    assert _reloaded(clerk).organization_id == vendor.organization_id
    assert _reloaded(member).organization_id == vendor.organization_id
    assert _moves_emailed() == 0


def test_a_move_with_bad_input_is_a_422_naming_the_field_and_an_unknown_user_a_404(
    client: FlaskClient, vendor: User, other_vendor: User, licensing_staff: User, admin: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    hr = factories.bearer(admin)
    own = colleague.organization_id or 0
    elsewhere = other_vendor.organization_id or 0

    refusals = {
        "organization_id": [
            _move(client, hr, colleague, own),
            _move(client, hr, colleague, 987654),
            _move(client, hr, licensing_staff, elsewhere, expected=own),
        ],
        "reason": [
            _move(client, hr, colleague, elsewhere, reason=""),
            _move(client, hr, colleague, elsewhere, reason="   "),
            _move(client, hr, colleague, elsewhere, reason="x" * 501),
        ],
    }

    for field, refused_all in refusals.items():
        for refused in refused_all:
            assert refused.status_code == 422, (field, refused.get_json())
            assert field in refused.get_json()["errors"], refused.get_json()
    assert (
        "already acts for that organization"
        in (refusals["organization_id"][0].get_json()["detail"])
    )
    assert "is on the office's staff" in refusals["organization_id"][2].get_json()["detail"]
    missing = client.post(f"/api/v1/users/{colleague.id}/move", headers=hr, json={})
    assert missing.status_code == 422
    assert set(missing.get_json()["errors"]) == {
        "organization_id",
        "reason",
        "expected_organization_id",
    }
    nobody = client.post(
        "/api/v1/users/987654/move",
        headers=hr,
        json={"organization_id": elsewhere, "reason": REASON, "expected_organization_id": own},
    )
    assert nobody.status_code == 404
    assert _reloaded(colleague).organization_id == own
    assert _moves_emailed() == 0


@pytest.mark.parametrize("step", ["move", "unlock"])
def test_only_an_admins_write_token_takes_an_account_step(
    client: FlaskClient,
    vendor: User,
    other_vendor: User,
    licensing_staff: User,
    admin: User,
    step: str,
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    body = {
        "organization_id": other_vendor.organization_id,
        "reason": REASON,
        "expected_organization_id": colleague.organization_id,
    }
    callers = {
        "the organization's administrator": factories.bearer(vendor),
        "licensing staff": factories.bearer(licensing_staff),
        "an admin's read token": _read_token(admin),
    }

    for caller, headers in callers.items():
        refused = client.post(f"/api/v1/users/{colleague.id}/{step}", headers=headers, json=body)
        assert refused.status_code == 403, caller
        assert refused.mimetype == "application/problem+json"
    assert _reloaded(colleague).organization_id == vendor.organization_id
    assert not _audited("user.moved", colleague)


def test_an_admin_unlocks_a_locked_account_through_the_api_and_it_is_audited(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    session = db.session()
    locked = session.get(User, vendor.id)
    assert locked is not None
    locked.failed_login_count = 10
    locked.locked_until = utcnow() + timedelta(minutes=15)
    session.commit()
    hr = factories.bearer(admin)

    unlocked = client.post(f"/api/v1/users/{vendor.id}/unlock", headers=hr)

    assert unlocked.status_code == 200
    assert unlocked.get_json() == client.get(f"/api/v1/users/{vendor.id}", headers=hr).get_json()
    assert unlocked.get_json()["locked_until"] is None
    assert _reloaded(vendor).failed_login_count == 0
    assert accounts.sign_in(vendor.email, factories.DEFAULT_PASSWORD).id == vendor.id
    (event,) = _audited("user.unlocked", vendor)
    assert event.actor_user_id == admin.id
    # Unlocking an account that is not locked records nothing.
    assert client.post(f"/api/v1/users/{vendor.id}/unlock", headers=hr).status_code == 200
    assert len(_audited("user.unlocked", vendor)) == 1
    assert client.post("/api/v1/users/987654/unlock", headers=hr).status_code == 404


def test_the_api_document_lists_the_account_steps(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    move = paths["/api/v1/users/{user_id}/move"]["post"]
    assert set(move["responses"]) >= {"200", "401", "403", "404", "409", "422"}
    unlock = paths["/api/v1/users/{user_id}/unlock"]["post"]
    assert set(unlock["responses"]) >= {"200", "401", "403", "404"}
    assert "post" in paths["/api/v1/organizations/{organization_id}/two-step"]


def test_the_api_document_lists_each_users_routes_error_answers(client: FlaskClient) -> None:
    """Round 30: `GET` and `PATCH /users/{user_id}` answered 404s the document did not
    list; the routes round 30 added or changed list theirs."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    user = paths["/api/v1/users/{user_id}"]

    assert set(user["get"]["responses"]) >= {"200", "401", "403", "404"}
    assert set(user["patch"]["responses"]) >= {"200", "401", "403", "404", "409", "422"}
    assert "is_active" in user["patch"]["responses"]["422"]["description"]
    forget = paths["/api/v1/users/{user_id}/forget-browsers"]["post"]
    assert set(forget["responses"]) >= {"200", "401", "403", "404", "409"}
    assert "deactivated" in forget["responses"]["409"]["description"]
    two_step = paths["/api/v1/organizations/{organization_id}/two-step"]["post"]
    assert set(two_step["responses"]) >= {"200", "401", "403", "404", "422"}
    accounts = (
        "/api/v1/organizations/",
        "/api/v1/invitations/",
        "/api/v1/users/",
        "/api/v1/tokens/",
    )
    checked = 0
    for path, operations in paths.items():
        if path.startswith(accounts) and "{" in path:
            for method, operation in operations.items():
                if method == "parameters" or operation["tags"] != ["Accounts"]:
                    continue
                assert "404" in operation["responses"], f"{method.upper()} {path}"
                checked += 1
    assert checked >= 15
    answer = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert {"your_two_step", "next_step"} <= set(answer["TwoStepRequired"]["properties"])


def test_deactivating_ones_own_account_names_the_bodys_is_active(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    """Round 29 left it: `errors` named `user`, a field the body does not have."""
    for who in (vendor, admin):
        refused = client.patch(
            f"/api/v1/users/{who.id}", headers=factories.bearer(who), json={"is_active": False}
        )
        assert refused.status_code == 422
        assert refused.get_json()["errors"] == {
            "is_active": ["You cannot deactivate your own account."]
        }
        assert _reloaded(who).is_active


def test_an_administrator_requires_two_step_sign_in_of_the_members_through_the_api(
    client: FlaskClient, vendor: User, other_vendor: User, admin: User
) -> None:
    session = db.session()
    member = factories.make_vendor(session, organization=vendor.organization, role="member")
    organization_id = vendor.organization_id or 0
    path = f"/api/v1/organizations/{organization_id}/two-step"
    administrator = factories.bearer(vendor)

    required = client.post(path, headers=administrator, json={"required": True})

    assert required.status_code == 200, required.get_json()
    assert required.get_json()["two_step_required"] is True
    organization_shown = client.get(
        f"/api/v1/organizations/{organization_id}", headers=administrator
    ).get_json()
    # Round 33: whom it emailed, as the steps on a person say it (`recipients`).
    assert required.get_json() == {
        **organization_shown,
        **_yours(required.get_json()),
        "recipients": [
            {"email": member.email, "audience": "member", "organization_id": organization_id}
        ],
        "emailed_summary": f"emailed 1 member: {member.email}",
    }
    (event,) = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "organization.two_step_required",
            AuditEvent.entity_id == str(organization_id),
        )
    )
    assert event.actor_user_id == vendor.id
    told = session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "two_step_required")
    ).all()
    assert [message.to for message in told] == [[member.email]]
    # Asked again, nothing more is recorded or sent, and the answer says so.
    again = client.post(path, headers=administrator, json={"required": True})
    assert again.status_code == 200
    assert again.get_json()["recipients"] == []
    assert again.get_json()["emailed_summary"] == "emailed nobody: it was already required"
    assert _member_emails_about_two_step() == 1
    assert (
        client.get(f"/api/v1/users/{member.id}", headers=administrator).get_json()["two_step"]
        == "required"
    )

    refusals = {
        "a member": (factories.bearer(member), 403),
        "another organization's administrator": (factories.bearer(other_vendor), 404),
        "an admin": (factories.bearer(admin), 403),
        "the administrator's read token": (_read_token(vendor), 403),
    }
    for caller, (headers, status) in refusals.items():
        refused = client.post(path, headers=headers, json={"required": False})
        assert refused.status_code == status, caller
    assert client.post(path, headers=administrator, json={}).status_code == 422
    organization = session.get(Organization, organization_id, populate_existing=True)
    assert organization is not None
    assert organization.two_step_required is True
    stopped = client.post(path, headers=administrator, json={"required": False})
    assert stopped.get_json()["two_step_required"] is False
    assert stopped.get_json()["recipients"] == []
    # On again within the day: the member was told already, and the answer says whom not.
    on_again = client.post(path, headers=administrator, json={"required": True}).get_json()
    assert on_again["recipients"] == []
    assert on_again["emailed_summary"] == (
        "emailed nobody: the 1 without it was emailed in the last day already"
    )


def test_a_new_billing_email_through_the_api_answers_whom_it_emailed(
    client: FlaskClient, vendor: User
) -> None:
    """Round 33: the PATCH emailed the old and the new billing contact and answered the
    organization only; an administrator's script could not log whom it told."""
    organization_id = vendor.organization_id or 0
    assert vendor.organization is not None
    old_email = vendor.organization.billing_email
    path = f"/api/v1/organizations/{organization_id}"
    administrator = factories.bearer(vendor)

    changed = client.patch(path, headers=administrator, json={"billing_email": "ap@example.org"})

    assert changed.status_code == 200, changed.get_json()
    answer = changed.get_json()
    assert answer["billing_email"] == "ap@example.org"
    assert answer["recipients"] == [
        {"email": old_email, "audience": "billing_contact", "organization_id": organization_id},
        {
            "email": "ap@example.org",
            "audience": "billing_contact",
            "organization_id": organization_id,
        },
    ]
    assert answer["emailed_summary"] == (
        f"emailed the old and the new billing contact: {old_email}, ap@example.org"
    )
    shown = client.get(path, headers=administrator).get_json()
    assert {k: v for k, v in answer.items() if k in shown} == shown
    quiet = client.patch(path, headers=administrator, json={"city": "Elsewhere"}).get_json()
    assert quiet["recipients"] == []
    assert quiet["emailed_summary"] == (
        "emailed nobody: the billing contact's address did not change"
    )


def _yours(answer: dict[str, Any]) -> dict[str, Any]:
    return {"your_two_step": answer["your_two_step"], "next_step": answer["next_step"]}


def test_an_administrator_requiring_two_step_sign_in_without_it_is_told_to_set_it_up(
    app: Flask, client: FlaskClient, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 29 left it: the answer was the organization only, and the administrator
    learned at their next portal page that they were held at the set-up."""
    path = f"/api/v1/organizations/{vendor.organization_id}/two-step"
    administrator = factories.bearer(vendor)

    required = client.post(path, headers=administrator, json={"required": True}).get_json()

    assert required["your_two_step"] == "required"
    assert required["next_step"].startswith(
        "You have not set up two-step sign-in yourself: the next portal page you open asks "
        "you to set it up before anything else"
    )
    assert "/account/two-step/" in required["next_step"]
    assert "Your API tokens keep working" in required["next_step"]
    # As it says: their next portal page is the set-up, and their token still works.
    portal = signed_in(app.test_client(), vendor).get("/portal/")
    assert portal.status_code == 303
    assert portal.headers["Location"].endswith("/account/two-step/")
    assert client.get("/api/v1/me", headers=administrator).status_code == 200
    stopped = client.post(path, headers=administrator, json={"required": False}).get_json()
    assert _yours(stopped) == {"your_two_step": "not_set_up", "next_step": None}


def test_an_administrator_with_two_step_sign_in_requiring_it_has_nothing_more_to_do(
    client: FlaskClient, vendor: User
) -> None:
    turn_on(vendor)
    path = f"/api/v1/organizations/{vendor.organization_id}/two-step"

    required = client.post(path, headers=factories.bearer(vendor), json={"required": True})

    assert _yours(required.get_json()) == {"your_two_step": "on", "next_step": None}


def _member_emails_about_two_step() -> int:
    return db.session().scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.template == "two_step_required")
    )
