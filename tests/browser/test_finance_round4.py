"""Round 4 of the journeys in Chromium: the royalty cycle and the finance side.

A vendor's billing contact files the first quarter with a typing mistake, corrects
it, files, finds the period already filed and amends it; the invoices follow and
each leads back to its report. Billing staff record the payment. The finance
analyst then opens the Finance page for the half-year, exports every dataset as
CSV from the console, and checks that the files reconcile, to the cent, with the
invoices and payments the pages show. The live server runs in a thread of this
process, so moving this process's clock (time-machine) moves the server's.

On any day (round 50): the agreement is next year's card's whole year
(`reporting_vendor`'s `ReportingYear`), and the test travels forward to the day its
first period may be reported, not back to 2027's; the Finance page's months are the
ones from the term's start to that day."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import time_machine

from licensing import db
from tests.browser.conftest import reporting_vendor, sign_in
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer

DATASETS = (
    "invoices",
    "invoice_lines",
    "payments",
    "credit_notes",
    "refunds",
    "credit_note_lines",
    "agreements",
    "receivables",
    "revenue_recognition",
    "royalty_report_lines",
)

MONEY_COLUMNS = {
    "total",
    "amount_paid",
    "amount_credited",
    "balance_due",
    "amount",
    "due",
    "charged_before",
    "charged_to_date",
    "amount_to_date",
    "term_fees",
    "up_front_fees",
    "balance",
}


def _amount(text: str) -> Decimal:
    """ "1,665.00 USD" (a page's money) as a Decimal."""
    found = re.search(r"-?[\d,]+\.\d{2}", text)
    assert found, text
    return Decimal(found.group(0).replace(",", ""))


def _cells(page: Any, table: Any) -> Iterator[dict[str, str]]:
    headers = [cell.strip() for cell in table.locator("thead th").all_inner_texts()]
    for row in table.locator("tbody tr").all():
        cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
        yield dict(zip(headers, cells, strict=True))


def _export(page: Any, dataset: str, tmp_path: Path) -> list[dict[str, str]]:
    page.goto("/console/exports")
    page.get_by_label("Dataset").select_option(dataset)
    with page.expect_download() as caught:
        page.get_by_role("button", name="Export").click()
    target = tmp_path / f"{dataset}.csv"
    caught.value.save_as(target)
    raw = target.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # RFC 4180 line ends
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def _file_first_quarter(page: Any, number: str, year: ReportingYear) -> str:
    """The vendor types a wrong figure, reads the message, corrects it, previews and
    files; returns the report page's heading."""
    page.goto("/portal/royalty-reports")
    page.get_by_role("link", name=f"File the report for {number}, {year.period(1).label}").click()
    form = page.locator("#report-form")
    page.get_by_label("Row 1, customer ID").fill("C-100")
    page.get_by_label("Row 1, customer name").fill("Harbor Clinic")
    page.get_by_label("Row 1, country").fill("US")
    page.get_by_label("Row 1, quantity").fill("6O")  # a letter O for a zero
    form.get_by_role("button", name="Preview the royalty").click()
    assert "Row 1, quantity" in form.locator(".error-summary").inner_text()
    page.get_by_label("Row 1, quantity").fill("60")
    form.get_by_role("button", name="Preview the royalty").click()
    form.get_by_role("heading", name="Preview: what this report would charge").wait_for()
    form.get_by_label("I attest that this report is complete").check()
    form.get_by_role("button", name=re.compile("Attest and submit")).click()
    heading = page.get_by_role("heading", name=re.compile("Royalty report RR-"))
    heading.wait_for()
    return heading.inner_text()


def _amend_first_quarter(page: Any, number: str) -> None:
    """The period is filed: its page offers an amendment, starting from the rows."""
    page.goto("/portal/royalty-reports")
    page.get_by_role("link", name=re.compile("Report RR-")).first.click()
    page.get_by_role("link", name="Amend this report").click()
    form = page.locator("#report-form")
    assert page.get_by_label("Row 1, quantity").input_value() == "60"
    page.get_by_label("Row 1, quantity").fill("90")
    form.get_by_label(re.compile("Why")).fill("Harbor Clinic had 90 users at the end of March")
    form.get_by_label("I attest that this report is complete").check()
    form.get_by_role("button", name=re.compile("Attest and submit")).click()
    page.get_by_role("heading", name=re.compile("Royalty report RR-")).wait_for()


def test_a_report_is_filed_amended_invoiced_paid_and_the_exports_reconcile_with_the_pages(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    since, until = year.months
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",)).email
    page.set_viewport_size({"width": 1366, "height": 900})
    with time_machine.travel(year.after(1)):
        sign_in(page, email)
        _file_first_quarter(page, agreement.number, year)
        # The report links its invoice, and the invoice its report.
        page.locator("dl.facts").get_by_role("link", name=re.compile("INV-")).click()
        page.get_by_role("link", name=re.compile(r"Royalty report RR-\d{6}")).click()
        page.get_by_role("heading", name=re.compile("Royalty report RR-")).wait_for()
        _amend_first_quarter(page, agreement.number)

        page.goto("/portal/invoices")
        listed = list(_cells(page, page.locator("table")))
        invoices = {row["Number"]: row for row in listed}
        assert len(invoices) >= 2  # the royalty and the amendment's increase
        page.context.clear_cookies()  # another person, another session

        # Billing staff record a wire for each open invoice, in full.
        sign_in(page, staff)
        for number, row in invoices.items():
            if _amount(row["Balance due"]) == 0:
                continue
            page.goto("/console/invoices")
            page.get_by_role("link", name=number).click()
            form = page.get_by_role("region", name="Record an offline payment")
            form.get_by_label("Method").select_option("wire")
            form.get_by_label("Amount", exact=True).fill(str(_amount(row["Balance due"])))
            form.get_by_label("Reference", exact=True).fill(f"FEDWIRE {number}")
            form.get_by_role("button", name="Record payment").click()
            page.get_by_text(re.compile("Recorded a wire transfer of")).wait_for()

        page.goto("/console/invoices")
        console_rows = list(_cells(page, page.locator("table")))
        assert {row["Number"] for row in console_rows} == set(invoices)
        assert all(row["State"] == "paid" for row in console_rows), console_rows
        invoiced = sum((_amount(row["Total"]) for row in console_rows), Decimal(0))

        # The Finance page for the months since the term began agrees with the invoices.
        page.goto(f"/console/finance/?from={since}&to={until}&currency=USD")
        summary = page.locator("#cash-heading + p").inner_text()
        assert f"invoiced {invoiced:,.2f} USD" in summary, summary
        assert f"collected {invoiced:,.2f} USD" in summary, summary

        files = {dataset: _export(page, dataset, tmp_path) for dataset in DATASETS}

    exported = {row["invoice_number"]: row for row in files["invoices"]}
    assert set(exported) == set(invoices)
    for number, row in exported.items():
        assert Decimal(row["total"]) == _amount(invoices[number]["Total"])
        assert row["amount_paid"] == row["total"]  # same digits as the page
        assert row["balance_due"] == "0.00"
        # The office day the wire was recorded.
        assert row["paid_date"] == year.period(1).first_filing_day.isoformat()
    lines = files["invoice_lines"]
    assert sum(Decimal(r["amount"]) for r in lines) == invoiced
    payments = [r for r in files["payments"] if r["state"] == "succeeded"]
    assert len(payments) == len([r for r in listed if _amount(r["Balance due"]) > 0])
    assert sum(Decimal(r["amount"]) for r in payments) == invoiced
    royalty = [r for r in files["royalty_report_lines"] if r["report_state"] == "submitted"]
    royalty_invoices = {r["invoice_number"] for r in files["royalty_report_lines"]}
    dues = sum(Decimal(r["due"]) for r in files["royalty_report_lines"])
    assert dues == sum(Decimal(exported[n]["total"]) for n in royalty_invoices if n)
    assert [r["period_start"] for r in royalty] == [year.period(1).start.isoformat()]
    # Money in every file has exactly the currency's two digits, as the pages show.
    for dataset, rows in files.items():
        for row in rows:
            for column in MONEY_COLUMNS & set(row):
                assert re.fullmatch(r"-?\d+\.\d{2}|", row[column]), (dataset, column, row)
    recognized = sum(Decimal(r["amount"]) for r in files["revenue_recognition"])
    assert recognized == invoiced
    assert files["receivables"] == []  # everything is paid
    assert files["refunds"] == []  # nothing was credited
    assert [r["agreement_number"] for r in files["agreements"]] == [agreement.number]


def test_the_period_form_showing_its_errors_has_no_serious_accessibility_problem(
    page: Any, live_server: LiveServer
) -> None:
    """Round 68: this test ran axe on the royalty and finance pages of a filed
    quarter, twelve pages, each a state the accessibility sweep checks at both widths
    with a stricter threshold (test_accessibility_pages.py, accessibility_sweep_pages.txt:
    the vendor's /portal/royalty-reports, its report's page and /portal/invoices; all
    roles' /console/royalty-reports, a report's page, /console/invoices,
    /console/finance/ and /console/exports). The one state the sweep does not reach is
    kept: the period's rows form sent back with its errors."""
    email, agreement, year = reporting_vendor(live_server)
    first = year.period(1)
    with time_machine.travel(year.after(1)):
        sign_in(page, email)
        page.goto(f"/portal/royalty-reports/{agreement.id}/{first.start.isoformat()}")
        page.get_by_label("Row 1, quantity").fill("-5")
        page.locator("#report-form").get_by_role("button", name="Preview the royalty").click()
        page.locator("#report-form .error-summary").wait_for()
        assert_accessible(page)  # the form showing its errors
