"""Round 55 (lockrest55): licensing staff reissuing an agreement on its corrected
card (ratecards55) while the licensee accepts it, at once: both finish, the reissue
first and the acceptance refused, naming the reissue (the lock order,
`licensing/agreements/services/__init__.py`: both lock the agreement before
anything else, so they were in order).

The acceptance reads the agreement first, as its page does, then accepts. The lock
found it in the session and kept the values read before the reissue committed
(`_owned`: `session.get` without `populate_existing`): it accepted the replaced
agreement as `issued`, and the database refused a second live agreement of the
application (an IntegrityError, a 500 on the page). This holds the reissue, once it
has the agreement, until the acceptance starts (or is seen waiting for a lock).
"""

from __future__ import annotations

import importlib
import threading

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.errors import Conflict
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import DEVELOPMENT_USE, NOW
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import accept, issued_agreement
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.settings import issuing

# The module (the package's `reissue` is the step).
reissuing = importlib.import_module("licensing.agreements.services.reissue")


@pytest.fixture
def reissue_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the reissue (thread "first") holds the agreement's lock; it then
    waits until the acceptance (thread "second") starts, or is seen waiting for a lock."""
    return held_until(monkeypatch, (reissuing, "_owned"), (services, "accept"))


def test_an_agreement_reissued_while_its_licensee_accepts_it_both_finish(
    committed_app: Flask, reissue_holds: threading.Event
) -> None:
    with committed_app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor, staff = factories.make_vendor(session), factories.make_staff(session)
        old_id = issued_agreement(vendor, staff, DEVELOPMENT_USE, now=NOW).id
        corrected = example_document()
        corrected["version"] = "2027.2"
        corrected["rules"][2]["model"]["amount"] = "2750.00"
        ratecards.import_card(corrected, published_by="tests")
        session.commit()
        vendor_id, staff_id = vendor.id, staff.id

    def reissue() -> int:
        staff = db.session().get(User, staff_id)
        actor = Actor.of(accounts.principal_for(staff))
        reason = "Rate card 2027.1 had the development fee mistyped"
        return services.reissue(old_id, reason, actor, policy=issuing(), now=NOW).id

    def acceptance() -> str:
        agreement = db.session().get(Agreement, old_id)
        assert agreement is not None
        try:
            return accept(agreement, db.session().get(User, vendor_id), now=NOW).state
        except Conflict as refusal:
            return str(refusal)

    results = run_at_once(committed_app, reissue, acceptance, reissue_holds)

    assert "replaced, unaccepted, by agreement" in results["second"]
    with committed_app.app_context():
        old = db.session().get(Agreement, old_id)
        assert old is not None
        assert old.state == "replaced"
        assert old.reissued_as is not None
        assert old.reissued_as.id == results["first"]
