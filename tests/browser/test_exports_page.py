"""Billing staff export from the console in Chromium: the page's form downloads
the file, streamed by the live server, and a bad filter is explained in place."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from licensing import db
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.finance.conftest import issue
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.servers import LiveServer


def _downloaded(page: Any, tmp_path: Path, dataset: str) -> list[dict[str, str]]:
    """The rows of the CSV the form's Export button downloads (named for `dataset`)."""
    with page.expect_download() as caught:
        page.get_by_role("button", name="Export").click()
    download = caught.value
    assert download.suggested_filename.startswith(f"{dataset}-")
    target = tmp_path / f"{dataset}.csv"
    download.save_as(target)
    return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))


def test_billing_staff_download_an_export_from_the_console(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("1200.00", "350.50")))
        assert invoice is not None
        number = invoice.number
        staff = factories.make_staff(db.session(), roles=("billing",))
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Exports").click()

    page.get_by_label("Dataset").select_option("invoice_lines")
    page.get_by_label("To", exact=True).fill("2026-01-01")
    page.get_by_label("From", exact=True).fill("2027-01-01")
    page.get_by_role("button", name="Export").click()
    assert "Must be on or after From (2027-01-01)." in page.locator(".error-summary").inner_text()

    page.get_by_label("To", exact=True).fill("2027-12-31")
    rows = _downloaded(page, tmp_path, "invoice_lines")
    assert [(r["invoice_number"], r["amount"]) for r in rows] == [
        (number, "1200.00"),
        (number, "350.50"),
    ]
    assert {r["schema_version"] for r in rows} == {"1"}


def test_a_finance_clerk_pulls_the_days_recorded_payments_and_reads_every_choice_in_words(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    """Round 39: the *Dates apply to* choice in Chromium. Every option of the form
    reads in a person's words (no stored word: `period` read "Period"); a basis the
    dataset does not take is refused beside the field in those words; and the
    payments recorded today, whatever day their money is dated, download as CSV."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        today = office_date(utcnow())
        # Issued ten days ago, its wire received five days ago, recorded today.
        invoice = issue(vendor.organization_id or 0, "500.00", today - timedelta(days=10))
        number, received = invoice.number, today - timedelta(days=5)
        paid_offline(invoice.id, "500.00", "WIRE-39", received_on=received)
        staff = factories.make_staff(db.session(), roles=("billing",))
    sign_in(page, staff.email)
    page.get_by_role("link", name="Exports").click()

    dates = page.get_by_label("Dates apply to")
    offered = dates.locator("option").all_inner_texts()
    assert offered == [
        "The dataset's usual date",
        "Issue date",
        "Paid date",
        "Period covered (term, report period or month earned)",
        "Day returned (reversals)",
        "Day recorded or changed (nightly pulls)",
    ]
    for field in ("Dataset", "Format", "Dates apply to", "State", "Use"):
        for text in page.get_by_label(field, exact=True).locator("option").all_inner_texts():
            assert "_" not in text, (field, text)

    # Credit notes are dated by issue only: refused beside the field, in its words.
    page.get_by_label("Dataset").select_option(label="Credit notes")
    dates.select_option(label="Day recorded or changed (nightly pulls)")
    page.get_by_role("button", name="Export").click()
    problem = page.locator("#by-error").inner_text()
    assert problem == "Must be one of: Issue date."
    assert "Dates apply to" in page.locator(".error-summary").inner_text()

    page.get_by_label("Dataset").select_option(label="Payments")
    page.get_by_label("Dates apply to").select_option(
        label="Day recorded or changed (nightly pulls)"
    )
    page.get_by_label("From", exact=True).fill(today.isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    rows = _downloaded(page, tmp_path, "payments")
    assert [(r["invoice_number"], r["state"], r["amount"], r["paid_date"]) for r in rows] == [
        (number, "succeeded", "500.00", received.isoformat())
    ]
