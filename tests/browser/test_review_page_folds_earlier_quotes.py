"""Round 58 in Chromium: an application's review page printed every quote version in
full, one table after another, the stale ones first. It shows the current version in
full and folds the earlier ones (`<details>`), newest first, each summary saying what
the next version changed (its total, card, term, how many uses) and, opened, each
use's change beside the version's own table. Products are invented; on any day, next
year's card (`CardYears`) prices the application."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.browser.conftest import card_of_a_year, one_line, sign_in
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def _resubmitted_twice(live_server: LiveServer, years: CardYears) -> tuple[str, str, str]:
    """An application (a data feed's revenue share beside a per-user portal) submitted,
    asked about twice and resubmitted each time with another revenue: three versions.
    The analyst's address, the application's id and reference."""
    now = utcnow() - timedelta(days=3)
    with live_server.app.app_context():
        card = card_of_a_year(years.next_version, years.next_from, years.next_to)
        ratecards.import_card(card, published_by="tests")
        session = db.session()
        analyst = factories.make_staff(session, roles=("licensing",))
        organization = factories.make_organization(session, legal_name="Quillon Data Ltd.")
        vendor = factories.make_vendor(session, organization=organization)
        session.commit()
        actor = Actor.of(accounts.principal_for(vendor))
        staff = Actor.of(accounts.principal_for(analyst))

        def draft(revenue: str) -> agreements.ApplicationDraft:
            return agreements.ApplicationDraft.from_fields(
                {
                    "term_start": years.next_from,
                    "term_end": years.next_to,
                    "uses": (
                        {**STAFF_USE, "product_name": "Quillon Feed", "revenue": revenue},
                        {**AUTO_USE, "product_name": "Quillon Portal"},
                    ),
                }
            )

        made = agreements.create_draft(actor, draft("60000.00"), now=now)
        agreements.submit(made.id, actor, policy=issuing(), attest=True, now=now)
        for day, revenue in ((1, "58200.00"), (2, "50000.00")):
            moment = now + timedelta(days=day)
            agreements.return_for_information(made.id, "What was the revenue?", staff, now=moment)
            agreements.update_draft(made.id, actor, draft(revenue), now=moment)
            agreements.submit(made.id, actor, policy=issuing(), attest=True, now=moment)
        return analyst.email, str(made.id), made.reference


def test_the_review_page_shows_the_current_quote_and_folds_the_earlier_ones_with_their_changes(
    page: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    analyst, application_id, reference = _resubmitted_twice(live_server, card_years)
    sign_in(page, analyst)
    page.goto(f"/console/applications/{application_id}")
    page.get_by_role("heading", name=re.compile(f"^{reference}")).wait_for()

    # The current version in full: its table is the one shown.
    current = page.locator("#current-quote")
    assert one_line(current.locator("h2").inner_text()) == "Quote version 3: as submitted"
    assert "10% of revenue 50,000.00 = 5,000.00" in one_line(current.inner_text())

    # The earlier ones folded, newest first, each summary saying what came next.
    folded = page.locator("#earlier-quotes details")
    assert folded.count() == 2
    assert [folded.nth(i).get_attribute("id") for i in range(2)] == [
        "quote-version-2",
        "quote-version-1",
    ]
    assert all(folded.nth(i).get_attribute("open") is None for i in range(2))
    second = folded.nth(0)
    summary = one_line(second.locator("summary").inner_text())
    assert summary.startswith("Quote version 2: as submitted")
    assert "version 3 after it: 820.00 USD less, 1 use changed" in summary
    first = one_line(folded.nth(1).locator("summary").inner_text())
    assert "version 2 after it: 180.00 USD less, 1 use changed" in first
    assert not second.locator("table").first.is_visible()

    # Opened: what version 3 changed, each use, then version 2's own table.
    second.locator("summary").click()
    second.locator("table").first.wait_for()
    opened = one_line(second.inner_text())
    assert "What quote version 3 changed from it: " in opened
    assert "1. Quillon Feed 5,820.00 5,000.00 820.00 less Expected annual revenue from " in opened
    assert "58,200.00 USD to 50,000.00 USD." in opened
    assert "10% of revenue 58,200.00 = 5,820.00" in opened
    assert "Replaced by quote version 3, submitted since" in opened
    assert_accessible(page)
