"""Round 60 in Chromium (cardwalk60): a rate card manager's year, read as the office
and its vendors (docs/journeys.md). This year's card ends a month from the office's
today (`CardYears`). The manager drafts next year's card from this year's download, a
revision with a slip in it (the software price above 1,000 end users typed 21.60 for
12.60: within the price warning's ratio, so nothing singles it out), checks it against
the renewal it would price, and publishes it a month before its first day. A vendor
estimates on each side of that day and across it; an application priced on this
year's card is approved after the change; a renewal drawn on the wrong card is
accepted. In "January" the manager corrects the card under a new version: the message,
the wrong card's page, the accepted agreement's page (it keeps its prices: what the
correction would price it at, and what to do), the quote API and the history.
Products are invented."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import time_machine

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.services import ApplicationDraft
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import accepted_agreement, sign_in, vendor_and_staff
from tests.support import factories
from tests.support.agreements import accept, agreement_of
from tests.support.axe import assert_accessible
from tests.support.card_year_uses import ATLAS, LEDGER, LEDGER_SDK, MORNING, text
from tests.support.card_years import CardYears
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def drafted(card: dict[str, Any], version: str, first: str, last: str, top: str) -> dict[str, Any]:
    """`card` as `version` for `first`..`last`: the development fee 2,750.00 and the
    software price above 1,000 end users `top`."""
    rules = [dict(rule) for rule in card["rules"]]
    for rule in rules:
        if rule["id"] == "development":
            rule["model"] = {**rule["model"], "amount": "2750.00"}
        if rule["id"] == "distribution-software":
            tiers = [dict(tier) for tier in rule["model"]["tiers"]]
            tiers[-1]["unit_price"] = top
            rule["model"] = {**rule["model"], "tiers": tiers}
    return {
        **card,
        "version": version,
        "title": f"Rate card from {first}",
        "effective_from": first,
        "effective_to": last,
        "rules": rules,
    }


def quote(page: Any, start: str, end: str, **extra: Any) -> Any:
    """`POST /api/v1/quotes` for 2,500 end users of a SaaS product."""
    body = {
        "organization_type": "commercial",
        "term": {"start": start, "end": end},
        "uses": [
            {
                "use": "distribution",
                "product_type": "saas",
                "user_type": "provider",
                "quantity": {"end_users": 2500},
            }
        ],
        **extra,
    }
    return page.request.post("/api/v1/quotes", data=body)


def estimate(page: Any, start: str, end: str) -> str:
    """The estimator's answer (no account) for the same use, as the vendor reads it."""
    fields = {
        "organization_type": "commercial",
        "term_start": start,
        "term_end": end,
        "rate_card": "",
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-user_type": "provider",
        "uses-0-quantity-end_users": "2500",
        "uses-0-description": "Ledger Lark",
    }
    page.goto("/estimate?" + urlencode(fields))
    return text(page.locator("main"))


def visit(page: Any, path: str, email: str) -> None:
    """`path` opened, signed in again as `email` where a travel forward ended the session."""
    page.goto(path)
    if "/sign-in" in page.url:
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        page.goto(path)


def check_and_publish(page: Any, card: Path, version: str) -> tuple[str, str]:
    """The card checked on the Rate cards page and published from the check: the
    check's words and the message after publishing."""
    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    page.get_by_role("button", name="Check without publishing").click()
    page.locator("text=The card is valid. Nothing is published yet").wait_for()
    checked = text(page.locator("main"))
    page.get_by_role("button", name=f"Publish rate card {version}").click()
    page.wait_for_url(f"**/console/rate-cards/{version}")
    return checked, text(page.locator(".flashes"))


