"""Who a user acts as, and their personal API tokens."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from licensing import calendar, db
from licensing.access import Principal
from licensing.accounts import queries
from licensing.accounts.models import (
    READ_SCOPE,
    TOKEN_NAME_MAX,
    TOKEN_SCOPES,
    WRITE_SCOPE,
    ApiToken,
    User,
)
from licensing.accounts.services._common import ONE_LINE, _digest, _revoke, is_one_line
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import AuthenticationRequired, InvalidInput, NotFound
from licensing.links import links
from licensing.mail import services as mail
from licensing.words import at_most_characters

MAX_ACTIVE_TOKENS = 20

# A new token lives this many days (90 unless its creator picks another). There is
# no "never" for new tokens: one pasted into a forgotten script would otherwise
# work for ever, and rotating one (create, switch, revoke) costs a minute. A year
# at most, so every token is looked at once a year.
EXPIRY_DAYS = (30, 90, 180, 365)
DEFAULT_EXPIRY_DAYS = 90
# The owner is emailed this long before a token expires, once.
EXPIRY_REMINDER = timedelta(days=7)
EXPIRY_REMINDED = "api_token.expiry_reminder_sent"
REMINDER_BATCH = 100

# Writing `last_used_at` on every API call would make every read a write.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)

API_TOKEN_PREFIX = "lic_"  # noqa: S105 - a visible marker, not a secret


def principal_for(user: User, *, token: ApiToken | None = None) -> Principal:
    """The `access.Principal` a user acts as (by `token` on the API)."""
    return Principal(
        user_id=user.id,
        email=user.email,
        organization_id=user.organization_id,
        roles=user.roles,
        via_token=token is not None,
        token_id=token.id if token is not None else None,
        read_only=token is not None and token.read_only,
        organization_role=user.organization_role,
    )


def expired_detail(token: ApiToken, replacement_page: str) -> str:
    """What a caller sending an expired token is told: that it expired, and when,
    and the full address of the API tokens page that starts a token like it
    (`replacement_page`). The caller holds the secret, so naming the token tells
    them nothing new."""
    assert token.expires_at is not None  # only expired tokens are described
    return (
        f"The API token “{token.name}” ({token.prefix}…) expired at "
        f"{token.expires_at.isoformat(timespec='seconds')}. Create a new one with scope "
        f"`{token.scope}` on the API tokens page ({replacement_page} starts "
        "with this token's name and scope), switch your program to it, and revoke this one."
    )


# The token with its user, in one statement: every API request runs it, and the user's
# row was a second SELECT (round 63: with the transaction's own statements, most of what
# an API request cost in the suite's fuzz). Built once a process, its hash a bound
# parameter (round 66: built anew, the statement and its options were some 0.5 ms of
# the 0.8 a look-up took on SQLite, as much as running it).
_TOKEN_WITH_ITS_USER = (
    select(ApiToken)
    .options(joinedload(ApiToken.user, innerjoin=True))
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def authenticate_token(
    raw: str, *, replacement_page: Callable[[int], str], now: datetime | None = None
) -> Principal | None:
    """The principal of an API token, or None when it is unknown, revoked, or its
    user is deactivated; `AuthenticationRequired` saying when, for an expired one,
    with `replacement_page(token id)`, the address of the page that replaces it.
    Notes when the token was last used (to the minute)."""
    moment = now or utcnow()
    with db.transaction() as session:
        token = session.scalars(_TOKEN_WITH_ITS_USER, {"token_hash": _digest(raw)}).one_or_none()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            return None
        if token.has_expired(moment):
            raise AuthenticationRequired(
                expired_detail(token, replacement_page(token.id)),
                instants={"expired_at": token.expires_at} if token.expires_at else None,
            )
        if token.last_used_at is None or moment - token.last_used_at >= TOKEN_USE_RESOLUTION:
            token.last_used_at = moment
        return principal_for(token.user, token=token)


def create_api_token_for(
    email: str,
    name: str,
    *,
    scope: str = WRITE_SCOPE,
    expires_in_days: int = DEFAULT_EXPIRY_DAYS,
) -> tuple[ApiToken, str]:
    """Operations: a token for the active user with this email (`licensing tokens create`)."""
    with db.transaction() as session:
        user = queries.user_by_email(session, email)
        if user is None or not user.is_active:
            raise NotFound(f"There is no active user {email}.")
        user_id = user.id
    return create_api_token(
        user_id, name, actor=Actor.SYSTEM, scope=scope, expires_in_days=expires_in_days
    )


def _checked_token_fields(name: str, scope: str, expires_in_days: int) -> str:
    """The token's name, trimmed; `InvalidInput` naming each field that is wrong."""
    errors: dict[str, list[str]] = {}
    label = (name or "").strip()
    if not label:
        errors["name"] = ["Name the token (e.g. the system that uses it)."]
    elif len(label) > TOKEN_NAME_MAX:
        errors["name"] = [at_most_characters(TOKEN_NAME_MAX)]
    elif not is_one_line(label):  # the expiry reminder writes it into an email
        errors["name"] = [ONE_LINE]
    if scope not in TOKEN_SCOPES:
        errors["scope"] = [f"Choose {READ_SCOPE!r} (reading only) or {WRITE_SCOPE!r}."]
    if expires_in_days not in EXPIRY_DAYS:
        days = ", ".join(str(days) for days in EXPIRY_DAYS[:-1])
        errors["expires_in"] = [f"Choose {days} or {EXPIRY_DAYS[-1]} days."]
    if errors:
        raise InvalidInput("Check the token's fields.", errors)
    return label


