"""A forgotten password: a reset link by email, and the new password."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import passwords, queries
from licensing.accounts.models import (
    PASSWORD_LINKS,
    RESET_PASSWORD,
    WELCOME,
    OneTimeToken,
    User,
)
from licensing.accounts.services import remembered_browsers
from licensing.accounts.services._common import (
    LINKS_PER_HOUR,
    _address_or_none,
    _find_link,
    _lookup_link,
    _recent_mail,
    _send_link,
    _user_actor,
    _withdraw_links,
    locked_account,
)
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.links import links
from licensing.mail import services as mail

log = logging.getLogger(__name__)

# Templates of the two answers to a reset request, counted together for the
# hourly limit per address.
_RESET_TEMPLATES = ("reset_password", "reset_no_account")


def request_password_reset(email: str) -> None:
    """Email a reset link (valid one hour) when the address has an active
    account, and otherwise a note that no account uses it.

    Says nothing either way on the page, and does the same work either way
    (one lookup, one count, one email queued in one write transaction), so
    neither the answer nor its timing tells who has an account. At most
    `LINKS_PER_HOUR` emails an hour per address.
    """
    normalized = _address_or_none(email)
    if normalized is None:
        return
    with db.transaction() as session:
        user = queries.user_by_email(session, normalized)
        if _recent_mail(session, _RESET_TEMPLATES, normalized) >= LINKS_PER_HOUR:
            log.warning("password reset emails held back: hourly limit for the address")
            return
        if user is None or not user.is_active:
            mail.enqueue(
                session,
                to=normalized,
                subject="Reset your password",
                template="reset_no_account",
                context={"email": normalized, "reset_url": links().password_reset_request()},
            )
            return
        _send_link(
            session,
            user,
            RESET_PASSWORD,
            "Reset your password",
            "reset_password",
            links().password_reset,
            # Round 47: a reset keeps passkeys (round 45), which its email now says,
            # for whoever resets because of a lost device. `passkey_count` is read
            # with the user: no statement more, for an account or none.
            passkeys=user.passkey_count,
            two_step_url=links().two_step_sign_in(),
        )


def _lock_for_following(session: Session, raw: str) -> None:
    """A reset or welcome link about to be followed: its account locked (FOR NO KEY
    UPDATE, `locked_account`), then the link itself, read afresh (round 59,
    retrycheck59: the account, then its links, as every step on them).

    Read unlocked, a link followed twice at once (two clicks, a mail scanner opening
    it as the person does) was pending for both: the second waited for the account at
    its first write, then set the password again once the first had committed (two
    `user.password_reset` events, two "password changed" emails, and the second
    password kept). Under the locks, the second finds it used. Nothing is locked for a
    link with no account; `_find_link` then says what is wrong with it."""
    link = _lookup_link(session, raw, PASSWORD_LINKS)
    if link is None or link.user_id is None:
        return
    locked_account(session, link.user_id)
    session.get(OneTimeToken, link.id, with_for_update={"key_share": True})


def reset_password(raw: str, password: str) -> User:
    """Follow a reset link: set a new password, unlock the account, confirm the
    address, and sign out every other session (they carry the old hash). A staff
    welcome link signs its newcomer in, so it counts as their first sign-in."""
    with db.transaction() as session:
        _lock_for_following(session, raw)
        link = _find_link(session, raw, PASSWORD_LINKS)
        user = link.user
        if user is None or not user.is_active:
            raise InvalidInput.for_field("token", "This account can no longer sign in.")
        names = (user.full_name, user.organization.legal_name if user.organization else "")
        problems = passwords.password_problems(password, email=user.email, names=names)
        if problems:
            raise InvalidInput("Choose a stronger password.", {"password": problems})
        now = utcnow()
        lifted = user.locked_until if user.is_locked(now) else None
        withdrawn = _withdraw_links(
            session.scalars(
                select(OneTimeToken).where(
                    OneTimeToken.user_id == user.id,
                    OneTimeToken.purpose.in_(PASSWORD_LINKS),
                    OneTimeToken.used_at.is_(None),
                    OneTimeToken.revoked_at.is_(None),
                    OneTimeToken.id != link.id,
                )
            ),
            now,
        )
        link.used_at = now
        user.password_hash = passwords.hash_password(password)
        user.session_generation += 1
        remembered_browsers.forget_browsers(
            session, user, _user_actor(user), "A new password (reset)."
        )
        user.failed_login_count = 0
        user.locked_until = None
        verified_now = user.email_verified_at is None
        if verified_now:
            user.email_verified_at = now
        if link.purpose == WELCOME:  # the welcome page signs the newcomer in
            user.last_sign_in_at = now
        audit.record_event(
            session,
            "user.password_reset",
            user.id,
            before=None,
            after={
                **({"email_verified_at": user.email_verified_at} if verified_now else {}),
                **withdrawn,
            }
            or None,
            actor=_user_actor(user),
        )
        if lifted is not None:
            # As an admin's unlock is recorded: the log says why the lock ended early.
            audit.record_event(
                session,
                "user.unlocked",
                user.id,
                before={"locked_until": lifted},
                after={"locked_until": None},
                actor=_user_actor(user),
                note="The password was reset: the sign-in lockout is lifted.",
            )
        return user
