"""Round 62 in Chromium (correction62): a correction for part of a card's period, told
to those it touches and to no one else (docs/journeys.md). The office publishes 2027.3,
2027.1's rules with the software price above 1,000 end users 10.00 (was 12.00), from
July 1 only. A vendor whose accepted agreement runs from July to December is inside it:
the publishing's message names the agreement, the vendor is emailed what the correction
changes for its uses, and reads the same on the agreement's page. A vendor whose
agreement runs from January to June is outside it: no email, and nothing on its page.
Products are invented."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.agreements.models import Agreement
from licensing.mail.models import OutboxMessage
from tests.browser.conftest import newest_mail, sign_in, signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.axe import assert_accessible
from tests.support.card_year_uses import text
from tests.support.servers import LiveServer, SMTPServer

FIRST_HALF = (date(2027, 1, 1), date(2027, 6, 30))
SECOND_HALF = (date(2027, 7, 1), date(2027, 12, 31))
FIGURES = (
    "What 2027.3 changes for this agreement's uses, against 2027.1: Use 1: rule "
    "distribution-software: charge now per end user, graduated: the first 100 at 18.50 USD "
    "each, the next 900 at 15.50 USD each, above 1,000 at 10.00 USD each (was per end "
    "user, graduated: the first 100 at 18.50 USD each, the next 900 at 15.50 USD each, "
    "above 1,000 at 12.00 USD each)."
)


def test_a_partial_correction_is_told_to_the_vendor_inside_it_and_not_to_the_one_outside(
    browser: Any, page: Any, live_server: LiveServer, mailbox: SMTPServer, tmp_path: Path
) -> None:
    inside, staff = vendor_and_staff(live_server)
    with live_server.app.app_context():
        session = db.session()
        outside = factories.make_vendor(session, full_name="Omar Lindqvist")
        admin = factories.make_staff(session, roles=("admin",))
        session.commit()
        later: Agreement = make_active_agreement(inside, staff, AUTO_USE, term=SECOND_HALF)
        earlier: Agreement = make_active_agreement(outside, staff, AUTO_USE, term=FIRST_HALF)
    card = example_document()
    card.update(version="2027.3", effective_from="2027-07-01")
    card["rules"][5]["model"]["tiers"][2]["unit_price"] = "10.00"
    path = tmp_path / "2027.3.json"
    path.write_text(json.dumps(card, default=str))

    # The office checks the card and publishes it from the check.
    sign_in(page, admin.email)
    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(path))
    page.get_by_role("button", name="Check without publishing").click()
    page.locator("text=The card is valid. Nothing is published yet").wait_for()
    page.get_by_role("button", name="Publish rate card 2027.3").click()
    page.wait_for_url("**/console/rate-cards/2027.3")
    said = text(page.locator(".flashes"))
    assert "It replaces 2027.1 from July 1, 2027 to December 31, 2027, part of its period" in said
    assert (
        "The licensees of 1 agreement it corrects were emailed that their rate card was "
        f"corrected: {later.number}."
    ) in said
    assert earlier.number not in said

    # The vendor inside the corrected days is emailed what changes for its uses.
    subject = f"Agreement {later.number}: its rate card 2027.1 was corrected"
    email = newest_mail(mailbox, inside.email, subject)
    assert "published for part of its period: every day of this agreement's term." in email
    assert FIGURES in email
    # ... and reads the same on the agreement's page, where the email links.
    vendor = signed_in_tab(browser, live_server, inside.email)
    vendor.goto(f"/portal/agreements/{later.id}#card-corrected")
    panel = vendor.locator("#card-corrected")
    panel.wait_for()
    assert "Its rate card was corrected" in text(panel)
    assert "published for part of its period: every day of this agreement's term." in text(panel)
    assert text(panel.locator(".card-corrected-figures")) == FIGURES
    assert_accessible(vendor)
    vendor.context.close()

    # The vendor outside them: no email, and nothing on its agreement's page.
    other = signed_in_tab(browser, live_server, outside.email)
    other.goto(f"/portal/agreements/{earlier.id}")
    other.get_by_role("heading", name=f"Agreement {earlier.number}").wait_for()
    assert other.locator("#card-corrected").count() == 0
    # The publishing queued every email it sends in its own transaction, before its
    # answer: none is queued for this vendor (nor sent), with no wait for the outbox.
    with live_server.app.app_context():
        queued = db.session().scalars(
            select(OutboxMessage.subject).where(OutboxMessage.recipients.contains(outside.email))
        )
        assert not [subject for subject in queued if "rate card" in subject]
    assert not [m for m in mailbox.to(outside.email) if "rate card" in str(m["Subject"])]
    other.context.close()
