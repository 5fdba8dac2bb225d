"""Round 57: a licensing analyst's first week, walked in Chromium (docs/journeys.md,
"Round 57: a licensing analyst's first week (staffwalk57)").

The analyst works the review queue, asks a vendor a question, and reads what comes
back: the queue's row says the application returned with an answer (it read
"submitted", as a new one), and its page sets the answer beside the question and
what the vendor changed beside the quote the question was asked on (the page showed
the answer alone above two quote tables, the stale one first). Approved, accepted;
then a correction of the card that leaves another agreement's prices as they were:
the reissue's confirmation says so, and its working reads in the page's figures
("2,500 end users", not "2500 end_users"). Last, a flagged royalty report sent back
for correction, and the corrected report read beside the note that asked for it.

On any day: next year's card (`CardYears`) prices the applications for its whole
year; the walk passes at the real time and under `TRAVEL_TO`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.db import utcnow
from licensing.mail import services as outbox
from licensing.ratecards import services as ratecards
from licensing.royalties.periods import reporting_periods
from tests.browser.conftest import card_of_a_year, newest_mail, one_line, sign_in, signed_in_tab
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.royalties.conftest import row
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.reporting_year import filed
from tests.support.servers import LiveServer, SMTPServer
from tests.support.settings import delivery, issuing

pytestmark = pytest.mark.xdist_group("licensing_analyst_first_week")

QUESTION = "What was the feed's revenue last year?"
ANSWER = "58,200.00 USD: the draft said 60,000.00 by mistake."


def _office(live_server: LiveServer, years: CardYears) -> dict[str, Any]:
    """Next year's card; two applications waiting for review (a data feed's revenue
    share, staff review, beside a per-user product), Alder's the older; an analyst."""
    now = utcnow()
    with live_server.app.app_context():
        card = card_of_a_year(years.next_version, years.next_from, years.next_to)
        ratecards.import_card(card, published_by="tests")
        session = db.session()
        analyst = factories.make_staff(session, roles=("licensing",))
        vendors = {}
        for name in ("Alder Health Software Inc.", "Birchway Billing Inc."):
            organization = factories.make_organization(session, legal_name=name)
            vendors[name] = factories.make_vendor(session, organization=organization)
        session.commit()
        references = {}
        for (name, vendor), (product, days) in zip(
            vendors.items(), (("Alder Code Feed", 6), ("Birchway Claims File", 2)), strict=True
        ):
            actor = Actor.of(accounts.principal_for(vendor))
            draft = agreements.ApplicationDraft.from_fields(
                {
                    "term_start": years.next_from,
                    "term_end": years.next_to,
                    "uses": (
                        {**STAFF_USE, "product_name": product, "revenue": "60000.00"},
                        {**AUTO_USE, "product_name": f"{product} Portal"},
                    ),
                }
            )
            made = agreements.create_draft(actor, draft, now=now - timedelta(days=days))
            agreements.submit(
                made.id, actor, policy=issuing(), attest=True, now=now - timedelta(days=days)
            )
            references[name] = made.reference
        return {
            "analyst": analyst.email,
            "vendors": {name: vendor.email for name, vendor in vendors.items()},
            "applications": references,
            "card": card,
        }


def _resubmitted_with_an_answer(live_server: LiveServer, email: str, reference: str) -> None:
    """Alder's returned application changed as its edit form sends it (the feed's
    revenue 58,200.00 where the draft said 60,000.00) and resubmitted with `ANSWER`,
    attested; its emails sent, as the requests' were."""
    with live_server.app.app_context():
        session = db.session()
        vendor = session.scalars(select(User).where(User.email == email)).one()
        application = session.scalars(
            select(Application).where(Application.organization_id == vendor.organization_id)
        ).one()
        assert application.reference == reference, application.reference
        actor = Actor.of(accounts.principal_for(vendor))
        draft = agreements.ApplicationDraft.from_fields(
            {
                "term_start": application.term_start,
                "term_end": application.term_end,
                "uses": (
                    {**STAFF_USE, "product_name": "Alder Code Feed", "revenue": "58200.00"},
                    {**AUTO_USE, "product_name": "Alder Code Feed Portal"},
                ),
            }
        )
        agreements.update_draft(application.id, actor, draft)
        agreements.submit(application.id, actor, policy=issuing(), attest=True, response=ANSWER)
        outbox.deliver_due(delivery())


def _row(page: Any, reference: str) -> str:
    return one_line(page.locator("tbody tr").filter(has_text=reference).inner_text())


