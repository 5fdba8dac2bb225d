"""Round 66 (journeyV66): a vendor whose application waits on staff review reads by
when the licensing office aims to decide it. The dashboard's *What is waiting on
whom* said "submitted" under "APP-000001 is being reviewed", and the application's
page said nothing of it, while the staff's review page gave the day
(APPLICATION_REVIEW_SLA_DAYS US business days from submission)."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask

from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.support.pages import text_of

# Submitted Monday, November 2, 2026: ten US business days on, Veterans Day (November
# 11) not counted.
AIMS = (
    "The licensing office aims to decide by the end of Tuesday, November 17, 2026 (US "
    "Central time) (10 US business days from submission); we email you when it decides."
)
LATE = (
    "The licensing office aimed to decide by the end of Tuesday, November 17, 2026 (US "
    "Central time) (10 US business days from submission) and is late: we email you when "
    "it decides."
)


def test_the_vendor_reads_by_when_the_office_aims_to_decide_and_when_it_is_late(
    apply: Any, vendor: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    assert application.state == "submitted"
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        client = signed_in(app.test_client(), vendor)
        dashboard = html.unescape(client.get("/portal/").get_data(as_text=True))
        page = client.get(f"/portal/applications/{application.id}")
    assert f"{application.reference} is being reviewed" in dashboard
    assert AIMS in dashboard
    assert f"Decision {AIMS}" in text_of(page)
    with time_machine.travel(NOW + timedelta(days=30), tick=False):
        client = signed_in(app.test_client(), vendor)
        late = html.unescape(client.get("/portal/").get_data(as_text=True))
        late_page = client.get(f"/portal/applications/{application.id}")
    assert LATE in late
    assert f"Decision {LATE}" in text_of(late_page)


def test_a_draft_says_no_decision_day(apply: Any, vendor: Any, signed_in: Any, app: Flask) -> None:
    draft = apply(vendor, STAFF_USE, submit=False)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        page = signed_in(app.test_client(), vendor).get(f"/portal/applications/{draft.id}")
    assert "aims to decide" not in text_of(page)
