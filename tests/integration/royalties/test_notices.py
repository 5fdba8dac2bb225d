"""Who hears about a flagged royalty report: licensing staff, never the licensee."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.mail.models import OutboxMessage
from tests.integration.royalties.conftest import SOFTWARE, row


def flagged_notices() -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(select(OutboxMessage))
        if message.subject.endswith("is flagged")
    ]


def _flagged_report(vendor: Any, active_agreement: Any, file_report: Any) -> Any:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=100), row(1, "B", quantity=50)])
    return file_report(vendor, agreement, 2, [row(1, "A", quantity=40)]).report


def test_a_flagged_report_is_announced_to_licensing_staff(
    vendor: Any, licensing_staff: Any, active_agreement: Any, file_report: Any
) -> None:
    report = _flagged_report(vendor, active_agreement, file_report)
    assert report.review_state == "flagged"
    (notice,) = flagged_notices()
    assert notice.to == [licensing_staff.email]


def test_with_no_licensing_staff_the_internal_notice_is_not_sent_to_the_licensee(
    vendor: Any, licensing_staff: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    licensing_staff.is_active = False  # the only staff member leaves
    db.session().flush()
    file_report(vendor, agreement, 1, [row(1, "A", quantity=100), row(1, "B", quantity=50)])
    report = file_report(vendor, agreement, 2, [row(1, "A", quantity=40)]).report
    # Still flagged and waiting in the console queue, but the staff notice, with its
    # console link and the anomalies, goes to nobody rather than to the licensee.
    assert report.review_state == "flagged"
    assert flagged_notices() == []
