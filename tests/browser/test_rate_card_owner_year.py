"""Round 54 in Chromium: the licensing office's rate card owner walks a year of cards
(docs/journeys.md). This year's card ends a month from the office's today
(`CardYears`: its last day stands for 31 December, the next card's first for
1 January). The owner drafts next year's card from this year's download, checks it
(the recordable check and the renewal it would price) and publishes it with a
mistake in it (a development fee of 27,500.00 typed for 2,750.00); a quote on the
last day of this year's card and one on the first of next year's; an application
quoted in "December" and approved in "January" (next year's card prices it: its
agreement and PDF say so); a royalty report for the last period of this year's
agreement filed in "January" (this year's card prices it, the agreement's); then the
owner corrects the card under a new version, and its page says what the wrong card
priced, which keeps its prices. Products are invented."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import time_machine

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.agreements.services import ApplicationDraft
from licensing.calendar import day_text
from licensing.royalties.periods import reporting_periods
from tests.browser.conftest import accepted_agreement, sign_in, vendor_and_staff
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.card_year_uses import ATLAS, LEDGER, LEDGER_SDK, MORNING, text
from tests.support.card_years import CardYears
from tests.support.documents import pdf_text
from tests.support.reporting_year import filed
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def drafted(card: dict[str, Any], version: str, first: str, last: str, fee: str) -> dict[str, Any]:
    """`card` as `version` for `first`..`last`, its development fee `fee`."""
    rules = [dict(rule) for rule in card["rules"]]
    for rule in rules:
        if rule["id"] == "development":
            rule["model"] = {**rule["model"], "amount": fee}
    return {
        **card,
        "version": version,
        "title": f"Rate card from {first}",
        "effective_from": first,
        "effective_to": last,
        "rules": rules,
    }


def quote(page: Any, start: str, end: str) -> dict[str, Any]:
    """`POST /api/v1/quotes` for the development use and the data file, naming no card."""
    body = {
        "organization_type": "commercial",
        "term": {"start": start, "end": end},
        "uses": [
            {"use": "development", "product_type": "saas", "user_type": "provider"},
            {
                "use": "distribution",
                "product_type": "data_file",
                "user_type": "provider",
                "revenue": "90000",
            },
        ],
    }
    answer = page.request.post("/api/v1/quotes", data=body)
    assert answer.status == 200, answer.text()
    result: dict[str, Any] = answer.json()
    return result


def _row(users: int) -> dict[str, Any]:
    return {
        "line": 1,
        "customer_id": "LL-1",
        "customer_name": "Heron Clinic",
        "country": "US",
        "unit": "end_users",
        "quantity": users,
    }


def visit(page: Any, path: str, email: str) -> None:
    """`path` opened, signed in again as `email` where a travel forward ended the session."""
    page.goto(path)
    if "/sign-in" in page.url:
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        page.goto(path)


def check_and_publish(page: Any, card: Path, version: str) -> str:
    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    page.get_by_role("button", name="Check without publishing").click()
    page.wait_for_load_state()
    checked = text(page.locator("main"))
    assert "The card is valid. Nothing is published yet" in checked
    assert_accessible(page)
    page.get_by_role("button", name=f"Publish rate card {version}").click()
    page.wait_for_url(f"**/console/rate-cards/{version}")
    return checked


def test_the_rate_card_owners_year_from_draft_to_correction(
    page: Any, live_server: LiveServer, tmp_path: Path, card_years: CardYears
) -> None:
    years = card_years
    this, upcoming = years.this_version, years.next_version
    correction = f"{years.next_from.year}.2"
    december, january = (datetime.combine(day, MORNING) for day in (years.this_to, years.next_from))
    vendor, _staff = vendor_and_staff(live_server, example=False)
    this_year = ApplicationDraft.from_fields(
        {"term_start": years.this_from, "term_end": years.this_to, "uses": (LEDGER, LEDGER_SDK)}
    )
    with live_server.app.app_context():
        reporting = accepted_agreement(vendor, this_year)
        reporting_id, reporting_number = reporting.id, reporting.number
        organization = reporting.organization.legal_name
        admin = factories.make_staff(db.session(), roles=("admin", "licensing"))
        db.session().commit()
        admin_email = str(admin.email)
    vendor_actor = Actor.of(accounts.principal_for(vendor))

    # 1. The owner drafts next year's card from this year's download, and mistypes the
    # development fee (27,500.00 for 2,750.00); the check shows it, and what it would do
    # to the renewal it prices, but the owner publishes it.
    sign_in(page, admin_email)
    page.goto(f"/console/rate-cards/{this}")
    with page.expect_download() as downloading:
        page.get_by_role("link", name=f"Download {this} as a JSON file").click()
    this_card = json.loads(Path(downloading.value.path()).read_text())
    wrong = drafted(
        this_card, upcoming, years.next_from.isoformat(), years.next_to.isoformat(), "27500.00"
    )
    card = tmp_path / f"{upcoming}.json"
    card.write_text(json.dumps(wrong))
    checked = check_and_publish(page, card, upcoming)
    assert (
        "Changed rule development: charge now flat fee of 27,500.00 USD a year (prorated) "
        "(was flat fee of 2,500.00 USD a year (prorated))."
    ) in checked
    # Cardcheck54: the check singles the tenfold fee out, a warning (it still publishes).
    assert (
        f"Rule development's flat fee is 11 times that on {this}: 27,500.00 USD on {upcoming}, "
        f"2,500.00 USD on {this}. Check it is not a slip of a digit."
    ) in checked
    # The recordable check passed it (27,500.00 is far within the largest amount), and
    # the renewal it would price says what the mistake costs: 25,000.00 more.
    # Round 67: the record's usage, use by use, is listed under its number.
    assert f"{reporting_number} (renewal) use 1: " in checked
    assert (
        f"{organization} {this} 36,300.00 none in effect on its first day 61,300.00 25,000.00"
    ) in checked
    assert (
        "Applications already priced, agreements and royalty reports under them keep the "
        "card they were priced on."
    ) in checked
    published = text(page.locator("main"))
    assert f"Rate card {upcoming} published, in effect from {day_text(years.next_from)}" in (
        published
    )  # the flash in words (round 58)
    assert f"Undecided applications whose latest quote is on {upcoming}: 0." in published

    # 2. The last day of this year's card ("31 December"): a quote for that day is
    # priced on this year's card, a day of its period; one for next year's term on next
    # year's, as it will be tomorrow: the card is the term's, never the day's it is asked on.
    this_days = (years.this_to - years.this_from).days + 1
    with time_machine.travel(december):
        one_day = quote(page, years.this_to.isoformat(), years.this_to.isoformat())
        assert (one_day["rate_card"], one_day["proration"]) == (this, f"1/{this_days}")
        development = one_day["lines"][0]
        assert development["rule"] == "development"
        assert development["explanation"][0].startswith(f"flat 2500.00 x 1/{this_days} (prorated)")
        next_year = quote(page, years.next_from.isoformat(), years.next_to.isoformat())
        assert (next_year["rate_card"], next_year["total"]) == (upcoming, "36500.00")
        assert next_year["lines"][0]["explanation"][0] == (
            "flat 27500.00 for the whole card period = 27500.00"
        )
        # The estimator proposes next year's card's first day.
        page.goto("/estimate")
        assert page.get_by_label("License term starts").input_value() == str(years.next_from)
        # The vendor applies for next year: the data file waits on staff.
        with live_server.app.app_context():
            draft = ApplicationDraft.from_fields(
                {
                    "term_start": years.next_from,
                    "term_end": years.next_to,
                    "uses": (ATLAS, LEDGER_SDK),
                }
            )
            application = agreements.create_draft(vendor_actor, draft, now=december)
            application = agreements.submit(
                application.id, vendor_actor, policy=issuing(), attest=True, now=december
            )
            assert (application.state, str(application.total)) == ("submitted", "36500.00")
            december_id = application.id

    # 3. The first day of next year's card ("1 January").
    with time_machine.travel(january):
        assert quote(page, years.next_from.isoformat(), years.next_to.isoformat()) == next_year
        # Approved today, the application quoted yesterday keeps next year's card; its
        # term starts today, so nothing is licensed retroactively (round 54's fix).
        visit(page, f"/console/applications/{december_id}", admin_email)
        review = text(page.locator("main"))
        assert f"Each use, priced · rate card {upcoming} · the whole rate card period" in review
        assert "The term began" not in review
        assert_accessible(page)
        page.get_by_role("button", name="Approve and issue the agreement").click()
        page.wait_for_load_state()
        assert "the agreement is issued as" in text(page.locator(".flashes"))
        with live_server.app.app_context():
            issued = db.session().query(Agreement).filter_by(application_id=december_id).one()
            issued_id, issued_number = issued.id, issued.number
        page.goto(f"/console/agreements/{issued_id}")
        agreement_page = text(page.locator("main"))
        assert f"Rate card {upcoming} Total for the term 36,500.00 USD" in agreement_page
        assert f"Schedule A · rate card {upcoming}" in agreement_page
        assert "flat 27,500.00 for the whole card period = 27,500.00" in agreement_page
        pdf = page.request.get(
            page.get_by_role("link", name=f"{issued_number}.pdf").get_attribute("href")
        )
        assert f"Royalties are computed with rate card {upcoming}." in " ".join(
            pdf_text(pdf.body()).split()
        )

        # This year's agreement's royalty reports, the last period (which ended on the
        # card's last day) among them, filed today in period order: this year's card
        # prices them, the agreement's, whatever card is in effect on the day of filing.
        with live_server.app.app_context():
            for period in reporting_periods(years.this_from, years.this_to):
                users = 3000 if period.end == years.this_to else 2500
                filing = filed(vendor, reporting_id, period.start, [_row(users)], now=january)
            assert filing.report is not None
            report_id = filing.report.id
        page.goto(f"/console/royalty-reports/{report_id}")
        report = text(page.locator("main"))
        assert f"Agreement {reporting_number} Period " in report
        # 3,000 end users graduated on this year's card, less what was charged before.
        assert "1 3,000 end users 39,800.00 USD 33,800.00 USD 6,000.00 USD" in report
        working = " ".join(
            (
                page.locator("details").filter(has_text="How line 1 was computed").text_content()
                or ""
            ).split()
        )
        assert f"rule distribution-software of rate card {this}" in working

        # A second application, waiting on staff when the owner finds the mistake.
        with live_server.app.app_context():
            draft = ApplicationDraft.from_fields(
                {"term_start": years.next_from, "term_end": years.next_to, "uses": (ATLAS,)}
            )
            waiting = agreements.create_draft(vendor_actor, draft, now=january)
            waiting = agreements.submit(
                waiting.id, vendor_actor, policy=issuing(), attest=True, now=january
            )
            waiting_id, waiting_ref = waiting.id, waiting.reference

        # 4. The owner corrects the card under a new version: the check says what the
        # wrong card has priced keeps its prices; the wrong card's page lists them.
        right = drafted(
            wrong, correction, years.next_from.isoformat(), years.next_to.isoformat(), "2750.00"
        )
        card = tmp_path / f"{correction}.json"
        card.write_text(json.dumps(right))
        checked = check_and_publish(page, card, correction)
        assert (
            f"priced on {upcoming} until now: {upcoming} would then price only quotes that name "
            f"it. What {upcoming} has priced keeps its prices: 1 undecided application"
        ) in checked
        assert "and 1 agreement (fees as issued" in checked
        assert (
            f"Rule development's flat fee is 1/10 of that on {upcoming}: 2,750.00 USD on "
            f"{correction}, 27,500.00 USD on {upcoming}."
        ) in checked
        assert (
            "Changed rule development: charge now flat fee of 2,750.00 USD a year (prorated) "
            "(was flat fee of 27,500.00 USD a year (prorated))."
        ) in checked
        page.goto(f"/console/rate-cards/{upcoming}")
        wrong_page = text(page.locator("main"))
        replaced = f"Replaced by {correction} on {day_text(years.next_from)} for every day"
        assert f"{replaced} of its period" in wrong_page  # the day in words (cardwalk60)
        assert f"{waiting_ref} {organization} submitted 9,000.00 USD" in wrong_page
        assert f"{issued_number} {organization} issued 36,500.00 USD" in wrong_page
        assert f"royalty reports are priced on {upcoming}, the agreement's card" in wrong_page
        assert_accessible(page)
        # From there, to the application waiting: its review says the same.
        page.get_by_role("link", name=waiting_ref).click()
        page.wait_for_url(f"**/console/applications/{waiting_id}")
        assert (
            f"Rate card {upcoming}, which priced this application, has been replaced by "
            f"{correction} since. Approving keeps the prices of {upcoming}."
        ) in text(page.locator("#replaced-card"))

        # Quotes naming no card are priced on the correction; one naming the wrong card
        # still is, and is told its successor.
        corrected = quote(page, years.next_from.isoformat(), years.next_to.isoformat())
        assert (corrected["rate_card"], corrected["total"]) == (correction, "11750.00")
        named = page.request.post(
            "/api/v1/quotes",
            data={
                "organization_type": "commercial",
                "term": {"start": str(years.next_from), "end": str(years.next_to)},
                "rate_card": upcoming,
                "uses": [{"use": "development", "product_type": "saas", "user_type": "provider"}],
            },
        )
        assert (named.json()["rate_card"], named.json()["total"]) == (upcoming, "27500.00")
        assert named.headers["link"] == (
            f'</api/v1/rate-cards/{correction}>; rel="successor-version"'
        )
