"""Round 4 in Chromium: renewing an agreement under which usage was reported
proposes the reported quantities, and the renewal's page says which report each
came from."""

from __future__ import annotations

from typing import Any

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.calendar import day_text
from licensing.db import utcnow
from licensing.royalties import services as royalties
from licensing.royalties.periods import reporting_periods
from licensing.royalties.rows import form_submission
from tests.browser.conftest import accepted_agreement, signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import AUTO_USE, draft
from tests.integration.royalties.conftest import row
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.servers import LiveServer


def test_a_renewal_proposes_the_reported_end_users_and_names_the_report(
    browser: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    # This year's card, around the office's today (round 49: a 2027 term is over from
    # 2028, and an ended term waits for staff at submission); its first two periods
    # are over on any day, so they are filed now.
    vendor, _staff = vendor_and_staff(live_server, example=False)
    term = (card_years.this_from, card_years.this_to)
    first, second = reporting_periods(*term)[:2]
    with live_server.app.app_context():
        # 2,500 end users estimated
        agreement = accepted_agreement(vendor, draft(AUTO_USE, term=term))
        periods = {
            first: [row(1, "A", quantity=1500), row(1, "B", quantity=900)],
            second: [
                row(1, "A", quantity=1600),
                row(1, "B", quantity=900),
                row(1, "C", quantity=200),
            ],
        }
        actor = Actor.of(accounts.principal_for(vendor))
        for period, rows in periods.items():
            submission = form_submission(rows, attest=True, amends=None, reason=None)
            filing = royalties.submit(agreement.id, period.start, submission, actor, now=utcnow())
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
        f"End users: 2,700 · from royalty report {report} for {day_text(second.start)} to "
        f"{day_text(second.end)} "
        f"(estimated 2,500 in {estimated_in})"
    ) in text

    # The vendor changes the figure: the page says so, beside what the report says.
    page.get_by_label("Expected number of end users").fill("3000")
    page.get_by_role("button", name="Save the draft").click()
    figures = page.get_by_role("region", name="Where the renewal's quantities come from")
    text = " ".join(figures.inner_text().split())
    assert f"End users: 3,000 · as you changed it; royalty report {report} reports 2,700" in text
    assert_accessible(page)
