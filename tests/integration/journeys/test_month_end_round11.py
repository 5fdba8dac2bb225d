"""Round 11: a month-end at the licensing office, every role's journey together, and
the same money read from every page, email, PDF, API answer and export."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.royalties import services as royalties
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    SOFTWARE,
    active_agreement,
    file_report,
    row,
    sent_back_and_corrected,
)
from tests.support import factories
from tests.support.pages import text_of


def _queue_references(page: str) -> list[str]:
    return re.findall(r">(APP-\d{6})</a>", page)


def test_the_queue_s_oldest_first_sorts_a_reconsideration_by_the_clock_its_row_shows(
    apply: Callable[..., Application],
    app: Flask,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    """The queue's age and "overdue" count a reconsideration from the vendor's request,
    but "oldest first" still sorted it by its first submission: a request made today
    sat above applications waiting for weeks, which the rows showed as older."""
    staff = Actor.of(accounts.principal_for(licensing_staff))
    asked = apply(vendor, STAFF_USE)  # submitted on NOW
    rejected = agreements.reject(asked.id, "Revenue not evidenced", staff, now=NOW)
    reconsidered = agreements.request_reconsideration(
        rejected.id,
        "Audited accounts are attached.",
        Actor.of(accounts.principal_for(vendor)),
        now=NOW + timedelta(days=7),
    )
    waiting = [apply(vendor, STAFF_USE) for _ in range(3)]
    session = db.session()
    for days, application in zip((1, 3, 3), waiting, strict=True):  # two received alike
        session.execute(
            update(Application)
            .where(Application.id == application.id)
            .values(submitted_at=NOW + timedelta(days=days))
        )
    session.commit()
    a, b, c = (application.reference for application in waiting)
    r = reconsidered.reference

    client = signed_in(app.test_client(), licensing_staff)

    def listed(sort: str) -> list[str]:
        response = client.get(f"/console/applications?sort={sort}")
        assert response.status_code == 200
        return _queue_references(response.get_data(as_text=True))

    # By the clock each row shows: received on day 1, day 3 (twice: by id), the
    # reconsideration asked for on day 7.
    assert listed("oldest") == [a, b, c, r]
    assert listed("newest") == [r, b, c, a]  # ties keep their order by id
    api = app.test_client().get(
        "/api/v1/applications?sort=oldest", headers=factories.bearer(licensing_staff)
    )
    assert api.status_code == 200, api.get_data(as_text=True)
    assert [item["reference"] for item in api.get_json()] == [a, b, c, r]
    # The state order (reconsideration_requested before submitted), then the same clock.
    assert listed("state") == [r, a, b, c]
    # The vendor's own list is still newest received first (not by the review clock).
    mine = signed_in(app.test_client(), vendor).get("/portal/applications")
    assert _queue_references(mine.get_data(as_text=True)) == [b, c, a, r]
    assert queries.vendor_filter().sort == queries.VENDOR_SORT


def test_a_report_sent_back_and_corrected_no_longer_waits_for_its_correction(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
    app: Flask,
) -> None:
    """Staff sent a report back and the licensee amended it, yet the report it
    replaced still read "superseded, waiting for a corrected report", "The corrected
    report is due by ...", and offered staff a "Mark reviewed" form: the correction
    had come, and the docs say a superseded report offers neither step."""
    agreement = active_agreement(vendor, SOFTWARE)
    first, corrected = sent_back_and_corrected(
        file_report, vendor, licensing_staff, agreement, extra=30
    )
    staff = Actor.of(accounts.principal_for(licensing_staff))

    staff_page = signed_in(client, licensing_staff).get(f"/console/royalty-reports/{first.id}")
    vendor_page = signed_in(app.test_client(), vendor).get(
        f"/portal/royalty-reports/report/{first.id}"
    )
    for page in (staff_page, vendor_page):
        assert page.status_code == 200
        said = text_of(page)
        assert "waiting for a corrected report" not in said
        assert "The corrected report is due by" not in said
        assert f"Corrected by report {corrected.reference}" in said
    staff_said = staff_page.get_data(as_text=True)
    assert 'value="mark_reviewed"' not in staff_said
    assert 'value="request_correction"' not in staff_said
    assert royalties.review_actions(royalties.get_report(first.id, staff)) == []
    # The current report is the one staff may still send back.
    assert "request_correction" in royalties.review_actions(
        royalties.get_report(corrected.id, staff)
    )


def test_the_reverse_payment_form_names_the_payment_s_amount_with_its_currency_once(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """It read "Wire transfer of 3,210.27 USD USD received 2026-12-02"."""
    invoice = invoice_for(vendor, ("3210.27",))
    billing.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal("3210.27"),
        reference="FED-7731",
        actor=factories.billing_clerk(),
    )
    said = text_of(signed_in(client, billing_staff).get(f"/console/invoices/{invoice.id}"))
    assert "Wire transfer of 3,210.27 USD received " in said
    assert "USD USD" not in said


def test_an_agreement_s_page_says_the_charged_to_date_its_list_and_the_api_say(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
    app: Flask,
) -> None:
    """After billing staff credited part of a royalty invoice, the agreements list and
    `GET /api/v1/agreements/{id}` said "Charged to date" 2,445.60 while the
    agreement's own page, vendor's and staff's, still said 2,594.40 (the reported
    usage's figure), under the same words."""
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)])
    assert filed.report is not None
    assert filed.report.invoice_id is not None
    billing.issue_credit_note(
        filed.report.invoice_id,
        amount=Decimal("148.80"),
        reason="Ten seats were counted twice.",
        actor=factories.billing_clerk(),
    )
    api = app.test_client().get(
        f"/api/v1/agreements/{agreement.id}", headers=factories.bearer(vendor)
    )
    assert api.get_json()["charged_to_date"] == "1701.20"  # 1,850.00 less 148.80

    vendor_client = signed_in(client, vendor)
    listed = text_of(vendor_client.get("/portal/agreements"))
    assert "1,701.20 USD" in listed
    for page, who in (
        (vendor_client.get(f"/portal/agreements/{agreement.id}"), "the licensing office"),
        (
            signed_in(app.test_client(), licensing_staff).get(
                f"/console/agreements/{agreement.id}"
            ),
            "billing staff",
        ),
    ):
        said = text_of(page)
        assert (
            "Charged to date 1,701.20 USD : invoiced less credited; the usage reported "
            f"through March 31, 2027 comes to 1,850.00 USD , and {who} credited or voided "
            "148.80 USD outside the royalty reports"
        ) in said, said[said.find("Charged to date") :][:300]


