"""The main pages' days read as their readers read them (round 57): the vendor's
dashboard, invoice, agreement, royalty report and statement; the console's home and
queues and the same records there; a permission request on both sides. A day or a
month in a sentence or a notice is in words, as round 56 made every email and PDF
say it; tables, inputs and `<time>` elements may keep ISO (`tests/support/page_days.py`).
The pages round 57's other changes added or grew (walkfix57): the console's payments
and credit-notes lists, the organization search's members, the review page's question,
answer and what the resubmission changed, a corrected report's "In answer to the
correction", each record's history naming people. What comes back from a step
(round 58, days58): a flash, a form's refusal, the statement's refusal, posted through
the pages; the renewals-due and permissions queues' notes under a cell; the Finance
page.

The world is the one an office has a few months in: an agreement paid in part,
credited and with a payment returned by the bank; a royalty report sent back for
correction; a permission request asked about and answered, and one granted.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.billing import services as billing
from licensing.calendar import day_text, month_text, office_date
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from licensing.royalties import services as royalties
from licensing.royalties.models import RoyaltyReport
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW, STAFF_USE
from tests.integration.permissions.conftest import request_input
from tests.integration.royalties.conftest import (
    AFTER,
    QUARTERS,
    file_quarter,
    flagged_by_services,
    row,
)
from tests.support import factories
from tests.support.agreements import make_active_agreement, up_front_invoice
from tests.support.billing import credited, paid_offline, reversed_offline
from tests.support.factories import staff_actor
from tests.support.page_days import ISO_DAY, cell_notes, iso_days, sentence_text
from tests.support.pages import without_time_tags
from tests.support.settings import issuing, permission_sla_days, standing_days


def _confirmed_request(email: str, **fields: Any) -> Any:
    permissions.submit_request(request_input(requester_email=email, **fields))
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "permission_confirm")
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    )
    assert message is not None
    raw = message.body_text.split("/permissions/confirm/", 1)[1].split()[0]
    return permissions.confirm_email(raw, sla_days=permission_sla_days())


def _words(page: str) -> str:
    """The page's text with its `<time>` elements read as their words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without_time_tags(page))).split())


def _read(client: FlaskClient, path: str, said: list[str]) -> str:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200, (path, response.status_code)
    page = response.get_data(as_text=True)
    said += [f"{path}: ... {found} ..." for found in iso_days(page)]
    return page


@pytest.mark.usefixtures("in_december_2026")  # the 2027 terms and cards ahead, always
def test_the_main_pages_write_the_days_in_their_sentences_in_words(
    app: Flask, signed_in: Any, example_card: str
) -> None:
    session = db.session()
    vendor = factories.make_vendor(session)
    reviewer = factories.make_staff(session, roles=("licensing",))
    clerk = factories.make_staff(session, roles=("billing",))
    office = factories.make_staff(session, roles=("admin", "licensing", "billing"))

    # An agreement, its up-front invoice paid in part, credited, a payment returned.
    agreement = make_active_agreement(vendor, reviewer, DEVELOPMENT_USE, now=NOW)
    invoice = up_front_invoice(agreement)
    paid_offline(invoice.id, "1000.00", "W-1")
    returned = paid_offline(invoice.id, "500.00", "CHK 5521", method="check")
    now = datetime.now(UTC)
    reversed_offline(returned.id, "Bounced.", returned_on=office_date(now), now=now)
    credit = credited(invoice.id, "250.00", "Seat removed")
    assert invoice.total > Decimal("1750.00")

    # A royalty report sent back for correction.
    report_id = flagged_by_services(vendor, reviewer, AUTO_USE)
    royalties.review(
        report_id,
        "request_correction",
        Actor.of(accounts.principal_for(reviewer)),
        note="Clinic B is missing.",
        now=AFTER[2],
    )

    # Permission requests: one asked about and answered, one granted.
    asked = _confirmed_request("lena.ortiz@cedar-ridge.example")
    granted = _confirmed_request("omar@cedar-ridge.example")
    licensing = staff_actor(("licensing",))
    permissions.ask_for_info(asked.id, "Which course is it for?", licensing)
    permissions.answer(permissions.status_token(asked), "Unit 4 of the certificate course.")
    today = office_date(datetime.now(UTC))
    permissions.approve(
        granted.id, licensing, valid_from=today, valid_until=today + timedelta(days=60)
    )
    session.commit()
    reported = session.get(RoyaltyReport, report_id)
    assert reported is not None
    royalty_agreement = reported.agreement_id

    said: list[str] = []
    seen: dict[str, str] = {}
    as_vendor = signed_in(app.test_client(), vendor)
    for path in (
        "/portal/",
        f"/portal/invoices/{invoice.id}",
        "/portal/invoices",
        f"/portal/agreements/{agreement.id}",
        f"/portal/royalty-reports/report/{report_id}",
        "/portal/royalty-reports",
        f"/portal/royalty-reports/{royalty_agreement}/{QUARTERS[2].isoformat()}",
        f"/portal/royalty-reports/{royalty_agreement}/{QUARTERS[3].isoformat()}",
        f"/portal/applications/{agreement.application_id}",
        "/portal/statement",
    ):
        seen[path] = _read(as_vendor, path, said)
    as_office = signed_in(app.test_client(), office)
    for path in (
        "/console/",
        "/console/applications",
        "/console/royalty-reports",
        "/console/permissions/",
        "/console/invoices",
        "/console/invoices/overdue",
        f"/console/invoices/{invoice.id}",
        f"/console/agreements/{agreement.id}",
        f"/console/applications/{agreement.application_id}",
        f"/console/payments/{returned.id}",
        f"/console/credit-notes/{credit.id}",
        f"/console/royalty-reports/{report_id}",
        f"/console/organizations/{vendor.organization_id}/statement",
        f"/console/permissions/{asked.id}",
        f"/console/permissions/{granted.id}",
    ):
        seen[path] = _read(as_office, path, said)
    requester = app.test_client()
    for request_ in (asked, granted):
        path = f"/permissions/status/{permissions.status_token(request_)}"
        seen[path] = _read(requester, path, said)
    assert clerk.is_staff

    assert said == [], "\n".join(said)
    # The dashboard's *What is waiting on whom* is a table, but the note under each
    # item is a sentence: its days are in words too.
    notes = re.findall(r'<span class="muted">(.*?)</span>', seen["/portal/"], re.S)
    assert any("due December 2, 2026" in note for note in notes), notes
    assert [found for note in notes for found in ISO_DAY.findall(note)] == [], notes
    # The walk read days, in words: the invoice's due day, the report's correction.
    assert "Due" in sentence_text(seen[f"/portal/invoices/{invoice.id}"])
    assert "2027" in sentence_text(seen[f"/portal/agreements/{agreement.id}"])


