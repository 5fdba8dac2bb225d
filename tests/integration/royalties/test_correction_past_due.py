"""Round 52: a corrected report still awaited after the day staff gave for it said
"The corrected report is due by <a day gone>" on the vendor's period page and on the
report's pages, vendor's and staff's; it says how late it is (docs/journeys.md,
"Round 52: a vendor's amendments, renewals and a second year").

Round 53: once filed after that day, the amendment said nothing of how late it came
(its page, and the sent-back report's "Corrected by"): both say it in the same words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties import services
from tests.integration.royalties.conftest import AFTER, SOFTWARE, file_quarter, period_url, row
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
    assert "The corrected report is due by May 2, 2027." in on_the_day
    late = "The corrected report was due by May 2, 2027: it is 4 days late."
    for page in (period, vendors, staffs):
        assert late in page
        assert "is due by 2027-05-02" not in page


def _sent_back_and_amended(
    vendor: Any, licensing_staff: Any, agreement: Any, file_report: Any, day: int
) -> tuple[int, int]:
    """The first quarter filed, sent back on 2027-04-02 (the corrected report due by
    2027-05-02) and amended on May `day`: (the report's id, the amendment's)."""
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    staff = Actor.of(accounts.principal_for(licensing_staff))
    services.review(report.id, "request_correction", staff, note="Clinic B?", now=AFTER[1])
    amendment = file_quarter(
        vendor,
        agreement.id,
        1,
        [row(1, "A", quantity=100), row(1, "B", quantity=20)],
        amends=report.id,
        reason="Clinic B added",
        now=datetime(2027, 5, day, 15, tzinfo=UTC),
    ).report
    assert amendment is not None
    return report.id, amendment.id


def test_an_amendment_filed_after_the_corrections_day_says_how_late_it_came_vendor_and_staff(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    ids = _sent_back_and_amended(vendor, licensing_staff, agreement, file_report, 6)
    late = "The corrected report was due by May 2, 2027: it was filed 4 days late."
    signed_in(client, vendor)
    vendors = [text_of(client.get(f"/portal/royalty-reports/report/{i}")) for i in ids]
    signed_in(client, licensing_staff)
    staffs = [text_of(client.get(f"/console/royalty-reports/{i}")) for i in ids]
    for page in vendors + staffs:
        assert late in page


def test_an_amendment_filed_by_the_corrections_day_says_nothing_of_lateness(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    _, amended = _sent_back_and_amended(vendor, licensing_staff, agreement, file_report, 2)
    page = text_of(signed_in(client, vendor).get(f"/portal/royalty-reports/report/{amended}"))
    assert "Clinic B added" in page
    assert "days late" not in page
    assert "was due by" not in page
