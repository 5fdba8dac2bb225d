"""`licensing users ...`: accounts from the command line."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from licensing.accounts import passwords, services
from licensing.errors import InvalidInput


@click.group("users")
def users_group() -> None:
    """User accounts."""


def stdin_is_interactive() -> bool:
    """True when a person types at a terminal (then the password is prompted for)."""
    return sys.stdin.isatty()


def _read_password() -> str:
    if stdin_is_interactive():
        click.echo(passwords.RULE)
        password: str = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
        return password
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("Expected the password on standard input (one line).")
    return line.rstrip("\r\n")


@users_group.command("create-admin")
@click.argument("email")
@click.option(
    "--name", "full_name", default="Administrator", show_default=True, help="The admin's full name."
)
@with_appcontext
def create_admin(email: str, full_name: str) -> None:
    """Create an admin account, e.g. the first one.

    Prompts for the password (twice) at a terminal; otherwise reads one line
    from standard input: `printf '%s\\n' "$PASSWORD" | licensing users create-admin EMAIL`.
    """
    password = _read_password()
    try:
        user = services.create_admin(email, password, full_name=full_name)
    except InvalidInput as error:
        problems = "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.errors.items()
        )
        raise click.ClickException(problems or error.detail) from None
    click.echo(f"Admin {user.email} created (user {user.id}); sign in at /sign-in.")