def test_the_finance_page_s_queue_health_says_which_clock_each_queue_counts(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], billing_staff: Any
) -> None:
    """The Queue health section said every row was "waiting on licensing staff, by
    age in US business days", but its royalty report row counts calendar days since
    the period ended, waiting on licensees: a report 33 days overdue in the royalty
    queue read "Oldest (days) 63" under that sentence."""
    said = text_of(signed_in(client, billing_staff).get("/console/finance/"))
    assert "Items waiting on licensing staff, by age in US business days" not in said
    assert (
        "Applications, permission requests and flagged royalty reports (from their filing) "
        "waiting on licensing staff, by age in US business days, and royalty reports due or "
        "overdue, waiting on licensees, by "
        "calendar days since their period ended"
    ) in said


def test_the_organization_page_shows_its_agreements_charged_and_its_reports_as_their_pages_do(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    billing_staff: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    """The console's organization page listed an agreement's "Fee" (the application's
    estimate, 1,850.00 here never charged as such) where the agreements lists say
    *Estimated total* beside *Charged to date*; its reports table called a corrected,
    superseded report "waiting for a corrected report", and an amendment's change
    the report's "Royalties", without the "(change by amendment)" the queues print."""
    agreement = active_agreement(vendor, SOFTWARE)
    first, _ = sent_back_and_corrected(file_report, vendor, licensing_staff, agreement, extra=20)
    assert first.invoice_id is not None
    billing.issue_credit_note(
        first.invoice_id,
        amount=Decimal("100.00"),
        reason="Goodwill",
        actor=factories.billing_clerk(),
    )
    page = signed_in(client, billing_staff).get(f"/console/organizations/{vendor.organization_id}")
    assert page.status_code == 200
    said = text_of(page)
    # 100 + 20 end users: 100 x 18.50 + 20 x 15.50 = 2,160.00, less 100.00 credited.
    assert "Estimated total Charged to date" in said
    assert f"{agreement.number} " in said
    assert "2,060.00 USD" in said
    assert "Fee" not in said
    assert "waiting for a corrected report" not in said
    assert "310.00 USD (change by amendment)" in said


def test_the_royalty_queue_says_how_late_a_report_was_filed_amended_or_not(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    """A period first filed late and then amended read "..., 33 days late" in the
    queue's Age column, but one filed late and never amended read only "filed
    <when>", as an on-time one does: the lateness showed only once amended."""
    agreement = active_agreement(vendor, SOFTWARE)
    # The first quarter is due 2027-04-30; filed 2027-06-02 10:00 at the office.
    late = datetime(2027, 6, 2, 15, 0, tzinfo=UTC)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=100)], now=late)
    with time_machine.travel(late + timedelta(days=1), tick=False):
        page = signed_in(client, licensing_staff).get(
            f"/console/royalty-reports?agreement={agreement.number}&state=submitted"
        )
        said = text_of(page)
    assert "filed 2027-06-02 10:00 (US Central time), 33 days late" in said


def test_the_period_page_the_correction_email_links_to_says_what_was_asked_and_by_when(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    """The correction email says "Amend the report, saying what changed: <the
    period's page>", but that page said only "Filed ...; To correct it, file an
    amendment": not what the office asked, nor by when."""
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    assert first is not None
    asked = datetime(2027, 4, 5, 15, 0, tzinfo=UTC)  # 10:00 at the office
    staff = Actor.of(accounts.principal_for(licensing_staff))
    royalties.review(first.id, "request_correction", staff, note="Clinic B is missing", now=asked)
    page = signed_in(client, vendor).get(f"/portal/royalty-reports/{agreement.id}/2027-01-01")
    assert page.status_code == 200
    assert (
        "Sent back for correction April 5, 2027 at 10:00 AM (US Central time) by the licensing "
        "office: Clinic B is missing. The corrected report is due by May 5, 2027."
    ) in text_of(page)


def test_the_console_invoice_list_says_what_each_invoice_bills_as_the_vendor_s_does(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    """At month-end billing staff look for the royalty invoices; the vendor's list
    says what each invoice is for, the console's list said only the number and the
    organization (a royalty invoice, an up-front one and a late fee looked alike)."""
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    assert report is not None
    page = signed_in(client, billing_staff).get("/console/invoices")
    assert page.status_code == 200
    said = text_of(page)
    assert "Number Organization For Due Total" in said
    assert f"Royalty report {report.reference} ({agreement.number}, period from 2027-01-01)" in said
    assert f'href="/console/royalty-reports/{report.id}"' in page.get_data(as_text=True)