def _open(page: Any, reference: str) -> None:
    page.goto("/console/applications")
    page.get_by_role("link", name=reference, exact=True).click()
    page.get_by_role("heading", name=re.compile(f"^{reference}")).wait_for()


def test_a_licensing_analyst_reads_an_answer_beside_the_question_and_a_reissue_that_changes_nothing(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer, card_years: CardYears
) -> None:
    office = _office(live_server, card_years)
    alder = office["applications"]["Alder Health Software Inc."]
    birchway = office["applications"]["Birchway Billing Inc."]
    sign_in(page, office["analyst"])

    # 1. The queue, oldest first; Alder's quote traced to its rule: 10% of 60,000.00.
    page.goto("/console/applications")
    assert "resubmitted" not in _row(page, alder)
    _open(page, alder)
    quote = one_line(page.locator("table").filter(has_text="Each use, priced").inner_text())
    assert f"rate card {card_years.next_version}" in quote
    assert "10% of revenue 60,000.00 = 6,000.00" in quote

    # 2. A question to the vendor.
    page.get_by_label("Action").select_option(label="Return to the vendor for information")
    page.get_by_label("Reason: emailed to the vendor").fill(QUESTION)
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state()
    assert f"Asked the vendor {QUESTION}" in one_line(page.locator("dl.facts").inner_text())

    # 3. The vendor corrects the revenue and answers, through the services the
    # application's pages call (round 68: five pages in a browser of the vendor's own,
    # before this walk's point; changing a returned application and resubmitting it
    # with an answer is test_application_journey.py's walk, on those pages).
    vendor_email = office["vendors"]["Alder Health Software Inc."]
    _resubmitted_with_an_answer(live_server, vendor_email, alder)
    newest_mail(mailbox, office["analyst"], "resubmitted with more information")

    # 4. The home and the queue say it came back with an answer (round 57: it read
    # "submitted", one of those awaiting review).
    page.goto("/console/")
    waiting = one_line(
        page.locator("tr").filter(has_text="Applications awaiting review").inner_text()
    )
    assert "1 back from the vendor with more information, marked resubmitted." in waiting
    page.goto("/console/applications")
    assert "submitted resubmitted with an answer" in _row(page, alder)
    assert "resubmitted" not in _row(page, birchway)
    assert_accessible(page)

    # 5. Its page: the question beside the answer, and what moved from the quote the
    # question was asked on (round 57: the answer alone, above the stale quote).
    _open(page, alder)
    facts = one_line(page.locator("dl.facts").inner_text())
    assert f"The office asked {QUESTION}" in facts
    assert f"Vendor's answer {ANSWER}" in facts
    changed = one_line(page.locator("#resubmission").inner_text())
    assert (
        "Quote version 2, resubmitted after the office's question, against version 1, the one "
        "the question was asked on: 39,620.00 USD, 180.00 USD less than 39,800.00 USD."
    ) in changed
    assert (
        "1. Alder Code Feed 6,000.00 5,820.00 180.00 less Expected annual revenue from "
        "60,000.00 USD to 58,200.00 USD."
    ) in changed
    # Round 58: version 1 is folded under the current one, opened on a click.
    earlier = page.locator("#quote-version-1")
    earlier.locator("summary").click()
    earlier.locator("table").first.wait_for()
    assert "Replaced by quote version 2, submitted since" in one_line(earlier.inner_text())
    assert_accessible(page)

    # 6. Approved on the resubmitted quote; the vendor accepts.
    page.get_by_role("button", name="Approve and issue the agreement").click()
    page.wait_for_load_state()
    flashed = one_line(page.locator(".flashes").inner_text())
    number = re.search(r"issued as (CPT-\d{4}-\d{6})", flashed)
    assert number, flashed
    vendor = signed_in_tab(browser, live_server, vendor_email)
    vendor.goto("/portal/agreements")
    vendor.get_by_role("link", name=number.group(1)).click()
    vendor.get_by_label("Your full name").fill("Ada Alder")
    vendor.get_by_label("Your title").fill("Chief Executive")
    vendor.get_by_role("checkbox").check()
    vendor.get_by_role("button", name="Accept the agreement").click()
    vendor.wait_for_load_state()
    assert "active" in one_line(vendor.locator("dl.facts").first.inner_text())

    # 7. Birchway approved, not yet accepted; then a correction of next year's card
    # that mends the print rule only: Birchway's prices stand, and the reissue's
    # confirmation says so before anything is issued.
    _open(page, birchway)
    page.get_by_role("button", name="Approve and issue the agreement").click()
    page.wait_for_load_state()
    issued = re.search(r"issued as (CPT-\d{4}-\d{6})", page.locator(".flashes").inner_text())
    assert issued
    correction = dict(office["card"])
    correction["version"] = card_years.next_version.replace(".1", ".2")
    correction["rules"] = [
        {**rule, "model": {**rule["model"], "tiers": [{"up_to": None, "unit_price": "14.50"}]}}
        if rule["id"] == "distribution-print"
        else rule
        for rule in office["card"]["rules"]
    ]
    with live_server.app.app_context():
        ratecards.import_card(correction, published_by="tests")
    page.goto("/console/agreements")
    page.get_by_role("link", name=issued.group(1)).click()
    panel = page.locator("#reissue")
    panel.get_by_label("Reason (sent to the licensee with the new agreement)").fill(
        "The print price was mistyped."
    )
    panel.get_by_role("button", name=f"Reissue on rate card {correction['version']}").click()
    page.get_by_role("heading", name=re.compile("^Reissue agreement")).wait_for()
    question = one_line(page.inner_text("main"))
    assert (
        f"Rate card {correction['version']} prices every use of this agreement as "
        f"{card_years.next_version} did: the correction changed none of its prices."
    ) in question
    assert (
        f"Working on {card_years.next_version}: 2,500 end users, graduated: 100 x 18.50 + "
        "900 x 15.50 + 1,500 x 12.00 = 33,800.00;"
    ) in question
    assert "10% of revenue 60,000.00 = 6,000.00" in question
    assert_accessible(page)
    page.get_by_role("link", name="Keep the agreement").click()
    page.get_by_role("heading", name=re.compile(f"Agreement {issued.group(1)}")).wait_for()


