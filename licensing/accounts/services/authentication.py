"""Signing in and out, with a lockout after repeated failures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import passwords, queries
from licensing.accounts.models import User
from licensing.accounts.services import remembered_browsers
from licensing.accounts.services._common import _user_actor, normalize_email
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import AuthenticationRequired, InvalidInput, PermissionDenied
from licensing.links import links
from licensing.mail import services as mail

# Sign-in lockout, per account, in the database: after this many failures in a
# row the account is locked for LOCKOUT_PERIOD (a password reset unlocks it).
LOCKOUT_THRESHOLD = 5

LOCKOUT_PERIOD = timedelta(minutes=15)

# How a refusal to sign in with an unconfirmed address begins (pages offer a new link).
UNCONFIRMED_EMAIL = "Confirm your email address first"

# The right password (or a passkey, round 44) for an account whose access was removed.
DEACTIVATED = (
    "This account has been deactivated. Contact the licensing office, or a colleague who "
    "manages your organization's members."
)

# One answer for an unknown address, a wrong password and a locked account, so
# that neither the status nor the words tell whether an address has an account.
# The owner of a locked account learns of the lock by email.
SIGN_IN_REFUSED = (
    "The email or password is incorrect. After "
    f"{LOCKOUT_THRESHOLD} failed attempts in a row an account is locked for "
    f"{int(LOCKOUT_PERIOD.total_seconds() // 60)} minutes and its owner is emailed."
)


@dataclass(frozen=True)
class PasswordAccepted:
    """The right password: the user, and whether the second step (the code) is
    still to come, or was skipped on a remembered browser."""

    user: User
    code_due: bool


def sign_in(email: str, password: str, *, now: datetime | None = None) -> User:
    """Check a password; the user to sign in, or a refusal (`sign_in_from`, with
    no remembered browser)."""
    return sign_in_from(email, password, (), 0, now=now).user


def sign_in_from(
    email: str,
    password: str,
    browser_tokens: Sequence[str],
    remember_days: int,
    *,
    now: datetime | None = None,
) -> PasswordAccepted:
    """Check a password, on a browser that may be remembered for two-step sign-in
    (`browser_tokens`, its cookie's: one for each account remembered there;
    `remember_days`, how long a remembered browser is trusted, 0 for never): the
    user and whether the code is still due.

    Raises `AuthenticationRequired` with the same message (`SIGN_IN_REFUSED`)
    for an unknown email, a wrong password, and any password while the account
    is locked after `LOCKOUT_THRESHOLD` failures in a row; each of these checks
    a password hash, so they also take as long. `PermissionDenied` for an
    unconfirmed email or a deactivated account (only with the right password).
    Failures are counted in the database, so the lockout holds across processes.
    A remembered browser changes none of this: it only skips the code after the
    right password, for the account it was remembered for.
    """
    moment = now or utcnow()
    refusal: Exception | None = None
    code_due = False
    with db.transaction() as session:
        try:
            address = normalize_email(email)
        except InvalidInput:
            address = ""
        user = queries.user_by_email(session, address) if address else None
        if user is None:
            passwords.waste_time_like_a_verification(password)
            refusal = AuthenticationRequired(SIGN_IN_REFUSED)
        elif user.is_locked(moment):
            passwords.verify_password(user.password_hash, password)  # the same work
            refusal = AuthenticationRequired(SIGN_IN_REFUSED)
        elif not passwords.verify_password(user.password_hash, password):
            _count_failure(session, user, moment)
            refusal = AuthenticationRequired(SIGN_IN_REFUSED)
        elif not user.is_active:
            refusal = PermissionDenied(DEACTIVATED)
        elif not user.email_verified:
            refusal = PermissionDenied(
                f"{UNCONFIRMED_EMAIL}: follow the link we sent to {user.email}. "
                "No email? Ask for a new link."
            )
        else:
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(password)
            # With two-step sign-in the failures in a row count on until the code
            # is right (`services.second_step`): reset here, each right password
            # would buy 4 more guesses at the code. A remembered browser is the
            # second step passed (its token, 256 bits, is the factor), so no code
            # will be guessed: the count starts again as after a right code.
            code_due = user.two_step_enabled and (
                remembered_browsers.recognised_browser(
                    session, user, browser_tokens, remember_days, moment
                )
                is None
            )
            if not code_due:
                user.failed_login_count = 0
                user.locked_until = None
                user.last_sign_in_at = moment
    if refusal is not None:
        raise refusal
    assert user is not None
    return PasswordAccepted(user, code_due)


def _count_failure(
    session: Session, user: User, now: datetime, *, after_password: bool = False
) -> None:
    """One more failure in a row; at `LOCKOUT_THRESHOLD` the account is locked,
    audited, and its owner emailed (the only place a lock is announced).
    `after_password`: this failure was a wrong two-step code given after the right
    password, so whoever typed it knows the password, and the email says so."""
    user.failed_login_count += 1
    if user.failed_login_count < LOCKOUT_THRESHOLD:
        return
    user.failed_login_count = 0
    user.locked_until = now + LOCKOUT_PERIOD
    audit.record_event(
        session,
        "user.locked",
        user.id,
        before={"locked_until": None},
        after={"locked_until": user.locked_until},
        note=f"{LOCKOUT_THRESHOLD} failed sign-in attempts in a row"
        + (", the last a wrong two-step code after the right password" if after_password else ""),
        actor=None,
    )
    mail.enqueue(
        session,
        to=user.email,
        subject="Your account was locked after failed sign-in attempts",
        template="account_locked",
        context={
            "user": user,
            "attempts": LOCKOUT_THRESHOLD,
            "locked_until": user.locked_until,
            "after_password": after_password,
            "reset_url": links().password_reset_request(),
        },
    )


def sign_out(user_id: int, *, forget_browsers: bool = False) -> None:
    """End every session of the user, server-side: the next request with any
    copy of their session cookie finds a stale session generation.
    `forget_browsers` (*Sign out everywhere* on the two-step page): every
    remembered browser is forgotten too, so each asks for the code again. The
    everyday *Sign out* keeps them: forgetting the office computer each evening
    would make remembering it useless."""
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.session_generation += 1
            if forget_browsers:
                why = "Signed out everywhere by the account's owner."
                remembered_browsers.forget_browsers(session, user, _user_actor(user), why)


def confirm_password(user_id: int, password: str, *, now: datetime | None = None) -> None:
    """A signed-in user proves again that they know the password (before a
    sensitive step such as creating an API token). A wrong one counts towards
    the lockout like a failed sign-in; raises `AuthenticationRequired`."""
    moment = now or utcnow()
    refused = False
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise AuthenticationRequired("Sign in again.")
        if user.is_locked(moment):
            passwords.verify_password(user.password_hash, password)
            refused = True
        elif not passwords.verify_password(user.password_hash, password):
            _count_failure(session, user, moment)
            refused = True
    if refused:
        raise AuthenticationRequired(
            "The password is incorrect (or the account is locked after repeated failures)."
        )
