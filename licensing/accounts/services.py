"""Accounts use cases: sign-up, sign-in, links by email, organizations, staff, tokens.

Functions that take a `session` compose into a caller's transaction
(`create_organization`, `create_vendor_user`, `change_standing`); the others
are use cases that own theirs (`with db.transaction() as s:`). Every change
is written to the audit log in the same transaction; every email goes
through the outbox in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db
from licensing.access import STAFF_ROLES, Principal
from licensing.accounts import passwords, queries
from licensing.accounts.countries import COUNTRIES
from licensing.accounts.models import (
    ADDRESS_LINE_MAX,
    CITY_MAX,
    EMAIL_MAX,
    INVITATION,
    LEGAL_NAME_MAX,
    PERSON_NAME_MAX,
    POSTAL_CODE_MAX,
    REGION_MAX,
    RESET_PASSWORD,
    TAX_ID_MAX,
    TOKEN_NAME_MAX,
    VERIFY_EMAIL,
    ApiToken,
    OneTimeToken,
    Organization,
    User,
)
from licensing.accounts.states import (
    APPLYING,
    CLOSED,
    GOOD_STANDING,
    PENDING_PAYMENT,
    REASON_REQUIRED,
    STANDING,
    SUSPENDED,
)
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.pricing.vocabulary import ORGANIZATION_TYPES

log = logging.getLogger(__name__)

# Links sent by email, and how long each stays valid.
LINK_VALIDITY = {
    VERIFY_EMAIL: timedelta(hours=48),
    RESET_PASSWORD: timedelta(hours=1),
    INVITATION: timedelta(days=7),
}
STAFF_WELCOME_VALIDITY = timedelta(days=7)
# Per account: at most this many verification or reset emails an hour, so the
# form cannot be used to flood someone's inbox (held in the database, so across
# every process).
LINKS_PER_HOUR = 3

# Sign-in lockout, per account, in the database: after this many failures in a
# row the account is locked for LOCKOUT_PERIOD (a password reset unlocks it).
LOCKOUT_THRESHOLD = 5
LOCKOUT_PERIOD = timedelta(minutes=15)

# How a refusal to sign in with an unconfirmed address begins (pages offer a new link).
UNCONFIRMED_EMAIL = "Confirm your email address first"

MAX_ACTIVE_TOKENS = 20
MAX_PENDING_INVITATIONS = 25
REASON_MAX = 2000
# Writing `last_used_at` on every API call would make every read a write.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
API_TOKEN_PREFIX = "lic_"  # noqa: S105 - a visible marker, not a secret

VENDOR_EDITABLE = Organization.VENDOR_EDITABLE_FIELDS
STAFF_ONLY = Organization.STAFF_ONLY_FIELDS

_REQUIRED = frozenset(
    {
        "legal_name",
        "organization_type",
        "address_line1",
        "city",
        "country",
        "billing_contact_name",
        "billing_email",
    }
)
_LIMITS = {
    "legal_name": LEGAL_NAME_MAX,
    "address_line1": ADDRESS_LINE_MAX,
    "address_line2": ADDRESS_LINE_MAX,
    "city": CITY_MAX,
    "region": REGION_MAX,
    "postal_code": POSTAL_CODE_MAX,
    "billing_contact_name": PERSON_NAME_MAX,
    "billing_email": EMAIL_MAX,
    "tax_id": TAX_ID_MAX,
}


# --- validation ------------------------------------------------------------------


def normalize_email(value: str) -> str:
    """The address as stored: validated, then lower-cased (unique regardless of case).

    Raises `InvalidInput` (field `email`) when it is not an address.
    """
    text = (value or "").strip()
    if not text:
        raise InvalidInput.for_field("email", "Enter an email address.")
    if len(text) > EMAIL_MAX:
        raise InvalidInput.for_field("email", f"Use at most {EMAIL_MAX} characters.")
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput.for_field("email", f"This is not an email address: {exc}") from None


def _field_errors(error: InvalidInput, path: str) -> dict[str, list[str]]:
    """An error raised for `email` reported under another field path."""
    return {path: [message for messages in error.errors.values() for message in messages]}


def _clean_organization(
    values: Mapping[str, Any], *, prefix: str = "", partial: bool = False
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Organization fields trimmed and checked; returns (clean values, errors by path)."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    unknown = set(values) - set(Organization.PROFILE_FIELDS)
    for name in sorted(unknown):
        errors[prefix + name] = ["Unknown field."]
    for name in Organization.PROFILE_FIELDS:
        if partial and name not in values:
            continue
        raw = values.get(name)
        text = "" if raw is None else str(raw).strip()
        path = prefix + name
        if not text:
            if name in _REQUIRED:
                errors[path] = ["This field is required."]
            else:
                clean[name] = None
            continue
        limit = _LIMITS.get(name)
        if limit and len(text) > limit:
            errors[path] = [f"Use at most {limit} characters ({len(text)} given)."]
            continue
        if name == "organization_type" and text not in ORGANIZATION_TYPES:
            errors[path] = [
                f"Unknown organization type {text!r}; choose one of "
                + ", ".join(ORGANIZATION_TYPES)
                + "."
            ]
            continue
        if name == "country":
            text = text.upper()
            if text not in COUNTRIES:
                errors[path] = [
                    f"Unknown country code {text!r}; use the two-letter ISO 3166-1 code, "
                    "such as US or DE."
                ]
                continue
        if name == "billing_email":
            try:
                text = normalize_email(text)
            except InvalidInput as exc:
                errors.update(_field_errors(exc, path))
                continue
        clean[name] = text
    return clean, errors


def _user_errors(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str,
    names: Iterable[str] = (),
) -> tuple[str, dict[str, list[str]]]:
    """(normalized email, errors by field) for a new user's email, password and name."""
    errors: dict[str, list[str]] = {}
    normalized = ""
    try:
        normalized = normalize_email(email)
    except InvalidInput as exc:
        errors.update(exc.errors)
    else:
        if queries.user_by_email(session, normalized) is not None:
            errors["email"] = [
                "An account already uses this email address. Sign in, or reset your password."
            ]
    name = (full_name or "").strip()
    if not name:
        errors["full_name"] = ["Enter your full name."]
    elif len(name) > PERSON_NAME_MAX:
        errors["full_name"] = [f"Use at most {PERSON_NAME_MAX} characters ({len(name)} given)."]
    problems = passwords.password_problems(
        password or "", email=normalized or email, names=(name, *names)
    )
    if problems:
        errors["password"] = problems
    return normalized, errors


