"""Round 53: a licensing staff reviewer's week, walked in Chromium (docs/journeys.md,
"Round 53: a licensing reviewer's week").

A licensing officer (the `licensing` role, not billing) opens the console's home and
works the review queue oldest first: checks an application's quote by hand from its
working and the rate card version it names, asks one vendor for more information,
rejects another with a reason, approves a third with a note and reads the agreement
issued, waiting for the vendor's acceptance; finds an organization by name and reads
its history; handles a renewal drawn by a licensee whose agreement ends with this
year's card; and asks for a corrected royalty report among those waiting for review.
At each page: what waits on whom, how old it is against the service level, why the
price is what it is, and what the vendor meets next.

On any day: this year's card ends a month from the office's today (`CardYears`), so
its agreements are renewals coming due; the applications are for next year's card's
whole year (nothing prorated); the royalty reports are this year's first two periods,
already over. Every day the walk reads follows from the office's today (it passes at
the real time and under `TRAVEL_TO`, `tests.support.travelled_clock`)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from licensing.royalties.periods import reporting_periods
from licensing.royalties.services.review import CORRECTION_DUE_DAYS
from tests.browser.conftest import card_of_a_year, newest_mail, one_line, sign_in
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.royalties.conftest import row
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.reporting_year import filed
from tests.support.servers import LiveServer, SMTPServer
from tests.support.settings import issuing

pytestmark = pytest.mark.xdist_group("reviewer_week")

# Each: its company, product, revenue, and how many days ago it was submitted.
APPLICANTS = (
    ("Alder Health Software Inc.", "Alder Code Feed", "60000.00", 30),  # overdue on any day
    ("Birchway Billing Inc.", "Birchway Claims File", "70000.00", 6),
    ("Alder Health Software Inc.", "Alder Audit Feed", "80000.00", 2),
)
NOTE = "Approved once the revenue statement for last year came in."


def _main(page: Any) -> str:
    return one_line(page.inner_text("main"))


def _flash(page: Any) -> str:
    return one_line(page.locator(".flashes").inner_text())


def _office(live_server: LiveServer, years: CardYears) -> dict[str, Any]:
    """Next year's card beside this year's; three applications waiting for review;
    Cobalt's agreement ending with this year's card, its renewal drawn and submitted;
    Dunmore's per-user agreement with its second period's report flagged (40 end
    users after 150); a licensing officer."""
    now = utcnow()
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(years.next_version, years.next_from, years.next_to),
            published_by="tests",
        )
        session = db.session()
        officer = factories.make_staff(session, roles=("licensing",))
        vendors: dict[str, Any] = {}
        for name in ("Alder Health Software Inc.", "Birchway Billing Inc.", "Cobalt Claims Inc."):
            organization = factories.make_organization(session, legal_name=name)
            vendors[name] = factories.make_vendor(session, organization=organization)
        dunmore = factories.make_organization(session, legal_name="Dunmore Data Inc.")
        vendors["Dunmore Data Inc."] = factories.make_vendor(session, organization=dunmore)
        session.commit()
        applications = []
        for name, product, revenue, days in APPLICANTS:
            actor = Actor.of(accounts.principal_for(vendors[name]))
            draft = agreements.ApplicationDraft.from_fields(
                {
                    "term_start": years.next_from,
                    "term_end": years.next_to,
                    "uses": ({**STAFF_USE, "product_name": product, "revenue": revenue},),
                }
            )
            at = now - timedelta(days=days)
            made = agreements.create_draft(actor, draft, now=at)
            agreements.submit(made.id, actor, policy=issuing(), attest=True, now=at)
            applications.append(made.reference)
        this_year = (years.this_from, years.this_to)
        cobalt = vendors["Cobalt Claims Inc."]
        ending = make_active_agreement(
            cobalt, officer, {**STAFF_USE, "product_name": "Cobalt Feed"}, term=this_year
        )
        actor = Actor.of(accounts.principal_for(cobalt))
        renewal = agreements.start_renewal(ending.id, actor)
        agreements.submit(renewal.id, actor, policy=issuing(), attest=True)
        reporting = make_active_agreement(
            vendors["Dunmore Data Inc."], officer, AUTO_USE, term=this_year
        )
        first, second = reporting_periods(*this_year)[:2]
        filer = vendors["Dunmore Data Inc."]
        filed(
            filer,
            reporting.id,
            first.start,
            [row(1, "A", quantity=100), row(1, "B", quantity=50)],
            now=now,
        )
        flagged = filed(filer, reporting.id, second.start, [row(1, "A", quantity=40)], now=now)
        assert flagged.report is not None
        return {
            "officer": officer.email,
            "vendors": {name: vendor.email for name, vendor in vendors.items()},
            "applications": applications,
            "ending": ending.number,
            "renewal": renewal.reference,
            "flagged": flagged.report.reference,
            "reporting": reporting.number,
        }


def _decide(page: Any, action: str, reason: str) -> None:
    page.get_by_label("Action").select_option(label=action)
    page.get_by_label("Reason: emailed to the vendor").fill(reason)
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state()


def _open(page: Any, reference: str) -> None:
    """The application opened from the queue, oldest first."""
    page.goto("/console/applications")
    page.get_by_role("link", name=reference, exact=True).click()
    page.get_by_role("heading", name=re.compile(f"^{reference}")).wait_for()


def test_a_licensing_reviewer_works_a_week_of_applications_renewals_and_reports(
    page: Any, live_server: LiveServer, mailbox: SMTPServer, card_years: CardYears
) -> None:
    office = _office(live_server, card_years)
    alder_old, birchway, alder_new = office["applications"]
    vendors = office["vendors"]
    today = office_date(utcnow())
    sign_in(page, office["officer"])

    # 1. The console's home: what waits, how much is past the service level.
    page.goto("/console/")
    waiting = one_line(
        page.locator("tr").filter(has_text="Applications awaiting review").inner_text()
    )
    assert "1 past the service level of 10 US business days." in waiting
    assert "4 4 unassigned" in waiting  # three first licenses and the renewal
    flagged_row = one_line(
        page.locator("tr").filter(has_text="Flagged royalty reports").inner_text()
    )
    assert "1 1 to review" in flagged_row
    with page.expect_navigation():
        page.locator("tr").filter(has_text="Applications awaiting review").get_by_role(
            "link"
        ).first.click()

    # 2. The queue, oldest first: ages against the service level; the renewal named.
    rows = [one_line(text) for text in page.locator("tbody tr").all_inner_texts()]
    assert [r.split()[0] for r in rows] == [alder_old, birchway, alder_new, office["renewal"]]
    assert re.search(r"\d+ of 10 overdue", rows[0]), rows[0]
    assert "overdue" not in rows[1]
    assert f"renewal of {office['ending']}" in rows[3]  # round 53
    assert "renewal of" not in " ".join(rows[:3])

    # 3. The oldest: its age, and its quote checked by hand from the working and the
    # card's rule: 10% of 60,000.00 is 6,000.00, above the 5,000.00 minimum.
    _open(page, alder_old)
    age = page.locator("#review-age").inner_text()
    assert re.fullmatch(r"\d+ of 10 business days; overdue: the decision was due by .+", age), age
    quote = one_line(page.locator("table").filter(has_text="Each use, priced").inner_text())
    assert f"rate card {card_years.next_version}" in quote
    assert "the whole rate card period (no proration)" in quote
    assert "10% of revenue 60,000.00 = 6,000.00" in quote
    by_hand = Decimal("60000.00") * Decimal(10) / Decimal(100)
    assert by_hand == Decimal("6000.00")
    assert "minimum 5,000.00 (the term is the whole card period): 6,000.00 is not below it" in (
        quote
    )
    assert "Total 6,000.00 USD" in quote
    # The rule itself, on the card the quote names.
    page.locator("table").filter(has_text="Each use, priced").get_by_role(
        "link", name="distribution-data"
    ).click()
    page.wait_for_url(f"**/console/rate-cards/{card_years.next_version}#rule-distribution-data")
    rule = one_line(page.locator("#rule-distribution-data").inner_text())
    assert "10% of revenue; minimum 5,000.00 USD a year (prorated); staff review" in rule

    # Rejected with a reason: whom it told and until when they may ask again.
    _open(page, alder_old)
    _decide(page, "Reject", "The feed resells the content to other licensors.")
    told = _flash(page)
    assert (
        f"The application is rejected. We emailed Alder Health Software Inc. at "
        f"{vendors['Alder Health Software Inc.']} the reason: they may ask for reconsideration"
    ) in told
    rejected = newest_mail(mailbox, vendors["Alder Health Software Inc."], "rejected")
    assert "The feed resells the content to other licensors." in rejected

    # 4. The newest first license: more information asked for, with the deadline.
    _open(page, alder_new)
    _decide(page, "Return to the vendor for information", "Send last year's revenue statement.")
    told = _flash(page)
    assert told.startswith("Returned to the vendor for information. We emailed Alder"), told
    assert "they have until the end of" in told
    main = _main(page)
    assert "Asked the vendor Send last year's revenue statement." in main
    assert "Age" not in page.locator("dl.facts").inner_text()  # the clock waits on the vendor

    # 5. Birchway approved with a note: the form says where the note goes (round 53).
    _open(page, birchway)
    assert "it is not sent to the vendor" in _main(page)
    assert_accessible(page)
    page.get_by_label("Note on the approval (optional)").fill(NOTE)
    page.get_by_role("button", name="Approve and issue the agreement").click()
    page.wait_for_load_state()
    told = _flash(page)
    number = re.search(r"the agreement is issued as (CPT-\d{4}-\d{6})\.", told)
    assert number, told
    assert f"We emailed Birchway Billing Inc. at {vendors['Birchway Billing Inc.']}" in told
    history = one_line(page.locator("table").filter(has_text="Application approved").inner_text())
    assert NOTE in history
    approved = newest_mail(mailbox, vendors["Birchway Billing Inc."], "ready to accept")
    assert NOTE not in approved
    # The agreement, waiting for the vendor: since when, what accepting invoices, until
    # when (round 53: the page said "issued" alone).
    page.get_by_role("link", name=number.group(1)).first.click()
    page.get_by_role("heading", name=re.compile(f"Agreement {number.group(1)}")).wait_for()
    waiting = one_line(page.locator("#acceptance-wait").inner_text())
    assert "Birchway Billing Inc. has not accepted it: issued" in waiting
    assert ", today." in waiting
    assert "Nothing is invoiced when they accept: royalties on usage are invoiced" in waiting
    assert (
        f"Not accepted by the end of {day_text(card_years.next_to)}, the last day of its "
        "term, it expires unaccepted"
    ) in waiting
    assert_accessible(page)

    # 6. An organization found by name, and its history.
    page.goto("/console/organizations")
    page.get_by_label("Name").fill("birchway")
    page.get_by_label("Name").press("Enter")
    page.get_by_role("link", name="Birchway Billing Inc.").click()
    organization = _main(page)
    assert f"{birchway} Birchway Claims File approved" in organization
    assert f"{number.group(1)} {card_years.next_from.isoformat()} to" in organization
    assert "Organization created" in organization

    # 7. The renewal, from the agreements ending soon: what changed, on which card.
    page.goto("/console/agreements/renewals-due")
    due = one_line(page.locator("tbody tr").filter(has_text=office["ending"]).inner_text())
    assert f"{office['renewal']} submitted" in due
    page.get_by_role("link", name=office["renewal"]).click()
    renewal = _main(page)
    assert (
        f"On rate card {card_years.next_version} this renewal is 8,000.00 USD, the same as "
        f"{office['ending']} on rate card {card_years.this_version}."
    ) in renewal
    assert "10% of revenue 80,000.00 = 8,000.00" in renewal
    page.get_by_role("button", name="Approve and issue the agreement").click()
    page.wait_for_load_state()
    assert "the agreement is issued as CPT-" in _flash(page)
    newest_mail(mailbox, vendors["Cobalt Claims Inc."], "ready to accept")

    # 8. Royalty reports waiting for review: the flagged one, and a corrected report
    # asked for: whom it told and by when (round 53: "asked, by email").
    page.goto("/console/royalty-reports")
    waiting_review = one_line(page.locator("main").inner_text())
    assert "Reports waiting for review or correction (1)" in waiting_review
    assert f"{office['flagged']} from Dunmore Data Inc. ({office['reporting']})" in waiting_review
    page.get_by_role("link", name=office["flagged"]).first.click()
    report = _main(page)
    assert "Line 1: 40 end users in all against 150 end users last period" in report
    page.get_by_label("Note to the licensee").fill("Clinic B is missing from this period.")
    page.get_by_role("button", name="Ask for a corrected report").click()
    page.wait_for_load_state()
    due_on = today + timedelta(days=CORRECTION_DUE_DAYS)
    assert _flash(page) == (
        f"A corrected report is asked for. We emailed Dunmore Data Inc. at "
        f"{vendors['Dunmore Data Inc.']} your note: the corrected report is due by "
        f"{day_text(due_on)}."
    )
    asked = newest_mail(mailbox, vendors["Dunmore Data Inc."], "Please correct royalty report")
    assert "Clinic B is missing from this period." in asked

    # 9. The home again: the queue worked down.
    page.goto("/console/")
    waiting = one_line(
        page.locator("tr").filter(has_text="Applications awaiting review").inner_text()
    )
    assert waiting == "Applications awaiting review 0 none —"  # the returned one waits on Alder
    # The report sent back waits on the licensee: not counted nor highlighted as the
    # office's work, said apart (round 54: "1 1 flagged", highlighted).
    flagged_row = page.locator("tr").filter(has_text="Flagged royalty reports")
    assert one_line(flagged_row.inner_text()) == (
        "Flagged royalty reports to review 1 report sent back for correction waits on the "
        "licensee. 0 none —"
    )
    assert flagged_row.get_attribute("class") is None
    # The agreements waiting for acceptance, the longest waiting first (round 54: newest
    # first): Birchway's, issued before Cobalt's renewal.
    with page.expect_navigation():
        page.locator("tr").filter(has_text="Agreements waiting for the licensee").get_by_role(
            "link"
        ).click()
    assert page.get_by_label("Sort").input_value() == "oldest"
    issued = [one_line(text) for text in page.locator("tbody tr").all_inner_texts()]
    assert issued[0].startswith(number.group(1)), issued
    assert len(issued) == 2, issued
    assert "Cobalt Claims Inc." in issued[1], issued
    assert_accessible(page)
