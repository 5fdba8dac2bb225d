"""Round 61 (currencywalk61): a vendor licensed on cards in three currencies, walked
in Chromium (docs/journeys.md, "Round 61: a vendor licensed in USD, EUR and JPY").

The office publishes, with the command line, three cards for one year beside each
other: USD, EUR and JPY (no minor unit). Jonas Weber, of a localization house, applies
on each: a development licence on the USD card and on the EUR one (a flat fee invoiced
on acceptance), a derivative work on the JPY card (12% of revenue, a minimum of
300,000 JPY, charged with the first royalty report). Every revenue field is labelled
in its card's currency and refuses what that currency cannot say (`1234.5` yen). He
accepts each agreement, pays the USD invoice by card (localstripe), the EUR one by
wire (billing staff record it), reports the JPY licence's first quarter and is
invoiced; the statement of account and the dashboard keep each currency apart (no
sum across them), and the finance exports and the Finance page write each amount
with exactly its currency's minor digits. The emails greet him by name.

On any day: the licence is next year's cards' whole year (`ReportingYear`), and the
walk only travels forward (Chromium keeps the real clock for its cookies)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine

from licensing import db
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import (
    fill_card,
    newest_mail,
    one_line,
    sign_in,
    signed_in_tab,
    wired,
)
from tests.integration.billing.stripe_support import WEBHOOK_SECRET, stripe_config
from tests.support import factories
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer, LocalStripe, SMTPServer

pytestmark = pytest.mark.xdist_group("three_currency_vendor")

JONAS = "Jonas Weber"
VENDOR = "jonas@lingua.example"
FEES = {"USD": "2500.00", "EUR": "2300.00", "JPY": "375000"}  # development, flat
MINIMUM_JPY = Decimal("300000")  # the derivative work's, on the JPY card
CURRENCIES = ("USD", "EUR", "JPY")
SEP = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "  # between a use and its field


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _card(currency: str, first: Any, last: Any) -> dict[str, Any]:
    """A card of the office's in `currency`: development a flat fee, a derivative
    work 12% of revenue with a minimum (auto: no staff review on this walk)."""
    return {
        "version": f"{first.year}.{currency}",
        "title": f"Royalty schedule in {currency} from {first}",
        "currency": currency,
        "effective_from": first.isoformat(),
        "effective_to": last.isoformat(),
        "rules": [
            {
                "id": "development",
                "description": "Develop, test, maintain and service a product",
                "when": {"use": "development"},
                "model": {"type": "flat", "amount": FEES[currency]},
            },
            {
                "id": "derivative-work",
                "description": "Derivative works of CPT content",
                "when": {"use": "derivative_work"},
                "model": {"type": "percent_of_revenue", "percent": "12"},
                "minimum": "300000" if currency == "JPY" else "2500.00",
            },
        ],
        "adjustments": [],
    }


def _main(page: Any) -> str:
    return one_line(page.inner_text("main"))


def _apply(page: Any, version: str, term: tuple[Any, Any], use: str, revenue: str) -> None:
    """The application form filled for one use on card `version`, saved."""
    page.goto("/portal/applications/new")
    page.fill("#term_start", term[0].isoformat())
    page.fill("#term_end", term[1].isoformat())
    page.select_option("#rate_card", version)
    page.fill("#uses-0-product_name", f"Lingua {use.replace('_', ' ')}")
    page.fill("#uses-0-description", "Coding tools localized for our customers")
    page.select_option("#uses-0-use", use)
    page.select_option("#uses-0-product_type", "software")
    page.select_option("#uses-0-user_type", "provider")
    page.fill("#uses-0-territories", "Worldwide")
    page.fill("#uses-0-revenue", revenue)
    page.get_by_role("button", name="Save the draft").click()
    page.wait_for_load_state()


def _accept(page: Any) -> str:
    """The application's agreement accepted by Jonas; the flash message."""
    page.get_by_role("link", name="Read and accept the agreement").click()
    page.fill("#signer_name", JONAS)
    page.fill("#signer_title", "Managing director")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    page.locator(".flashes").wait_for()
    return one_line(page.inner_text(".flashes"))


