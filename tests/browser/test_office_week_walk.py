"""Round 36 in Chromium: the licensing office's week. A licensing officer works the
morning queue (fourteen applications of different ages against the 10-business-day
service level), follows a quote's numbers to the rate card's rule, asks a vendor for
information, approves one application and rejects another; decides an educator's
permission request and reads its letter; an admin drafts next year's card from this
year's, checks what it does to the renewals coming due, publishes it for the day this
year's ends and sees that a quote today keeps this year's; then reads the officer's
week in the audit log. Invented organizations and products only.

The office's year is the card's, not the calendar's: this year's card ends a month
from the office's today, so its agreements are renewals coming due (within 90 days)
on any day the walk runs. Calendar years made it pass only from October to December
(stop 45)."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from licensing.ratecards import services as ratecards
from tests.browser.conftest import accepted_agreement, sign_in_on_the_form, signed_in_tab
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.pricing.conftest import card_document, quote_body
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.servers import LiveServer, SMTPServer, message_text, until
from tests.support.settings import issuing, permission_sla_days

COMPANIES = (
    "Alder Health Software",
    "Birchway Billing",
    "Cobalt Claims",
    "Dunmore Data",
    "Elmstead Systems",
    "Fairlight Coding",
    "Greyhaven Analytics",
)
EDUCATORS = (
    ("Lena Ortiz", "lena.ortiz@cedar-ridge.example", "Cedar Ridge Community College"),
    ("Tomas Reyes", "tomas.reyes@harbor-nursing.example", "Harbor Nursing School"),
    ("Amy Chen", "amy.chen@westfield-medical.example", "Westfield Medical Institute"),
)


def _draft(start: date, end: date, *uses: dict[str, Any]) -> Any:
    return agreements.ApplicationDraft.from_fields(
        {"term_start": start, "term_end": end, "uses": uses}
    )


def _confirmation_token(address: str) -> str:
    outbox = db.session().query(OutboxMessage).order_by(OutboxMessage.id.desc())
    message = next(m for m in outbox if address in m.to)
    found = re.search(r"/permissions/confirm/(\S+)", message.body_text)
    assert found
    return found.group(1)


def _office(live_server: LiveServer) -> dict[str, Any]:
    """This year's card; fourteen applications waiting, submitted 1 to 27 days ago;
    three agreements ending with the card (renewals coming due); three educators'
    requests confirmed 1 to 7 days ago; a licensing officer and an admin."""
    now = utcnow()
    years = CardYears.around(office_date(now))  # the office's day, as the service's
    with live_server.app.app_context():
        ratecards.import_card(
            card_document(
                version=years.this_version,
                title=f"Royalty schedule from {years.this_from}",
                effective_from=years.this_from.isoformat(),
                effective_to=years.this_to.isoformat(),
            ),
            published_by="tests",
        )
        session = db.session()
        officer = factories.make_staff(session, roles=("licensing",))
        admin = factories.make_staff(session, roles=("admin",))
        vendors = [
            factories.make_vendor(
                session, organization=factories.make_organization(session, legal_name=f"{n} Inc.")
            )
            for n in COMPANIES
        ]
        session.commit()
        applications = []
        for i in range(14):  # the newest first: APP-000001 a day old
            vendor = vendors[i % len(vendors)]
            actor = Actor.of(accounts.principal_for(vendor))
            use = {
                **STAFF_USE,
                "product_name": f"Code Feed {i + 1}",
                "revenue": f"{50000 + 7000 * i}.00",
            }
            at = now - timedelta(days=2 * i + 1)
            draft = _draft(years.this_to - timedelta(days=30), years.this_to, use)
            made = agreements.create_draft(actor, draft, now=at)
            agreements.submit(made.id, actor, policy=issuing(), attest=True, now=at)
            applications.append((made.id, made.reference, vendor.email, COMPANIES[i % 7]))
        for i, vendor in enumerate(vendors[:3]):
            scrubber = {**AUTO_USE, "product_name": f"Scrubber {i + 1}"}
            accepted_agreement(vendor, _draft(years.this_from, years.this_to, scrubber))
        # The oldest sent first, as they arrive: the queue puts the decision due soonest
        # first and ties (two requests due the same day, as across the holidays of late
        # December) by id, so the oldest stays first on any day.
        for i, (name, address, institution) in reversed(list(enumerate(EDUCATORS))):
            at = now - timedelta(days=3 * i + 1)
            fields = {
                "requester_name": name,
                "requester_email": address,
                "institution": institution,
                "role": "faculty",
                "organization_type": "academic",
                "purpose": "course_materials",
                "purpose_detail": "Slides for the medical billing course, unit 4.",
                "content_requested": "The section guidelines for visit services.",
                "medium": "lms",
                "audience_size": 45,
                "duration": "Spring semester",
                "noncommercial": True,
            }
            permissions.submit_request(
                permissions.PermissionRequestInput.from_fields(fields), now=at
            )
            raw = _confirmation_token(address)
            permissions.confirm_email(raw, sla_days=permission_sla_days(), now=at)
        return {
            "officer": officer.email,
            "admin": admin.email,
            "applications": applications,
            "years": years,
        }


def _flash(page: Any) -> str:
    return " ".join(page.locator(".flashes").inner_text().split())


def _mail_to(mailbox: SMTPServer, address: str, subject: str) -> Any:
    """The newest email to `address` whose subject holds `subject`, once it arrives."""

    def found() -> list[Any]:
        return [m for m in mailbox.to(address) if subject in str(m["Subject"])]

    until(found, seconds=10)
    return found()[-1]


def _decide(page: Any, action: str, reason: str) -> None:
    page.get_by_label("Action").select_option(label=action)
    page.get_by_label("Reason: emailed to the vendor").fill(reason)
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state()


def test_the_licensing_office_walks_its_week(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer, tmp_path: Path
) -> None:
    office = _office(live_server)
    years: CardYears = office["years"]
    this, upcoming = years.this_version, years.next_version
    applications = office["applications"]

    # 1. The morning queue: how many wait, and how many are past the service level.
    sign_in_on_the_form(page, office["officer"])
    home = page.locator("tr").filter(has_text="Applications awaiting review")
    home_text = " ".join(home.inner_text().split())
    assert "14" in home_text
    assert "14 unassigned" in home_text
    past = re.search(r"(\d+) past the service level of 10 US business days\.", home_text)
    assert past, home_text
    assert int(past.group(1)) >= 4  # those submitted 21 to 27 days ago at least
    # The queue's page loaded before its rows are counted (a count at once read the
    # home page mid-navigation under CI's load: 0 rows).
    with page.expect_navigation():
        home.get_by_role("link").first.click()
    rows = page.locator("tbody tr")
    assert rows.count() == 14
    oldest = " ".join(rows.first.inner_text().split())
    assert applications[-1][1] in oldest
    assert "overdue" in oldest

    # An application: its age against the service level, its quote traced to the card.
    application_id, reference, vendor_email, company = applications[5]  # 11 days old
    page.goto(f"/console/applications/{application_id}")
    age = page.locator("#review-age").inner_text()
    assert re.fullmatch(r"\d+ of 10 business days; decision due by the end of .+", age), age
    assert_accessible(page)
    quote = page.locator("table").filter(has_text="Each use, priced")
    working = " ".join(quote.inner_text().split())
    assert f"rate card {this}" in working
    assert "10% of revenue 85,000.00 = 8,500.00" in working
    assert "Total 8,500.00 USD" in working
    # The rule as the card describes it, its id the link to it (round 37).
    assert "Data files, feeds and electronic publications, share of net revenue" in working
    quote.get_by_role("link", name="distribution-data").click()
    page.wait_for_url(f"**/console/rate-cards/{this}#rule-distribution-data")
    rule = " ".join(page.locator("#rule-distribution-data").inner_text().split())
    assert "10% of revenue; minimum 5,000.00 USD a year (prorated); staff review" in rule

    # The renewals coming due: whether each licensee has been told that nothing renews it.
    page.goto("/console/agreements/renewals-due")
    due = page.locator("tbody tr")
    assert due.count() == 3
    assert_accessible(page)
    assert "No renewal yet The licensee has not been emailed that it ends: it became active" in (
        " ".join(due.first.inner_text().split())
    )

    # Ask a vendor for more information: whom it told, what, and until when.
    application_id, reference, vendor_email, company = applications[0]
    page.goto(f"/console/applications/{application_id}")
    _decide(page, "Return to the vendor for information", "Send last year's revenue statement.")
    told = _flash(page)
    assert told.startswith(
        f"Returned to the vendor for information. We emailed {company} Inc. at {vendor_email} "
        "your question: they have until the end of"
    ), told
    asked = message_text(_mail_to(mailbox, vendor_email, f"{reference}: more information needed"))
    assert "Send last year's revenue statement." in asked

    # Approve another: the agreement's number, and whom it asked to accept it.
    application_id, reference, vendor_email, company = applications[1]
    page.goto(f"/console/applications/{application_id}")
    page.get_by_role("button", name="Approve and issue the agreement").click()
    page.wait_for_load_state()
    told = _flash(page)
    number = re.search(r"the agreement is issued as (CPT-\d{4}-\d{6})\.", told)
    assert number, told
    assert f"We emailed {company} Inc. at {vendor_email} to read and accept it." in told
    _mail_to(mailbox, vendor_email, f"agreement {number.group(1)} is ready to accept")

    # Decline a third with a reason: the vendor is told it, and the reconsideration window.
    application_id, reference, vendor_email, company = applications[2]
    page.goto(f"/console/applications/{application_id}")
    _decide(page, "Reject", "The product resells the content to other licensors.")
    told = _flash(page)
    assert f"We emailed {company} Inc. at {vendor_email} the reason: they may ask" in told
    assert "for reconsideration until" in told
    rejected = message_text(_mail_to(mailbox, vendor_email, f"{reference}: rejected"))
    assert "The product resells the content to other licensors." in rejected

    # 2. Permissions: the oldest request first, decided; the letter; the requester told.
    page.goto("/console/permissions/")
    first = page.locator("table.queue tbody tr").first
    assert "Amy Chen" in first.inner_text()
    first.get_by_role("link").first.click()
    assert "of 10 business days; decision due by" in page.locator("main").inner_text()
    page.get_by_role("button", name="Approve and issue the grant letter").click()
    page.wait_for_load_state()
    assert _flash(page) == (
        "Approved: the grant letter is issued. We emailed Amy Chen at "
        "amy.chen@westfield-medical.example with the letter attached."
    )
    link = page.get_by_role("link", name=re.compile("Download the grant letter"))
    letter = page.request.get(link.get_attribute("href"))
    assert letter.headers["content-type"] == "application/pdf"
    text = " ".join(
        " ".join((p.extract_text() or "").split())
        for p in PdfReader(io.BytesIO(letter.body())).pages
    )
    assert "Amy Chen" in text
    assert "Westfield Medical Institute" in text
    decided = _mail_to(mailbox, "amy.chen@westfield-medical.example", "is granted")
    assert [a.get_content_type() for a in decided.iter_attachments()] == ["application/pdf"]

    # 3. Next year's rate card, drafted from this year's, changed, checked, published.
    admin = signed_in_tab(browser, live_server, office["admin"])
    admin.goto(f"/console/rate-cards/{this}")
    with admin.expect_download() as download:
        admin.get_by_role("link", name=f"Download {this} as a JSON file").click()
    document = json.loads(Path(download.value.path()).read_text())
    document.update(
        version=upcoming,
        title=f"Royalty schedule from {years.next_from}",
        effective_from=years.next_from.isoformat(),
        effective_to=years.next_to.isoformat(),
    )
    rule = next(r for r in document["rules"] if r["id"] == "distribution-software")
    rule["model"]["tiers"][-1]["unit_price"] = "13.00"
    card = tmp_path / f"{upcoming}.json"
    card.write_text(json.dumps(document))
    admin.goto("/console/rate-cards/")
    admin.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    admin.get_by_role("button", name="Check without publishing").click()
    admin.wait_for_load_state()
    checked = " ".join(admin.locator("main").inner_text().split())
    assert "The card is valid. Nothing is published yet" in checked
    assert "Changed rule distribution-software" in checked
    # The three renewals coming due, priced on next year's card: 1,500 users above 1,000.
    effect = admin.get_by_role("table").filter(has_text="(renewal)")
    renewals = " ".join(effect.inner_text().split())
    assert renewals.count("(renewal)") == 3
    assert "33,800.00 none in effect on its first day 35,300.00 1,500.00" in renewals
    admin.get_by_role("button", name=f"Publish rate card {upcoming}").click()
    admin.wait_for_load_state()
    published = _flash(admin)
    assert published.startswith(
        f"Rate card {upcoming} published, in effect from {day_text(years.next_from)}: a term "
        "starting "
    ), published
    assert published.endswith(f"is still priced on {this}."), published

    # A quote today keeps this year's card; one from its first day takes next year's.
    today = office_date(utcnow()).isoformat()  # the office's day, as the API's
    body = quote_body(term={"start": today, "end": years.this_to.isoformat()})
    body.pop("rate_card")  # the card in effect on the term's first day
    today_quote = admin.request.post("/api/v1/quotes", data=body).json()
    assert today_quote["rate_card"] == this, today_quote
    body["term"] = {"start": years.next_from.isoformat(), "end": years.next_to.isoformat()}
    next_quote = admin.request.post("/api/v1/quotes", data=body).json()
    assert next_quote["rate_card"] == upcoming
    assert next_quote["total"] == "35300.00"

    # 4. The audit trail of the officer's week, read by the admin.
    admin.goto(f"/console/audit?actor={office['officer']}")
    log = " ".join(admin.locator("main").inner_text().split())
    for action in (
        "application.returned",
        "application.approved",
        "agreement.issued",
        "application.rejected",
        "permission_request.approved",
    ):
        assert action in log
    assert "Send last year's revenue statement." in log
    assert f"application id: — → {applications[1][1]}" in log
