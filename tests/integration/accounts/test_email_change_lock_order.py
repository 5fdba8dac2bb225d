"""Round 59 (locks59): an email change followed while the same person asks for another,
or followed twice at once (two clicks, a mail scanner): each finishes once, in the lock
order (`licensing/accounts/services/__init__.py`: the account, then its links).

The change writes the account's key (its address, under a unique constraint: PostgreSQL
takes FOR UPDATE for that UPDATE, whatever the step asks) and took it late, as the ORM
flushed the new address, after reading its link unlocked:
- a request for another address withdrew that link (locking it), then stored its new
  link (a key share of the account, waiting for the change's FOR UPDATE); the change
  then wrote its link: "deadlock detected";
- a second follow read the link pending and the old address before the first
  committed, waited for the account, and changed it again: two `user.email_changed`
  events and two "Your email address was changed" emails.
Both now lock the account first (the change FOR UPDATE, as its UPDATE would; a request
for a new address FOR NO KEY UPDATE, `locked_account`), and the change reads its link
afresh under the account's lock.

Each test holds the change once it has written the address, until the other step comes
to its first event (or is seen waiting for a lock, in the order that takes turns).
"""

from __future__ import annotations

import re
import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import OneTimeToken, User
from licensing.accounts.services import profile
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.concurrent_steps import at_first_event, held_until, run_at_once

FIRST = "robin.first@northwind.example"
SECOND = "robin.second@northwind.example"


@pytest.fixture
def change_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the change (thread "first") has written the new address and comes to
    withdraw the account's other links; it then waits until the other step (thread
    "second") comes to its first event, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, (profile, "_pending_links"), at_first_event(monkeypatch), before=True
    )


def _asked_for(app: Flask) -> tuple[int, Actor, str]:
    """A vendor who asked to move to `FIRST`: their id, actor and the link's token."""
    with app.app_context():
        session = db.session()
        vendor = factories.make_vendor(session)
        session.commit()
        actor = Actor.of(accounts.principal_for(vendor))
        accounts.request_email_change(actor, FIRST, factories.DEFAULT_PASSWORD)
        body = (
            db.session()
            .scalars(
                select(OutboxMessage.body_text).where(OutboxMessage.recipients.contains(FIRST))
            )
            .one()
        )
        found = re.search(r"/verify-email/(\S+)", body)
        assert found is not None
        return vendor.id, actor, found.group(1)


def _changed_events(app: Flask, user_id: int) -> int:
    with app.app_context():
        return int(
            db.session().scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "user.email_changed")
                .where(AuditEvent.entity_id == str(user_id))
            )
            or 0
        )


def test_an_email_change_followed_while_another_address_is_asked_for_both_finish(
    committed_app: Flask, change_holds: threading.Event
) -> None:
    user_id, actor, token = _asked_for(committed_app)

    def following() -> str:
        return accounts.verify_email(token).email

    def asking_again() -> str:
        return accounts.request_email_change(actor, SECOND, factories.DEFAULT_PASSWORD).email

    results = run_at_once(committed_app, following, asking_again, change_holds)

    assert results == {"first": FIRST, "second": SECOND}
    with committed_app.app_context():
        session = db.session()
        user = session.get(User, user_id)
        assert user is not None
        assert user.email == FIRST
        pending = session.scalars(
            select(OneTimeToken.email).where(
                OneTimeToken.user_id == user_id,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.revoked_at.is_(None),
            )
        ).all()
        assert pending == [SECOND]
    assert _changed_events(committed_app, user_id) == 1


def test_an_email_change_followed_twice_at_once_changes_the_address_once(
    committed_app: Flask, change_holds: threading.Event
) -> None:
    user_id, _actor, token = _asked_for(committed_app)
    with committed_app.app_context():
        old = db.session().get(User, user_id).email  # type: ignore[union-attr]

    def following() -> str:
        return accounts.verify_email(token).email

    results = run_at_once(committed_app, following, following, change_holds)

    assert results == {"first": FIRST, "second": FIRST}
    assert _changed_events(committed_app, user_id) == 1
    with committed_app.app_context():
        told = db.session().scalars(
            select(OutboxMessage.subject).where(OutboxMessage.recipients.contains(old))
        )
        assert list(told).count("Your email address was changed") == 1
