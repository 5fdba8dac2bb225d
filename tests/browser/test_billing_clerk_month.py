"""Round 52: a billing clerk's month at the licensing office, walked in Chromium
(docs/journeys.md, "Round 52: a billing clerk's month").

One licensee, Corvid Analytics, invoiced seven times this month. The clerk, with the
console's pages alone: finds the invoices due this week; records one wire that pays
two of them and a check that pays one short; the bank returns the check and the clerk
reverses it; reads a card payment disputed by the cardholder's bank and the dispute
lost (Stripe's signed events, as the webhook receives them); issues a credit note for
an amended royalty report and refunds part of what was overpaid; writes off a small
balance with a credit note; reads the statement of account; then closes the month:
the Finance page, the month's report, and the invoices, payments and credit notes
exported from the console's export form, which add up to what the pages say.

Every record is made on the office's today (the walk passes at the real time and under
`TRAVEL_TO`: `tests.support.travelled_clock`); its due dates follow from it."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from licensing import db
from licensing.billing.services.statements import twelve_months_to
from licensing.calendar import day_text, month_text, office_date
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.billing.dispute_support import charge_of, lost
from tests.integration.billing.refund_support import paid_by_card
from tests.integration.billing.stripe_support import stripe_config
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.navigation import arrive, follow
from tests.support.servers import LiveServer, LocalStripe

pytestmark = pytest.mark.xdist_group("billing_clerk_month")

WIRE = "FEDWIRE 0412-7731"
CHECK = "CHK 3302"
OPTIONS = "select => Array.from(select.options, option => option.text)"
SEARCH = "Number, organization, payment reference or amount"


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _text(page: Any, selector: str = "main") -> str:
    return " ".join(page.inner_text(selector).split())


def _month(live_server: LiveServer, localstripe: LocalStripe) -> dict[str, Any]:
    """Corvid Analytics' seven invoices issued today, what came before the clerk's
    day (a card payment disputed and lost, two wires), and the clerk's email."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Corvid Analytics Inc.")
        vendor = factories.make_vendor(session, organization)
        clerk = factories.make_staff(session, roles=("billing",))
        session.commit()
        issued = utcnow() - timedelta(minutes=5)

        def invoice(amount: str, terms: int) -> Any:
            made = send_activation(activated(organization.id, (amount,), at=issued, terms=terms))
            assert made is not None
            return made

        invoices = {
            "first": invoice("1200.00", 2),
            "second": invoice("800.00", 4),
            "checked": invoice("500.00", 6),
            "later": invoice("300.00", 20),
            "carded": invoice("250.00", 30),
            "amended": invoice("1000.00", 30),
            "small": invoice("1000.50", 30),
        }
        webhook = live_server.app.test_client()
        payment = paid_by_card(webhook, vendor, localstripe, invoices["carded"])
        lost(webhook, payment, charge_of(localstripe, payment), amount=25000, at=utcnow())
        paid_offline(invoices["amended"].id, "1000.00", "FEDWIRE 0411-1001")
        paid_offline(invoices["small"].id, "1000.00", "FEDWIRE 0411-1002")
        return {
            "clerk": clerk.email,
            "organization": organization.legal_name,
            "numbers": {name: made.number for name, made in invoices.items()},
        }


def _open(page: Any, number: str) -> None:
    """The invoice found by its number in the console's search, and opened."""
    page.goto("/console/invoices")
    page.get_by_label(SEARCH).fill(number)
    page.get_by_label(SEARCH).press("Enter")
    page.get_by_role("link", name=number).click()
    page.get_by_role("heading", name=f"Invoice {number}").wait_for()


def _record(page: Any, method: str, amount: str, reference: str) -> None:
    form = page.get_by_role("region", name="Record an offline payment")
    form.get_by_label("Method").select_option(method)
    form.get_by_label("Amount", exact=True).fill(amount)
    form.get_by_label("Reference", exact=True).fill(reference)
    form.get_by_role("button", name="Record payment").click()


def _credit(page: Any, amount: str, reason: str) -> str:
    """A credit note of `amount` issued on the open invoice's page, saying why, and
    confirmed (round 53): what its confirmation said."""
    form = page.get_by_role("region", name="Issue a credit note")
    form.get_by_label("Amount to credit").fill(amount)
    form.get_by_label("Reason").fill(reason)
    form.get_by_role("button", name="Issue credit note").click()
    confirm = page.get_by_role("button", name="Issue the credit note")
    confirm.wait_for()
    said = _text(page)
    confirm.click()
    page.get_by_text("Credit note CN-").first.wait_for()
    return said


def _downloaded(page: Any, tmp_path: Path, dataset: str) -> list[dict[str, str]]:
    with page.expect_download() as caught:
        page.get_by_role("button", name="Export").click()
    target = tmp_path / f"{dataset}.csv"
    caught.value.save_as(target)
    return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))


