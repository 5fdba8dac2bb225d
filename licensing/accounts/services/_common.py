"""Helpers shared by the accounts use cases: field checks, one-time links, secrets."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import calendar, db, printable
from licensing.accounts import passwords, queries
from licensing.accounts.countries import COUNTRIES, unknown_country
from licensing.accounts.models import (
    EMAIL_MAX,
    INVITATION,
    PERSON_NAME_MAX,
    RESET_PASSWORD,
    VERIFY_EMAIL,
    WELCOME,
    ApiToken,
    OneTimeToken,
    Organization,
    User,
)
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.signals import WithdrawnReviewer, reviewer_withdrawing, reviewer_withdrawn
from licensing.words import FIELD_REQUIRED, at_most_characters

# Links sent by email, and how long each stays valid.
LINK_VALIDITY = {
    VERIFY_EMAIL: timedelta(hours=48),
    RESET_PASSWORD: timedelta(hours=1),
    WELCOME: timedelta(days=7),
    INVITATION: timedelta(days=7),
}

# Per account: at most this many verification or reset emails an hour, so the
# form cannot be used to flood someone's inbox (held in the database, so across
# every process).
LINKS_PER_HOUR = 3

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


# A name or an address line is one line. The office writes them into the emails
# it sends (an invitation reaches any address a vendor names, with the inviter's
# and organization's names), and a name with line breaks wrote paragraphs of its
# own there. C0 and C1 controls (line breaks, tabs), DEL and the Unicode line and
# paragraph separators.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
ONE_LINE = "Write it on one line: no line breaks, tabs or other control characters."


def locked_account(session: Session, user_id: int) -> User | None:
    """The account's row, locked until the transaction ends (None: no such account),
    for the steps on its credentials (passkeys, two-step, remembered browsers, a
    sign-out), which take turns on it before their first event.

    FOR NO KEY UPDATE (round 57): none of them changes the account's key (its id, its
    email). A row naming the account written a second time after another step's
    first event (an application the person submits: its `created_by_id`,
    `attested_by_id`) takes the account's key share there, and FOR UPDATE waited
    for it while the other step waited for the log (held from a step's first event
    until round 58): "deadlock detected"
    (`tests/integration/accounts/test_account_written_twice_lock_order.py`)."""
    return session.get(User, user_id, with_for_update={"key_share": True})


def is_one_line(text: str) -> bool:
    return _NOT_ONE_LINE.search(text) is None


def normalize_email(value: str) -> str:
    """The address as stored: validated, then lower-cased (unique regardless of case).

    Raises `InvalidInput` (field `email`) when it is not an address.
    """
    text = (value or "").strip()
    if not text:
        raise InvalidInput.for_field("email", "Enter an email address.")
    if len(text) > EMAIL_MAX:
        raise InvalidInput.for_field("email", at_most_characters(EMAIL_MAX))
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput.for_field("email", f"This is not an email address: {exc}") from None


def _address_or_none(value: str) -> str | None:
    """The normalized address, or None for input that is not one (forms that
    must not say whether an address has an account answer it like any other)."""
    try:
        return normalize_email(value)
    except InvalidInput:
        return None


def _field_errors(error: InvalidInput, path: str) -> dict[str, list[str]]:
    """An error raised for `email` reported under another field path."""
    return {path: [message for messages in error.errors.values() for message in messages]}


def _clean_organization(
    values: Mapping[str, Any],
    *,
    prefix: str = "",
    partial: bool = False,
    stored: Organization | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Organization fields trimmed and checked; returns (clean values, errors by path).
    A field sent back as `stored` holds it that no document prints (saved before round
    55) is refused saying so (round 56): the reader typed nothing in it."""
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
                errors[path] = [FIELD_REQUIRED]
            else:
                clean[name] = None
            continue
        limit = Organization.LIMITS.get(name)
        if limit and len(text) > limit:
            errors[path] = [at_most_characters(limit)]
            continue
        if not is_one_line(text):
            errors[path] = [ONE_LINE]
            continue
        if (problem := printable.unprintable_problem(text)) is not None:
            if stored is not None and text == (getattr(stored, name) or "").strip():
                problem = printable.stored_unprintable_problem(text) or problem
            errors[path] = [problem]  # the name and address print on every document
            continue
        if name == "organization_type" and text not in ORGANIZATION_TYPES:
            errors[path] = [
                f"Unknown organization type {text!r}; choose one of "
                + ", ".join(ORGANIZATION_TYPES)
                + "."
            ]
            continue
        if name == "country":
            if text.upper() not in COUNTRIES:
                errors[path] = [unknown_country(text)]  # as typed
                continue
            text = text.upper()
        if name == "billing_email":
            try:
                text = normalize_email(text)
            except InvalidInput as exc:
                errors.update(_field_errors(exc, path))
                continue
        clean[name] = text
    return clean, errors


