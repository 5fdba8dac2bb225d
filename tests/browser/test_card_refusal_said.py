"""The card payment page's script shows a refusal as the pages say it (round 59,
refusals59): the invoice paid by wire while the vendor had the pay page open, the
attempt is refused, and the message it reads out says the day in words. It said
"is already paid on 2027-03-02": the JSON answer kept the service's ISO day."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.calendar import day_text, office_date
from tests.browser.conftest import GOOD_CARD, fill_card, invoiced_vendor, sign_in
from tests.integration.billing.stripe_support import stripe_config
from tests.support import factories
from tests.support.page_days import ISO_DAY
from tests.support.servers import LiveServer, LocalStripe


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_card_refused_for_an_invoice_paid_meanwhile_says_the_day_it_was_paid_in_words(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    email, invoice = invoiced_vendor(live_server, ("900.00",))
    sign_in(page, email)
    page.goto(f"/portal/invoices/{invoice.id}/pay")
    page.locator("#card-element input").first.wait_for()
    # Paid by wire meanwhile: the refusal names the office's day it was paid.
    with live_server.app.app_context():
        clerk = factories.make_staff(db.session(), roles=("billing",))
        billing.record_offline_payment(
            invoice.id,
            method="wire",
            amount=Decimal("900.00"),
            reference="W-900",
            actor=Actor.of(accounts.principal_for(clerk)),
        )
        paid = db.session().get(Invoice, invoice.id)
        assert paid is not None
        assert paid.paid_at is not None
        received = office_date(paid.paid_at)
    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name="Pay 900.00 USD").click()
    page.wait_for_function("() => document.activeElement.id === 'card-errors'")
    said = " ".join(page.inner_text("#card-errors[role=alert]").split())
    assert said == (
        f"Invoice {invoice.number} is already paid on {day_text(received)}: nothing is owed on it."
    ), said
    assert not ISO_DAY.search(said.replace(str(invoice.number), "")), said