def test_a_vendor_licensed_in_usd_eur_and_jpy_keeps_each_currency_to_its_own_digits(
    browser: Any,
    page: Any,
    live_server: LiveServer,
    localstripe: LocalStripe,
    mailbox: SMTPServer,
    tmp_path: Path,
) -> None:
    localstripe.register_webhook("licensing", f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET)
    started = utcnow()
    year = ReportingYear.around(office_date(started))
    term = year.term
    runner = live_server.app.test_cli_runner()
    for currency in CURRENCIES:
        document = tmp_path / f"{currency}.json"
        document.write_text(json.dumps(_card(currency, *term)), encoding="utf-8")
        ran = runner.invoke(args=["ratecards", "import", str(document)])
        assert ran.exit_code == 0, ran.output
    with live_server.app.app_context():
        session = db.session()
        vendor = factories.make_vendor(session, email=VENDOR, full_name=JONAS)
        clerk = factories.make_staff(session, roles=("billing",)).email
        session.commit()
        billing = vendor.organization.billing_email
        contact = vendor.organization.billing_contact_name
    usd, eur, jpy = (f"{term[0].year}.{c}" for c in CURRENCIES)

    # 0. The estimator: a JPY card's revenue in whole yen, said beside the field.
    page.goto("/estimate")
    page.get_by_label("Your organization is").select_option("commercial")
    page.get_by_label("License term starts").fill(term[0].isoformat())
    page.get_by_label("License term ends").fill(term[1].isoformat())
    # Round 67: the estimator's option naming no card says the card for the start date
    # typed, and its hint each currency's (rate-card-option.js, as on the form).
    first = day_text(term[0])
    assert page.locator("#rate_card-in-effect").text_content() == (
        "The card in effect on the start date, in any currency the one published last "
        f"({jpy}, in JPY, for {first})"
    )
    assert page.locator("#rate_card-hint").text_content() == (
        "Naming no card, this estimate is priced on the card in effect on the start date "
        f"published last, whatever its currency: on {first}, rate card {jpy}, in JPY. {eur} "
        f"(EUR) and {usd} (USD) are in effect too: choose one to be priced in its currency."
    )
    page.get_by_label("Rate card").select_option(jpy)
    page.locator("#uses-0-use").select_option("derivative_work")
    page.locator("#uses-0-product_type").select_option("software")
    page.locator("#uses-0-user_type").select_option("provider")
    page.locator("#uses-0-revenue").fill("1234.5")
    page.get_by_role("button", name="Estimate the price").click()
    page.wait_for_load_state()
    estimate = _main(page)
    assert "Expected annual revenue (JPY) JPY has no minor unit: give a whole number" in estimate
    assert "Estimated total" not in estimate
    for version, currency in ((usd, "USD"), (eur, "EUR"), (jpy, "JPY")):
        assert f"{version}: {_period(term)}, in {currency}" in estimate
    assert "replaced by" not in estimate  # round 61: "2027.USD (replaced by 2027.JPY)"
    page.locator("#uses-0-revenue").fill("5000000")
    page.get_by_role("button", name="Estimate the price").click()
    page.get_by_text("Estimated total:").wait_for()
    quoted = Decimal("5000000") * 12 / 100  # by hand: 600,000 JPY, over the minimum
    assert quoted > MINIMUM_JPY
    assert f"Estimated total: {quoted:,.0f} JPY" in _main(page)

    # 1. An application on each card, signed in: the revenue labelled in the card's
    # currency; 1234.5 yen refused, saying why, and nothing saved.
    sign_in(page, VENDOR)  # round 65: not the form's page and its landing, unread
    _card_in_effect_said(page, term, usd, eur, jpy)
    _apply(page, jpy, term, "derivative_work", "1234.5")
    refused = _main(page)
    # Round 62: the summary names the field as its label does, with its currency.
    assert f"Use 1{SEP}Expected annual revenue (JPY): JPY has no minor unit: give a" in refused
    assert "Expected annual revenue (JPY) JPY has no minor unit" in refused
    assert "saved as a draft" not in refused
    page.fill("#uses-0-revenue", "5000000")
    page.get_by_role("button", name="Save the draft").click()
    page.get_by_text("The price if you submit now").wait_for()
    draft = _main(page)
    assert "Worldwide en revenue 5,000,000 JPY" in draft  # was "5,000,000.00"
    assert f"The price if you submit now: {quoted:,.0f} JPY" in draft
    assert f"12% of revenue 5,000,000 = {quoted:,.0f}" in draft
    accepted: dict[str, str] = {}
    for version, currency in ((jpy, "JPY"), (usd, "USD"), (eur, "EUR")):
        if currency != "JPY":
            _apply(page, version, term, "development", "0")
            page.get_by_text("The price if you submit now").wait_for()
            assert f"revenue 0{'.00' if currency != 'JPY' else ''} {currency}" in _main(page)
        page.check("#attest")
        page.get_by_role("button", name="Submit for pricing and review").click()
        assert "is approved and agreement" in page.inner_text(".flashes")
        accepted[currency] = _accept(page)
        agreement = _main(page)
        assert f"Rate card {version}" in agreement
        # Round 61: the USD and EUR agreements were "corrected by rate card 2027.JPY".
        assert "Its rate card was corrected" not in agreement
    assert "Nothing is due up front" in accepted["JPY"]
    number = {"USD": f"INV-{started.year}-000001", "EUR": f"INV-{started.year}-000002"}
    for currency in ("USD", "EUR"):
        fee = Decimal(FEES[currency])
        assert (
            f"Invoice {number[currency]} is issued for {fee:,.2f} {currency}"
            in (accepted[currency])
        )
    # The emails to Jonas greet him by name (round 61: "Hello,").
    told = newest_mail(mailbox, VENDOR, f"CPT-{term[0].year}-000003: accepted and active")
    assert told.startswith(f"Hello {JONAS}, License agreement CPT-{term[0].year}-000003")
    waiting = _main_of(page, "/portal/")
    assert f"Invoice {number['USD']} to pay 2,500.00 USD" in waiting
    assert f"Invoice {number['EUR']} to pay 2,300.00 EUR" in waiting

    # 2. The USD invoice paid by card (localstripe), the EUR one by wire.
    page.goto("/portal/invoices")
    page.get_by_role("link", name=number["USD"]).click()
    page.get_by_role("link", name="Pay 2,500.00 USD by card").click()
    fill_card(page)
    page.get_by_role("button", name="Pay 2,500.00 USD").click()
    page.locator("#payment-status").get_by_role("heading", name="Paid", exact=True).wait_for(
        timeout=20_000
    )
    wired(browser, live_server, clerk, number["EUR"], "2300.00")
    wire = newest_mail(mailbox, billing, f"Payment received for invoice {number['EUR']}")
    assert f"Hello {contact}, Thank you: we received 2,300.00 EUR (wire transfer" in wire

    # 3. The JPY licence's first quarter: a fraction of a yen refused, then filed. By
    # hand: 12% of 1,000,000 is 120,000, under the 300,000 minimum.
    with time_machine.travel(year.after(1)):
        page.goto("/portal/royalty-reports")
        if "/sign-in" in page.url:
            page.get_by_label("Email address").fill(VENDOR)
            page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
        page.get_by_role("link", name="File the report").first.click()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the template for this period").click()
        header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
        report = tmp_path / "q1.csv"
        report.write_text(f"{header}\n1,C-1,Tokyo Clinic,JP,,,1000000\n", encoding="utf-8")
        _preview(page, report)
        page.get_by_text("Preview: what this report would charge").wait_for()
        due = max(Decimal("1000000") * 12 / 100, MINIMUM_JPY)
        assert f"1 revenue 1,000,000 JPY {due:,.0f} JPY 0 JPY {due:,.0f} JPY" in _main(page)
        upload = page.locator("#report-csv")
        upload.get_by_label("I attest").check()
        upload.get_by_role("button", name="Attest and submit the file").click()
        royalty = f"INV-{term[0].year}-000001"
        assert f"Invoice {royalty} is issued" in page.inner_text(".flashes")
        invoiced = newest_mail(mailbox, billing, f"Invoice {royalty}")
        assert f"Hello {contact}, Invoice {royalty} for " in invoiced
        assert f"is issued: {due:,.0f} JPY, due " in invoiced

        # 4. Each currency on its own: the dashboard, the statement in each.
        waiting = _main_of(page, "/portal/")
        assert f"Invoice {royalty} to pay {due:,.0f} JPY" in waiting
        today = office_date(year.after(1))
        closing = {"USD": "0.00 USD", "EUR": "0.00 EUR", "JPY": f"{due:,.0f} JPY"}
        for currency in CURRENCIES:
            statement = _main_of(
                page,
                f"/portal/statement?from={office_date(started)}&to={today}&currency={currency}",
            )
            assert f"Closing balance on {today.isoformat()} {closing[currency]}" in statement
            for other in set(CURRENCIES) - {currency}:
                assert f" {other} " not in statement.split("Show the statement", 1)[1], other

        # 5. The office: the Finance page in each currency, the exports to its digits.
        staff = signed_in_tab(browser, live_server, clerk)
        first, last = f"{office_date(started):%Y-%m}", f"{today:%Y-%m}"
        said = {
            "USD": "invoiced 2,500.00 USD, collected 2,500.00 USD",
            "EUR": "invoiced 2,300.00 EUR, collected 2,300.00 EUR",
            "JPY": f"invoiced {due:,.0f} JPY, collected 0 JPY",
        }
        for currency in CURRENCIES:
            staff.goto(f"/console/finance/?from={first}&to={last}&currency={currency}")
            assert f"by month, in {currency}: {said[currency]}" in one_line(
                staff.inner_text("main")
            )
        dates = f"&from={office_date(started)}&to={today}"
        invoices = _export(staff, f"invoices{dates}")
        assert {(r["currency"], r["total"], r["balance_due"]) for r in invoices} == {
            ("USD", "2500.00", "0.00"),
            ("EUR", "2300.00", "0.00"),
            ("JPY", "300000", "300000"),
        }
        payments = _export(staff, f"payments{dates}")
        assert {(r["currency"], r["method"], r["amount"]) for r in payments} == {
            ("USD", "card", "2500.00"),
            ("EUR", "wire", "2300.00"),
        }
        lines = _export(staff, f"invoice_lines{dates}")
        assert {(r["currency"], r["amount"]) for r in lines} == {
            ("USD", "2500.00"),
            ("EUR", "2300.00"),
            ("JPY", "300000"),
        }
        owing = _export(staff, "receivables")
        assert [(r["currency"], r["balance"], r["current"]) for r in owing] == [
            ("JPY", "300000", "300000")
        ]
        staff.context.close()