# Said to someone signing up: the account is probably their own.
EMAIL_TAKEN = "An account already uses this email address. Sign in, or reset your password."


def _user_errors(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str,
    names: Iterable[str] = (),
    taken: str | None = EMAIL_TAKEN,
) -> tuple[str, dict[str, list[str]]]:
    """(normalized email, errors by field) for a new user's email, password and name;
    `taken` is what to say when the address has an account (to whom is asking),
    None to leave that to the caller."""
    errors: dict[str, list[str]] = {}
    normalized = ""
    try:
        normalized = normalize_email(email)
    except InvalidInput as exc:
        errors.update(exc.errors)
    else:
        if taken is not None and queries.user_by_email(session, normalized) is not None:
            errors["email"] = [taken]
    name = (full_name or "").strip()
    if not name:
        errors["full_name"] = ["Enter your full name."]
    elif len(name) > PERSON_NAME_MAX:
        errors["full_name"] = [at_most_characters(PERSON_NAME_MAX)]
    elif not is_one_line(name):
        errors["full_name"] = [ONE_LINE]
    elif (problem := printable.unprintable_problem(name)) is not None:
        errors["full_name"] = [problem]  # a requester's letter is addressed to it
    problems = passwords.password_problems(
        password or "", email=normalized or email, names=(name, *names)
    )
    if problems:
        errors["password"] = problems
    return normalized, errors


def _refuse(errors: Mapping[str, list[str]], detail: str = "Some fields need correcting.") -> None:
    if errors:
        raise InvalidInput(detail, errors)


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


def _lookup_link(session: Session, raw: str, purpose: str | tuple[str, ...]) -> OneTimeToken | None:
    """The link for `raw` with `purpose` (or one of several), whatever its status."""
    purposes = (purpose,) if isinstance(purpose, str) else purpose
    return session.scalars(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == _digest(raw or ""), OneTimeToken.purpose.in_(purposes)
        )
    ).one_or_none()


def _find_link(session: Session, raw: str, purpose: str | tuple[str, ...]) -> OneTimeToken:
    """The pending link for `raw`, or `InvalidInput` saying what is wrong with it."""
    link = _lookup_link(session, raw, purpose)
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
            f"This link expired {calendar.when_text(link.expires_at)}. Ask for a new one.",
            instants={"expired_at": link.expires_at},
        )
    return link


def check_link(raw: str, purpose: str | tuple[str, ...]) -> OneTimeToken:
    """The pending link for `raw` (to show its form), or `InvalidInput` explaining why not."""
    return _find_link(db.session(), raw, purpose)


# The advisory lock's first key on PostgreSQL for an address's emails (the second is
# a hash of the address): no other advisory lock uses it (idempotency's is 0x1DE4).
_ADDRESS_LOCK = 0xADD5


def _address_takes_turns(session: Session, address: str) -> None:
    """Make the steps that count an address's recent emails, then queue one, take turns
    on that address until their transaction ends (round 51): requests at once each
    counted the others' emails as not yet sent, so six password resets at once sent
    five where 3 an hour is the bound. PostgreSQL: a transaction-level advisory lock
    on the address's hash (a shared hash makes two addresses wait on each other, no
    more), taken alike whether or not an account has it; SQLite: nothing to do, a unit
    of work holds the one write lock from its BEGIN IMMEDIATE."""
    if db.is_postgresql():
        session.execute(select(func.pg_advisory_xact_lock(_ADDRESS_LOCK, func.hashtext(address))))


def _recent_links(session: Session, purpose: str, email: str) -> int:
    _address_takes_turns(session, email)
    since = utcnow() - timedelta(hours=1)
    count = session.scalar(
        select(func.count(OneTimeToken.id)).where(
            OneTimeToken.purpose == purpose,
            OneTimeToken.email == email,
            OneTimeToken.created_at >= since,
        )
    )
    return int(count or 0)


