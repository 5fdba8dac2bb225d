"""Staff accounts and their roles."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy.orm import Session

from licensing import db
from licensing.access import STAFF_ROLES
from licensing.accounts import passwords, queries
from licensing.accounts.models import WELCOME, User
from licensing.accounts.services._common import (
    LINK_VALIDITY,
    REVIEWING_ROLES,
    _change_user,
    _insert_user,
    _issue_link,
    _mail_link,
    _refuse,
    _user_errors,
    _withdraw_reviewer,
)
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.links import links
from licensing.mail import services as mail

STAFF_WELCOME_VALIDITY = LINK_VALIDITY[WELCOME]


def _clean_roles(roles: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(roles)
    unknown = chosen - set(STAFF_ROLES)
    if unknown:
        raise InvalidInput.for_field(
            "roles", f"Unknown roles {', '.join(sorted(unknown))}; use {', '.join(STAFF_ROLES)}."
        )
    if not chosen:
        raise InvalidInput.for_field("roles", "Staff need at least one role.")
    return chosen


# Said to the admin adding someone: the account exists already, and roles are
# changed on it (a vendor's account stays a vendor's: `set_staff_roles` refuses it).
STAFF_EMAIL_TAKEN = (
    "An account already uses this email address: find it under Users to change its "
    "roles; a vendor's account cannot also be a staff member's."
)


def create_staff_user(
    *,
    email: str,
    roles: Iterable[str],
    full_name: str,
    password: str | None = None,
    actor: Actor,
    two_step_required: bool = False,
) -> User:
    """A staff account. With `password` (the CLI) it can sign in at once; without
    (an admin in the console) it is emailed a link to choose one (valid 7 days),
    saying, when the office requires it of staff (`two_step_required`), that
    two-step sign-in is set up right after, so they have their phone at hand."""
    actor.require_role("admin")
    chosen = _clean_roles(roles)
    with db.transaction() as session:
        normalized, errors = _user_errors(
            session,
            email=email,
            password=password if password is not None else "",
            full_name=full_name,
            taken=STAFF_EMAIL_TAKEN,
        )
        if password is None:
            errors.pop("password", None)
        _refuse(errors)
        now = utcnow()
        user = User(
            email=normalized,
            password_hash=passwords.hash_password(password or secrets.token_urlsafe(32)),
            full_name=full_name.strip(),
            organization_id=None,
            email_verified_at=now if password is not None else None,
            failed_login_count=0,
            is_active=True,
            created_at=now,
        )
        user.roles = chosen
        _insert_user(session, user, actor=actor)
        if password is None:
            link, raw = _issue_link(
                session,
                WELCOME,
                email=user.email,
                user=user,
                valid_for=STAFF_WELCOME_VALIDITY,
            )
            _mail_link(
                session,
                link,
                raw=raw,
                page=links().password_reset,
                subject=f"Your staff account at the {mail.OFFICE_NAME}",
                template="staff_welcome",
                user=user,
                roles=sorted(chosen),
                two_step_required=two_step_required,
            )
        return user


def create_admin(email: str, password: str, full_name: str = "Administrator") -> User:
    """The first admin (what `licensing users create-admin` calls)."""
    return create_staff_user(
        email=email, roles=("admin",), full_name=full_name, password=password, actor=Actor.SYSTEM
    )


def set_staff_roles(user_id: int, roles: Iterable[str], *, actor: Actor) -> User:
    """Admin: replace a staff member's roles (the last active admin keeps `admin`)."""
    actor.require_role("admin")
    chosen = _clean_roles(roles)
    with db.transaction() as session:
        user = _user(session, user_id)
        if not user.is_staff:
            raise InvalidInput.for_field("roles", "Vendor users have no staff roles.")
        before = sorted(user.roles)
        if (
            "admin" in user.roles
            and "admin" not in chosen
            and user.is_active
            and queries.active_admin_count(session) <= 1
        ):
            raise Conflict("This is the last active admin; make someone else an admin first.")
        user.roles = chosen
        if user.is_active and not REVIEWING_ROLES & chosen:
            _withdraw_reviewer(
                session,
                user,
                before,
                f"{user.email} no longer reviews (roles: {', '.join(sorted(chosen))})",
                actor,
            )
        if before != sorted(chosen):
            audit.record_event(
                session,
                "user.roles_changed",
                user.id,
                before={"roles": before},
                after={"roles": sorted(chosen)},
                actor=actor,
            )
        return user


def unlock_user(user_id: int, *, actor: Actor) -> User:
    """Admin: lift a sign-in lockout before it expires."""
    actor.require_role("admin")
    with db.transaction() as session:
        user = _user(session, user_id)
        if user.locked_until is None and user.failed_login_count == 0:
            return user
        user.failed_login_count = 0
        _change_user(session, user, "user.unlocked", actor, locked_until=None)
        return user


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    return user
