"""Round 55 in Chromium: an agreement issued on a rate card later corrected, not yet
accepted, is reissued on the correction by licensing staff (docs/agreements.md). The
officer finds it on the wrong card's page under *What 2027.1 priced*, follows *Reissue*
to the agreement's page, gives the reason, reads the confirmation (each use's price on
both cards, what accepting invoices, that the old one can no longer be accepted) and
confirms; the licensee's page of the old agreement names the new one and offers no
acceptance, and the new one is accepted. Products are invented."""

from __future__ import annotations

from typing import Any

from licensing import db
from licensing.agreements.models import Agreement
from licensing.ratecards import services as ratecards
from tests.browser.conftest import sign_in, signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import DEVELOPMENT_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import issued_agreement
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

LARK_SDK = {**DEVELOPMENT_USE, "product_name": "Ledger Lark SDK"}
REASON = "Rate card 2027.1 had the development fee mistyped; 2027.2 corrects it."


def text(locator: Any) -> str:
    return " ".join(locator.inner_text().split())


def test_an_officer_reissues_an_unaccepted_agreement_on_the_corrected_card(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    vendor, staff = vendor_and_staff(live_server)
    with live_server.app.app_context():
        old = issued_agreement(vendor, staff, LARK_SDK)
        old_id, old_number = old.id, old.number
        corrected = example_document()
        corrected["version"] = "2027.2"
        corrected["rules"][2]["model"]["amount"] = "2750.00"
        ratecards.import_card(corrected, published_by="tests")

    sign_in(page, staff.email)
    page.goto("/console/rate-cards/2027.1")
    priced = page.locator("section", has=page.locator("#priced"))
    assert "One awaiting acceptance can be reissued on the corrected card" in text(priced)
    priced.get_by_role("link", name=f"Reissue {old_number}").click()
    panel = page.locator("#reissue")
    panel.wait_for()
    assert "Rate card 2027.1, which priced this agreement, is replaced by 2027.2" in text(panel)
    assert_accessible(page)

    panel.get_by_label("Reason (sent to the licensee with the new agreement)").fill(REASON)
    panel.get_by_role("button", name="Reissue on rate card 2027.2").click()
    page.get_by_role(
        "heading", name=f"Reissue agreement {old_number} on rate card 2027.2?"
    ).wait_for()
    question = text(page.locator("main"))
    assert "total 2,750.00 USD (it is 2,500.00 USD)" in question
    assert "Use 1 (Ledger Lark SDK): 2,500.00 USD on 2027.1, 2,750.00 USD on 2027.2." in question
    assert "Invoiced when they accept it: 2,750.00 USD (it is 2,500.00 USD)." in question
    assert f"Agreement {old_number} is replaced: it stays as it was issued but can no longer" in (
        question
    )
    assert_accessible(page)
    page.get_by_role("button", name="Reissue on rate card 2027.2").click()

    flashed = text(page.locator(".flashes"))
    assert f"Agreement {old_number} is replaced by CPT-" in flashed
    assert "priced on rate card 2027.2" in flashed
    with live_server.app.app_context():
        replaced = db.session().get(Agreement, old_id)
        assert replaced is not None
        assert replaced.state == "replaced"
        assert replaced.reissued_as is not None
        new_id, new_number = replaced.reissued_as.id, replaced.reissued_as.number
    assert text(page.locator("#reissues")).startswith(old_number)
    assert "Reissue on the corrected card" not in text(page.locator("main"))

    # The licensee: the old agreement names its reissue and cannot be accepted; the
    # new one is priced on 2027.2 and is.
    tab = signed_in_tab(browser, live_server, vendor.email)
    tab.goto(f"/portal/agreements/{old_id}")
    assert text(tab.locator("#replaced-by")).startswith(new_number)
    assert tab.get_by_role("button", name="Accept the agreement").count() == 0
    assert_accessible(tab)
    tab.goto(f"/portal/agreements/{new_id}")
    facts = text(tab.locator("dl.facts").first)
    assert "2027.2" in facts
    assert "2,750.00" in facts
    tab.get_by_role("button", name="Accept the agreement").wait_for()
