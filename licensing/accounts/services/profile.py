"""A signed-in user changes their own name, password or email address.

The password is changed in place, but only with the current one, and the
change signs out every session of the account (the page signs the user back
in). A new email address takes effect only once its owner follows the one-time
link sent to it: until then the account keeps signing in with the old one. The
link is an ordinary verification link (`VERIFY_EMAIL`) whose address differs
from the account's; `verify_email` applies the change when it is followed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db, printable
from licensing.accounts import passwords, queries
from licensing.accounts.models import (
    PASSWORD_LINKS,
    PERSON_NAME_MAX,
    VERIFY_EMAIL,
    FormerName,
    OneTimeToken,
    User,
)
from licensing.accounts.services import remembered_browsers
from licensing.accounts.services._common import (
    LINKS_PER_HOUR,
    ONE_LINE,
    _change_user,
    _issue_link,
    _lookup_link,
    _mail_link,
    _recent_links,
    _refuse,
    _user_actor,
    _withdraw_links,
    is_one_line,
    locked_account,
    normalize_email,
)
from licensing.accounts.services.authentication import _count_failure
from licensing.accounts.services.roles import whom_to_ask
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import AuthenticationRequired, InvalidInput
from licensing.links import links
from licensing.mail import services as mail
from licensing.words import at_most_characters

NOT_THE_CURRENT_ONE = (
    "This is not your current password (or the account is locked after repeated failures)."
)
TAKEN = "Another account already uses this email address."


def change_name(actor: Actor, full_name: str) -> User:
    """The signed-in user's name, as the office and their colleagues see it."""
    name = (full_name or "").strip()
    if not name:
        raise InvalidInput.for_field("full_name", "Enter your full name.")
    if len(name) > PERSON_NAME_MAX:
        raise InvalidInput.for_field("full_name", at_most_characters(PERSON_NAME_MAX))
    if not is_one_line(name):
        raise InvalidInput.for_field("full_name", ONE_LINE)
    if (problem := printable.unprintable_problem(name)) is not None:
        raise InvalidInput.for_field("full_name", problem)  # a letter is addressed to it
    with db.transaction() as session:
        user = _own_account(session, actor)
        if user.full_name != name:
            # Round 60: the name given up stays searchable (the audit log's Actor).
            session.add(FormerName(user_id=user.id, full_name=user.full_name, until=utcnow()))
            _change_user(session, user, "user.name_changed", actor, full_name=name)
        return user


def change_password(actor: Actor, current_password: str, new_password: str) -> User:
    """A new password, given the current one. Ends every session of the account
    (they carry the old one) and withdraws any pending reset link.

    A wrong current password counts towards the lockout (that much is
    committed); nothing else changes while any field is wrong."""
    errors: dict[str, list[str]] = {}
    with db.transaction() as session:
        user = _own_account(session, actor)
        if not _password_is(session, user, current_password):
            errors["current_password"] = [NOT_THE_CURRENT_ONE]
        names = (user.full_name, user.organization.legal_name if user.organization else "")
        problems = passwords.password_problems(new_password or "", email=user.email, names=names)
        if problems:
            errors["new_password"] = problems
        elif new_password == current_password:
            errors["new_password"] = ["Choose a password different from the current one."]
        if not errors:
            now = utcnow()
            withdrawn = _withdraw_links(_pending_links(session, user, *PASSWORD_LINKS), now)
            user.password_hash = passwords.hash_password(new_password)
            user.session_generation += 1
            remembered_browsers.forget_browsers(session, user, actor, "A new password.")
            user.failed_login_count = 0
            audit.record_event(
                session,
                "user.password_changed",
                user.id,
                before=None,
                after=withdrawn or None,
                actor=actor,
            )
    _refuse(errors)
    return user


def request_email_change(actor: Actor, new_email: str, current_password: str) -> OneTimeToken:
    """Send a one-time link to the new address; the account's address changes
    only when it is followed (`verify_email`). The current password is needed,
    so a session left open cannot move the account to another mailbox."""
    errors: dict[str, list[str]] = {}
    normalized = ""
    try:
        normalized = normalize_email(new_email)
    except InvalidInput as exc:
        errors["new_email"] = [m for ms in exc.errors.values() for m in ms]
    link: OneTimeToken | None = None
    with db.transaction() as session:
        # The account first, then its links (round 59): the links it withdraws are
        # written before the new one names the account, and a change being followed
        # holds the account (FOR UPDATE) before its link (`lock_for_following`).
        user = _own_account(session, actor, locked=True)
        wrong = not _password_is(session, user, current_password)
        if normalized and normalized == user.email:
            errors["new_email"] = ["This is already your email address."]
        elif normalized and queries.user_by_email(session, normalized) is not None:
            errors["new_email"] = [TAKEN]
        elif normalized and _recent_links(session, VERIFY_EMAIL, normalized) >= LINKS_PER_HOUR:
            errors["new_email"] = [
                f"We sent {LINKS_PER_HOUR} links to this address in the last hour; try again later."
            ]
        if wrong:
            errors["current_password"] = [NOT_THE_CURRENT_ONE]
        if not errors:  # otherwise only a wrong password's failure count is written
            link = _send_confirmation(session, user, normalized, actor)
    if errors or link is None:
        raise InvalidInput("Some fields need correcting.", errors)
    return link


