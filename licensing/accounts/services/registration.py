"""A vendor signs up, and confirms their email address."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import passwords, queries
from licensing.accounts.models import VERIFY_EMAIL, Organization, User
from licensing.accounts.services._common import (
    LINKS_PER_HOUR,
    _address_or_none,
    _change_user,
    _clean_organization,
    _find_link,
    _insert_user,
    _lookup_link,
    _recent_links,
    _recent_mail,
    _refuse,
    _send_link,
    _user_actor,
    _user_errors,
)
from licensing.accounts.services.organizations import create_organization
from licensing.accounts.services.profile import apply_email_change, lock_for_following
from licensing.accounts.states import CLOSED
from licensing.db import utcnow
from licensing.errors import NotFound
from licensing.links import links
from licensing.mail import services as mail

log = logging.getLogger(__name__)


def create_vendor_user(
    session: Session,
    organization: Organization,
    *,
    email: str,
    password: str,
    full_name: str,
    verified: bool = False,
    actor: str | None = None,
    role: str,
    founded: bool = False,
) -> User:
    """A user of `organization` with `role` in it, in the caller's transaction.

    Raises `InvalidInput` for a duplicate or malformed email, a weak
    password or a missing name. `verified` marks the address confirmed
    (e.g. the user arrived by an emailed invitation). `founded`: the user signed
    `organization` up (`create_organization(signing_up=True)`), whose
    `organization.created` they are audited as, before their own `user.created`.
    """
    normalized, errors = _user_errors(
        session,
        email=email,
        password=password,
        full_name=full_name,
        names=(organization.legal_name,),
    )
    _refuse(errors)
    now = utcnow()
    user = User(
        email=normalized,
        password_hash=passwords.hash_password(password),
        full_name=full_name.strip(),
        organization_id=organization.id,
        staff_roles="",
        organization_role=role,
        email_verified_at=now if verified else None,
        failed_login_count=0,
        is_active=True,
        created_at=now,
    )
    # `actor` names the person signing up (or accepting an invitation): the user.
    _insert_user(
        session,
        user,
        actor=None,
        themselves=actor is not None,
        founded=organization if founded else None,
    )
    return user


def sign_up(
    *,
    email: str,
    password: str,
    full_name: str,
    organization: Mapping[str, Any],
    then: Callable[[Session, User], None] | None = None,
) -> str:
    """A vendor signs up: their organization (standing `applying`), their user
    (unverified), and an email with a verification link. Returns the address,
    normalized.

    Raises `InvalidInput` with every problem at once; organization fields are
    reported under `organization.<field>`. Nothing is stored on error.

    An address that already has an account is not an error: the caller gets
    the answer a new address gets, and the account's owner an email saying
    that someone tried to sign up with it (at most `LINKS_PER_HOUR` an hour),
    with the password hashed either way, so neither the answer nor the slow
    step tells who has an account. Nothing else is stored.

    `then` runs in the transaction with a new account's user, once it is made (never
    for an address that has an account): the sign-up's estimate is kept with it
    (`agreements.services.keep_estimate`), or nothing is.
    """
    with db.transaction() as session:
        clean, errors = _clean_organization(organization, prefix="organization.")
        normalized, user_errors = _user_errors(
            session,
            email=email,
            password=password,
            full_name=full_name,
            names=(str(organization.get("legal_name") or ""),),
            taken=None,
        )
        errors.update(user_errors)
        _refuse(errors)
        existing = queries.user_by_email(session, normalized)
        if existing is not None:
            passwords.hash_password(password)  # the work a new account does
            _tell_owner_of_sign_up(session, normalized, _closed_organization(existing))
            return normalized
        created = create_organization(session, signing_up=True, **clean)
        user = create_vendor_user(
            session,
            created,
            email=normalized,
            password=password,
            full_name=full_name,
            actor=normalized,
            # Whoever signs an organization up administers it (and may hand that on).
            role=ADMINISTRATOR,
            founded=True,
        )
        if then is not None:
            then(session, user)
        _send_verification(session, user)
        return user.email


# The note to an account's owner when someone signs up with its address.
SIGN_UP_EXISTING_ACCOUNT = "sign_up_existing_account"


def _closed_organization(user: User) -> str | None:
    """The legal name of the user's organization when it is closed: the owner signing
    up again is most likely licensing anew, and signing in leads back to it."""
    organization = user.organization
    return organization.legal_name if organization and organization.standing == CLOSED else None


def _tell_owner_of_sign_up(
    session: Session, address: str, closed_organization: str | None = None
) -> None:
    if _recent_mail(session, (SIGN_UP_EXISTING_ACCOUNT,), address) >= LINKS_PER_HOUR:
        log.warning("sign-up notes held back: hourly limit for the address")
        return
    mail.enqueue(
        session,
        to=address,
        subject="Confirm your email address",
        template=SIGN_UP_EXISTING_ACCOUNT,
        context={
            "email": address,
            "sign_in_url": links().vendor_dashboard(),
            "reset_url": links().password_reset_request(),
            "closed_organization": closed_organization,
        },
    )


def _send_verification(session: Session, user: User) -> None:
    _send_link(
        session,
        user,
        VERIFY_EMAIL,
        "Confirm your email address",
        "verify_email",
        links().email_verification,
    )


def verify_email(raw: str) -> User:
    """Follow a verification link: the address is confirmed and the link used up.
    A link sent to a new address (`request_email_change`) makes it the account's."""
    with db.transaction() as session:
        lock_for_following(session, raw)  # the account, then the link, read afresh
        confirmed = _already_confirmed(session, raw)
        if confirmed is not None:
            return confirmed
        link = _find_link(session, raw, VERIFY_EMAIL)
        user = link.user
        if user is None:  # pragma: no cover - verification links always name their user
            raise NotFound("This link does not belong to an account.")
        if link.email != user.email:  # a link to a new address: the change takes effect
            apply_email_change(session, link, user)
            return user
        now = utcnow()
        link.used_at = now
        if user.email_verified_at is None:
            _change_user(
                session, user, "user.email_verified", _user_actor(user), email_verified_at=now
            )
        return user


def _already_confirmed(session: Session, raw: str) -> User | None:
    """The account of a used link to the address it now has, confirmed: following
    it again (a second click, a mail scanner that opened it first) changes nothing
    and is no error, as a new link would never be sent to a confirmed address."""
    link = _lookup_link(session, raw, VERIFY_EMAIL)
    if link is None or link.used_at is None or link.user is None:
        return None
    user = link.user
    if user.email != link.email or user.email_verified_at is None:
        return None
    return user


def resend_verification(email: str) -> None:
    """Send a fresh verification link, when the address belongs to an unverified
    account and fewer than `LINKS_PER_HOUR` were sent in the last hour. Says
    nothing either way, so the form does not reveal which addresses have accounts."""
    normalized = _address_or_none(email)
    if normalized is None:
        return
    with db.transaction() as session:
        user = queries.user_by_email(session, normalized)
        if user is None or user.email_verified or not user.is_active:
            return
        if _recent_links(session, VERIFY_EMAIL, user.email) >= LINKS_PER_HOUR:
            log.warning("verification emails to user %s held back: hourly limit", user.id)
            return
        _send_verification(session, user)
