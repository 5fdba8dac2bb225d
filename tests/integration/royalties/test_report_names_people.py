"""Round 57 (names57): a royalty report's page said "Filed ... by vendor9@..." and its
review "Sent back ... by staff1@...": it names them "Name (address)", as the rest of
the pages do, read in one statement whatever the number of review steps; the licensee's
page names the filer, and the office for its steps."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties import services as royalty_services
from tests.integration.royalties.conftest import AFTER, SOFTWARE, row
from tests.support.named_people import users_read

SignIn = Callable[..., FlaskClient]


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_royalty_report_names_who_filed_it_and_who_sent_it_back(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    staff = Actor.of(accounts.principal_for(licensing_staff))
    royalty_services.review(
        report.id, "request_correction", staff, note="Clinic B is missing.", now=AFTER[1]
    )
    client = signed_in(app.test_client(), licensing_staff)
    path = f"/console/royalty-reports/{report.id}"
    _, once = users_read(app, client, path)
    royalty_services.review(report.id, "mark_reviewed", staff, note="Fine after all.", now=AFTER[1])
    page, twice = users_read(app, client, path)
    words = _words(page)
    assert f"by {vendor.full_name} ({vendor.email}) (" in words
    staff_named = f"{licensing_staff.full_name} ({licensing_staff.email})"
    assert f"by {staff_named}: Clinic B is missing." in words
    assert f"by {staff_named}: Fine after all." in words
    assert twice == once
    # The licensee's page names the filer, and the office for its steps.
    vendors = _words(
        signed_in(app.test_client(), vendor)
        .get(f"/portal/royalty-reports/report/{report.id}")
        .get_data(as_text=True)
    )
    assert f"by {vendor.full_name} ({vendor.email}) (" in vendors
    assert "by the licensing office: Clinic B is missing." in vendors
    assert licensing_staff.email not in vendors
