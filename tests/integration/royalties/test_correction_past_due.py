"""Round 52: a corrected report still awaited after the day staff gave for it said
"The corrected report is due by <a day gone>" on the vendor's period page and on the
report's pages, vendor's and staff's; it says how late it is (docs/journeys.md,
"Round 52: a vendor's amendments, renewals and a second year")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties import services
from tests.integration.royalties.conftest import AFTER, SOFTWARE, period_url, row
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


def test_a_correction_awaited_past_its_day_says_how_late_it_is_on_every_page(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    staff = Actor.of(accounts.principal_for(licensing_staff))
    services.review(report.id, "request_correction", staff, note="Clinic B?", now=AFTER[1])
    # Asked on 2027-04-02: the corrected report is due 30 days later, 2027-05-02.
    with time_machine.travel(datetime(2027, 5, 2, 15, tzinfo=UTC), tick=False):
        on_the_day = text_of(signed_in(client, vendor).get(period_url(agreement, 1)))
    with time_machine.travel(datetime(2027, 5, 6, 15, tzinfo=UTC), tick=False):
        period = text_of(signed_in(client, vendor).get(period_url(agreement, 1)))
        vendors = text_of(client.get(f"/portal/royalty-reports/report/{report.id}"))
        staffs = text_of(
            signed_in(client, licensing_staff).get(f"/console/royalty-reports/{report.id}")
        )
    assert "The corrected report is due by 2027-05-02." in on_the_day
    late = "The corrected report was due by 2027-05-02: it is 4 days late."
    for page in (period, vendors, staffs):
        assert late in page
        assert "is due by 2027-05-02" not in page
