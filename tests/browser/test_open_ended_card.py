"""Round 42 in Chromium: a rate card that never ends. An administrator checks a card
written to 9999-12-31 and reads, before publishing, what the contract's proration over
its whole period makes of its prorated amounts; publishes it anyway (a warning, not a
refusal) and reads the same on the card's page and, since round 44, in the message
that confirms publishing and on an estimate priced on the card (docs/journeys.md)."""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from licensing import db
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.money import format_grouped, round_fraction
from licensing.pricing.ratecard import proposed_term
from tests.browser.conftest import card_of_a_year, sign_in
from tests.integration.pricing.conftest import development_estimate
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.page_days import in_words
from tests.support.servers import LiveServer

FEE = 5000  # the development flat fee, a year
OPEN_ENDED = date(9999, 12, 31)


def text(locator: Any) -> str:
    return " ".join(locator.inner_text().split())


def test_an_administrator_is_warned_of_an_open_ended_cards_prorated_amounts_and_publishes(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    with live_server.app.app_context():
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
        admin_email = str(admin.email)
    # Next year's card (as 2028.1 from 2028-01-01), not yet in effect, so the term the
    # service proposes on it is a year from its first day. Round 49: written as 2028.1,
    # from 2 January 2028 the term proposed started on the office's today instead.
    years = CardYears.around(office_date(utcnow()))  # the office's day, as the service's
    first, version = years.next_from, years.next_version
    document = card_of_a_year(version, first, OPEN_ENDED, title=f"{first.year} onwards")
    for rule in document["rules"]:
        if rule["id"] == "development":
            rule["model"] = {**rule["model"], "amount": f"{FEE}.00"}
    card = tmp_path / f"{version}.json"
    card.write_text(json.dumps(document))
    # The fee over the one-year term from its first day, prorated over the card's whole
    # period (the contract's days, inclusive; rounded half-up once).
    _, last = proposed_term(first, None, earliest=first)
    term_days = (last - first).days + 1
    prorated = format_grouped(
        round_fraction(Fraction(FEE * term_days, (OPEN_ENDED - first).days + 1), 2), "USD"
    )
    warned = (
        f"Prorated over its period to 9999-12-31, the development flat fee of 5,000.00 USD "
        f"would be {prorated} USD for a one-year term from {first}."
    )

    sign_in(page, admin_email)
    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    page.get_by_role("button", name="Check without publishing").click()
    page.wait_for_load_state()
    warning = page.get_by_role("region", name="This card runs open-ended")
    # Round 59: the region says its days in words, as its flashed twin below.
    assert in_words(warned) in text(warning)
    assert "9999-12-31" not in text(warning)
    assert_accessible(page)

    page.get_by_role("button", name=f"Publish rate card {version}").click()
    page.wait_for_url(f"**/console/rate-cards/{version}")
    region = page.get_by_role("region", name="This card runs open-ended")
    assert in_words(warned) in text(region)
    # Round 44: the message that confirms publishing says it too.
    said = text(page.locator("p.flash-warning"))
    assert said.startswith(f"Rate card {version} runs open-ended: its prorated amounts")
    assert in_words(warned) in said  # a flashed message says its days in words (days58)
    assert_accessible(page)

    # Round 44: a vendor's estimate on it (that year) says why the fee is cents.
    query = urlencode(development_estimate(term_start=first.isoformat(), term_end=last.isoformat()))
    page.goto(f"/estimate?{query}")
    note = text(page.locator(".quote-proration-warning"))
    assert (
        f"Rate card {version} runs open-ended, and this price is prorated over all of it:"
    ) in note
    assert (
        f"the development flat fee of 5,000.00 USD is {prorated} USD for this term of "
        f"{term_days} days."
    ) in note
    assert_accessible(page)
