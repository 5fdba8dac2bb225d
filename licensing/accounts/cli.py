"""`licensing users ...` and `licensing tokens ...`: accounts from the command line."""

from __future__ import annotations

import secrets
import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from licensing import db, job_runs
from licensing.access import ORGANIZATION_ROLES
from licensing.accounts import passwords, queries, services
from licensing.accounts.models import TOKEN_SCOPES, WRITE_SCOPE
from licensing.accounts.services import passkeys as passkey_services
from licensing.actors import operator_login
from licensing.clock import now_option
from licensing.config import current_config
from licensing.errors import DomainError, InvalidInput, NotFound

# The admin `licensing setup` creates in development (example.com never receives mail).
DEVELOPMENT_ADMIN = "admin@example.com"


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


@click.command("create-admin")
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
    sign_in = current_app.config["LICENSING"].public_url + "/sign-in"
    click.echo(f"Admin {user.email} created (user {user.id}); sign in at {sign_in}.")


@click.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ORGANIZATION_ROLES))
@with_appcontext
def set_role(email: str, role: str) -> None:
    """Make a vendor user their organization's administrator, a member or a billing member.

    For an operator recovering an organization (its only administrator left, and
    nobody can reach the console): the same rules as the console and the API (the
    last active administrator stays one), audited as `system` with your login in
    the note, and emailed to the user. Exits 1 when refused (a user whose access
    was removed is not made administrator: an admin reactivates them on their
    account's console page first), 2 on
    a bad argument.
    """
    note = f"licensing users set-role on the command line (user {operator_login()})"
    try:
        user, before = services.set_organization_role_by_email(email, role, note=note)
    except DomainError as error:
        raise click.ClickException(_refusal(error)) from None
    organization = user.organization.legal_name if user.organization else "their organization"
    role_words = services.with_article(role)
    if before is None:
        click.echo(f"{user.email} is already {role_words} of {organization}; nothing changed.")
        return
    click.echo(
        f"{user.name_and_email} is now {role_words} of {organization} "
        f"(was {services.with_article(before)}); they are emailed."
    )
    if not user.is_active:
        click.echo(
            f"{user.email} cannot sign in: their access was removed (an admin restores it "
            "with Reactivate on their account's page in the console, linked from their "
            "organization's page).",
            err=True,
        )


@click.command("two-step-off")
@click.argument("email")
@click.option("--reason", required=True, help="Why (audited, and emailed to the user).")
@with_appcontext
def two_step_off(email: str, reason: str) -> None:
    """Turn off a user's two-step sign-in (a lost phone and no recovery code).

    For an operator when no admin can do it on the console (the only admin lost
    theirs): audited as `system` with the reason and your login, and emailed to the
    user. Exits 1 when refused (no such user, or it is already off).
    """
    by = f"licensing users two-step-off on the command line, user {operator_login()}"
    try:
        user = services.turn_off_two_step_by_email(email, reason, by=by)
    except DomainError as error:
        raise click.ClickException(_refusal(error)) from None
    click.echo(
        f"Two-step sign-in is off for {user.name_and_email}, and any passkey of theirs is "
        "removed (a lost device may carry one); they are emailed, and sign in with their "
        "password alone until they set it up again."
    )


@click.command("remove-passkeys")
@click.argument("email")
@click.option("--reason", required=True, help="Why (audited, and emailed to the user).")
@click.option("--name", default=None, help="The passkey's name; every passkey without it.")
@with_appcontext
def remove_passkeys(email: str, reason: str, name: str | None) -> None:
    """Remove a user's passkeys (a lost or stolen device), or the one named.

    Beside `two-step-off`, for an operator when no admin can do it on the console:
    every session of the account ends, audited as `system` with the reason and your
    login, and emailed to the user. Exits 1 when refused (no such user or passkey,
    or none to remove).
    """
    by = f"licensing users remove-passkeys on the command line, user {operator_login()}"
    try:
        done = passkey_services.remove_passkeys_by_email(email, reason, name=name, by=by)
    except DomainError as error:
        raise click.ClickException(_refusal(error)) from None
    click.echo(
        f"Removed {len(done.names)} {'passkey' if len(done.names) == 1 else 'passkeys'} "
        f"({', '.join(done.names)}) of {done.user.name_and_email} and ended every session "
        "of the account; they are emailed, and sign in with their password."
    )


