"""Round 8's royalty loose ends (docs/journeys.md, "Round 8: royalty loose ends"):
each test failed before its fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.mail.models import OutboxMessage
from tests.integration.royalties.conftest import AFTER, MID_MAY, SOFTWARE, flagged_report, row
from tests.support import factories
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


def test_the_queue_says_an_unfiled_period_waits_for_the_licensees_report_and_by_when(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
) -> None:
    # The overdue row's Report column read "—", as if nothing were to be done.
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(MID_MAY, tick=False):
        signed_in(client, licensing_staff)
        everything = text_of(client.get("/console/royalty-reports"))
        upcoming = text_of(
            client.get("/console/royalty-reports", query_string={"state": "upcoming"})
        )
    assert (
        f"{agreement.number} 2027-01-01 to 2027-03-31 2027-04-30 overdue 15 days overdue "
        "— — Waiting for the licensee's report, due 2027-04-30" in everything
    )
    assert (
        "2027-04-01 to 2027-06-30 2027-07-30 upcoming — — — "
        "Not due yet: the licensee may file it from 2027-07-01" in upcoming
    )


def test_staff_may_send_back_a_report_that_raised_no_warnings_with_a_note(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    app: Flask,
) -> None:
    # Only a flagged report offered "Ask for a corrected report"; a clean one offered
    # nothing, and the page did not say why, though staff may see a mistake no
    # warning catches. The contract leaves corrections to the vendor's amendment,
    # which the request only asks for: any current report may be sent back.
    agreement = active_agreement(vendor, SOFTWARE)
    clean = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
    assert clean.review_state == "clear"
    url = f"/console/royalty-reports/{clean.id}"
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, licensing_staff)
        page = text_of(client.get(url))
        silent = client.post(url, data={"action": "request_correction", "note": ""})
        nothing_to_review = client.post(url, data={"action": "mark_reviewed"})
        asked = client.post(
            url, data={"action": "request_correction", "note": "Clinic A is in Canada."}
        )
        queue = text_of(client.get("/console/royalty-reports"))
    assert "This report raised no warnings, so it waits for no review." in page
    assert "Ask for a corrected report" in page
    assert "Mark reviewed" not in page
    assert silent.status_code == 422
    assert nothing_to_review.status_code == 409
    assert asked.status_code == 302
    db.session().refresh(clean)
    assert clean.review_state == "correction_requested"
    (message,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.subject.startswith("Please correct"))
    )
    assert "Clinic A is in Canada." in message.body_text
    assert "File the corrected report by August 1, 2027." in message.body_text
    assert (
        f"{clean.reference} from {agreement.organization.legal_name} ({agreement.number}): "
        "January 1, 2027 to March 31, 2027, waiting for a corrected report, due August 1, 2027"
        in queue
    )
    assert "no warnings; asked: Clinic A is in Canada." in queue
    # The API takes it too, for another clean report.
    second = file_report(vendor, agreement, 2, [row(1, "A", quantity=70)]).report
    api = app.test_client().post(
        f"/api/v1/royalty-reports/{second.id}/review",
        json={"action": "request_correction", "note": "Clinic A again."},
        headers=factories.bearer(licensing_staff),
    )
    assert api.status_code == 200
    assert api.get_json()["review_state"] == "correction_requested"


def test_a_superseded_report_is_not_sent_back_and_the_page_says_so(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
    amended = file_report(
        vendor, agreement, 1, [row(1, "A", quantity=70)], amends=first.id, reason="Recount"
    ).report
    url = f"/console/royalty-reports/{first.id}"
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, licensing_staff)
        page = text_of(client.get(url))
        refused = client.post(url, data={"action": "request_correction", "note": "Recount."})
    assert "Ask for a corrected report" not in page
    assert (
        "A superseded report is not sent back: ask for a correction of the period's "
        f"current report, report {amended.reference}" in page
    )
    assert refused.status_code == 409
    db.session().refresh(first)
    assert first.review_state == "clear"


def test_a_report_sent_back_says_who_decided_and_when_the_vendor_reading_the_office(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    app: Flask,
) -> None:
    # The page read "Reviewed <when> by staff@...", the word for marking a report
    # reviewed, and gave the vendor a staff member's address where every decision
    # on an application names the licensing office.
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    url = f"/console/royalty-reports/{flagged.id}"
    with time_machine.travel(AFTER[3], tick=False):
        signed_in(client, licensing_staff)
        client.post(url, data={"action": "request_correction", "note": "Clinic B is missing"})
        staff_page = text_of(client.get(url))
        vendor_page = text_of(
            signed_in(app.test_client(), vendor).get(f"/portal/royalty-reports/report/{flagged.id}")
        )
    decided = "October 2, 2027 at 10:00 AM (US Central time)"
    assert (
        f"Sent back for correction {decided} by {licensing_staff.name_and_email}: Clinic B is "
        "missing. The corrected report is due by November 1, 2027." in staff_page
    )
    assert (
        f"Sent back for correction {decided} by the licensing office: Clinic B is "
        "missing. The corrected report is due by November 1, 2027." in vendor_page
    )
    assert licensing_staff.email not in vendor_page
