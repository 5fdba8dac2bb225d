"""Who hears about a flagged royalty report: licensing staff, never the licensee."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.mail.models import OutboxMessage
from tests.integration.royalties.conftest import SOFTWARE, flagged_report


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
