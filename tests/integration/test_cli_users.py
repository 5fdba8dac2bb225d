"""`licensing users create-admin EMAIL`: the first admin, from a terminal or a pipe;
`licensing users set-role EMAIL ROLE`: a vendor user's role, for an operator."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import cli as accounts_cli
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.support import factories

EMAIL = "first-admin@licensing-office.example"
PASSWORD = "copper-lighthouse-meadow-27"


def _admin() -> User | None:
    return db.session().scalars(select(User).where(User.email == EMAIL)).one_or_none()


def test_create_admin_reads_one_line_from_standard_input_when_it_is_not_a_terminal(
    app: Flask,
) -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", EMAIL], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert f"Admin {EMAIL} created" in result.output
    # The whole address, as `setup` gives it: "/sign-in" alone named no server.
    assert "sign in at http://testserver/sign-in." in result.output
    user = _admin()
    assert user is not None
    assert user.roles == frozenset({"admin"})
    assert user.email_verified_at is not None
    assert services.sign_in(EMAIL, PASSWORD).id == user.id
    event = (
        db.session().scalars(select(AuditEvent).where(AuditEvent.action == "user.created")).one()
    )
    assert event.actor == "system"


def test_create_admin_prompts_twice_at_a_terminal(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts_cli, "stdin_is_interactive", lambda: True)
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", EMAIL, "--name", "Dana Whitfield"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert "Repeat the password:" in result.output
    assert PASSWORD not in result.output
    user = _admin()
    assert user is not None
    assert user.full_name == "Dana Whitfield"


def test_create_admin_asks_again_when_the_two_passwords_differ(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts_cli, "stdin_is_interactive", lambda: True)
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", EMAIL],
        input=f"{PASSWORD}\nsomething-else-entirely\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert _admin() is not None


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        (EMAIL, "short", "at least 12 characters"),
        (EMAIL, "password1234", "commonly used"),
        ("not-an-email", PASSWORD, "not an email address"),
    ],
)
def test_create_admin_refuses_bad_input_and_creates_nothing(
    app: Flask, email: str, password: str, message: str
) -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", email], input=f"{password}\n"
    )
    assert result.exit_code == 1
    assert message in result.output
    assert db.session().scalars(select(User)).all() == []


def test_create_admin_refuses_a_taken_email(app: Flask) -> None:
    services.create_admin(EMAIL, PASSWORD)
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", EMAIL.upper()], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 1
    assert "already uses this email address" in result.output


def test_create_admin_needs_a_password_on_standard_input(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["users", "create-admin", EMAIL], input="")
    assert result.exit_code == 1
    assert "Expected the password on standard input" in result.output
    assert _admin() is None


# --- set-role -------------------------------------------------------------------------


def _role_changes() -> list[AuditEvent]:
    return list(
        db.session().scalars(select(AuditEvent).where(AuditEvent.action == "user.role_changed"))
    )


def _fresh(user: User) -> User:
    found = db.session().get(User, user.id, populate_existing=True)
    assert found is not None
    return found


def test_set_role_makes_a_member_administrator_as_the_system_and_emails_them(
    app: Flask, vendor: User
) -> None:
    # The only administrator left and nobody can reach the console: the operator
    # recovers the organization.
    member = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    db.session().commit()
    result = app.test_cli_runner().invoke(
        args=["users", "set-role", member.email.upper(), "administrator"]
    )
    assert result.exit_code == 0, result.output
    organization = vendor.organization.legal_name
    assert (
        f"{member.full_name} ({member.email}) is now an administrator of {organization} "
        "(was a member); they are emailed." in result.output
    )
    assert _fresh(member).organization_role == "administrator"
    (event,) = _role_changes()
    assert event.actor == "system"
    assert event.changes() == [("organization_role", "member", "administrator")]
    assert event.note is not None
    assert event.note.startswith("licensing users set-role on the command line (user ")
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "role_changed")
    )
    assert mail.to == [member.email]
    assert "The CPT Licensing Office made you an administrator" in " ".join(mail.body_text.split())

    again = app.test_cli_runner().invoke(args=["users", "set-role", member.email, "administrator"])
    assert again.exit_code == 0, again.output
    assert "is already an administrator" in again.output
    assert "nothing changed" in again.output


def test_set_role_keeps_the_last_administrator_and_exits_1_with_the_reason(
    app: Flask, vendor: User
) -> None:
    result = app.test_cli_runner().invoke(args=["users", "set-role", vendor.email, "member"])
    assert result.exit_code == 1
    assert (
        f"{vendor.full_name} is the last active administrator of "
        f"{vendor.organization.legal_name}, which always keeps one" in result.output
    )
    assert _fresh(vendor).organization_role == "administrator"
    assert not _role_changes()


@pytest.mark.parametrize(
    ("who", "role", "exit_code", "said"),
    [
        ("nobody@tidewater.example", "member", 1, "There is no user nobody@tidewater.example."),
        ("staff", "administrator", 1, "Staff accounts have staff roles"),
        ("vendor", "owner", 2, "'owner' is not one of 'administrator', 'member'"),
    ],
)
def test_set_role_refuses_an_unknown_user_a_staff_account_and_an_unknown_role(
    app: Flask, vendor: User, admin: User, who: str, role: str, exit_code: int, said: str
) -> None:
    email = {"staff": admin.email, "vendor": vendor.email}.get(who, who)
    result = app.test_cli_runner().invoke(args=["users", "set-role", email, role])
    assert result.exit_code == exit_code
    assert said in result.output
    assert not _role_changes()


def test_set_role_does_not_make_a_user_whose_access_was_removed_administrator(
    app: Flask, vendor: User
) -> None:
    # Warned and changed, they were counted as the organization's administrator
    # while nobody could act: the API and the console refuse it too.
    member = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    member.is_active = False
    db.session().commit()
    result = app.test_cli_runner().invoke(args=["users", "set-role", member.email, "administrator"])
    assert result.exit_code == 1
    assert "their access was removed, so they cannot sign in. Restore their access first" in (
        result.output
    )
    assert _fresh(member).organization_role == "member"
    assert not _role_changes()


def test_set_role_makes_a_user_whose_access_was_removed_a_member_and_warns(
    app: Flask, vendor: User
) -> None:
    former = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    former.is_active = False
    db.session().commit()
    result = app.test_cli_runner().invoke(args=["users", "set-role", former.email, "member"])
    assert result.exit_code == 0, result.output
    assert f"{former.email} cannot sign in: their access was removed" in result.stderr
    assert _fresh(former).organization_role == "member"


def test_set_roles_warning_names_the_page_that_restores_access(
    app: Flask, vendor: User, admin: User, signed_in: Any
) -> None:
    """It said "restore it on the console's organization page", which has no such
    button: *Reactivate* is on the account's own console page."""
    former = factories.make_vendor(db.session(), organization=vendor.organization)
    former.is_active = False
    db.session().commit()
    result = app.test_cli_runner().invoke(args=["users", "set-role", former.email, "billing"])
    assert result.exit_code == 0, result.output
    assert "with Reactivate on their account's page in the console" in result.stderr
    console = signed_in(app.test_client(), admin)
    assert ">Reactivate</button>" in console.get(f"/console/users/{former.id}").get_data(
        as_text=True
    )
    organization_page = console.get(f"/console/organizations/{vendor.organization_id}")
    assert ">Reactivate</button>" not in organization_page.get_data(as_text=True)
