"""Issue 15 in Chromium: journeys that ended in a dead end or a wrong number."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from tests.browser.test_application_journey import _people, _signed_in
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.support.servers import LiveServer

# No rule of the example card matches distribution of an AI model: staff price it.
UNPRICED_USE = {
    **STAFF_USE,
    "product_name": "Coder Model",
    "product_type": "ai_model",
    "delivery": "hosted",
    "revenue": None,
}


def test_unpriced_applications_read_to_be_priced_and_sort_apart_from_the_cheapest(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, staff = _people(live_server)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        references = {}
        for name, use in (("priced", STAFF_USE), ("unpriced", UNPRICED_USE)):
            application = agreements.create_draft(principal, draft(use))
            agreements.submit(application.id, principal, attest=True)
            references[name] = application.reference
    console = _signed_in(browser, live_server, staff.email)
    console.goto("/console/applications?sort=amount_low")
    rows = console.locator("tbody tr").all_inner_texts()
    assert [references["priced"] in rows[0], references["unpriced"] in rows[1]] == [True, True]
    assert "to be priced" in rows[1]
    assert "0.00 USD" not in rows[1]
    assert "8,000.00 USD" in rows[0]


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_approval_with_a_set_fee_and_a_shorter_term_reads_right_in_the_pdf_and_console(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, staff = _people(live_server)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(principal, draft(UNPRICED_USE))
        agreements.submit(application.id, principal, attest=True)
        application_id = application.id
    console = _signed_in(browser, live_server, staff.email)
    console.goto(f"/console/applications/{application_id}")
    console.fill("#amount-0", "18000.00")
    console.fill("#reason-0", "Pilot price for model licensing")
    console.fill("#term_end", "2027-06-30")
    console.fill("#term_reason", "A six-month pilot")
    console.get_by_role("button", name="Approve and issue the agreement").click()
    assert "the agreement is issued" in console.inner_text(".flashes")
    console.reload()
    facts = console.locator("dl").first.inner_text()
    assert "2027-06-30" in facts, facts

    with live_server.app.app_context():
        agreement = (
            db.session()
            .scalars(select(Agreement).where(Agreement.application_id == application_id))
            .one()
        )
        text = _pdf_text(agreement.pdf)
    assert "None" not in text
    assert "fee set at 18,000.00 USD" in text or "fee set at 18000.00 USD" in text
    assert "Annual fee" not in text
    assert "Fee for the term" in text
    notices = text[text.index("Required notices") : text.index("Acceptance This agreement")]
    assert "six-month pilot" not in notices
    assert text.index("six-month pilot") < text.index("Schedule A")