def _refuse(errors: Mapping[str, list[str]], detail: str = "Some fields need correcting.") -> None:
    if errors:
        raise InvalidInput(detail, errors)


def _reason(reason: str | None, *, required: bool, action: str) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput.for_field(
            "reason", f"Give a reason to {action.replace('_', ' ')}: it is recorded and sent."
        )
    if len(text) > REASON_MAX:
        raise InvalidInput.for_field("reason", f"Use at most {REASON_MAX} characters.")
    return text or None


# --- secrets ---------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _issue_link(
    session: Session,
    purpose: str,
    *,
    email: str,
    user: User | None = None,
    organization: Organization | None = None,
    created_by_id: int | None = None,
    valid_for: timedelta | None = None,
) -> tuple[OneTimeToken, str]:
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    link = OneTimeToken(
        purpose=purpose,
        token_hash=_digest(raw),
        email=email,
        user_id=user.id if user else None,
        organization_id=organization.id if organization else None,
        created_by_id=created_by_id,
        created_at=now,
        expires_at=now + (valid_for or LINK_VALIDITY[purpose]),
    )
    session.add(link)
    session.flush()
    return link, raw


def _find_link(session: Session, raw: str, purpose: str) -> OneTimeToken:
    """The pending link for `raw`, or `InvalidInput` saying what is wrong with it."""
    link = session.scalars(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == _digest(raw or ""), OneTimeToken.purpose == purpose
        )
    ).one_or_none()
    if link is None:
        raise InvalidInput.for_field(
            "token",
            "This link is not valid. Check that you used the whole link from the email, "
            "or ask for a new one.",
        )
    status = link.status(utcnow())
    if status in {"used", "accepted"}:
        raise InvalidInput.for_field("token", "This link has already been used.")
    if status == "revoked":
        raise InvalidInput.for_field("token", "This link has been withdrawn.")
    if status == "expired":
        raise InvalidInput.for_field(
            "token",
            f"This link expired on {link.expires_at:%Y-%m-%d at %H:%M} UTC. Ask for a new one.",
        )
    return link


