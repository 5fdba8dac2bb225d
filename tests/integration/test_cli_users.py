"""`licensing users create-admin EMAIL`: the first admin, from a terminal or a pipe."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import cli as accounts_cli
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent

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
