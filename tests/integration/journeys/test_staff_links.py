"""Round 2 of the staff journeys: console pages link the records they name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from licensing.agreements.models import Agreement
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SOFTWARE,
    active_agreement,
    example_card,
    file_report,
    row,
)


def test_royalty_report_pages_and_the_agreement_page_link_the_organization_and_agreement(
    active_agreement: Callable[..., Agreement],  # noqa: F811
    file_report: Callable[..., Any],  # noqa: F811
    vendor: Any,
    billing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filing = file_report(vendor, agreement, 1, [row(1, "C1", quantity=100)])
    organization = f'href="/console/organizations/{agreement.organization_id}"'
    agreement_page = f'href="/console/agreements/{agreement.id}"'
    staff = signed_in(app.test_client(), billing_staff)
    # They named both as plain text: from a flagged report there was no way on to
    # the licensee or the agreement but the search boxes.
    queue = staff.get("/console/royalty-reports").get_data(as_text=True)
    assert organization in queue
    assert agreement_page in queue
    report = staff.get(f"/console/royalty-reports/{filing.report.id}").get_data(as_text=True)
    assert organization in report
    assert agreement_page in report
    detail = staff.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    assert organization in detail
    listed = staff.get("/console/agreements").get_data(as_text=True)
    assert organization in listed
    invoices = staff.get("/console/invoices").get_data(as_text=True)
    assert organization in invoices  # the agreement's up-front invoice


def test_the_vendors_agreement_page_links_no_console_page(
    active_agreement: Callable[..., Agreement],  # noqa: F811
    vendor: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    page = signed_in(app.test_client(), vendor).get(f"/portal/agreements/{agreement.id}")
    assert "/console/" not in page.get_data(as_text=True)


def test_a_royalty_review_refused_answers_with_a_client_error_status(
    active_agreement: Callable[..., Agreement],  # noqa: F811
    file_report: Callable[..., Any],  # noqa: F811
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "C1", quantity=100)])
    flagged = file_report(vendor, agreement, 2, [row(1, "C1", quantity=10)]).report
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/royalty-reports/{flagged.id}"
    # The page came back with its message but a 200, as if the review were done.
    missing_note = staff.post(url, data={"action": "request_correction", "note": ""})
    assert missing_note.status_code == 422
    assert "Say what the licensee should correct." in missing_note.get_data(as_text=True)
    assert staff.post(url, data={"action": "mark_reviewed"}).status_code == 302
    again = staff.post(url, data={"action": "mark_reviewed"})
    assert again.status_code == 409


def test_billing_staff_are_not_offered_the_application_page_they_may_not_open(
    active_agreement: Callable[..., Agreement],  # noqa: F811
    vendor: Any,
    billing_staff: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # The agreement page linked its application for every staff member; billing
    # staff following it met "Your account may not use this page" (the
    # application pages are the licensing office's).
    agreement = active_agreement(vendor, SOFTWARE)
    link = f'href="/console/applications/{agreement.application_id}"'
    billing = signed_in(app.test_client(), billing_staff)
    page = billing.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    assert link not in page
    # Named once, in the facts, unlinked (round 53: a line below repeated it).
    assert f"<dt>Application</dt><dd>{agreement.application.reference}</dd>" in page
    assert billing.get(f"/console/applications/{agreement.application_id}").status_code == 403
    assert billing.get("/console/agreements/renewals-due").status_code == 200
    licensing = signed_in(app.test_client(), licensing_staff)
    assert link in licensing.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
