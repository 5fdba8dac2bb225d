"""Round 4 in Chromium: renewing an agreement under which usage was reported
proposes the reported quantities, and the renewal's page says which report each
came from."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import accepted_agreement, signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import AUTO_USE, draft
from tests.integration.royalties.conftest import file_quarter, row
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer


def test_a_renewal_proposes_the_reported_end_users_and_names_the_report(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, _staff = vendor_and_staff(live_server)  # publishes 2027.1
    with live_server.app.app_context():
        agreement = accepted_agreement(vendor, draft(AUTO_USE))  # 2,500 end users estimated
        quarters = {
            1: [row(1, "A", quantity=1500), row(1, "B", quantity=900)],
            2: [row(1, "A", quantity=1600), row(1, "B", quantity=900), row(1, "C", quantity=200)],
        }
        for quarter, rows in quarters.items():
            filing = file_quarter(vendor, agreement.id, quarter, rows)
        assert filing.report is not None
        agreement_id, report = agreement.id, filing.report.reference
        estimated_in = agreement.application.reference

    page = signed_in_tab(browser, live_server, vendor.email)
    page.goto(f"/portal/agreements/{agreement_id}")
    page.get_by_role("button", name="Renew for the next rate card year").click()

    assert page.get_by_label("Expected number of end users").input_value() == "2700"
    assert_accessible(page)
    figures = page.get_by_role("region", name="Where the renewal's quantities come from")
    text = " ".join(figures.inner_text().split())
    assert (
        f"End users: 2,700 · from royalty report {report} for 2027-04-01 to 2027-06-30 "
        f"(estimated 2,500 in {estimated_in})"
    ) in text

    # The vendor changes the figure: the page says so, beside what the report says.
    page.get_by_label("Expected number of end users").fill("3000")
    page.get_by_role("button", name="Save the draft").click()
    figures = page.get_by_role("region", name="Where the renewal's quantities come from")
    text = " ".join(figures.inner_text().split())
    assert f"End users: 3,000 · as you changed it; royalty report {report} reports 2,700" in text
    assert_accessible(page)