def create_api_token(
    user_id: int,
    name: str,
    *,
    actor: Actor,
    scope: str = WRITE_SCOPE,
    expires_in_days: int = DEFAULT_EXPIRY_DAYS,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A named personal token for the API; returns it and its secret, shown once.

    Only its SHA-256 is stored. It carries the user's own permissions (`write`)
    or reads only (`read`), and expires after `expires_in_days` (one of
    `EXPIRY_DAYS`). `actor` is the user themselves on pages, the system from the CLI.
    """
    label = _checked_token_fields(name, scope, expires_in_days)
    moment = now or utcnow()
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise NotFound(f"There is no user {user_id}.")
        # Expired tokens no longer count: they need not be revoked to make room.
        # Counted in SQL (round 49: it read every token the user ever made).
        if queries.usable_token_count(session, user.id, moment) >= MAX_ACTIVE_TOKENS:
            raise InvalidInput.for_field(
                "name", f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first."
            )
        raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=user.id,
            name=label,
            token_hash=_digest(raw),
            prefix=raw[:12],
            created_at=moment,
            scope=scope,
            expires_at=moment + timedelta(days=expires_in_days),
        )
        audit.record_new(session, token, "api_token.created", actor=actor)
        return token, raw


def revoke_api_token(token_id: int, actor: Actor) -> ApiToken:
    """Revoke one of the caller's tokens; it stops working at once."""
    with db.transaction() as session:
        token = queries.get_own_token(session, token_id, actor)
        if token.revoked_at is None:
            _revoke(session, token, "api_token.revoked", actor)
        return token


def remind_expiring_tokens(now: datetime | None = None) -> list[str]:
    """Email each owner whose token expires within `EXPIRY_REMINDER`, once per
    token (the worker's `tokens remind`); returns the tokens reminded of.

    Safe on several hosts at once: each batch is claimed (`db.claim`), and the
    once-only marker is the token's own `expiry_reminded_at`, which PostgreSQL
    checks again on the row's newest version when it locks it, so a host whose
    claim began before another committed the reminder skips the row. A token that
    has expired, been revoked, or whose owner is deactivated is not reminded of."""
    moment = now or utcnow()
    reminded: list[str] = []
    # Each batch is run again after a deadlock (round 60, `db.retried_unit`), the list of
    # tokens reminded as it was before it.
    while db.retried_unit(lambda: _remind_batch(moment, reminded), keeping=(reminded,)):
        pass
    return reminded


def _remind_batch(moment: datetime, reminded: list[str]) -> bool:
    """One batch of `remind_expiring_tokens`, in its own unit of work: whether it was
    full (more may be due)."""
    with db.transaction() as session:
        due = (
            select(ApiToken)
            .where(
                ApiToken.revoked_at.is_(None),
                ApiToken.expiry_reminded_at.is_(None),
                ApiToken.expires_at > moment,
                ApiToken.expires_at <= moment + EXPIRY_REMINDER,
            )
            # The soonest to expire first, then by id: the audit log's order.
            .order_by(ApiToken.expires_at, ApiToken.id)
            .limit(REMINDER_BATCH)
        )
        claimed = session.scalars(db.claim(due)).all()
        for token in claimed:
            _remind_expiring(session, token, moment)
            reminded.append(f"{token.prefix}… ({token.user.email})")
    return len(claimed) == REMINDER_BATCH


def _remind_expiring(session: Session, token: ApiToken, now: datetime) -> None:
    """Mark the token reminded (audited) and email its owner: which token, when it
    expires, when it was last used and how to rotate it without a gap."""
    assert token.expires_at is not None  # selected by its expiry
    token.expiry_reminded_at = now
    emailed = token.user.is_active  # a deactivated owner's tokens no longer work
    audit.record_event(
        session,
        EXPIRY_REMINDED,
        token.id,
        before={"expiry_reminded_at": None},
        after={"expiry_reminded_at": now},
        actor=Actor.SYSTEM,
        note=f"expires {token.expires_at.isoformat()}"
        + ("" if emailed else "; its owner is deactivated: not emailed"),
    )
    if not emailed:
        return
    mail.enqueue(
        session,
        to=token.user.email,
        subject=f"Your API token “{token.name}” expires on "
        f"{calendar.moment_text(token.expires_at)}",
        template="api_token_expiring",
        context={
            "user": token.user,
            "token": token,
            "expires": calendar.moment_text(token.expires_at),
            "last_used": calendar.moment_text(token.last_used_at) if token.last_used_at else None,
            "scope": "read only" if token.read_only else "read and write",
            "tokens_page": links().api_tokens(replacing=token.id),
        },
    )
