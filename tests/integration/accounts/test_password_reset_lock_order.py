"""Round 59 (retrycheck59): a password reset link followed twice at once (two clicks, a
mail scanner opening it as the person does) sets the password once, in the accounts'
lock order (`licensing/accounts/services/__init__.py`: the account, then its links).

The follow read its link unlocked and locked the account only as the ORM flushed the
new password: the second follow read the link pending before the first committed,
waited for the account at its first write, and then set the password again: two
`user.password_reset` events, and the second password kept. It now locks the account
(FOR NO KEY UPDATE, `locked_account`), then the link, read afresh; the second follow
finds the link used.

The first follow is held once it has written, until the second comes to its first event
or is seen waiting for a lock (the order that takes turns: the second waits for the account)."""

from __future__ import annotations

import re
import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import passwords
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.accounts.services import password_reset, remembered_browsers
from licensing.audit.models import AuditEvent
from licensing.errors import InvalidInput
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.concurrent_steps import at_first_event, held_until, run_at_once

FIRST = "Another-long-passphrase-1"
SECOND = "Another-long-passphrase-2"


@pytest.fixture
def follow_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the follow in thread "first" has written the password (the query
    `forget_browsers` makes flushes it); it then waits for thread "second"."""
    return held_until(
        monkeypatch, (remembered_browsers, "forget_browsers"), at_first_event(monkeypatch)
    )


def _reset_asked(app: Flask) -> tuple[int, str]:
    """A vendor who asked for a reset link: their id and the link's token."""
    with app.app_context():
        session = db.session()
        vendor = factories.make_vendor(session)
        session.commit()
        password_reset.request_password_reset(vendor.email)
        body = (
            db.session()
            .scalars(
                select(OutboxMessage.body_text).where(
                    OutboxMessage.recipients.contains(vendor.email),
                    OutboxMessage.subject == "Reset your password",
                )
            )
            .one()
        )
        found = re.search(r"/reset/(\S+)", body)
        assert found is not None
        return vendor.id, found.group(1)


def test_a_reset_link_followed_twice_at_once_sets_the_password_once(
    committed_app: Flask, follow_holds: threading.Event
) -> None:
    user_id, token = _reset_asked(committed_app)

    def following(password: str) -> str:
        try:
            accounts.reset_password(token, password)
        except InvalidInput as error:
            return error.errors["token"][0]
        return "set"

    results = run_at_once(
        committed_app, lambda: following(FIRST), lambda: following(SECOND), follow_holds
    )

    assert results == {"first": "set", "second": "This link has already been used."}
    with committed_app.app_context():
        session = db.session()
        user = session.get(User, user_id)
        assert user is not None
        assert passwords.verify_password(user.password_hash, FIRST)
        resets = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "user.password_reset")
            .where(AuditEvent.entity_id == str(user_id))
        )
        assert resets == 1