def test_a_rate_card_managers_year_from_draft_to_a_correction_after_acceptance(
    browser: Any, page: Any, live_server: LiveServer, tmp_path: Path, card_years: CardYears
) -> None:
    years = card_years
    this, upcoming = years.this_version, years.next_version
    correction = f"{years.next_from.year}.2"
    january = datetime.combine(years.next_from + timedelta(days=2), MORNING)
    next_term = (years.next_from.isoformat(), years.next_to.isoformat())
    vendor, _staff = vendor_and_staff(live_server, example=False)
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    today = office_date(utcnow())
    with live_server.app.app_context():
        this_year = ApplicationDraft.from_fields(
            {"term_start": years.this_from, "term_end": years.this_to, "uses": (LEDGER, LEDGER_SDK)}
        )
        ending = accepted_agreement(vendor, this_year)
        ending_id, ending_number = ending.id, ending.number
        organization = ending.organization.legal_name
        admin = factories.make_staff(db.session(), roles=("admin", "licensing", "billing"))
        db.session().commit()
        admin_email = str(admin.email)
        # An application for the rest of this year's card, waiting on staff's review.
        rest = ApplicationDraft.from_fields(
            {"term_start": today, "term_end": years.this_to, "uses": (ATLAS,)}
        )
        late = agreements.create_draft(vendor_actor, rest)
        late = agreements.submit(late.id, vendor_actor, policy=issuing(), attest=True)
        late_id = late.id

    # 1. The manager drafts next year's card from this year's download, with a slip in
    # it, and checks it: the renewal it would price, 14,650.00 dearer, is the one sign.
    sign_in(page, admin_email)
    page.goto(f"/console/rate-cards/{this}")
    with page.expect_download() as downloading:
        page.get_by_role("link", name=f"Download {this} as a JSON file").click()
    this_card = json.loads(Path(downloading.value.path()).read_text())
    wrong = drafted(this_card, upcoming, *next_term, "21.60")
    card = tmp_path / f"{upcoming}.json"
    card.write_text(json.dumps(wrong))
    checked, said = check_and_publish(page, card, upcoming)
    assert "more than 2 times over" not in checked  # 21.60 for 12.00 is 1.8 times
    assert "above 1,000 at 21.60 USD each (was per end user" in checked
    # Round 67: the record's usage, use by use, is listed under its number.
    assert f"CPT-{years.this_from.year}-000001 (renewal) use 1: as applied for" in checked
    assert (
        f"(nothing reported) {organization} {this} 36,300.00 "
        "none in effect on its first day 50,950.00 14,650.00"
    ) in checked
    assert (
        f"Rate card {upcoming} published, in effect from {day_text(years.next_from)}: a term "
        f"starting today ({day_text(today)}) is still priced on {this}."
    ) in said
    assert "It replaces" not in said  # a new year's card replaces nothing

    # 2. Before its first day: quotes are the term's card's, the API names it in
    # `rate_card`, the estimator in its caption; a term across the change is refused
    # with what to do, on both.
    vendor_page = browser.new_page(base_url=live_server.url)
    on_next = quote(page, *next_term)
    assert (on_next.json()["rate_card"], on_next.json()["total"]) == (upcoming, "48200.00")
    assert "1500 x 21.60" in on_next.json()["lines"][0]["explanation"][0]
    last_day = quote(page, years.this_to.isoformat(), years.this_to.isoformat())
    assert (last_day.json()["rate_card"], last_day.json()["total"]) == (this, "33800.00")
    across = (
        (years.this_to - timedelta(days=9)).isoformat(),
        (years.next_from + timedelta(days=20)).isoformat(),
    )
    refused = quote(page, *across)
    assert refused.status == 422
    (advice,) = refused.json()["errors"]["term"]
    assert f"end it by {years.this_to}, or start it on {years.next_from} to be priced on " in (
        advice
    )
    estimated = estimate(vendor_page, *next_term)
    assert f"Estimated total: 48,200.00 USD Rate card {upcoming} ·" in estimated
    assert "1,500 x 21.60 = 48,200.00" in estimated
    refused_words = estimate(vendor_page, *across)
    assert f"to be priced on rate card {upcoming}" in refused_words
    assert_accessible(vendor_page)

    # The renewal of this year's agreement, drawn now, is priced on the card with the
    # slip, approved at once and accepted.
    with live_server.app.app_context():
        renewal = agreements.start_renewal(ending_id, vendor_actor)
        renewal = agreements.submit(renewal.id, vendor_actor, policy=issuing(), attest=True)
        assert (renewal.state, str(renewal.total)) == ("approved", "50950.00")
        renewed = accept(agreement_of(renewal), vendor, signer_name="Samira Haddad")
        renewed_id, renewed_number = renewed.id, renewed.number

    with time_machine.travel(january):
        # 3. After its first day: the same request is answered alike (the card is the
        # term's), and the application priced on this year's card keeps it when approved.
        assert quote(page, *next_term).json() == on_next.json()
        visit(page, f"/console/applications/{late_id}", admin_email)
        review = text(page.locator("main"))
        assert f"Each use, priced · rate card {this} ·" in review
        page.get_by_role("button", name="Approve and issue the agreement").click()
        page.locator(".flashes").wait_for()
        assert "licenses past use only" in text(page.locator(".flashes"))

        # 4. A vendor's question finds the slip: the manager corrects it under a new
        # version. The check counts what the wrong card priced; the message says what
        # the correction replaces (it said "published." alone).
        right = drafted(wrong, correction, *next_term, "12.60")
        card = tmp_path / f"{correction}.json"
        card.write_text(json.dumps(right))
        checked, said = check_and_publish(page, card, correction)
        assert (f"What {upcoming} has priced keeps its prices: 0 undecided applications") in checked
        assert "and 1 agreement (fees as issued" in checked
        assert (
            f"Rate card {correction} published. It replaces {upcoming} for every day of its "
            f"period: quotes, estimates, applications and renewals naming no card are priced "
            f"on {correction} from now on. What {upcoming} priced keeps its prices, listed on "
            "its page."
        ) in said

        # The wrong card's page: replaced since a day in words; the accepted renewal
        # keeps its fees, linked to what the correction would price it at.
        page.goto(f"/console/rate-cards/{upcoming}")
        wrong_page = text(page.locator("main"))
        assert (
            f"Replaced by {correction} on {day_text(january.date())} for every day of its period"
        ) in wrong_page
        assert (
            f"{renewed_number} {organization} active 50,950.00 USD accepted: its fees stay "
            f"({renewed_number} on the corrected card, and what to do)"
        ) in wrong_page
        assert_accessible(page)
        page.get_by_role("link", name=f"{renewed_number} on the corrected card").click()
        page.wait_for_url(f"**/console/agreements/{renewed_id}#kept-prices")
        kept = text(page.locator("#kept-prices"))
        assert (
            f"The licensee accepted this agreement, so it keeps the prices of {upcoming}"
        ) in kept
        assert (
            f"On {correction} its uses come to 37,450.00 USD, 13,500.00 USD less than its "
            "50,950.00 USD"
        ) in kept
        assert "1. Ledger Lark 48,200.00 USD 34,700.00 USD" in kept
        assert "2. Ledger Lark SDK 2,750.00 USD 2,750.00 USD" in kept
        assert "issue a credit note for the difference on each of its invoices" in kept
        assert_accessible(page)

        # Quotes naming no card: the correction; naming the wrong one: still it, with
        # its successor; the estimator alike.
        corrected = quote(page, *next_term).json()
        assert (corrected["rate_card"], corrected["total"]) == (correction, "34700.00")
        named = quote(page, *next_term, rate_card=upcoming)
        assert named.json()["total"] == "48200.00"
        assert named.headers["link"] == (
            f'</api/v1/rate-cards/{correction}>; rel="successor-version"'
        )
        assert f"Estimated total: 34,700.00 USD Rate card {correction} ·" in estimate(
            vendor_page, *next_term
        )

        # 5. The history: the list marks the replaced card; the API's schedule names its
        # successor; the audit log has each publication.
        page.goto("/console/rate-cards/")
        listed = text(page.locator("main"))
        assert f"replaced by {correction}: prices only quotes that name it" in listed
        schedule = page.request.get(f"/api/v1/rate-cards/{upcoming}").json()
        assert schedule["replaced_by"] == [correction]
        page.goto("/console/audit?action=rate_card.published")
        history = text(page.locator("main"))
        assert f"rate_card.published Rate card {correction}" in history
        assert f"rate_card.published Rate card {upcoming}" in history
        assert ending_number  # this year's agreement, renewed on the wrong card