def test_a_licensing_analyst_reads_a_corrected_royalty_report_beside_the_note_that_asked_for_it(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer, card_years: CardYears
) -> None:
    now = utcnow()
    this_year = (card_years.this_from, card_years.this_to)
    with live_server.app.app_context():
        session = db.session()
        analyst = factories.make_staff(session, roles=("licensing",))
        organization = factories.make_organization(session, legal_name="Dunmore Data Inc.")
        licensee = factories.make_vendor(session, organization=organization)
        session.commit()
        agreement = make_active_agreement(licensee, analyst, AUTO_USE, term=this_year)
        first, second = reporting_periods(*this_year)[:2]
        rows = [row(1, "A", quantity=100), row(1, "B", quantity=50)]
        filed(licensee, agreement.id, first.start, rows, now=now)
        flagged = filed(licensee, agreement.id, second.start, [row(1, "A", quantity=40)], now=now)
        assert flagged.report is not None
        report_id, reference = flagged.report.id, flagged.report.reference
        analyst_email, licensee_email = analyst.email, licensee.email
    sign_in(page, analyst_email)

    # Sent back with a note, from the reports waiting for review.
    page.goto("/console/royalty-reports")
    page.get_by_role("link", name=reference).first.click()
    page.get_by_label("Note to the licensee").fill("Clinic B is missing from this period.")
    page.get_by_role("button", name="Ask for a corrected report").click()
    page.wait_for_load_state()
    assert "A corrected report is asked for." in one_line(page.locator(".flashes").inner_text())
    newest_mail(mailbox, licensee_email, "Please correct royalty report")

    # The licensee amends it; the analyst opens the correction from the queue.
    with live_server.app.app_context():
        corrected = filed(
            licensee,
            agreement.id,
            second.start,
            [row(1, "A", quantity=40), row(1, "B", quantity=60)],
            now=utcnow(),
            amends=report_id,
            reason="Clinic B added as asked.",
        )
        assert corrected.report is not None
        amendment = corrected.report.reference
    page.goto("/console/royalty-reports")
    page.get_by_role("link", name=amendment).first.click()
    page.get_by_role("heading", name=f"Royalty report {amendment}").wait_for()
    facts = one_line(page.locator("dl.facts").inner_text())
    assert f"Amends report {reference}, because: Clinic B added as asked." in facts
    asked = one_line(page.locator("#correction-asked").inner_text())
    assert asked.startswith("In answer to the correction the office asked for ")
    assert asked.endswith(f"({analyst_email}): Clinic B is missing from this period.")
    assert_accessible(page)