def check_link(raw: str, purpose: str) -> OneTimeToken:
    """The pending link for `raw` (to show its form), or `InvalidInput` explaining why not."""
    return _find_link(db.session(), raw, purpose)


def _recent_links(session: Session, purpose: str, email: str) -> int:
    since = utcnow() - timedelta(hours=1)
    count = session.scalar(
        select(func.count(OneTimeToken.id)).where(
            OneTimeToken.purpose == purpose,
            OneTimeToken.email == email,
            OneTimeToken.created_at >= since,
        )
    )
    return int(count or 0)


# --- principals ------------------------------------------------------------------


def principal_for(user: User, *, via_token: bool = False) -> Principal:
    """The `access.Principal` a user acts as."""
    return Principal(
        user_id=user.id,
        email=user.email,
        organization_id=user.organization_id,
        roles=user.roles,
        via_token=via_token,
    )


def authenticate_token(raw: str, *, now: datetime | None = None) -> Principal | None:
    """The principal of an API token, or None when it is unknown, revoked, or its
    user is deactivated. Notes when the token was last used (to the minute)."""
    moment = now or utcnow()
    with db.transaction() as session:
        token = session.scalars(
            select(ApiToken).where(ApiToken.token_hash == _digest(raw))
        ).one_or_none()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            return None
        if token.last_used_at is None or moment - token.last_used_at >= TOKEN_USE_RESOLUTION:
            token.last_used_at = moment
        return principal_for(token.user, via_token=True)


# --- organizations -----------------------------------------------------------------


def create_organization(
    session: Session, *, actor: str | None = None, **fields: Any
) -> Organization:
    """A new organization in standing `applying`, in the caller's transaction.

    `fields` are the profile fields (`Organization.PROFILE_FIELDS`); raises
    `InvalidInput` with every field's problem at once.
    """
    clean, errors = _clean_organization(fields)
    _refuse(errors)
    organization = Organization(**clean, standing=APPLYING, created_at=utcnow())
    session.add(organization)
    session.flush()
    audit.record(
        session,
        action="organization.created",
        entity_type="organization",
        entity_id=organization.id,
        before=None,
        after=organization.snapshot(),
        actor=actor,
    )
    return organization


def organization_in_good_standing(organization: Organization) -> bool:
    """True when the organization may apply for licenses (`applying` or `active`)."""
    return organization.standing in GOOD_STANDING


def standing_block_reason(organization: Organization) -> str | None:
    """Why the organization may not apply for a license now, in words for the
    vendor; None when it is in good standing."""
    messages = {
        PENDING_PAYMENT: (
            f"{organization.legal_name} has an overdue invoice, so new license applications "
            "are on hold until it is paid. Pay it from the Invoices page, or contact the "
            "licensing office's billing team."
        ),
        SUSPENDED: (
            f"{organization.legal_name}'s account is suspended, so it cannot apply for "
            "licenses. Contact the licensing office."
        ),
        CLOSED: (
            f"{organization.legal_name}'s account is closed, so it cannot apply for licenses. "
            "Contact the licensing office to reopen it."
        ),
    }
    return None if organization_in_good_standing(organization) else messages[organization.standing]


def ensure_good_standing(organization: Organization) -> None:
    """Raise `Conflict` (409) with `standing_block_reason` unless in good standing."""
    reason = standing_block_reason(organization)
    if reason:
        raise Conflict(reason)


def _notify_organization(
    session: Session, organization: Organization, *, subject: str, template: str, **context: Any
) -> None:
    recipients = [
        user.email
        for user in queries.members(session, organization.id)
        if user.is_active and user.email_verified
    ]
    if organization.billing_email not in recipients:
        recipients.append(organization.billing_email)
    mail.enqueue(
        session,
        to=recipients,
        subject=subject,
        template=template,
        context={"organization": organization, **context},
    )