def _card_in_effect_said(page: Any, term: tuple[Any, Any], usd: str, eur: str, jpy: str) -> None:
    """Round 66: the form's option naming no card says which card, in which currency, for
    the start date typed (`rate-card-option.js`), and its hint, read with the field and
    announced politely, why: "The card in effect on the start date" said neither."""
    page.goto("/portal/applications/new")
    option, hint = page.locator("#rate_card-in-effect"), page.locator("#rate_card-hint")
    assert hint.get_attribute("aria-live") == "polite"
    assert "rate_card-hint" in (page.locator("#rate_card").get_attribute("aria-describedby") or "")
    label = "The card in effect on the start date, in any currency the one published last"
    before = term[0] - timedelta(days=1)
    page.fill("#term_start", before.isoformat())
    assert option.text_content() == f"{label} (none for {day_text(before)})"
    assert hint.text_content().endswith(f"no rate card is in effect on {day_text(before)}.")
    page.fill("#term_start", term[0].isoformat())
    first = day_text(term[0])
    assert option.text_content() == f"{label} ({jpy}, in JPY, for {first})"
    assert hint.text_content() == (
        "Naming no card, this application is priced on the card in effect on the start date "
        f"published last, whatever its currency: on {first}, rate card {jpy}, in JPY. {eur} "
        f"(EUR) and {usd} (USD) are in effect too: choose one to be priced in its currency."
    )


def _period(term: tuple[Any, Any]) -> str:
    return f"{term[0].isoformat()} to {term[1].isoformat()}"


def _main_of(page: Any, url: str) -> str:
    page.goto(url)
    return _main(page)


def _preview(page: Any, report: Path) -> None:
    upload = page.locator("#report-csv")
    upload.get_by_label("CSV file").set_input_files(report)
    upload.get_by_role("button", name="Preview the royalty").click()
    page.wait_for_load_state()


def _export(staff: Any, query: str) -> list[dict[str, str]]:
    """A finance export's rows (CSV), as billing staff download it from the console."""
    response = staff.request.get(f"/console/exports?dataset={query}")
    assert response.status == 200, response.text()
    return list(csv.DictReader(io.StringIO(response.text())))
