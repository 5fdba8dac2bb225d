"""Who a user acts as, and their personal API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from licensing import db
from licensing.access import Principal
from licensing.accounts import queries
from licensing.accounts.models import TOKEN_NAME_MAX, ApiToken, User
from licensing.accounts.services._common import _digest, _revoke
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import InvalidInput, NotFound
from licensing.words import at_most_characters

MAX_ACTIVE_TOKENS = 20

# Writing `last_used_at` on every API call would make every read a write.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)

API_TOKEN_PREFIX = "lic_"  # noqa: S105 - a visible marker, not a secret


def principal_for(user: User, *, via_token: bool = False) -> Principal:
    """The `access.Principal` a user acts as."""
    return Principal(
        user_id=user.id,
        email=user.email,
        organization_id=user.organization_id,
        roles=user.roles,
        via_token=via_token,
        organization_role=user.organization_role,
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


def create_api_token_for(email: str, name: str) -> tuple[ApiToken, str]:
    """Operations: a token for the active user with this email (`licensing tokens create`)."""
    with db.transaction() as session:
        user = queries.user_by_email(session, email)
        if user is None or not user.is_active:
            raise NotFound(f"There is no active user {email}.")
        user_id = user.id
    return create_api_token(user_id, name, actor=Actor.SYSTEM)


def create_api_token(user_id: int, name: str, *, actor: Actor) -> tuple[ApiToken, str]:
    """A named personal token for the API; returns it and its secret, shown once.

    Only its SHA-256 is stored. It carries the user's own permissions. `actor`
    is the user themselves on pages and the API, the system from the CLI.
    """
    label = (name or "").strip()
    if not label:
        raise InvalidInput.for_field("name", "Name the token (e.g. the system that uses it).")
    if len(label) > TOKEN_NAME_MAX:
        raise InvalidInput.for_field("name", at_most_characters(TOKEN_NAME_MAX))
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
        audit.record_new(session, token, "api_token.created", actor=actor)
        return token, raw


def revoke_api_token(token_id: int, actor: Actor) -> ApiToken:
    """Revoke one of the caller's tokens; it stops working at once."""
    with db.transaction() as session:
        token = queries.get_own_token(session, token_id, actor)
        if token.revoked_at is None:
            _revoke(session, token, "api_token.revoked", actor)
        return token