def _sum(rows: list[dict[str, str]], column: str) -> Decimal:
    return sum((Decimal(found[column]) for found in rows), Decimal(0))


def test_a_billing_clerk_works_a_month_and_closes_it_on_the_consoles_pages(
    page: Any, live_server: LiveServer, localstripe: LocalStripe, tmp_path: Path
) -> None:
    month = _month(live_server, localstripe)
    numbers = month["numbers"]
    today = office_date(utcnow())
    sign_in(page, month["clerk"])

    # Monday: what falls due this week, from the console's home, soonest first; the
    # list's box says so too.
    page.goto("/console/")
    # Loaded before its rows are read: `all_inner_texts` does not wait for them.
    follow(page, "link", "Invoices due this week")
    page.get_by_role("heading", name="Due this week").wait_for()
    assert page.get_by_label("Due in the next 7 days").is_checked()
    listed = [
        cell.strip() for cell in page.locator("table tbody tr td:first-child").all_inner_texts()
    ]
    assert listed == [numbers["first"], numbers["second"], numbers["checked"]]

    # One wire pays the first two: recorded on each, under the bank's one reference.
    _open(page, numbers["first"])
    _record(page, "wire", "1200.00", WIRE)
    page.get_by_text("Recorded a wire transfer of 1,200.00 USD.").wait_for()
    _open(page, numbers["second"])
    _record(page, "wire", "800.00", WIRE)
    page.get_by_text("Recorded a wire transfer of 800.00 USD.").wait_for()
    # The bank statement's line names the reference alone: it finds both invoices.
    page.goto("/console/invoices")
    page.get_by_label(SEARCH).fill("0412-7731")
    arrive(page, page.get_by_label(SEARCH), key="Enter")  # the whole list before `count()`
    page.get_by_role("link", name=numbers["first"]).wait_for()
    assert page.get_by_role("link", name=numbers["second"]).count() == 1

    # A check 50.00 short: the invoice stays open for the rest.
    _open(page, numbers["checked"])
    _record(page, "check", "450.00", CHECK)
    page.get_by_text("Recorded a check of 450.00 USD.").wait_for()
    assert page.locator("#balance-due").inner_text().startswith("50.00")

    # The bank returns the check: reversed with a reason and the day, confirmed.
    form = page.get_by_role("region", name=f"Reverse payment {CHECK}")
    form.get_by_label("Reason").fill("Check returned unpaid: account closed.")
    form.get_by_label("Returned by the bank on").fill(today.isoformat())
    form.get_by_role("button", name="Reverse payment").click()
    page.get_by_role("button", name="Reverse the payment").click()
    page.get_by_text(f"The payment of 450.00 USD ({CHECK}) is reversed").wait_for()
    assert page.locator("#balance-due").inner_text().startswith("500.00")

    # The card payment disputed and lost: the invoice says so and is owed again, and
    # the console's list of disputes names it.
    _open(page, numbers["carded"])
    assert page.locator("#balance-due").inner_text().startswith("250.00")
    assert "The dispute was lost: the amount is owed again" in _text(page)
    page.get_by_role("link", name="all disputes").click()
    assert numbers["carded"] in _text(page)

    # An amended royalty report: a credit note on the paid invoice, then part of the
    # overpayment sent back by wire (the only ways offered: no card paid it).
    _open(page, numbers["amended"])
    said = _credit(page, "150.00", "Royalty report amended: 2,900 end users, not 3,000.")
    # Round 53: confirmed first, on what it does: paid in full, so all of it is owed back.
    assert "Its balance due goes from 0.00 USD to 0.00 USD." in said
    assert "150.00 USD of it is more than the invoice still owes" in said
    assert page.locator("#refund-outstanding").inner_text().startswith("150.00")
    refund = page.get_by_role("region", name=re.compile("^Refund credit note CN-"))
    how = refund.get_by_label("How")
    assert how.evaluate(OPTIONS) == ["Wire transfer", "ACH transfer", "Check"]
    refund.get_by_label("Amount to refund").fill("100.00")
    refund.get_by_label("Reference", exact=True).fill("FEDWIRE RF-0100")
    refund.get_by_role("button", name="Refund").click()
    page.get_by_text(re.compile(r"Refunded 100\.00 USD \(CN-")).wait_for()
    assert page.locator("#refund-outstanding").inner_text().startswith("50.00")

    # A small balance written off with a credit note saying why.
    _open(page, numbers["small"])
    said = _credit(page, "0.50", "Small balance written off: the bank's charge.")
    assert "Its balance due goes from 0.50 USD to 0.00 USD." in said
    assert "No refund becomes owed" in said
    assert page.locator("#balance-due").inner_text().startswith("0.00")

    # The statement of account, from the organization found by its name: what is owed
    # is what the invoices still owe (500.00 + 300.00 + 250.00).
    page.goto("/console/organizations")
    page.get_by_label("Name").fill("Corvid")
    page.get_by_label("Name").press("Enter")
    page.get_by_role("link", name=month["organization"]).click()
    assert "Balance owed: 1,050.00 USD" in _text(page)
    page.get_by_role("link", name="Statement of account").first.click()
    statement = _text(page)
    assert f"Closing balance on {day_text(today)} 1,050.00 USD" in statement
    assert "Payment returned by the bank: Check returned unpaid: account closed." in statement
    # Round 53: the licensee's accountant asks on the phone for it: emailed to the billing
    # contact from the page, the PDF attached, through the outbox.
    page.get_by_role("button", name=re.compile("^Email the statement to ")).click()
    page.get_by_text(re.compile(r"is emailed to .* with its PDF")).wait_for()
    with live_server.app.app_context():
        [emailed] = db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "statement_of_account")
        )
        # Its days in words (round 56), as the page's form took them YYYY-MM-DD.
        assert emailed.subject == (
            # Round 67: the pages open on the twelve months ending today.
            f"Statement of account of Corvid Analytics Inc., "
            f"{day_text(twelve_months_to(today))} to "
            f"{day_text(today)} (USD): 1,050.00 USD owed and 50.00 USD due to you as a refund "
            f"as of {day_text(today)}"
        )
        assert [each.content_type for each in emailed.attachments] == ["application/pdf"]
        db.session().rollback()

    # Closing the month on the Finance page: this month's figures.
    # Round 53: the page opens on the 12 months (this month their last row); this
    # month's own figures are one link away.
    page.goto("/console/finance/")
    page.get_by_role("link", name=f"This month ({month_text(today)})").click()
    page.wait_for_url(f"**/console/finance/?from={today:%Y-%m}&to={today:%Y-%m}*")
    finance = _text(page)
    figures = {
        "invoiced": "5,050.50",
        "collected": "4,700.00",
        "reversed": "700.00",  # the check returned, the card payment withdrawn
        "credited": "150.50",
        # Round 55: net of the refunds the bank returned (none here); it said "refunded".
        "net refunds (refunds sent less those the bank returned)": "100.00",
    }
    for name, amount in figures.items():
        assert f"{name} {amount} USD" in finance, name
    # Round 52: the 50.00 of the amended invoice's credit still to be sent back is on
    # the page, so the month reconciles by itself: 5,050.50 - 4,700.00 + 700.00 -
    # 150.50 + 100.00 = 1,000.00 = 1,050.00 outstanding less 50.00 owed back.
    month_end = today.replace(day=1) + timedelta(days=32)
    month_end = month_end.replace(day=1) - timedelta(days=1)
    assert f"refunds owed at {day_text(month_end)}, not yet sent, 50.00 USD" in finance
    assert "outstanding at end \u2212 refunds owed at end changes by invoiced" in finance
    header = page.locator("#cash-table thead th").all_inner_texts()
    assert header[-2:] == ["Refunds owed at end", "Outstanding at end"]
    row = page.locator("#cash-table tbody tr").last.inner_text().split()
    assert row == [f"{today:%Y-%m}", *figures.values(), "50.00", "1,050.00"]
    owed_back, outstanding = (Decimal(cell.replace(",", "")) for cell in row[-2:])
    change = Decimal("5050.50") - Decimal("4700.00") + Decimal("700.00")
    change += Decimal("100.00") - Decimal("150.50")
    assert outstanding - owed_back == change
    # The month's report, linked from the page.
    report = page.get_by_role(
        "link", name=re.compile(f"Monthly revenue report for {month_text(today)}")
    )
    pdf = page.request.get(report.get_attribute("href"))
    assert pdf.ok
    assert "5,050.50" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)

    # The exports finance asks for, downloaded from the console's form, add up to the
    # page's figures.
    page.goto("/console/exports")
    found: dict[str, list[dict[str, str]]] = {}
    for dataset in ("invoices", "payments", "credit_notes"):
        page.get_by_label("Dataset").select_option(dataset)
        page.get_by_label("From", exact=True).fill(today.replace(day=1).isoformat())
        page.get_by_label("To", exact=True).fill(today.isoformat())
        found[dataset] = _downloaded(page, tmp_path, dataset)
    assert _sum(found["invoices"], "total") == Decimal("5050.50")
    assert _sum(found["payments"], "amount") == Decimal("4700.00")
    returned = [r for r in found["payments"] if r["reversed_on"]]
    assert _sum(returned, "reversed_amount") == Decimal("700.00")
    assert _sum(found["credit_notes"], "amount") == Decimal("150.50")
