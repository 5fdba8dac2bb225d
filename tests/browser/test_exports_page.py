"""Billing staff export from the console in Chromium: the page's form downloads
the file, streamed by the live server, and a bad filter is explained in place."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from licensing import db
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.servers import LiveServer


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
    with page.expect_download() as caught:
        page.get_by_role("button", name="Export").click()
    download = caught.value
    assert download.suggested_filename.startswith("invoice_lines-")
    target = tmp_path / "lines.csv"
    download.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(r["invoice_number"], r["amount"]) for r in rows] == [
        (number, "1200.00"),
        (number, "350.50"),
    ]
    assert {r["schema_version"] for r in rows} == {"1"}
