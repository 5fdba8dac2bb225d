"""A person moves to another organization: an admin moves their account from the
console, with a reason. Before, the office created a second account under a new
address and the old one kept its access."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements.models import Application
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import STAFF_USE
from tests.support import factories

SignIn = Callable[..., FlaskClient]
REASON = "Joined Harbor Analytics as a consultant."


def _reloaded(user: User) -> User:
    found = db.session().get(User, user.id, populate_existing=True)
    assert found is not None
    return found


def _asked(console: FlaskClient, user: User, organization_id: int, **more: str) -> Any:
    """The move's form posted from the user's console page (`confirmed="yes"` to
    answer the confirmation it asks first)."""
    return console.post(
        f"/console/users/{user.id}/organization",
        data={"organization": str(organization_id), "reason": REASON, **more},
    )


def _moved(console: FlaskClient, user: User, organization_id: int) -> Any:
    """Ask for the move on the user's console page, then confirm it."""
    asked = _asked(console, user, organization_id)
    assert asked.status_code == 200, asked.get_data(as_text=True)[:3000]
    assert "Move the account" in asked.get_data(as_text=True)
    return _asked(console, user, organization_id, confirmed="yes")


def _emails(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(select(OutboxMessage).where(OutboxMessage.template == template))
    )


def _words(page: Any) -> str:
    return _words_of(page.get_data(as_text=True))


def _words_of(markup: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(markup)).split())


def test_an_admin_moves_a_member_to_another_organization_and_everything_follows(
    app: Flask,
    apply: Callable[..., Application],
    vendor: User,
    other_vendor: User,
    admin: User,
    signed_in: SignIn,
) -> None:
    session = db.session()
    colleague = factories.make_vendor(
        session, organization=vendor.organization, role="administrator", full_name="Ana Ruiz"
    )
    application = apply(colleague, STAFF_USE)
    invitation = accounts.invite_member(
        colleague.organization_id or 0,
        "newcomer@northwind.example",
        Actor.of(accounts.principal_for(colleague)),
    )
    token = factories.bearer(colleague)
    browser = signed_in(app.test_client(), colleague)
    left = colleague.organization_id

    console = signed_in(app.test_client(), admin)
    moved = _moved(console, colleague, other_vendor.organization_id or 0)

    assert moved.status_code == 302
    user = _reloaded(colleague)
    assert user.organization_id == other_vendor.organization_id
    assert user.organization_role == "billing"
    # Sessions and tokens end.
    assert browser.get("/portal/").status_code in (302, 303)
    assert app.test_client().get("/api/v1/me", headers=token).status_code == 401
    # Invitations sent for the old organization are withdrawn.
    session.refresh(invitation)
    assert invitation.revoked_at is not None
    # Audited with the reason, what it was and what it is.
    (event,) = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "user.moved", AuditEvent.entity_id == str(user.id)
        )
    )
    assert event.note == REASON
    assert json.loads(event.before) == {
        "organization_id": left,
        "organization_role": "administrator",
    }
    assert json.loads(event.after) == {
        "organization_id": other_vendor.organization_id,
        "organization_role": "billing",
    }
    # The user's history names both organizations, not their ids.
    assert vendor.organization is not None
    assert other_vendor.organization is not None
    history = _words(console.get(f"/console/users/{user.id}"))
    moved_between = f"{vendor.organization.legal_name} → {other_vendor.organization.legal_name}"
    assert moved_between in history
    # The person and both organizations' administrators are told.
    told = {tuple(message.to) for message in _emails("account_moved")}
    assert told == {(user.email,), (vendor.email,), (other_vendor.email,)}
    # What they did stays the old organization's, and they no longer see it.
    session.refresh(application)
    assert application.organization_id == left
    again = signed_in(app.test_client(), user)
    assert again.get(f"/portal/applications/{application.id}").status_code in (403, 404)
    assert other_vendor.organization is not None
    assert other_vendor.organization.legal_name in _words(again.get("/organization"))
    new_token = factories.bearer(user)
    assert (
        app.test_client().get(f"/api/v1/organizations/{left}", headers=new_token).status_code == 404
    )