def change_standing(
    session: Session,
    organization: Organization,
    action: str,
    *,
    reason: str | None,
    notify: bool = True,
) -> None:
    """Move the organization's standing by `action`, through `states.STANDING`.

    Raises `IllegalTransition` (409, naming the allowed actions) for a step
    the table does not allow, `InvalidInput` when `suspend`, `close` or
    `mark_pending_payment` come without a reason. Writes the audit event
    (the reason as its note) and, with `notify`, emails the organization's
    members and billing contact.
    """
    new_standing = STANDING.step(organization.standing, action)
    note = _reason(reason, required=action in REASON_REQUIRED, action=action)
    before = organization.standing
    organization.standing = new_standing
    audit.record(
        session,
        action="organization.standing_changed",
        entity_type="organization",
        entity_id=organization.id,
        before={"standing": before},
        after={"standing": new_standing},
        note=note,
    )
    if notify:
        _notify_organization(
            session,
            organization,
            subject=f"Your account standing is now {new_standing.replace('_', ' ')}",
            template="standing_changed",
            before=before,
            after=new_standing,
            reason=note,
            dashboard_url=mail.absolute_url("portal.dashboard"),
        )


# What an organization is behind on (an overdue invoice, an overdue royalty
# report): each package that creates such obligations registers a check in its
# `init_app`; `pending_payment` lasts while any check names something.
OverdueCheck = Callable[[Session, int, date], list[str]]
_OVERDUE_CHECKS: dict[str, OverdueCheck] = {}


def register_overdue_check(name: str, check: OverdueCheck) -> None:
    _OVERDUE_CHECKS[name] = check


def overdue_obligations(session: Session, organization_id: int, today: date) -> list[str]:
    """Everything overdue beyond the standing threshold, in words, from every check."""
    return [
        reason
        for check in _OVERDUE_CHECKS.values()
        for reason in check(session, organization_id, today)
    ]


def restore_standing_if_clear(session: Session, organization_id: int, today: date) -> None:
    """Back to `active` from `pending_payment` once nothing is overdue any longer."""
    organization = session.get(Organization, organization_id, with_for_update=True)
    if organization is None or organization.standing != PENDING_PAYMENT:
        return
    if overdue_obligations(session, organization_id, today):
        return
    change_standing(
        session, organization, "payment_received", reason="Nothing is overdue any longer."
    )


def change_organization_standing(
    organization_id: int, action: str, *, reason: str | None
) -> Organization:
    """Staff: change an organization's standing (see `change_standing`)."""
    with db.transaction() as session:
        organization = queries.get_owned(session, Organization, organization_id)
        change_standing(session, organization, action, reason=reason)
        return organization


def update_organization(
    organization_id: int, changes: Mapping[str, Any], principal: Principal
) -> Organization:
    """Change profile fields. Vendors change contact and address fields of their
    own organization; staff change any field, including legal name and type."""
    with db.transaction() as session:
        organization = queries.get_owned(session, Organization, organization_id, principal)
        clean, errors = _clean_organization(changes, partial=True)
        if not principal.is_staff:
            for name in STAFF_ONLY:
                if name in changes and clean.get(name, getattr(organization, name)) != getattr(
                    organization, name
                ):
                    errors[name] = [
                        "Only the licensing office can change this; contact them to correct it."
                    ]
        _refuse(errors)
        before_snapshot = organization.snapshot()
        for name, value in clean.items():
            setattr(organization, name, value)
        before, after = audit.changed_fields(before_snapshot, organization.snapshot())
        if after:
            audit.record(
                session,
                action="organization.updated",
                entity_type="organization",
                entity_id=organization.id,
                before=before,
                after=after,
            )
        return organization


# --- vendor users: sign-up, verification, invitations -------------------------------


