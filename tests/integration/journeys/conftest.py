"""The journeys fixes reuse the applications fixtures (example card, `apply`), and
run the walks written around 2027 and its cards on a fixed day before them."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import (
    AUTO_USE,
    DEVELOPMENT_USE,
    NOW,
    apply,  # noqa: F401 - the fixture
)
from tests.integration.billing.conftest import invoice_for  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import (
    card_document,
    example_card,  # noqa: F401 - the fixture
    flat_card,
)
from tests.support.agreements import accept, agreement_of
from tests.support.pages import text_of
from tests.support.settings import issuing

# A day before 2027's terms end and 2028's cards start, as these walks are written:
# asked at the real time, from 1 January 2028 a renewal's or a card's term began on
# the office's today, and a routed 2027 request's grant had ended (round 47).
IN_DECEMBER_2026 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def in_december_2026() -> Iterator[None]:
    """The whole test on a fixed (ticking) day, 1 December 2026."""
    with time_machine.travel(IN_DECEMBER_2026, tick=True):
        yield


# --- A licensee in two currencies (rounds 64 and 65: the currency journeys) -----

JPY_2027 = flat_card("2027.JPY", "JPY", "300000")
# A derivative work on the yen card: its revenue is a whole number of yen.
YEN_USE = {
    **AUTO_USE,
    "product_name": "Yen Pad",
    "use": "derivative_work",
    "product_type": "software",
    "revenue": "1000000",
}
ASKED = datetime(2027, 11, 2, 17, tzinfo=UTC)
# Next year's dollar card, and a renewal's issue two hours after it was asked for: the
# currency journeys' (rounds 62-67) common ground.
USD_2028 = card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
ISSUED = ASKED + timedelta(hours=2)


def agreement_on_card(vendor: Any, staff: Any, card: str, use: dict[str, Any]) -> Agreement:
    """An active 2027 agreement for `use`, applied for naming `card`."""
    actor = Actor.of(accounts.principal_for(vendor))
    draft = agreements.ApplicationDraft.from_fields(
        {
            "term_start": date(2027, 1, 1),
            "term_end": date(2027, 12, 31),
            "rate_card": card,
            "uses": [use],
        }
    )
    application = agreements.create_draft(actor, draft, now=NOW)
    application = agreements.submit(application.id, actor, policy=issuing(), attest=True, now=NOW)
    if application.state != "approved":
        reviewer = Actor.of(accounts.principal_for(staff))
        agreements.start_review(application.id, reviewer, now=NOW)
        agreements.approve(application.id, reviewer, policy=issuing(), now=NOW)
    return accept(agreement_of(application), vendor, now=NOW)


def in_two_currencies(vendor: Any, staff: Any) -> tuple[Agreement, Agreement]:
    """The vendor's agreements for 2027: one on 2027.1 (USD), one on 2027.JPY."""
    ratecards.import_card(JPY_2027, published_by="tests")
    usd = agreement_on_card(vendor, staff, "2027.1", DEVELOPMENT_USE)
    jpy = agreement_on_card(vendor, staff, "2027.JPY", YEN_USE)
    assert (usd.currency, jpy.currency) == ("USD", "JPY")
    db.session().commit()
    return usd, jpy


def pages_read_at(
    client: FlaskClient, user: Any, signed_in: Any, when: datetime, *urls: str
) -> list[str]:
    """The pages at `urls` in words, read by `user` signed in at `when` (a session
    signed in at the test's real time has expired by then)."""
    with time_machine.travel(when, tick=False):
        signed_in(client, user)
        return [text_of(client.get(url)) for url in urls]