@click.command("move")
@click.argument("email")
@click.option(
    "--to",
    "organization",
    required=True,
    metavar="ORGANIZATION",
    help="The organization it moves to: its legal name (any case) or its id.",
)
@click.option(
    "--from",
    "leaving",
    metavar="ORGANIZATION",
    help="The organization they act for now, by legal name (any case) or id: an account "
    "that acts for another one is not moved (a move already made is not made again).",
)
@click.option("--reason", required=True, help="Why (audited, and emailed to the person).")
@with_appcontext
def move(email: str, organization: str, reason: str, leaving: str | None) -> None:
    """Move a vendor user's account to another organization (a new employer).

    The console's move, for an operator (a batch of moves, or no admin at hand):
    the same checks (not the last active administrator, not the billing contact,
    not to a closed organization), audited `user.moved` as `system` with the reason
    and your login; sessions and API tokens end, the role becomes billing member,
    and the person and both organizations' administrators are emailed. `--from`
    (round 52, the API's `expected_organization`) names where they act now: an account
    that acts elsewhere is not moved. Exits 1 when refused, 2 on a bad argument (an
    organization no name or id finds, or a name several have: the error lists them
    with their ids).
    """
    by = f"licensing users move on the command line, user {operator_login()}"
    organization_id = organization_given(organization, "--to")
    expected = None if leaving is None else organization_given(leaving, "--from")
    try:
        moved = services.move_user_by_email(email, organization_id, reason, by=by, leaving=expected)
    except services.MovedMeanwhile as error:
        raise click.ClickException(_acts_elsewhere(error, organization_id, expected)) from None
    except DomainError as error:
        raise click.ClickException(_refusal(error)) from None
    told = services.who_is_told("they", (moved.left, moved.joined), moved.administrators_told)
    click.echo(
        f"{moved.user.name_and_email} now acts for {moved.joined.legal_name} "
        f"(left {moved.left.legal_name}) as {services.with_article(moved.user.organization_role)}: "
        f"signed out everywhere, {len(moved.tokens)} API token(s) revoked, "
        f"{moved.invitations} invitation(s) withdrawn; emailed: {told}."
    )


def _acts_elsewhere(error: services.MovedMeanwhile, to: int, expected: int | None) -> str:
    """The refusal of `--from` an organization the account no longer acts for, in a
    command's words (the console's "open their page again" means nothing here)."""
    where = f"{error.full_name}'s account acts for organization {error.organization_id}"
    if error.organization_id == to:
        return f"{where} already: a move made before went through; nothing was done again."
    return (
        f"{where}, not organization {expected} (--from): it was moved meanwhile, or "
        "--from is wrong. Nothing was moved."
    )


def organization_given(text: str, option: str) -> int:
    """The id of the organization an option names by legal name or id
    (`services.organization_named`); else a usage error (exit 2) listing the
    candidates with their ids."""
    try:
        return services.organization_named(text)
    except DomainError as error:
        raise click.BadParameter(_refusal(error), param_hint=option) from None


def _refusal(error: DomainError) -> str:
    """A domain refusal as one line: each field's messages, else its detail."""
    problems = "; ".join(" ".join(messages) for messages in getattr(error, "errors", {}).values())
    return problems or error.detail


