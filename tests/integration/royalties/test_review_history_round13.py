"""A royalty report's review kept whole (docs/journeys.md, "Round 13: review
history"): the report's fields held the latest step only, so a report marked
reviewed and then sent back lost the review's note (and one reviewed, sent back and
reviewed again, the first review's) everywhere but the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, inspect, select

from licensing import db, migrations
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import make_engine
from licensing.errors import IllegalTransition
from licensing.royalties import services
from licensing.royalties.models import (
    ReviewStepIsKept,
    RoyaltyReport,
    RoyaltyReportReviewStep,
)
from licensing.royalties.states import REVIEW, REVIEW_STEPS
from tests.integration.royalties.conftest import (
    SOFTWARE,
    flagged_by_services,
    flagged_report,
    row,
    vendor_and_reviewer,
)
from tests.support import factories
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]

# Each at 10:00 at the office (US Central, daylight time).
REVIEWED = datetime(2027, 7, 10, 15, 0, tzinfo=UTC)
ASKED = datetime(2027, 8, 3, 15, 0, tzinfo=UTC)
REVIEWED_AGAIN = datetime(2027, 8, 20, 15, 0, tzinfo=UTC)
ASKED_AGAIN = datetime(2027, 9, 1, 15, 0, tzinfo=UTC)
AMENDED = datetime(2027, 8, 10, 15, 0, tzinfo=UTC)


def _staff(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _api(app: Flask, user: Any, report_id: int) -> dict[str, Any]:
    answer = app.test_client().get(
        f"/api/v1/royalty-reports/{report_id}", headers=factories.bearer(user)
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    document: dict[str, Any] = answer.get_json()
    return document


def _in_order(page: str, *sentences: str) -> None:
    places = [page.find(sentence) for sentence in sentences]
    assert -1 not in places, [s for s, at in zip(sentences, places, strict=True) if at < 0]
    assert places == sorted(places)


def test_a_report_reviewed_sent_back_and_corrected_keeps_both_notes_in_order(
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
    staff = _staff(licensing_staff)
    services.review(
        flagged.id, "mark_reviewed", staff, note="Clinic B closed in June", now=REVIEWED
    )
    services.review(flagged.id, "request_correction", staff, note="Clinic C is missing", now=ASKED)
    corrected = file_report(
        vendor,
        agreement,
        2,
        [row(1, "A", quantity=40), row(1, "C", quantity=5)],
        amends=flagged.id,
        reason="Clinic C added",
        now=AMENDED,
    ).report
    assert corrected is not None

    staff_page = text_of(
        signed_in(client, licensing_staff).get(f"/console/royalty-reports/{flagged.id}")
    )
    vendor_page = text_of(
        signed_in(app.test_client(), vendor).get(f"/portal/royalty-reports/report/{flagged.id}")
    )
    reviewed, asked = (
        "July 10, 2027 at 10:00 AM (US Central time)",
        "August 3, 2027 at 10:00 AM (US Central time)",
    )
    _in_order(
        staff_page,
        f"Reviewed {reviewed} by {licensing_staff.name_and_email}: Clinic B closed in June.",
        f"Sent back for correction {asked} by {licensing_staff.name_and_email}: "
        "Clinic C is missing. "
        f"Corrected by report {corrected.reference}",
    )
    _in_order(
        vendor_page,
        f"Reviewed {reviewed} by the licensing office: Clinic B closed in June.",
        f"Sent back for correction {asked} by the licensing office: Clinic C is missing. "
        f"Corrected by report {corrected.reference}",
    )
    assert licensing_staff.email not in vendor_page

    as_staff = _api(app, licensing_staff, flagged.id)
    assert as_staff["review_history"] == [
        {
            "step": "reviewed",
            "at": "2027-07-10T15:00:00+00:00",
            "by": licensing_staff.email,
            "note": "Clinic B closed in June",
            # Round 60 (names60): the staff member's name beside the address.
            "by_name": licensing_staff.full_name,
        },
        {
            "step": "correction_requested",
            "at": "2027-08-03T15:00:00+00:00",
            "by": licensing_staff.email,
            "note": "Clinic C is missing",
            "by_name": licensing_staff.full_name,
        },
    ]
    # The fields that were there are unchanged: the state machine's record.
    assert (as_staff["state"], as_staff["review_state"]) == ("superseded", "correction_requested")
    assert as_staff["corrected_by"] == {"id": corrected.id, "reference": corrected.reference}
    # The licensee reads the notes (written to them) but not who on staff wrote them.
    as_vendor = _api(app, vendor, flagged.id)
    assert as_vendor["review_history"] == [
        {**step, "by": None, "by_name": None} for step in as_staff["review_history"]
    ]
    assert licensing_staff.email not in str(as_vendor)
    assert licensing_staff.full_name not in str(as_vendor)
    # The amendment's own review has not begun.
    assert _api(app, vendor, corrected.id)["review_history"] == []


def test_every_step_of_a_review_shows_reviewed_sent_back_reviewed_and_sent_back_again(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    app: Flask,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    url = f"/console/royalty-reports/{flagged.id}"
    steps = (
        (licensing_staff, "mark_reviewed", "First look: fine", REVIEWED),
        (licensing_staff, "request_correction", "Clinic C is missing", ASKED),
        (billing_staff, "mark_reviewed", "Clinic C closed", REVIEWED_AGAIN),
        (billing_staff, "request_correction", "Clinic D is missing", ASKED_AGAIN),
    )
    for who, action, note, when in steps:
        services.review(flagged.id, action, _staff(who), note=note, now=when)

    page = text_of(signed_in(client, licensing_staff).get(url))
    _in_order(
        page,
        "Reviewed July 10, 2027 at 10:00 AM (US Central time) "
        f"by {licensing_staff.name_and_email}: "
        "First look: fine.",
        "Sent back for correction August 3, 2027 at 10:00 AM (US Central time) "
        f"by {licensing_staff.name_and_email}: "
        "Clinic C is missing.",
        "Reviewed August 20, 2027 at 10:00 AM (US Central time) by "
        f"{billing_staff.name_and_email}: Clinic C closed.",
        "Sent back for correction September 1, 2027 at 10:00 AM (US Central "
        f"time) by {billing_staff.name_and_email}: "
        "Clinic D is missing. The corrected report is due by October 1, 2027.",
    )
    # Only the latest request, still awaited, has a due day.
    assert page.count("The corrected report is due by") == 1
    history = _api(app, licensing_staff, flagged.id)["review_history"]
    assert [(step["step"], step["note"]) for step in history] == [
        ("reviewed", "First look: fine"),
        ("correction_requested", "Clinic C is missing"),
        ("reviewed", "Clinic C closed"),
        ("correction_requested", "Clinic D is missing"),
    ]
    # The report's fields still summarise the latest step, as the queue and
    # dashboards read them.
    report = db.session().get(RoyaltyReport, flagged.id)
    assert report is not None
    assert (report.review_note, report.correction_note) == ("Clinic D is missing",) * 2


def test_a_refused_review_step_records_nothing_and_a_preview_has_no_history(
    vendor: Any, licensing_staff: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    staff = _staff(licensing_staff)
    services.review(flagged.id, "request_correction", staff, note="Recount", now=ASKED)
    with pytest.raises(IllegalTransition):  # a 409 at the edges
        services.review(flagged.id, "request_correction", staff, note="Again", now=ASKED_AGAIN)
    steps = db.session().scalars(
        select(RoyaltyReportReviewStep.note).where(RoyaltyReportReviewStep.report_id == flagged.id)
    )
    assert list(steps) == ["Recount"]
    preview = file_report(vendor, agreement, 3, [row(1, "A", quantity=40)], preview=True)
    assert preview.report is None or services.review_history(preview.report, staff) == []
    # Append-only: a step is never rewritten or deleted through the service's models.
    step = (
        db.session()
        .scalars(
            select(RoyaltyReportReviewStep).where(RoyaltyReportReviewStep.report_id == flagged.id)
        )
        .one()
    )
    step.note = "Something else"
    with pytest.raises(ReviewStepIsKept, match="cannot change"):
        db.session().flush()
    db.session().rollback()


def test_the_history_records_the_states_the_review_machine_leads_to() -> None:
    assert set(REVIEW_STEPS) == set(REVIEW.transitions.values())


def test_the_openapi_document_describes_the_review_history(client: FlaskClient) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    history = schemas["Report"]["properties"]["review_history"]
    assert history["type"] == "array"
    assert history["items"] == {"$ref": "#/components/schemas/ReviewStep"}
    step = schemas["ReviewStep"]["properties"]
    assert set(step) == {"step", "at", "by", "note", "by_name"}  # by_name: round 60
    assert step["step"]["enum"] == ["reviewed", "correction_requested"]


def test_the_migration_backfills_each_report_s_steps_from_the_audit_log_or_its_fields(
    committed_app: Flask,
) -> None:
    url = committed_app.extensions["licensing.db"].engine.url.render_as_string(hide_password=False)
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        as_staff = _staff(reviewer)

        def flagged(product: str) -> int:
            return flagged_by_services(vendor, reviewer, {**SOFTWARE, "product_name": product})

        audited, unaudited, untouched = flagged("One"), flagged("Two"), flagged("Three")
        for report_id in (audited, unaudited):
            services.review(report_id, "mark_reviewed", as_staff, note="Note A", now=REVIEWED)
            services.review(report_id, "request_correction", as_staff, note="Note B", now=ASKED)
            services.review(report_id, "mark_reviewed", as_staff, note="Note C", now=REVIEWED_AGAIN)
        session.commit()
    committed_app.extensions["licensing.db"].engine.dispose()

    migrations.downgrade(url, "royalties_0003")  # the table dropped
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert "royalty_report_review_steps" not in inspect(connection).get_table_names()
            # A database whose audit log lacks one report's steps (restored without them).
            connection.execute(
                delete(AuditEvent).where(
                    AuditEvent.entity_type == "royalty_report",
                    AuditEvent.entity_id == str(unaudited),
                    AuditEvent.action.in_(
                        ("royalty_report.reviewed", "royalty_report.correction_requested")
                    ),
                )
            )
    finally:
        engine.dispose()
    migrations.upgrade(url)

    with committed_app.app_context():
        steps = db.session().scalars(
            select(RoyaltyReportReviewStep).order_by(RoyaltyReportReviewStep.id)
        )
        found: dict[int, list[tuple[str, datetime, str, str | None]]] = {}
        for step in steps:
            found.setdefault(step.report_id, []).append(
                (step.step, step.taken_at, step.taken_by, step.note)
            )
    # Every step, from the audit log: the audit event's time is the step's own.
    assert [(step, note) for step, _at, _by, note in found[audited]] == [
        ("reviewed", "Note A"),
        ("correction_requested", "Note B"),
        ("reviewed", "Note C"),
    ]
    assert {by for _step, _at, by, _note in found[audited]} == {reviewer.email}
    # Without the audit log: the fields' latest request and latest review only.
    assert found[unaudited] == [
        ("correction_requested", ASKED, reviewer.email, "Note B"),
        ("reviewed", REVIEWED_AGAIN, reviewer.email, "Note C"),
    ]
    assert untouched not in found


def test_a_report_awaiting_its_correction_says_what_marking_it_reviewed_does_and_why_a_note(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    # Round 51's walk: sent back, the report offered *Mark reviewed* alone, under the
    # hint "Required to ask for a corrected report", a button the page no longer had.
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
    assert filed is not None
    browser = signed_in(client, licensing_staff)
    before = text_of(browser.get(f"/console/royalty-reports/{filed.id}"))
    services.review(
        filed.id, "request_correction", _staff(licensing_staff), note="A is 70", now=ASKED
    )
    after = text_of(browser.get(f"/console/royalty-reports/{filed.id}"))

    assert "Required to ask for a corrected report: it is emailed to the licensee" in before
    assert "Optional when" not in before
    assert "Required to ask for a corrected report" not in after
    assert (
        "The licensee is asked for a corrected report (its Review above says what and by "
        "when). If the report is right after all, mark it reviewed: the request then no "
        "longer waits on the licensee."
    ) in after
    assert "Optional: the licensee reads it in the report's review, on the report's page; " in (
        after
    )
    assert "Mark reviewed" in after


def test_a_flagged_reports_note_is_required_to_send_it_back_and_optional_to_mark_it_reviewed(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    flagged = flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE))
    page = text_of(signed_in(client, licensing_staff).get(f"/console/royalty-reports/{flagged.id}"))
    assert (
        "Required to ask for a corrected report: it is emailed to the licensee with a link to "
        "amend the report. Optional when you mark it reviewed: the licensee reads it in the "
        "report's review."
    ) in page
