"""Round 57: an admin signing a vendor out while an application of theirs is
submitted, at once: both finish (the lock order, `licensing/accounts/services/
__init__.py`: the account's steps lock it FOR NO KEY UPDATE).

The sign-out locked the account FOR UPDATE, then audited. The submission audits, then
writes the application a second time: PostgreSQL checks every foreign key of a row
written twice in a transaction, so it took FOR KEY SHARE of the account the
application names (who drew it, who attested it) after its turn on the log, and
waited for the sign-out while the sign-out waited for the log: "deadlock detected".
The account's steps change no key of it (its id, its email), so they now lock it FOR
NO KEY UPDATE (`_common.locked_account`), which a key share does not wait for.

The test holds the sign-out once it holds the account, until the submission has its
turn on the log (or is seen waiting for a lock, in the order that takes turns).
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.accounts.services import remembered_browsers
from licensing.actors import Actor
from licensing.agreements import services
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import NOW, STAFF_USE, draft
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.concurrent_steps import having_the_log, held_until, run_at_once
from tests.support.settings import issuing


@pytest.fixture
def sign_out_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the sign-out (thread "first") holds the account; it then waits until
    the submission (thread "second") has its turn on the audit log, or is seen waiting
    for a lock."""
    return held_until(
        monkeypatch, (remembered_browsers, "forget_browsers"), having_the_log(monkeypatch)
    )


def test_a_vendor_signed_out_by_an_admin_while_their_application_is_submitted_both_finish(
    committed_app: Flask, sign_out_holds: threading.Event
) -> None:
    with committed_app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor = factories.make_vendor(session)
        vendor_actor = Actor.of(accounts.principal_for(vendor))
        application_id = services.create_draft(vendor_actor, draft(STAFF_USE), now=NOW).id
        admin = factories.staff_actor(("admin",))
        vendor_id = vendor.id
        session.commit()

    def sign_out() -> int:
        accounts.sign_out_for(admin, vendor_id)
        return vendor_id

    def submission() -> str:
        vendor = db.session().get(User, vendor_id)
        assert vendor is not None
        actor = Actor.of(accounts.principal_for(vendor))
        return services.submit(application_id, actor, policy=issuing(), attest=True, now=NOW).state

    results = run_at_once(committed_app, sign_out, submission, sign_out_holds)

    assert results["first"] == vendor_id
    assert results["second"] == "submitted"
