"""Royalty reports, in Chromium against the live server: a vendor with an active
usage-based agreement, after the first quarter has ended, downloads the period's
template, fills it in, uploads it, reads the preview's computation, attests and
submits, and lands on the report with its invoice, which is listed under
Invoices. The live server runs in a thread of this process, so moving this
process's clock (time-machine) moves the server's.

On any day (round 50): the agreement is next year's card's whole year
(`reporting_vendor`'s `ReportingYear`), and the test travels forward to the day its
first period may be reported, not back to 2027's."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import select

from licensing import db
from licensing.billing.models import Invoice
from licensing.calendar import days_text
from licensing.royalties.models import RoyaltyReport
from tests.browser.conftest import reporting_vendor, sign_in
from tests.support.navigation import arrive, follow
from tests.support.servers import LiveServer

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"


def test_a_vendor_uploads_the_template_previews_the_royalty_submits_and_is_invoiced(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    first = year.period(1)
    with time_machine.travel(year.after(1)):
        page.set_viewport_size({"width": 1366, "height": 900})
        sign_in(page, email)
        page.goto("/portal/")
        # Loaded, not only drawn: "Add rows" works in the page once its deferred
        # script listens; pressed before, it asked the server (five rows, not four).
        follow(
            page,
            "link",
            f"Royalty report for {agreement.number}, {days_text(first.start, first.end)}",
            f"**/portal/royalty-reports/{agreement.id}/{first.start.isoformat()}",
        )
        page.get_by_role(
            "heading", name=f"{agreement.number}: {days_text(first.start, first.end)}"
        ).wait_for()

        # The rows form fits the screen, and "Add rows" adds one in the page.
        rows_form = page.locator("table.rows-form")
        scroller = page.locator("#report-form .table-scroll")
        assert scroller.evaluate("box => box.scrollWidth <= box.clientWidth")
        assert rows_form.locator("tbody tr").count() == 3
        page.get_by_role("button", name="Add rows").click()
        assert rows_form.locator("tbody tr").count() == 4
        assert page.get_by_label("Row 4, customer ID").is_visible()
        # A typing mistake in the added row: blank rows are left out, so it comes
        # back as row 1, and the problems are listed in the labels' words, focused.
        page.get_by_label("Row 4, customer ID").fill("C-100")
        page.get_by_label("Row 4, customer name").fill("Harbor Clinic")
        page.get_by_label("Row 4, country").fill("ZZ")
        page.get_by_label("Row 4, quantity").fill("60")
        page.locator("#report-form").get_by_role("button", name="Preview the royalty").click()
        summary = page.locator("#report-form .error-summary")
        assert "Row 1, country: Not an ISO 3166-1 alpha-2" in summary.inner_text()
        assert page.get_by_label("Row 1, customer name").input_value() == "Harbor Clinic"
        page.wait_for_function("() => document.activeElement.classList.contains('error-summary')")
        assert page.get_by_label("Row 1, country").get_attribute("aria-invalid") == "true"

        # The template, filled in as downloaded (its lines end with LF, which a
        # browser turns into CRLF when it posts a text field: the previewed file is
        # carried base64-encoded so the report keeps the upload's own SHA-256).
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the template for this period").click()
        template = Path(download.value.path()).read_text(encoding="utf-8")
        assert template.splitlines() == [HEADER, "1,,,,end_users,,"]
        report = tmp_path / "first-quarter.csv"
        report.write_bytes(
            (
                f"{HEADER}\n"
                "1,C-100,Harbor Clinic,US,end_users,60,\n"
                "1,C-200,Lakeside Practice,CA,end_users,30,\n"
            ).encode()
        )

        upload = page.locator("#report-csv")
        upload.get_by_label("CSV file").set_input_files(report)
        upload.get_by_role("button", name="Preview the royalty").click()
        preview = upload.locator(".preview")
        preview.get_by_role("heading", name="Preview: what this report would charge").wait_for()
        assert "90 end users" in preview.inner_text()
        assert "1,665.00 USD" in preview.locator("tfoot").inner_text()
        preview.get_by_text("How line 1 was computed").click()
        assert "2 customers, each counted once" in preview.inner_text()
        assert "The file you previewed, first-quarter.csv" in upload.inner_text()

        upload.get_by_label("I attest that this report is complete").check()
        arrive(page, upload.get_by_role("button", name="Attest and submit the file"))
        page.get_by_role("heading", name="Royalty report RR-").wait_for()
        with live_server.app.app_context():
            filed = db.session().scalars(select(RoyaltyReport)).one()
            invoice = db.session().get(Invoice, filed.invoice_id)
            assert invoice is not None
            assert invoice.number is not None
            invoice_number = invoice.number
            stored_digest = filed.file_sha256
        assert stored_digest == hashlib.sha256(report.read_bytes()).hexdigest()
        assert f"Invoice {invoice_number} is issued for the royalty due" in page.inner_text(
            ".flashes"
        )
        assert page.locator("dl.facts").get_by_role("link", name=invoice_number).is_visible()

        arrive(page, page.get_by_role("link", name="Invoices").first, "**/portal/invoices")
        page.get_by_role("heading", name="Invoices").wait_for()
        listed = page.get_by_role("row").filter(has_text=invoice_number)
        assert "1,665.00 USD" in listed.inner_text()
        # The invoice names the report it bills, linked (round 4).
        assert (
            listed.get_by_role("link", name=re.compile(r"^Royalty report RR-\d{6} ")).count() == 1
        )
        listed.get_by_role("link", name=invoice_number).click()
        page.get_by_role("heading", name=f"Invoice {invoice_number}").wait_for()