@pytest.mark.usefixtures("in_december_2026")
def test_the_rounds_later_pages_write_the_days_in_their_sentences_in_words(
    app: Flask, signed_in: Any, example_card: str, apply: Any
) -> None:
    session = db.session()
    vendor = factories.make_vendor(session, full_name="Ines Marlow")
    reviewer = factories.make_staff(session, roles=("licensing",))
    office = factories.make_staff(session, roles=("admin", "licensing", "billing"))
    as_reviewer = Actor.of(accounts.principal_for(reviewer))
    as_licensee = Actor.of(accounts.principal_for(vendor))

    # Payments and credit notes for the console's lists: one returned by the bank.
    agreement = make_active_agreement(vendor, reviewer, DEVELOPMENT_USE, now=NOW)
    invoice = up_front_invoice(agreement)
    paid_offline(invoice.id, "1000.00", "W-1")
    returned = paid_offline(invoice.id, "500.00", "CHK 5521", method="check")
    now = datetime.now(UTC)
    reversed_offline(returned.id, "Bounced.", returned_on=office_date(now), now=now)
    credited(invoice.id, "250.00", "Seat removed")
    # Reminded of what it still owes, past its due day: the invoice lists its reminders.
    due = datetime.combine(invoice.due_date + timedelta(days=10), time(15), tzinfo=UTC)
    billing.process_overdue(standing_days=standing_days(), now=due)

    # A report sent back for correction, then amended in answer.
    report_id = flagged_by_services(vendor, reviewer, AUTO_USE)
    royalties.review(
        report_id, "request_correction", as_reviewer, note="Clinic B is missing.", now=AFTER[2]
    )
    reported = session.get(RoyaltyReport, report_id)
    assert reported is not None
    amendment = file_quarter(
        vendor,
        reported.agreement_id,
        2,
        [row(1, "A", quantity=40), row(1, "B", quantity=5)],
        amends=report_id,
        reason="Clinic B added",
        now=AFTER[2] + timedelta(days=3),
    ).report
    assert amendment is not None
    # The first quarter amended down, its invoice unpaid: a credit note off it, and
    # what is left to pay by when.
    first = session.scalars(
        select(RoyaltyReport).where(
            RoyaltyReport.agreement_id == reported.agreement_id,
            RoyaltyReport.period_start == QUARTERS[1],
        )
    ).one()
    lowered = file_quarter(
        vendor,
        reported.agreement_id,
        1,
        [row(1, "A", quantity=100), row(1, "B", quantity=20)],
        amends=first.id,
        reason="Clinic B recounted",
        now=AFTER[2] + timedelta(days=4),
    ).report
    assert lowered is not None

    # An application asked about, then resubmitted with an answer and a shorter term.
    application: Application = apply(vendor, AUTO_USE, STAFF_USE)
    agreements.return_for_information(
        application.id, "What was the feed's revenue last year?", as_reviewer, now=NOW
    )
    shorter = application.term_end - timedelta(days=31)
    agreements.update_draft(
        application.id,
        as_licensee,
        agreements.ApplicationDraft.from_fields(
            {
                "term_start": application.term_start,
                "term_end": shorter,
                "uses": [AUTO_USE, STAFF_USE],
            }
        ),
        now=NOW,  # before its deadline (round 58: a late change is refused)
    )
    agreements.submit(
        application.id,
        as_licensee,
        policy=issuing(),
        attest=True,
        response="80,000.00 USD.",
        now=NOW + timedelta(days=1),
    )
    session.commit()

    said: list[str] = []
    seen: dict[str, str] = {}
    as_office = signed_in(app.test_client(), office)
    for path in (
        "/console/payments",
        "/console/credit-notes",
        "/console/organizations?q=Marlow",
        f"/console/applications/{application.id}",
        f"/console/royalty-reports/{amendment.id}",
        f"/console/royalty-reports/{lowered.id}",
        f"/console/agreements/{agreement.id}",
        f"/console/invoices/{invoice.id}",
        f"/console/organizations/{vendor.organization_id}",
    ):
        seen[path] = _read(as_office, path, said)
    as_vendor = signed_in(app.test_client(), vendor)
    for path in (
        f"/portal/royalty-reports/report/{amendment.id}",
        f"/portal/royalty-reports/report/{lowered.id}",
    ):
        seen[path] = _read(as_vendor, path, said)

    assert said == [], "\n".join(said)
    # The walk read days, in words, where these pages say them.
    review = _words(seen[f"/console/applications/{application.id}"])
    assert f"it is now {day_text(application.term_start)} to {day_text(shorter)}." in review
    answered = _words(seen[f"/console/royalty-reports/{amendment.id}"])
    assert (
        f"In answer to the correction the office asked for {day_text(office_date(AFTER[2]))}"
    ) in answered
    credit = re.search(
        r"off invoice .*? to pay by ([A-Z][a-z]+ \d+, \d{4})\)",
        _words(seen[f"/portal/royalty-reports/report/{lowered.id}"]),
    )
    assert credit, _words(seen[f"/portal/royalty-reports/report/{lowered.id}"])
    # A list's caption is a sentence: the months it keeps are in words (it said
    # "Payments of 2027-03 listed").
    month = office_date(now).strftime("%Y-%m")
    for path, caption in (  # the refunds list's caption has the same helper
        (f"/console/payments?month={month}", "Payments of {} listed"),
        (f"/console/credit-notes?from={month}", "Credit notes issued {} on listed"),
    ):
        page = _words(_read(as_office, path, said))
        assert caption.format(month_text(office_date(now))) in page, page
        captions = re.findall(r"<caption>(.*?)</caption>", _read(as_office, path, said), re.S)
        assert [found for said_ in captions for found in ISO_DAY.findall(said_)] == [], captions
    assert 'id="reminders-sent"' in seen[f"/console/invoices/{invoice.id}"]
    assert "Ines Marlow" in seen["/console/organizations?q=Marlow"]