def create_vendor_user(
    session: Session,
    organization: Organization,
    *,
    email: str,
    password: str,
    full_name: str,
    verified: bool = False,
    actor: str | None = None,
) -> User:
    """A user of `organization`, in the caller's transaction.

    Raises `InvalidInput` for a duplicate or malformed email, a weak
    password or a missing name. `verified` marks the address confirmed
    (e.g. the user arrived by an emailed invitation).
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
        email_verified_at=now if verified else None,
        failed_login_count=0,
        is_active=True,
        created_at=now,
    )
    _insert_user(session, user)
    audit.record(
        session,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        before=None,
        after=user.snapshot(),
        actor=actor,
        actor_user_id=user.id if actor else None,
    )
    return user


def _insert_user(session: Session, user: User) -> None:
    """Add the user; a concurrent sign-up with the same email loses cleanly."""
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise InvalidInput.for_field(
            "email", "An account already uses this email address. Sign in, or reset your password."
        ) from None


def sign_up(*, email: str, password: str, full_name: str, organization: Mapping[str, Any]) -> User:
    """A vendor signs up: their organization (standing `applying`), their user
    (unverified), and an email with a verification link.

    Raises `InvalidInput` with every problem at once; organization fields are
    reported under `organization.<field>`. Nothing is stored on error.
    """
    with db.transaction() as session:
        clean, errors = _clean_organization(organization, prefix="organization.")
        normalized, user_errors = _user_errors(
            session,
            email=email,
            password=password,
            full_name=full_name,
            names=(str(organization.get("legal_name") or ""),),
        )
        errors.update(user_errors)
        _refuse(errors)
        created = create_organization(session, actor=normalized, **clean)
        user = create_vendor_user(
            session,
            created,
            email=normalized,
            password=password,
            full_name=full_name,
            actor=normalized,
        )
        _send_verification(session, user)
        return user


def _send_verification(session: Session, user: User) -> None:
    _send_link(
        session,
        user,
        VERIFY_EMAIL,
        "Confirm your email address",
        "verify_email",
        "accounts.verify_email",
    )


def _send_link(
    session: Session, user: User, purpose: str, subject: str, template: str, endpoint: str
) -> None:
    """Issue a one-time link for `purpose` and mail it to the user."""
    link, raw = _issue_link(session, purpose, email=user.email, user=user)
    mail.enqueue(
        session,
        to=user.email,
        subject=subject,
        template=template,
        context={
            "user": user,
            "link": mail.absolute_url(endpoint, token=raw),
            "expires_at": link.expires_at,
        },
        secrets=[raw],
    )


def verify_email(raw: str) -> User:
    """Follow a verification link: the address is confirmed and the link used up."""
    with db.transaction() as session:
        link = _find_link(session, raw, VERIFY_EMAIL)
        user = link.user
        if user is None:  # pragma: no cover - verification links always name their user
            raise NotFound("This link does not belong to an account.")
        now = utcnow()
        link.used_at = now
        if user.email_verified_at is None:
            user.email_verified_at = now
            audit.record(
                session,
                action="user.email_verified",
                entity_type="user",
                entity_id=user.id,
                before={"email_verified_at": None},
                after={"email_verified_at": now},
                actor=user.email,
                actor_user_id=user.id,
            )
        return user


def resend_verification(email: str) -> None:
    """Send a fresh verification link, when the address belongs to an unverified
    account and fewer than `LINKS_PER_HOUR` were sent in the last hour. Says
    nothing either way, so the form does not reveal which addresses have accounts."""
    try:
        normalized = normalize_email(email)
    except InvalidInput:
        return
    with db.transaction() as session:
        user = queries.user_by_email(session, normalized)
        if user is None or user.email_verified or not user.is_active:
            return
        if _recent_links(session, VERIFY_EMAIL, user.email) >= LINKS_PER_HOUR:
            log.warning("verification emails to user %s held back: hourly limit", user.id)
            return
        _send_verification(session, user)


def invite_member(organization_id: int, email: str, principal: Principal) -> OneTimeToken:
    """A vendor invites a colleague to their organization by email (valid 7 days).

    A new invitation to the same address replaces a pending one. Raises
    `InvalidInput` when the address already has an account.
    """
    with db.transaction() as session:
        organization = queries.get_owned(session, Organization, organization_id, principal)
        if organization.standing == CLOSED:
            raise Conflict("A closed organization cannot invite members.")
        address = normalize_email(email)
        if queries.user_by_email(session, address) is not None:
            raise InvalidInput.for_field(
                "email", "This address already has an account; accounts cannot change organization."
            )
        now = utcnow()
        pending = [
            link
            for link in queries.invitations(session, organization.id)
            if link.status(now) == "pending"
        ]
        for link in pending:
            if link.email == address:
                link.revoked_at = now
        if len([link for link in pending if link.email != address]) >= MAX_PENDING_INVITATIONS:
            raise InvalidInput.for_field(
                "email",
                f"{MAX_PENDING_INVITATIONS} invitations are already waiting; revoke some first.",
            )
        inviter = session.get(User, principal.user_id)
        link, raw = _issue_link(
            session,
            INVITATION,
            email=address,
            organization=organization,
            created_by_id=principal.user_id,
        )
        audit.record(
            session,
            action="invitation.created",
            entity_type="invitation",
            entity_id=link.id,
            before=None,
            after={
                "email": address,
                "organization_id": organization.id,
                "expires_at": link.expires_at,
            },
        )
        mail.enqueue(
            session,
            to=address,
            subject=f"Join {organization.legal_name} on the {mail.OFFICE_NAME}",
            template="invitation",
            context={
                "organization": organization,
                "inviter": inviter,
                "link": mail.absolute_url("accounts.accept_invitation", token=raw),
                "expires_at": link.expires_at,
            },
            secrets=[raw],
        )
        return link


def revoke_invitation(invitation_id: int, principal: Principal) -> OneTimeToken:
    """Withdraw a pending invitation (its link stops working)."""
    with db.transaction() as session:
        link = queries.get_invitation(session, invitation_id, principal)
        status = link.status(utcnow())
        if status != "pending":
            raise Conflict(f"This invitation is {status} and can no longer be revoked.")
        link.revoked_at = utcnow()
        audit.record(
            session,
            action="invitation.revoked",
            entity_type="invitation",
            entity_id=link.id,
            before={"revoked_at": None},
            after={"revoked_at": link.revoked_at},
        )
        return link


def accept_invitation(raw: str, *, full_name: str, password: str) -> User:
    """Follow an invitation link: a verified user of the inviting organization."""
    with db.transaction() as session:
        link = _find_link(session, raw, INVITATION)
        organization = link.organization
        if organization is None or organization.standing == CLOSED:
            raise InvalidInput.for_field("token", "This organization's account is closed.")
        user = create_vendor_user(
            session,
            organization,
            email=link.email,
            password=password,
            full_name=full_name,
            verified=True,
            actor=link.email,
        )
        link.used_at = utcnow()
        link.user_id = user.id
        audit.record(
            session,
            action="invitation.accepted",
            entity_type="invitation",
            entity_id=link.id,
            before={"used_at": None},
            after={"used_at": link.used_at, "user_id": user.id},
            actor=user.email,
            actor_user_id=user.id,
        )
        return user


def set_user_active(user_id: int, active: bool, principal: Principal) -> User:
    """Deactivate (or reactivate) an account: a vendor for a colleague in their
    organization, an admin for anyone. Nobody deactivates themselves, and the
    last active admin stays."""
    with db.transaction() as session:
        user = queries.get_member(session, user_id, principal)
        if principal.is_staff and not principal.has_role("admin"):
            raise PermissionDenied("Only admins change who may sign in.")
        if user.id == principal.user_id:
            raise InvalidInput.for_field("user", "You cannot deactivate your own account.")
        if user.is_active == active:
            return user
        if not active and "admin" in user.roles and queries.active_admin_count(session) <= 1:
            raise Conflict("This is the last active admin; make someone else an admin first.")
        user.is_active = active
        audit.record(
            session,
            action="user.reactivated" if active else "user.deactivated",
            entity_type="user",
            entity_id=user.id,
            before={"is_active": not active},
            after={"is_active": active},
        )
        return user


# --- sign-in and passwords -----------------------------------------------------------


# One answer for an unknown address, a wrong password and a locked account, so
# that neither the status nor the words tell whether an address has an account.
# The owner of a locked account learns of the lock by email.
SIGN_IN_REFUSED = (
    "The email or password is incorrect. After "
    f"{LOCKOUT_THRESHOLD} failed attempts in a row an account is locked for "
    f"{int(LOCKOUT_PERIOD.total_seconds() // 60)} minutes and its owner is emailed."
)


def sign_in(email: str, password: str, *, now: datetime | None = None) -> User:
    """Check a password; the user to sign in, or a refusal.

    Raises `AuthenticationRequired` with the same message (`SIGN_IN_REFUSED`)
    for an unknown email, a wrong password, and any password while the account
    is locked after `LOCKOUT_THRESHOLD` failures in a row; each of these checks
    a password hash, so they also take as long. `PermissionDenied` for an
    unconfirmed email or a deactivated account (only with the right password).
    Failures are counted in the database, so the lockout holds across processes.
    """
    moment = now or utcnow()
    refusal: Exception | None = None
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
            refusal = PermissionDenied(
                "This account has been deactivated. Contact the licensing office, or a "
                "colleague who manages your organization's members."
            )
        elif not user.email_verified:
            refusal = PermissionDenied(
                f"{UNCONFIRMED_EMAIL}: follow the link we sent to {user.email}. "
                "No email? Ask for a new link."
            )
        else:
            user.failed_login_count = 0
            user.locked_until = None
            user.last_sign_in_at = moment
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(password)
    if refusal is not None:
        raise refusal
    assert user is not None
    return user


def _count_failure(session: Session, user: User, now: datetime) -> None:
    """One more failure in a row; at `LOCKOUT_THRESHOLD` the account is locked,
    audited, and its owner emailed (the only place a lock is announced)."""
    user.failed_login_count += 1
    if user.failed_login_count < LOCKOUT_THRESHOLD:
        return
    user.failed_login_count = 0
    user.locked_until = now + LOCKOUT_PERIOD
    audit.record(
        session,
        action="user.locked",
        entity_type="user",
        entity_id=user.id,
        before={"locked_until": None},
        after={"locked_until": user.locked_until},
        note=f"{LOCKOUT_THRESHOLD} failed sign-in attempts in a row",
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
            "reset_url": mail.absolute_url("accounts.reset"),
        },
    )


def sign_out(user_id: int) -> None:
    """End every session of the user, server-side: the next request with any
    copy of their session cookie finds a stale session generation."""
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.session_generation += 1


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
    try:
        normalized = normalize_email(email)
    except InvalidInput:
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
                context={"email": normalized, "reset_url": mail.absolute_url("accounts.reset")},
            )
            return
        _send_link(
            session,
            user,
            RESET_PASSWORD,
            "Reset your password",
            "reset_password",
            "accounts.reset_password",
        )


def _recent_mail(session: Session, templates: tuple[str, ...], address: str) -> int:
    """Emails of `templates` queued to `address` alone in the last hour."""
    since = utcnow() - timedelta(hours=1)
    count = session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.created_at >= since,
            OutboxMessage.template.in_(templates),
            OutboxMessage.recipients == json.dumps([address]),
        )
    )
    return int(count or 0)


def reset_password(raw: str, password: str) -> User:
    """Follow a reset link: set a new password, unlock the account, confirm the
    address, and sign out every other session (they carry the old hash)."""
    with db.transaction() as session:
        link = _find_link(session, raw, RESET_PASSWORD)
        user = link.user
        if user is None or not user.is_active:
            raise InvalidInput.for_field("token", "This account can no longer sign in.")
        names = (user.full_name, user.organization.legal_name if user.organization else "")
        problems = passwords.password_problems(password, email=user.email, names=names)
        if problems:
            raise InvalidInput("Choose a stronger password.", {"password": problems})
        now = utcnow()
        for other in session.scalars(
            select(OneTimeToken).where(
                OneTimeToken.user_id == user.id,
                OneTimeToken.purpose == RESET_PASSWORD,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.revoked_at.is_(None),
            )
        ):
            other.revoked_at = now
        link.revoked_at = None
        link.used_at = now
        user.password_hash = passwords.hash_password(password)
        user.session_generation += 1
        user.failed_login_count = 0
        user.locked_until = None
        verified_now = user.email_verified_at is None
        if verified_now:
            user.email_verified_at = now
        audit.record(
            session,
            action="user.password_reset",
            entity_type="user",
            entity_id=user.id,
            before=None,
            after={"email_verified_at": user.email_verified_at} if verified_now else None,
            actor=user.email,
            actor_user_id=user.id,
        )
        return user


# --- staff -------------------------------------------------------------------------


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


def create_staff_user(
    *,
    email: str,
    roles: Iterable[str],
    full_name: str,
    password: str | None = None,
) -> User:
    """A staff account. With `password` (the CLI) it can sign in at once; without
    (an admin in the console) it is emailed a link to choose one (valid 7 days)."""
    chosen = _clean_roles(roles)
    with db.transaction() as session:
        normalized, errors = _user_errors(
            session,
            email=email,
            password=password if password is not None else "",
            full_name=full_name,
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
        _insert_user(session, user)
        audit.record(
            session,
            action="user.created",
            entity_type="user",
            entity_id=user.id,
            before=None,
            after=user.snapshot(),
        )
        if password is None:
            link, raw = _issue_link(
                session,
                RESET_PASSWORD,
                email=user.email,
                user=user,
                valid_for=STAFF_WELCOME_VALIDITY,
            )
            mail.enqueue(
                session,
                to=user.email,
                subject=f"Your staff account at the {mail.OFFICE_NAME}",
                template="staff_welcome",
                context={
                    "user": user,
                    "roles": sorted(chosen),
                    "link": mail.absolute_url("accounts.reset_password", token=raw),
                    "expires_at": link.expires_at,
                },
                secrets=[raw],
            )
        return user


def create_admin(email: str, password: str, full_name: str = "Administrator") -> User:
    """The first admin (what `licensing users create-admin` calls)."""
    return create_staff_user(email=email, roles=("admin",), full_name=full_name, password=password)


def set_staff_roles(user_id: int, roles: Iterable[str]) -> User:
    """Admin: replace a staff member's roles (the last active admin keeps `admin`)."""
    chosen = _clean_roles(roles)
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
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
        if before != sorted(chosen):
            audit.record(
                session,
                action="user.roles_changed",
                entity_type="user",
                entity_id=user.id,
                before={"roles": before},
                after={"roles": sorted(chosen)},
            )
        return user