def _send_link(
    session: Session,
    user: User,
    purpose: str,
    subject: str,
    template: str,
    page: Callable[[str], str],
    **context: Any,
) -> None:
    """Issue a one-time link for `purpose` and mail it to the user (the template's
    `context` besides the link and the user)."""
    link, raw = _issue_link(session, purpose, email=user.email, user=user)
    _mail_link(
        session, link, raw=raw, page=page, subject=subject, template=template, user=user, **context
    )


def _recent_mail(
    session: Session,
    templates: tuple[str, ...],
    address: str,
    within: timedelta = timedelta(hours=1),
) -> int:
    """Emails of `templates` queued to `address` alone in the last hour (`within`),
    counted in the address's turn (`_address_takes_turns`)."""
    _address_takes_turns(session, address)
    since = utcnow() - within
    count = session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.created_at >= since,
            OutboxMessage.template.in_(templates),
            OutboxMessage.recipients == json.dumps([address]),
        )
    )
    return int(count or 0)


def recently_mailed(
    session: Session, template: str, addresses: Iterable[str], within: timedelta
) -> frozenset[str]:
    """Of `addresses`, those sent an email of `template` to them alone within
    `within`: `_recent_mail` asked of many addresses in one statement."""
    alone = {json.dumps([address]): address for address in addresses}
    if not alone:
        return frozenset()
    found = session.scalars(
        select(OutboxMessage.recipients)
        .where(
            OutboxMessage.created_at >= utcnow() - within,
            OutboxMessage.template == template,
            OutboxMessage.recipients.in_(sorted(alone)),
        )
        .distinct()
    )
    return frozenset(alone[recipients] for recipients in found)


def _mail_link(
    session: Session,
    link: OneTimeToken,
    *,
    raw: str,
    page: Callable[[str], str],
    subject: str,
    template: str,
    **context: Any,
) -> None:
    """Mail a one-time link to the address it was issued for. `page` makes the
    link's URL from its token `raw` (a method of `links()`); the template gets
    `context` with the `link` and when it `expires_at`, and the token is masked."""
    mail.enqueue(
        session,
        to=link.email,
        subject=subject,
        template=template,
        context={**context, "link": page(raw), "expires_at": link.expires_at},
        secrets=[raw],
    )


def _insert_user(
    session: Session,
    user: User,
    *,
    actor: Actor | None,
    themselves: bool = False,
    founded: Organization | None = None,
) -> None:
    """Add the user and audit `user.created` (by `actor`, or by the user
    `themselves` signing up), after the `organization.created` of the organization
    they `founded` by signing it up, by them too; a concurrent sign-up with the same
    email loses cleanly."""
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise InvalidInput.for_field(
            "email", "An account already uses this email address. Sign in, or reset your password."
        ) from None
    who = _user_actor(user) if themselves else actor
    if founded is not None:
        # Round 59: by the account, as every other event names its actor (it named
        # the address alone, an actor with no account, the user not yet made).
        audit.record_event(
            session, "organization.created", founded.id, after=founded.snapshot(), actor=who
        )
    audit.record_event(
        session, "user.created", user.id, before=None, after=user.snapshot(), actor=who
    )


# --- who acts ------------------------------------------------------------------------


def _user_actor(user: User) -> Actor:
    """A user acting by a link they followed (no session to read them from)."""
    return Actor.user(
        user.email,
        user.id,
        user.organization_id,
        user.roles,
        organization_role=user.organization_role,
    )


def acting_colleague(session: Session, actor: Actor) -> User | None:
    """The vendor user who took a step, for the email that tells a colleague who;
    None when the office or the system took it (the email names the office)."""
    return session.get(User, actor.user_id) if actor.is_vendor and actor.user_id else None


def _change_user(
    session: Session,
    user: User,
    action: str,
    actor: Actor,
    *,
    note: str | None = None,
    **values: Any,
) -> None:
    """Set the user's fields to `values`, audited as `action` with what they were
    (and `note`, e.g. who ran the command that changed them)."""
    before = {name: getattr(user, name) for name in values}
    for name, value in values.items():
        setattr(user, name, value)
    audit.record_event(
        session, action, user.id, before=before, after=values, actor=actor, note=note
    )


