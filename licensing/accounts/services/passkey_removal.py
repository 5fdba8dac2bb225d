"""Removing an account's passkeys inside another step's transaction (round 45).

The office's removal (`passkeys.remove_passkeys_for`), two-step sign-in turned off
by the office for a lost device, and a deactivation each remove passkeys; they
share this, so that each is audited the same way (`user.passkey_removed`, the names
removed, how many are left, and why). Sessions resting on a removed passkey end on
their next request (`auth.load_session_user` reads the session's passkey).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.accounts.models import Passkey, User
from licensing.actors import Actor
from licensing.audit import services as audit


def drop_passkeys(
    session: Session,
    user: User,
    actor: Actor | None,
    why: str,
    *,
    only: Collection[int] | None = None,
    emailed: bool | None = None,
) -> list[str]:
    """Delete the account's passkeys (those whose ids are `only`, or all), in the
    caller's transaction: audited once with their names and `why`; nothing when it
    had none. The names removed, oldest first."""
    query = select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at)
    if only is not None:
        query = query.where(Passkey.id.in_(list(only)))
    removed = list(session.scalars(query))
    if not removed:
        return []
    for passkey in removed:
        session.delete(passkey)
    session.flush()
    left = session.scalar(select(func.count(Passkey.id)).where(Passkey.user_id == user.id)) or 0
    told = {} if emailed is None else {"emailed": emailed}
    audit.record_event(
        session,
        "user.passkey_removed",
        user.id,
        before={"passkeys": [passkey.name for passkey in removed]},
        after={"passkeys": left, **told},
        actor=actor,
        note=why,
    )
    return [passkey.name for passkey in removed]
