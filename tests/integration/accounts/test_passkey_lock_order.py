"""Round 55: signing in with a passkey while the office removes it (a stolen
device), at once, both finish: each locks the account before its passkeys (the
lock order, `licensing/accounts/services/__init__.py`).

The sign-in locked the passkey, then its account; a removal (the office's, an
administrator's for a colleague, the owner's own) locks the account, then deletes
its passkeys. On PostgreSQL the two, each holding its first, waited for each other's:
"deadlock detected". The test holds the removal, once it has the account, until the
sign-in has locked the passkey (or is seen waiting for a lock: in the one order the sign-in
waits for the account before it touches the passkey, and finds it removed).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.services import passkeys
from licensing.accounts.services.passkeys import Passkey, RelyingParty
from licensing.actors import Actor
from licensing.errors import AuthenticationRequired
from tests.support import factories
from tests.support.concurrent_steps import run_at_once, wait_for_second
from tests.support.passkeys import ORIGIN, RP_ID, authenticator

PARTY = RelyingParty(rp_id=RP_ID, origin=ORIGIN, name="Licensing office")


@pytest.fixture
def removal_holds(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Iterator[threading.Event]:
    """Set once the removal (thread "first") holds the account's lock; it then waits
    until the sign-in (thread "second") has locked the passkey, or is seen waiting for a lock."""
    holds, passkey_locked = threading.Event(), threading.Event()
    theirs = passkeys._theirs_to_remove
    engine = committed_app.extensions["licensing.db"].engine

    def checking(*args: Any) -> Any:
        holds.set()
        wait_for_second(passkey_locked)
        return theirs(*args)

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The sign-in's lock of the passkey (the account's row reads its passkeys too).
        if statement.startswith("SELECT passkeys.") and "FOR UPDATE" in statement:
            passkey_locked.set()

    monkeypatch.setattr(passkeys, "_theirs_to_remove", checking)
    event.listen(engine, "after_cursor_execute", executed)
    yield holds
    event.remove(engine, "after_cursor_execute", executed)


def test_a_passkey_removed_by_the_office_while_it_signs_in_is_removed_and_refused(
    committed_app: Flask, removal_holds: threading.Event
) -> None:
    device = authenticator()
    with committed_app.app_context():
        session = db.session()
        owner = factories.make_vendor(session)
        owner_id, email = owner.id, owner.email
        actor = Actor.of(accounts.principal_for(owner))
        options = passkeys.registration_options(actor, PARTY)
        credential = device.register(json.loads(options.json))
        passkeys.add_passkey(actor, "Phone", credential, options.challenge, PARTY)
        admin = factories.staff_actor(("admin",))
        session.commit()

    def removal() -> tuple[str, ...]:
        return passkeys.remove_passkeys_for(admin, owner_id, "The phone was stolen").names

    def sign_in() -> str:
        options = passkeys.sign_in_options(PARTY)
        answer = device.sign_in(json.loads(options.json))
        try:
            return passkeys.sign_in_with_passkey(answer, options.challenge, PARTY).user.email
        except AuthenticationRequired as refused:
            return f"refused: {refused}"

    results = run_at_once(committed_app, removal, sign_in, removal_holds)

    assert results["first"] == ("Phone",)
    # Signed in before the removal, or refused after it: never a lost request.
    assert results["second"].startswith(("refused", email))
    with committed_app.app_context():
        assert db.session().scalars(select(Passkey.id)).all() == []
