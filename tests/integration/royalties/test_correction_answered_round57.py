"""Round 57: a corrected report says, beside the report it amends and the licensee's
reason, the correction the office asked for that it answers (docs/royalty-reports.md):
the analyst reviewing it read "Amends report RR-..., because: Clinic B added" alone,
the note they had sent back a click away on the superseded report. The licensee's
page says it too, the office unnamed; an amendment nobody asked for says nothing of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties import services
from tests.integration.royalties.conftest import AFTER, SOFTWARE, file_quarter, row
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]
NOTE = "Clinic B is missing from this quarter."


def _amended(vendor: Any, agreement: Any, file_report: Any, staff: Actor | None) -> int:
    """The first quarter filed, sent back by `staff` with `NOTE` (not sent back when
    None), then amended in May: the amendment's id."""
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    if staff is not None:
        services.review(report.id, "request_correction", staff, note=NOTE, now=AFTER[1])
    amendment = file_quarter(
        vendor,
        agreement.id,
        1,
        [row(1, "A", quantity=100), row(1, "B", quantity=20)],
        amends=report.id,
        reason="Clinic B added",
        now=datetime(2027, 5, 1, 15, tzinfo=UTC),
    ).report
    assert amendment is not None
    return amendment.id


def test_a_corrected_report_names_the_correction_it_answers_to_staff_and_the_licensee(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    amendment = _amended(vendor, agreement, file_report, staff)
    unasked = _amended(other_vendor, active_agreement(other_vendor, SOFTWARE), file_report, None)

    staffs = text_of(
        signed_in(client, licensing_staff).get(f"/console/royalty-reports/{amendment}")
    )
    assert "because: Clinic B added In answer to the correction the office asked for " in staffs
    # Round 58: named as the review steps name the staff member, by the account.
    assert f"by {licensing_staff.full_name} ({licensing_staff.email}): {NOTE}" in staffs
    vendors = text_of(signed_in(client, vendor).get(f"/portal/royalty-reports/report/{amendment}"))
    assert "In answer to the correction the office asked for " in vendors
    assert licensing_staff.email not in vendors
    assert f"(US Central time): {NOTE}" in vendors
    # An amendment nobody asked for names no correction.
    signed_in(client, licensing_staff)
    staffs = text_of(client.get(f"/console/royalty-reports/{unasked}"))
    assert "because: Clinic B added" in staffs
    assert "In answer to the correction" not in staffs