@click.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for (e.g. the system that uses it).")
@click.option(
    "--scope",
    type=click.Choice(TOKEN_SCOPES),
    default=WRITE_SCOPE,
    show_default=True,
    help="read: GET and HEAD only (and the POSTs that store nothing); write: everything "
    "the user may do.",
)
@click.option(
    "--expires-in",
    "expires_in",
    type=click.Choice([str(days) for days in services.EXPIRY_DAYS]),
    default=str(services.DEFAULT_EXPIRY_DAYS),
    show_default=True,
    metavar="DAYS",
    help="Days until the token stops working: "
    + ", ".join(str(days) for days in services.EXPIRY_DAYS)
    + ". The user is emailed a week before.",
)
@with_appcontext
def create_token(email: str, name: str, scope: str, expires_in: str) -> None:
    """Print a new API token for an existing active user (shown once; audited).

    For operations and automation: a script can then drive the API as that user,
    e.g. file royalty reports (scope `write`, the default here, as a script made
    for that needs it). Only the token goes to standard output, so
    `TOKEN=$(licensing tokens create ...)` keeps it; when it expires and what it
    may do go to standard error.
    """
    try:
        token, secret = services.create_api_token_for(
            email, name, scope=scope, expires_in_days=int(expires_in)
        )
    except (InvalidInput, NotFound) as error:
        problems = "; ".join(
            f"{field}: {' '.join(messages)}"
            for field, messages in getattr(error, "errors", {}).items()
        )
        raise click.ClickException(problems or error.detail) from None
    click.echo(secret)
    expires = token.expires_at.isoformat(timespec="seconds") if token.expires_at else "never"
    click.echo(f"Scope {token.scope}; expires {expires}.", err=True)


def remind_expiring(now: datetime | None = None) -> str:
    """The `tokens remind` job, for the command and the worker."""
    reminded = services.remind_expiring_tokens(now)
    return f"{len(reminded)} owner(s) told a token expires within a week" + (
        f" ({', '.join(reminded)})." if reminded else "."
    )


@click.command("remind")
@now_option
@with_appcontext
def remind(now: datetime) -> None:
    """Email each API token's owner, once, a week before the token expires: which
    token, when it was last used and how to rotate it.

    Idempotent and safe on several hosts at once: tokens are claimed with
    FOR NO KEY UPDATE SKIP LOCKED on PostgreSQL, and each carries its own marker.
    """
    click.echo(job_runs.closing(remind_expiring(now)))


def prune_browsers_due(now: datetime | None = None) -> str:
    """The `users prune-browsers` job, for the command and the worker."""
    days = current_config().two_step_remember_days
    deleted = services.delete_expired_browsers(days, now=now)
    if days == 0:
        return (
            f"{deleted} remembered browser(s) deleted: remembering is off "
            "(TWO_STEP_REMEMBER_DAYS=0)."
        )
    return f"{deleted} remembered browser(s) past their date deleted."


@click.command("prune-browsers")
@now_option
@with_appcontext
def prune_browsers(now: datetime) -> None:
    """Delete the browsers remembered for two-step sign-in whose time ran out (they
    ask for the code already; their rows only wait). At most 10,000 a run.

    Idempotent and safe on several hosts at once.
    """
    click.echo(job_runs.closing(prune_browsers_due(now)))


def first_admin() -> str:
    """`licensing setup`: say how to sign in as an admin.

    In development, when there is no admin yet, create one with a generated
    password, printed this once (a lost one: `licensing users create-admin`, or
    a password reset read in the development mail viewer). Elsewhere, never
    create one: say how.
    """
    config = current_app.config["LICENSING"]
    if queries.active_admin_count(db.session()):
        return "an admin exists; add another with `licensing users create-admin EMAIL`"
    if config.environment != "development":
        return "none yet; create the first with `licensing users create-admin EMAIL`"
    password = secrets.token_urlsafe(15)
    try:
        user = services.create_admin(DEVELOPMENT_ADMIN, password, full_name="Development admin")
    except InvalidInput as error:
        problems = "; ".join(" ".join(messages) for messages in error.errors.values())
        return f"could not create {DEVELOPMENT_ADMIN} ({problems or error.detail}); " + (
            "create one with `licensing users create-admin EMAIL`"
        )
    return (
        f"created {user.email} with password {password} (development only; shown this once) "
        f"- sign in at {config.public_url}/sign-in"
    )
