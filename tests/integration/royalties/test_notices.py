"""Who hears about a flagged royalty report: licensing staff, never the licensee."""

from __future__ import annotations

import html
import json
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.mail.models import OutboxMessage
from tests.integration.royalties.conftest import SOFTWARE, flagged_report
from tests.support import factories


def flagged_notices() -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(select(OutboxMessage))
        if message.subject.endswith("is flagged")
    ]


def test_a_flagged_report_is_announced_to_licensing_staff(
    vendor: Any, licensing_staff: Any, active_agreement: Any, file_report: Any
) -> None:
    report = flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE))
    assert report.review_state == "flagged"
    (notice,) = flagged_notices()
    assert notice.to == [licensing_staff.email]


def test_with_no_licensing_staff_the_internal_notice_is_not_sent_to_the_licensee(
    vendor: Any, licensing_staff: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    licensing_staff.is_active = False  # the only staff member leaves
    db.session().flush()
    report = flagged_report(file_report, vendor, agreement)
    # Still flagged and waiting in the console queue, but the staff notice, with its
    # console link and the anomalies, goes to nobody rather than to the licensee.
    assert report.review_state == "flagged"
    assert flagged_notices() == []


def test_a_flag_names_the_unit_in_words_in_the_notice_on_the_page_and_in_the_api(
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # The flags read "Line 1, end_users: 1 customer against 2 last period", the
    # unit's stored name, where the pages and PDFs say "end users".
    report = flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE))
    said = "Line 1, end users: 1 customer against 2 last period"
    assert said in " ".join(report.flags)
    (notice,) = flagged_notices()
    page = html.unescape(
        signed_in(app.test_client(), licensing_staff)
        .get(f"/console/royalty-reports/{report.id}")
        .get_data(as_text=True)
    )
    api = app.test_client().get(
        f"/api/v1/royalty-reports/{report.id}", headers=factories.bearer(licensing_staff)
    )
    for text in (notice.body_text, page, " ".join(api.get_json()["flags"])):
        assert said in text
        assert "A on line 1: 100 to 40 end users" in text
        assert "end_users" not in text


def test_warnings_stored_in_earlier_words_read_in_todays_on_every_page_and_the_api(
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # A report flagged before round 7 kept "end_users" and bare figures on the pages
    # and the API; the stored sentences are not rewritten, only shown in today's words.
    report = flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE))
    stored = [
        "Line 1, end_users: 40 in all against 150 last period (a drop of more than 20%).",
        "1 customer reports less than last period (A on line 1: 100 to 40 end_users).",
    ]
    report.flags_json = json.dumps(stored)
    db.session().flush()
    shown = (
        "Line 1: 40 end users in all against 150 end users last period",
        "A on line 1: 100 to 40 end users",
    )
    staff = signed_in(app.test_client(), licensing_staff)
    pages = [
        staff.get(f"/console/royalty-reports/{report.id}"),
        staff.get("/console/royalty-reports"),
        signed_in(app.test_client(), vendor).get(f"/portal/royalty-reports/report/{report.id}"),
    ]
    texts = [html.unescape(page.get_data(as_text=True)) for page in pages]
    api = app.test_client().get(
        f"/api/v1/royalty-reports/{report.id}", headers=factories.bearer(licensing_staff)
    )
    texts.append(" ".join(api.get_json()["flags"]))
    for text in texts:
        assert "end_users" not in text
    assert all(words in text for words in shown for text in (texts[0], texts[2], texts[3]))
    assert shown[0] in texts[1]  # the queue names the first warning
    assert json.loads(report.flags_json) == stored  # the record is kept as stored