def test_the_last_administrator_is_not_moved_and_the_page_says_why(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    console = signed_in(app.test_client(), admin)

    refused = _asked(console, vendor, other_vendor.organization_id or 0)

    assert refused.status_code == 409
    assert "is the last active administrator of" in _words(refused)
    assert _reloaded(vendor).organization_id != other_vendor.organization_id
    assert not _emails("account_moved")
    page = console.get(f"/console/users/{vendor.id}")
    assert 'id="move-refused"' in page.get_data(as_text=True)
    assert 'id="move-organization"' not in page.get_data(as_text=True)


def test_the_billing_contact_moves_only_once_the_contact_changed(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization, role="billing")
    organization = session.get(Organization, vendor.organization_id)
    assert organization is not None
    organization.billing_email = clerk.email
    session.commit()
    console = signed_in(app.test_client(), admin)

    refused = _asked(console, clerk, other_vendor.organization_id or 0)

    assert refused.status_code == 409
    assert "billing contact" in _words(refused)
    assert _reloaded(clerk).organization_id == vendor.organization_id


def test_no_move_to_a_closed_organization_to_its_own_or_of_a_staff_account(
    app: Flask,
    vendor: User,
    licensing_staff: User,
    admin: User,
    signed_in: SignIn,
) -> None:
    session = db.session()
    colleague = factories.make_vendor(session, organization=vendor.organization, role="member")
    closed = factories.make_organization(session, standing="closed")
    session.commit()
    console = signed_in(app.test_client(), admin)

    def move(user: User, organization_id: int) -> Any:
        return _asked(console, user, organization_id)

    to_closed = move(colleague, closed.id)
    assert to_closed.status_code == 409
    assert "closed" in _words(to_closed)
    assert move(colleague, vendor.organization_id or 0).status_code == 422
    assert "already acts for that organization" in _words(
        move(colleague, vendor.organization_id or 0)
    )
    assert move(licensing_staff, closed.id).status_code == 422
    assert move(colleague, 987654).status_code == 422
    assert _reloaded(colleague).organization_id == vendor.organization_id
    assert not _emails("account_moved")


def test_only_admins_move_an_account(
    app: Flask, vendor: User, other_vendor: User, licensing_staff: User, signed_in: SignIn
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    console = signed_in(app.test_client(), licensing_staff)
    refused = _asked(console, colleague, other_vendor.organization_id or 0)
    assert refused.status_code == 403
    assert _reloaded(colleague).organization_id == vendor.organization_id


def test_an_account_whose_access_was_removed_moves_still_without_access(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    """The usual case: the old employer removed their access when they left, and the
    new one asks the office for them. The move keeps the access removed (only the
    office restores it), and settles the new organization's invitation to them."""
    session = db.session()
    leaver = factories.make_vendor(session, organization=vendor.organization, role="member")
    accounts.set_user_active(leaver.id, False, Actor.of(accounts.principal_for(vendor)))
    invitation = accounts.invite_member(
        other_vendor.organization_id or 0,
        leaver.email,
        Actor.of(accounts.principal_for(other_vendor)),
    )

    moved = _moved(signed_in(app.test_client(), admin), leaver, other_vendor.organization_id or 0)

    assert moved.status_code == 302
    user = _reloaded(leaver)
    assert user.organization_id == other_vendor.organization_id
    assert not user.is_active
    # Neither organization's administrators restore it: the office does.
    assert not accounts.restorable_members(session, [user])
    session.refresh(invitation)
    assert invitation.revoked_at is not None
    (to_them,) = [m for m in _emails("account_moved") if m.to == [user.email]]
    assert "Your access stays removed" in to_them.body_text
    (to_new,) = [m for m in _emails("account_moved") if m.to == [other_vendor.email]]
    assert "stays removed until the licensing office restores it" in to_new.body_text


def test_an_account_moved_meanwhile_is_not_moved_on_from_a_page_drawn_before(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Two admins at one user's page: the second's move, confirmed after the first,
    would have moved the account on from where the first put it."""
    session = db.session()
    colleague = factories.make_vendor(session, organization=vendor.organization, role="member")
    third = factories.make_organization(session)
    session.commit()
    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/users/{colleague.id}").get_data(as_text=True)
    assert f'name="leaving" value="{vendor.organization_id}"' in page
    accounts.move_user(
        colleague.id, other_vendor.organization_id, REASON, Actor.of(accounts.principal_for(admin))
    )

    late = _asked(
        console, colleague, third.id, leaving=str(vendor.organization_id), confirmed="yes"
    )

    assert late.status_code == 409
    assert "moved to another organization meanwhile" in _words(late)
    assert _reloaded(colleague).organization_id == other_vendor.organization_id


def test_both_organizations_console_histories_list_the_move_naming_the_person(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Round 27: a move is the user's audit event, so only the user's history listed
    it; the organizations' histories are where staff look for who left and joined."""
    clerk = factories.make_vendor(
        db.session(), organization=vendor.organization, role="billing", full_name="Ana Ruiz"
    )
    console = signed_in(app.test_client(), admin)
    assert _moved(console, clerk, other_vendor.organization_id or 0).status_code == 302
    assert vendor.organization is not None
    assert other_vendor.organization is not None
    moved_between = f"{vendor.organization.legal_name} → {other_vendor.organization.legal_name}"

    for organization_id in (vendor.organization_id, other_vendor.organization_id):
        page = console.get(f"/console/organizations/{organization_id}")
        history = page.get_data(as_text=True).split('id="history"')[1]
        assert f'<a href="/console/users/{clerk.id}">Ana Ruiz ({clerk.email})</a>' in history
        assert moved_between in _words_of(history)
        assert REASON in _words_of(history)


def test_a_move_to_an_organization_without_an_active_administrator_says_whom_it_emailed(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization, role="billing")
    removed = factories.make_vendor(session)  # its only user, access removed
    removed.is_active = False
    session.commit()
    destination = removed.organization
    assert destination is not None
    assert vendor.organization is not None
    console = signed_in(app.test_client(), admin)

    asked = _asked(console, clerk, destination.id)
    moved = _asked(console, clerk, destination.id, confirmed="yes")

    expected = (
        f"they, and {vendor.organization.legal_name}'s administrators "
        f"({destination.legal_name} has no active administrator to tell)"
    )
    assert f"Emailed: T{expected[1:]}" in _words(asked)
    assert f"emailed: {expected}." in _words(console.get(moved.headers["Location"]))
    told = {tuple(message.to) for message in _emails("account_moved")}
    assert told == {(clerk.email,), (vendor.email,)}


def test_an_operator_moves_an_account_with_the_command_through_the_same_service(
    app: Flask, vendor: User, other_vendor: User
) -> None:
    clerk = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    db.session().commit()
    token = factories.bearer(clerk)
    assert other_vendor.organization is not None
    assert vendor.organization is not None
    joined = other_vendor.organization.legal_name

    to = str(other_vendor.organization_id)
    result = app.test_cli_runner().invoke(
        args=["users", "move", clerk.email.upper(), "--to", to, "--reason", REASON]
    )

    assert result.exit_code == 0, result.output
    assert (
        f"{clerk.full_name} ({clerk.email}) now acts for {joined} "
        f"(left {vendor.organization.legal_name}) as a billing member: signed out everywhere, "
        "1 API token(s) revoked, 0 invitation(s) withdrawn; emailed: they, and both "
        "organizations' administrators." in result.output
    )
    user = _reloaded(clerk)
    assert user.organization_id == other_vendor.organization_id
    assert user.organization_role == "billing"
    assert app.test_client().get("/api/v1/me", headers=token).status_code == 401
    (event,) = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "user.moved"))
    assert event.actor == "system"
    assert event.note is not None
    assert event.note.startswith(f"{REASON} (licensing users move on the command line, user ")
    (told,) = [m for m in _emails("account_moved") if m.to == [clerk.email]]
    assert REASON in " ".join(told.body_text.split())
    assert "command line" not in told.body_text


def test_the_command_refuses_as_the_console_does_and_exits_1_with_the_reason(
    app: Flask, vendor: User, other_vendor: User
) -> None:
    to = str(other_vendor.organization_id)
    refusals = [
        ([vendor.email, "--to", to], "is the last active administrator of"),
        (["nobody@tidewater.example", "--to", to], "There is no user nobody@tidewater.example."),
        ([other_vendor.email, "--to", "99999"], "There is no organization 99999."),
    ]
    for arguments, said in refusals:
        result = app.test_cli_runner().invoke(
            args=["users", "move", *arguments, "--reason", REASON]
        )
        assert result.exit_code == 1, result.output
        assert said in result.output
    bad = app.test_cli_runner().invoke(args=["users", "move", vendor.email, "--to", "north"])
    assert bad.exit_code == 2
    assert _reloaded(vendor).organization_id != other_vendor.organization_id
    assert not _emails("account_moved")


def test_a_person_moved_to_an_organization_requiring_two_step_sign_in_is_told_they_will_set_it_up(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Round 28: the person's email said "sign in again with the same address and
    password (and your two-step sign-in, if you use it)"; their first sign-in then
    stopped at a set-up nobody had mentioned, and the new organization's
    administrators were not told why the newcomer opened none of its pages yet."""
    clerk = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    assert other_vendor.organization is not None
    other_vendor.organization.two_step_required = True
    db.session().commit()
    joined = other_vendor.organization.legal_name

    assert (
        _moved(signed_in(app.test_client(), admin), clerk, other_vendor.organization.id).status_code
        == 302
    )

    (person,) = [m for m in _emails("account_moved") if m.to == [clerk.email]]
    (administrators,) = [m for m in _emails("account_moved") if m.to == [other_vendor.email]]
    assert (
        f"{joined} requires two-step sign-in of its members: after your password you are "
        "asked to set it up (with an authenticator app on your phone) before its pages open."
    ) in " ".join(person.body_text.split())
    assert "if you use it" not in person.body_text
    assert (
        f"{joined} requires two-step sign-in, so they are asked to set it up at their next "
        "sign-in; until then they open none of its pages."
    ) in " ".join(administrators.body_text.split())
    # Where their role is changed, not the portal's dashboard.
    assert (
        "change their role on the portal's Organization page:\nhttp://testserver/organization\n"
        in (administrators.body_text)
    )


def test_a_person_moved_with_api_tokens_is_given_the_link_to_make_new_ones(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Round 29: the person's email said to create new API tokens "on your API tokens
    page" without saying where that page is."""
    session = db.session()
    colleague = factories.make_vendor(session, organization=vendor.organization, role="billing")
    factories.bearer(colleague)

    moved = _moved(
        signed_in(app.test_client(), admin), colleague, other_vendor.organization_id or 0
    )

    assert moved.status_code == 302
    (to_them,) = [m for m in _emails("account_moved") if m.to == [colleague.email]]
    assert "on your API tokens page once you are signed in:" in to_them.body_text
    assert re.search(r"^https?://\S+/account/tokens$", to_them.body_text, re.MULTILINE), (
        to_them.body_text
    )
