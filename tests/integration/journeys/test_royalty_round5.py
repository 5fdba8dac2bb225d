"""Round 5 of the journeys: the royalty cycle's loose ends, as a vendor's billing
contact, licensing and billing staff and an administrator reading the audit log
meet them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing.models import CreditNote
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    row,
)
from tests.integration.royalties.test_pages import text_of

SignIn = Callable[..., FlaskClient]


def test_the_audit_log_names_a_royalty_report_by_its_reference_and_links_it(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    admin: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The log read "royalty report 5", an id no page shows.
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
    with time_machine.travel(AFTER[2], tick=False):
        console = signed_in(client, admin)
        page = console.get("/console/audit").get_data(as_text=True)
        assert f'<a href="/console/royalty-reports/{report.id}">{report.reference}</a>' in page
        assert f">royalty report {report.id}</a>" not in page
        # The reference people read is one they can search the log by.
        found = console.get("/console/audit", query_string={"entity_id": report.reference})
        assert found.status_code == 200
        assert f'<a href="/console/royalty-reports/{report.id}">' in found.get_data(as_text=True)


def test_a_reports_credit_notes_link_their_pdfs_for_the_vendor_and_for_staff(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The report named "credit notes CN-2027-000001" as text; the PDF was on the
    # credited invoice's page only.
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    lowered = file_report(
        vendor, agreement, 1, [row(1, "A", quantity=2900)], amends=first.report.id, reason="2900"
    )
    [number] = lowered.credit_notes
    credit_id = db.session().scalar(select(CreditNote.id).where(CreditNote.number == number))
    link = f'<a href="/credit-notes/{credit_id}.pdf">{number}</a>'
    pages = {
        vendor: f"/portal/royalty-reports/report/{lowered.report.id}",
        licensing_staff: f"/console/royalty-reports/{lowered.report.id}",
        billing_staff: f"/console/royalty-reports/{lowered.report.id}",
    }
    with time_machine.travel(AFTER[2], tick=False):
        for user, page in pages.items():
            reader = signed_in(client, user)
            assert link in reader.get(page).get_data(as_text=True)
            pdf = reader.get(f"/credit-notes/{credit_id}.pdf")
            assert (pdf.status_code, pdf.mimetype) == (200, "application/pdf")
        # Another organization's vendor reaches neither the report nor its credit note.
        stranger = signed_in(client, other_vendor)
        assert stranger.get(pages[vendor]).status_code == 404
        assert stranger.get(f"/credit-notes/{credit_id}.pdf").status_code == 404


def test_the_vendors_royalty_reports_show_fifty_a_page_waiting_first_then_newest(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Every period of every agreement was one table, four rows a year each.
    made = [active_agreement(vendor, SOFTWARE) for _ in range(13)]
    first = file_report(vendor, made[0], 1, [row(1, "A", quantity=60)]).report
    second = file_report(vendor, made[0], 2, [row(1, "A", quantity=70)]).report
    with time_machine.travel(AFTER[4], tick=False):
        portal = signed_in(client, vendor)
        page_one = portal.get("/portal/royalty-reports")
        assert page_one.status_code == 200
        assert "Reporting periods 1\u201350 of 52 \u00b7 page 1 of 2" in text_of(page_one)
        assert 'href="/portal/royalty-reports?page=2"' in page_one.get_data(as_text=True)
        assert first.reference not in text_of(page_one)
        page_two = portal.get("/portal/royalty-reports?page=2")
        assert "Reporting periods 51\u201352 of 52" in text_of(page_two)
        listed = text_of(page_two)
        # The filed periods come after every one waiting on the vendor, newest first.
        assert listed.index(second.reference) < listed.index(first.reference)
