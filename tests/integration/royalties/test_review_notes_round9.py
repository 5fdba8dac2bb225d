"""A report sent back for correction and then marked reviewed keeps both notes
(docs/journeys.md, "Round 9: console and queue loose ends"): the review's fields
held the latest step only, so "Mark reviewed" overwrote the correction request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db, migrations
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties import services
from licensing.royalties.models import RoyaltyReport
from tests.integration.royalties.conftest import (
    SOFTWARE,
    flagged_by_services,
    flagged_report,
    vendor_and_reviewer,
)
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]

ASKED = datetime(2027, 10, 2, 15, 0, tzinfo=UTC)  # 10:00 at the office
REVIEWED = datetime(2027, 10, 20, 19, 30, tzinfo=UTC)  # 14:30 at the office


def test_a_report_marked_reviewed_after_a_correction_request_shows_both_notes(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    app: Flask,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    url = f"/console/royalty-reports/{flagged.id}"
    with time_machine.travel(ASKED, tick=False):
        signed_in(client, licensing_staff)
        client.post(url, data={"action": "request_correction", "note": "Clinic B is missing"})
    with time_machine.travel(REVIEWED, tick=False):
        signed_in(client, licensing_staff)
        client.post(url, data={"action": "mark_reviewed", "note": "Clinic B closed in June"})
        staff_page = text_of(client.get(url))
        vendor_page = text_of(
            signed_in(app.test_client(), vendor).get(f"/portal/royalty-reports/report/{flagged.id}")
        )
    asked, reviewed = (
        "October 2, 2027 at 10:00 AM (US Central time)",
        "October 20, 2027 at 2:30 PM (US Central time)",
    )
    assert (
        f"Sent back for correction {asked} by {licensing_staff.name_and_email}: "
        "Clinic B is missing." in staff_page
    )
    reviewer = licensing_staff.name_and_email
    assert f"Reviewed {reviewed} by {reviewer}: Clinic B closed in June" in staff_page
    assert "The corrected report is due by" not in staff_page  # no longer awaited
    assert (
        f"Sent back for correction {asked} by the licensing office: Clinic B is missing."
        in vendor_page
    )
    assert f"Reviewed {reviewed} by the licensing office: Clinic B closed in June" in vendor_page
    assert licensing_staff.email not in vendor_page
    # The API's fields are the contract's, unchanged.
    from tests.support.factories import bearer

    answer = app.test_client().get(
        f"/api/v1/royalty-reports/{flagged.id}", headers=bearer(licensing_staff)
    )
    assert answer.status_code == 200
    assert answer.get_json()["review_state"] == "reviewed"
    assert not {"correction_note", "correction_requested_at"} & set(answer.get_json())


def test_the_migration_keeps_each_correction_request_from_the_review_fields_or_the_audit_log(
    committed_app: Flask,
) -> None:
    url = committed_app.extensions["licensing.db"].engine.url.render_as_string(hide_password=False)
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        as_staff = Actor.of(accounts.principal_for(reviewer))

        reviewed_since = flagged_by_services(vendor, reviewer, SOFTWARE)
        waiting = flagged_by_services(
            vendor, reviewer, {**SOFTWARE, "product_name": "Scrubber Two"}
        )
        with time_machine.travel(ASKED, tick=False):
            for report_id, note in ((reviewed_since, "Clinic B is missing"), (waiting, "Recount")):
                services.review(report_id, "request_correction", as_staff, note=note)
        with time_machine.travel(REVIEWED, tick=False):
            services.review(reviewed_since, "mark_reviewed", as_staff, note="Clinic B closed")
        session.commit()
    committed_app.extensions["licensing.db"].engine.dispose()

    migrations.downgrade(url, "royalties_0002")  # the columns dropped
    assert "royalties_0003" not in migrations.current(url)
    migrations.upgrade(url)

    with committed_app.app_context():
        found = {
            report.id: report
            for report in db.session().scalars(
                select(RoyaltyReport).where(RoyaltyReport.id.in_((reviewed_since, waiting)))
            )
        }
    before = found[reviewed_since]
    assert (before.correction_requested_at, before.correction_requested_by) == (
        ASKED,
        reviewer.email,
    )
    assert before.correction_note == "Clinic B is missing"
    assert (before.reviewed_at, before.review_note) == (REVIEWED, "Clinic B closed")
    still = found[waiting]
    assert (still.correction_requested_at, still.correction_note) == (ASKED, "Recount")
    assert still.correction_requested_by == reviewer.email
