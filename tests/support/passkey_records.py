"""What the passkey tests read back after a step: the names of a person's
passkeys, one's id, the emails of a template sent to them, and whether a browser
is still signed in (rounds 45 and 47)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Passkey, User
from licensing.mail.models import OutboxMessage


def passkey_names(user: User) -> list[str]:
    """The person's passkeys' names, oldest first."""
    return list(
        db.session().scalars(
            select(Passkey.name)
            .where(Passkey.user_id == user.id)
            .order_by(Passkey.created_at, Passkey.id)
        )
    )


def passkey_id(user: User, name: str) -> int:
    found = db.session().scalar(
        select(Passkey.id).where(Passkey.user_id == user.id, Passkey.name == name)
    )
    assert found is not None
    return found


def emails_to(user: User, template: str) -> list[OutboxMessage]:
    """The emails of `template` queued to the person."""
    return list(
        db.session().scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == template, OutboxMessage.recipients.contains(user.email)
            )
        )
    )


def still_signed_in(client: FlaskClient) -> bool:
    """Whether the client's session still opens a signed-in page."""
    return client.get("/account/tokens").status_code == 200