def _step(client: FlaskClient, path: str, said: list[str], data: dict[str, str]) -> str:
    """A form posted through its page, read as its poster reads what comes back: the
    page a refusal shows (the field's message, the error page), or the page the step
    leads to with its flash (round 58)."""
    response = client.post(path, data=data, follow_redirects=True)
    assert response.status_code < 500, (path, response.status_code)
    page = response.get_data(as_text=True)
    said += [f"POST {path}: ... {found} ..." for found in iso_days(page)]
    return page


@pytest.mark.usefixtures("in_december_2026")
def test_what_pages_say_after_a_step_and_the_queues_notes_write_their_days_in_words(
    app: Flask, signed_in: Any, example_card: str
) -> None:
    """Round 58: the services' messages that pages show (flashes after a step, a form's
    and a 409's refusals) and the notes under the queues' cells said their days as the
    API does ("can be renewed from 2027-10-02, 90 days before its term ends on
    2027-12-31"; "400.00 USD received 2026-12-01"); the Finance page said its range
    so ("From 2026-01-01 to 2026-12-31")."""
    session = db.session()
    vendor = factories.make_vendor(session)
    reviewer = factories.make_staff(session, roles=("licensing",))
    office = factories.make_staff(session, roles=("admin", "licensing", "billing"))
    agreement = make_active_agreement(vendor, reviewer, DEVELOPMENT_USE, now=NOW)
    invoice = up_front_invoice(agreement)
    paid_offline(invoice.id, "1000.00", "W-1")
    # An agreement ending within the renewals' window, not renewed yet.
    ending = make_active_agreement(
        vendor, reviewer, DEVELOPMENT_USE, now=NOW, term=(date(2027, 1, 1), date(2027, 2, 28))
    )
    # A grant ending within 60 days, its days of use given; the requester told later.
    today = office_date(datetime.now(UTC))
    grant = _confirmed_request(
        "omar@cedar-ridge.example", use_from=today, use_until=today + timedelta(days=50)
    )
    permissions.approve(
        grant.id,
        staff_actor(("licensing",)),
        valid_from=today,
        valid_until=today + timedelta(days=50),
    )
    asked = _confirmed_request("lena.ortiz@cedar-ridge.example")
    session.commit()

    said: list[str] = []
    seen: dict[str, str] = {}
    as_vendor = signed_in(app.test_client(), vendor)
    as_office = signed_in(app.test_client(), office)
    # The queues, whose notes under a cell's day are sentences.
    for path in ("/console/agreements/renewals-due", "/console/permissions/?ending=1"):
        seen[path] = _read(as_office, path, said)
    # The Finance page over the year to come and its months.
    seen["/console/finance"] = _read(
        as_office, "/console/finance/?from=2026-12&to=2027-02&as_of=2027-01-15", said
    )

    # Steps refused, each saying the day that decides it.
    renew_early = _step(as_vendor, f"/portal/agreements/{agreement.id}/renew", said, {})
    repeated = _step(
        as_office,
        f"/console/invoices/{invoice.id}/payments",
        said,
        {"method": "wire", "amount": "100.00", "reference": "W-1"},
    )
    ended = _step(
        as_office,
        f"/console/permissions/{asked.id}/approve",
        said,
        {"valid_from": "2026-01-01", "valid_until": "2026-06-01"},
    )
    too_late = _step(
        as_office,
        f"/console/organizations/{vendor.organization_id}/statement/email"
        f"?from=2026-11-01&to={(today + timedelta(days=20)).isoformat()}&currency=USD",
        said,
        {},
    )
    # The renewals' queue once the licensee was emailed that it ends (the hourly job).
    agreements.expire(now=datetime(2026, 12, 31, 15, 0, tzinfo=UTC))
    session.commit()
    seen["renewals, emailed"] = _read(as_office, "/console/agreements/renewals-due", said)
    # A step done: its flash, over the page it leads to.
    renewed = _step(as_vendor, f"/portal/agreements/{ending.id}/renew", said, {})

    assert said == [], "\n".join(said)
    # The walk read those days, in words.
    assert f"its term ends on {day_text(agreement.term_end)}" in _words(renew_early), _words(
        renew_early
    )
    assert "A payment with this reference is already recorded" in _words(repeated)
    assert f"received {day_text(today)}" in _words(repeated)
    assert f"choose a date from {day_text(today)} on" in _words(ended), _words(ended)
    assert f"Must be today ({day_text(today)}) or earlier" in _words(too_late), _words(too_late)
    assert "renews the agreement" in _words(renewed), _words(renewed)
    assert "From December 1, 2026 to February 28, 2027" in _words(seen["/console/finance"])
    assert "Monthly revenue report for February 2027 (PDF)" in _words(seen["/console/finance"])
    # The queues' notes under a cell: the days of use, the grant's end, the renewal's.
    queue = _words(seen["/console/permissions/?ending=1"])
    assert f"use {day_text(today)} to {day_text(today + timedelta(days=50))}" in queue, queue
    assert re.search(
        r"Ends in \d+ days\. The requester is emailed on [A-Z][a-z]+ \d+, \d{4} that it ends\.",
        queue,
    ), queue
    assert "The licensee is emailed on December 30, 2026 if it is still not renewed." in _words(
        seen["/console/agreements/renewals-due"]
    ), _words(seen["/console/agreements/renewals-due"])
    assert re.search(
        r"The licensee was emailed [A-Z][a-z]+ \d+, \d{4} at \d+:\d\d [AP]M \(US Central time\) "
        r"that it ends\.",
        _words(seen["renewals, emailed"]),
    ), _words(seen["renewals, emailed"])
    for path in ("/console/agreements/renewals-due", "/console/permissions/?ending=1"):
        notes = cell_notes(seen[path])
        assert notes, path
        assert [found for note in notes for found in ISO_DAY.findall(note)] == [], notes
