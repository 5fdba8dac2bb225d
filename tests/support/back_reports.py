"""A back licence, as the back reports' journeys (rounds 50 and 51) make it: an
agreement for the first half of 2027 applied for, approved and accepted on
2027-09-01, so both its reports were due (April and July) before it was accepted
and are due from the acceptance's office day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import time_machine

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from tests.integration.agreements.conftest import AUTO_USE, draft
from tests.support.agreements import accept, agreement_of
from tests.support.settings import issuing

# Wednesday 2027-09-01, 15:00 UTC (11:00 at the office): the 2027 term is under way.
SEPTEMBER = datetime(2027, 9, 1, 15, 0, tzinfo=UTC)
# Three office days after the acceptance.
LATER = datetime(2027, 9, 4, 15, 0, tzinfo=UTC)
# The first half of 2027, over by September: two quarters, due 2027-04-30 and 07-30.
HALF = (date(2027, 1, 1), date(2027, 6, 30))


def back_licensed(vendor: Any, staff: Any) -> Agreement:
    """An agreement for the first half of 2027, applied for, approved and accepted on
    2027-09-01: past use only, expired at once, both its reports due (the contract's
    example card published: the `example_card` fixture)."""
    actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(actor, draft(AUTO_USE, term=HALF), now=SEPTEMBER)
    with time_machine.travel(SEPTEMBER, tick=False):
        agreements.submit(application.id, actor, policy=issuing(), attest=True, now=SEPTEMBER)
        agreements.approve(
            application.id,
            Actor.of(accounts.principal_for(staff)),
            policy=issuing(),
            now=SEPTEMBER,
        )
    agreement = accept(agreement_of(application), vendor, now=SEPTEMBER)
    assert agreement.state == "expired"
    return agreement