def _revoke(
    session: Session,
    record: OneTimeToken | ApiToken,
    action: str,
    actor: Actor,
    *,
    note: str | None = None,
) -> None:
    """Withdraw a link or token now (it stops working at once), audited as `action`
    (with `note` saying why, when it is not its owner's own choice)."""
    record.revoked_at = utcnow()
    audit.record_event(
        session,
        action,
        record.id,
        before={"revoked_at": None},
        after={"revoked_at": record.revoked_at},
        actor=actor,
        note=note,
    )


def revoke_pending_invitations(
    session: Session,
    organization_id: int,
    actor: Actor,
    note: str,
    *,
    created_by_id: int | None = None,
    email: str | None = None,
    withdrawn_to: list[tuple[str, str | None]] | None = None,
) -> int:
    """Withdraw the organization's invitations pending now (those sent by
    `created_by_id`, or to `email`, when given) in one UPDATE, whatever the number of
    its invitations, each audited `invitation.revoked` with `note` as `_revoke` audits
    one (round 50: every invitation of the organization was read, and each withdrawn
    in statements of its own). How many were; their events newest first, as the
    organization's list orders them. Each one's address and the role it offered are
    added to `withdrawn_to`, when given, newest first (round 62: the email telling a
    demoted administrator of their role lists them)."""
    now = utcnow()
    where = [
        OneTimeToken.purpose == INVITATION,
        OneTimeToken.organization_id == organization_id,
        OneTimeToken.used_at.is_(None),
        OneTimeToken.revoked_at.is_(None),
        OneTimeToken.expires_at > now,
    ]
    if created_by_id is not None:
        where.append(OneTimeToken.created_by_id == created_by_id)
    if email is not None:
        where.append(OneTimeToken.email == email)
    changed = session.execute(
        update(OneTimeToken)
        .where(*where)
        .values(revoked_at=now)
        .returning(
            OneTimeToken.id,
            OneTimeToken.created_at,
            OneTimeToken.email,
            OneTimeToken.organization_role,
        )
    ).all()
    withdrawn = sorted(changed, key=lambda row: (row.created_at, row.id), reverse=True)
    if withdrawn_to is not None:
        withdrawn_to.extend((row.email, row.organization_role) for row in withdrawn)
    audit.record_events(
        session,
        "invitation.revoked",
        [row.id for row in withdrawn],
        before={"revoked_at": None},
        after={"revoked_at": now},
        actor=actor,
        note=note,
    )
    return len(withdrawn)


def _withdraw_links(links: Iterable[OneTimeToken], now: datetime) -> dict[str, Any]:
    """Withdraw one-time links that another step of the account's ends (a new password,
    a new address): what the audit event of that step adds to its `after`, naming each
    (round 50: they were withdrawn with no word in the audit log). Nothing when none."""
    withdrawn = []
    for link in links:
        link.revoked_at = now
        withdrawn.append({"id": link.id, "purpose": link.purpose})
    return {"links_withdrawn": withdrawn} if withdrawn else {}


# Who may be given reviews (applications, permission requests): their services
# refuse an assignee without one of these roles.
REVIEWING_ROLES = frozenset({"licensing", "admin"})


def _lock_reviews(session: Session, user: User, roles_before: Iterable[str]) -> None:
    """Before a step that will withdraw `user` as a reviewer audits anything: the
    packages that assign reviews lock the work assigned to them (round 55,
    lockrest55). A step on one of those records locks it, then audits; the
    deactivation audited the account, then locked them, and the two deadlocked."""
    if user.is_staff and REVIEWING_ROLES & set(roles_before):
        reviewer_withdrawing.send(WithdrawnReviewer(user_id=user.id, why=""), session=session)


def _withdraw_reviewer(
    session: Session, user: User, roles_before: Iterable[str], why: str, actor: Actor
) -> None:
    """`user` may no longer review (deactivated, or without a reviewing role): the
    packages that assign reviews take the work back, in this transaction."""
    if user.is_staff and REVIEWING_ROLES & set(roles_before):
        reviewer_withdrawn.send(
            WithdrawnReviewer(user_id=user.id, why=why), session=session, actor=actor
        )
