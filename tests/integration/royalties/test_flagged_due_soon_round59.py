"""Round 59: the console home's flagged royalty reports row counted those past their
review's service level (five US business days from filing) and none near it. It says
how many are due within two business days now, linked to the list of flagged reports,
the oldest filed first."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing import calendar
from tests.integration.royalties.conftest import SOFTWARE, flagged_report

SignIn = Callable[..., FlaskClient]


def test_the_flagged_reports_row_says_how_many_are_due_within_two_days(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    report = flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE))
    due_day = calendar.office_date(calendar.business_deadline(report.submitted_at, 5))

    def home_on(day: Any) -> tuple[str, str]:
        """The flagged reports' row on `day` at noon at the office: its words, its HTML."""
        noon = datetime.combine(day, time(12), tzinfo=calendar.OFFICE_TIMEZONE).astimezone(UTC)
        with time_machine.travel(noon, tick=False):
            page = signed_in(client, billing_staff).get("/console/").get_data(as_text=True)
        row = re.search(r"<tr[^>]*>\s*<td><a [^>]*>Flagged royalty reports.*?</tr>", page, re.S)
        assert row is not None, page[:3000]
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row.group(0))).split()), row.group(0)

    filed_day = calendar.office_date(report.submitted_at)
    said, _ = home_on(filed_day)
    assert "Flagged royalty reports to review" in said
    assert "due within" not in said
    said, page = home_on(due_day)
    assert "1 to review 1 due within 2 business days" in said
    assert re.search(
        r'<a href="/console/royalty-reports#flagged-heading">1 due within 2 business days</a>',
        page,
    )
    said, _ = home_on(due_day + timedelta(days=1))
    assert "due within" not in said