def _send_confirmation(session: Session, user: User, normalized: str, actor: Actor) -> OneTimeToken:
    now = utcnow()
    earlier = [
        link for link in _pending_links(session, user, VERIFY_EMAIL) if link.email != user.email
    ]
    waiting = [
        link.email for link in sorted(earlier, key=lambda link: link.id) if link.expires_at > now
    ]
    replaced = _withdraw_links(earlier, now)  # a previous change not confirmed: replaced
    link, raw = _issue_link(session, VERIFY_EMAIL, email=normalized, user=user)
    _mail_link(
        session,
        link,
        raw=raw,
        page=links().email_verification,
        subject="Confirm your new email address",
        template="confirm_new_email",
        user=user,
        new_email=normalized,
        # This is the address they will read: the old one is told too late to
        # matter to someone who has left it.
        old_email=user.email,
        confirming=True,
        **_billing_contact_stays(session, user, user.email),
    )
    # Round 58: the address stays until the link is followed, so the event keeps it
    # on both sides (the log read "email: old → —", as if it had been erased) and
    # shows the address waiting, from the one this request replaced, if any.
    audit.record_event(
        session,
        "user.email_change_requested",
        user.id,
        before={"email": user.email, "pending_email": waiting[-1] if waiting else None},
        after={"email": user.email, "pending_email": normalized, **replaced},
        actor=actor,
    )
    return link


def lock_for_following(session: Session, raw: str) -> None:
    """Before a verification link is read to be followed (`verify_email`): its account
    locked, then the link itself, each read afresh (round 59, locks59).

    The account first, as every step on an account's links takes it (a request for a
    new address, a reset: `locked_account`, or the UPDATE of its password), and FOR
    UPDATE when the link moves the account to a new address: the UPDATE of its email,
    a column under a unique constraint, takes FOR UPDATE whatever the step asks, so it
    is taken here, before the step writes anything, rather than late, when the ORM
    flushes the address. Read unlocked, a link a second click or a request for another
    address changed meanwhile was followed as it had been: the address changed twice,
    or a deadlock with the request, which withdrew the link and then waited for the
    account (`tests/integration/accounts/test_email_change_lock_order.py`). Nothing
    for a link that names no account."""
    link = _lookup_link(session, raw, VERIFY_EMAIL)
    if link is None or link.user_id is None:
        return
    user = session.get(User, link.user_id)
    moving = user is not None and user.email != link.email
    session.get(User, link.user_id, with_for_update={"key_share": not moving})
    session.get(OneTimeToken, link.id, with_for_update={"key_share": True})


def apply_email_change(session: Session, link: OneTimeToken, user: User) -> None:
    """Follow a link to a new address: it becomes the account's, confirmed.

    Called by `verify_email` in its transaction; the old address is told, so
    an unexpected change does not go unnoticed.
    """
    if not user.is_active:
        raise InvalidInput.for_field("token", "This account can no longer sign in.")
    if queries.user_by_email(session, link.email) is not None:
        raise InvalidInput.for_field("token", TAKEN)
    now = utcnow()
    old = user.email
    before = {"email": old, "email_verified_at": user.email_verified_at}
    try:
        with session.begin_nested():
            user.email = link.email
            user.email_verified_at = now
    except IntegrityError:
        raise InvalidInput.for_field("token", TAKEN) from None
    link.used_at = now
    # Every link mailed to the old address is withdrawn with it: a reset link there
    # would still set the password of an account that has left that mailbox.
    withdrawn = _withdraw_links(_pending_links(session, user, VERIFY_EMAIL, *PASSWORD_LINKS), now)
    audit.record_event(
        session,
        "user.email_changed",
        user.id,
        before=before,
        after={"email": user.email, "email_verified_at": now, **withdrawn},
        actor=_user_actor(user),
    )
    mail.enqueue(
        session,
        to=old,
        subject="Your email address was changed",
        template="email_changed",
        context={"user": user, "old_email": old, **_billing_contact_stays(session, user, old)},
    )


def _billing_contact_stays(session: Session, user: User, old: str) -> dict[str, object]:
    """When the old address is also the organization's billing contact: that is the
    organization's setting, kept apart from any account (it may be a shared mailbox,
    and has no account to follow), so invoices keep going there. The user is told so,
    and who changes it (they, as an administrator, or whom to ask)."""
    organization = user.organization
    if organization is None or organization.billing_email.lower() != old:
        return {}
    return {
        "billing_contact_of": organization,
        "ask": None if user.is_administrator else whom_to_ask(session, organization.id),
        "portal_url": links().vendor_dashboard(),
    }


def _own_account(session: Session, actor: Actor, *, locked: bool = False) -> User:
    """The actor's account (`locked`: FOR NO KEY UPDATE, `locked_account`)."""
    user = None
    if actor.user_id is not None:
        user = (
            locked_account(session, actor.user_id) if locked else session.get(User, actor.user_id)
        )
    if user is None or not user.is_active:
        raise AuthenticationRequired("Sign in again.")
    return user


def _password_is(session: Session, user: User, password: str) -> bool:
    """Whether `password` is the user's; a wrong one counts towards the lockout,
    and a locked account accepts none (checked all the same, for even timing)."""
    now = utcnow()
    right = passwords.verify_password(user.password_hash, password or "")
    if user.is_locked(now):
        return False
    if not right:
        _count_failure(session, user, now)
    return right


def _pending_links(session: Session, user: User, *purposes: str) -> list[OneTimeToken]:
    return list(
        session.scalars(
            select(OneTimeToken).where(
                OneTimeToken.user_id == user.id,
                OneTimeToken.purpose.in_(purposes),
                OneTimeToken.used_at.is_(None),
                OneTimeToken.revoked_at.is_(None),
            )
        )
    )