def unlock_user(user_id: int) -> User:
    """Admin: lift a sign-in lockout before it expires."""
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        if user.locked_until is None and user.failed_login_count == 0:
            return user
        before = {"locked_until": user.locked_until}
        user.locked_until = None
        user.failed_login_count = 0
        audit.record(
            session,
            action="user.unlocked",
            entity_type="user",
            entity_id=user.id,
            before=before,
            after={"locked_until": None},
        )
        return user


# --- API tokens --------------------------------------------------------------------


def create_api_token_for(email: str, name: str) -> tuple[ApiToken, str]:
    """Operations: a token for the active user with this email (`licensing tokens create`)."""
    with db.transaction() as session:
        user = queries.user_by_email(session, email)
        if user is None or not user.is_active:
            raise NotFound(f"There is no active user {email}.")
        user_id = user.id
    return create_api_token(user_id, name)


def create_api_token(user_id: int, name: str) -> tuple[ApiToken, str]:
    """A named personal token for the API; returns it and its secret, shown once.

    Only its SHA-256 is stored. It carries the user's own permissions.
    """
    label = (name or "").strip()
    if not label:
        raise InvalidInput.for_field("name", "Name the token (e.g. the system that uses it).")
    if len(label) > TOKEN_NAME_MAX:
        raise InvalidInput.for_field("name", f"Use at most {TOKEN_NAME_MAX} characters.")
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise NotFound(f"There is no user {user_id}.")
        active = [token for token in queries.tokens_of(session, user.id) if token.is_active]
        if len(active) >= MAX_ACTIVE_TOKENS:
            raise InvalidInput.for_field(
                "name", f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first."
            )
        raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=user.id,
            name=label,
            token_hash=_digest(raw),
            prefix=raw[:12],
            created_at=utcnow(),
        )
        session.add(token)
        session.flush()
        audit.record(
            session,
            action="api_token.created",
            entity_type="api_token",
            entity_id=token.id,
            before=None,
            after=token.snapshot(),
        )
        return token, raw


def revoke_api_token(token_id: int, principal: Principal) -> ApiToken:
    """Revoke one of the caller's tokens; it stops working at once."""
    with db.transaction() as session:
        token = queries.get_own_token(session, token_id, principal)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            audit.record(
                session,
                action="api_token.revoked",
                entity_type="api_token",
                entity_id=token.id,
                before={"revoked_at": None},
                after={"revoked_at": token.revoked_at},
            )
        return token
