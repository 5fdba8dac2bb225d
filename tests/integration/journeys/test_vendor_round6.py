"""Round 6 of the journeys: a vendor's whole licensing year, from the application
to the renewal, with every email and page checked against what is billed."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import queries as agreement_queries
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.audit.models import AuditEvent
from licensing.billing.models import Invoice
from licensing.errors import Conflict
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from licensing.royalties.services import send_reminders
from tests.integration.agreements.conftest import NOW, STAFF_USE, apply  # noqa: F401
from tests.integration.exports.conftest import export_json  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import card_document
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    DEVELOPMENT,
    SOFTWARE,
    active_agreement,
    file_report,
    flagged_report,
    period_url,
    row,
    typed,
)
from tests.support.agreements import accept, agreement_of, make_active_agreement, renewal_window
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]


def _emails(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def test_the_standing_email_of_a_vendor_held_for_a_royalty_report_does_not_ask_to_pay_an_invoice(
    app: Flask,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # Held at pending payment for a report more than 30 days overdue, the vendor was
    # told "New license applications are on hold until the overdue invoice is paid",
    # with no invoice overdue at all.
    active_agreement(vendor, SOFTWARE)
    send_reminders(standing_days=30, now=datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
    # The vendor (administrator) files and pays; the billing contact pays (round 23).
    filers, payers = _emails("standing_changed")
    assert filers.to == [vendor.email]
    for email in (filers, payers):
        assert "royalty report" in email.body_text
        assert "overdue invoice is paid" not in email.body_text
    body = filers.body_text
    assert "file overdue royalty reports from the Royalty reports page" in body
    assert "pay overdue invoices from the Invoices page" in body


def test_an_amendment_that_lowers_the_royalty_names_its_credit_note_and_what_it_credits(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The message read "Report filed. Credit notes CN-2027-000001 are issued.": one
    # credit note in the plural, and neither the amount nor where it went.
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    url = period_url(agreement, 1)
    amend = {"mode": "form", "action": "submit", "attest": "yes", "amends": first.report.id}
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        filed = client.post(
            url,
            data={**amend, **typed(row(1, "A", quantity=2900)), "reason": "2900 users"},
            follow_redirects=True,
        )
    text = text_of(filed)
    assert "Credit notes CN-" not in text
    # 100 end users fewer, at 12.00 each.
    assert "The royalty is 1,200.00 USD lower: credit note CN-" in text
    # Round 56: "Invoices shows what is left to pay" sent the vendor to another page;
    # the report's own page now names each invoice lowered and what is left on it.
    assert "Below, each names the invoice it lowers and what is left to pay on it" in text
    assert "off invoice INV-" in text


def test_the_acceptance_email_gives_the_moment_at_the_office_not_in_utc(
    app: Flask,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # "Vera Vendor (CEO) accepted agreement CPT-... on 2026-11-02 15:00 UTC", while
    # every page and other email gives the office's time.
    active_agreement(vendor, SOFTWARE)  # accepted at 2026-11-02 15:00 UTC
    accepted = [m for m in _emails("agreement_update") if "accepted and active" in m.subject]
    [email] = accepted
    assert "on November 2, 2026 at 9:00 AM (US Central time)." in email.body_text  # round 56
    assert "UTC" not in email.body_text


def test_reports_due_before_a_late_acceptance_hold_the_standing_only_30_days_after_it(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    # A 2027 license accepted on 2027-06-15 has a first-quarter report due
    # 2027-04-30: the next hourly `reports remind` held the organization at pending
    # payment at once, for a report it could not have filed on time.
    accepted = datetime(2027, 6, 15, 15, 0, tzinfo=UTC)
    make_active_agreement(vendor, licensing_staff, SOFTWARE, now=accepted)
    organization = db.session().get(Organization, vendor.organization_id)
    send_reminders(standing_days=30, now=datetime(2027, 6, 15, 16, 0, tzinfo=UTC))
    db.session().refresh(organization)
    assert organization.standing == "active"
    send_reminders(standing_days=30, now=datetime(2027, 7, 15, 15, 0, tzinfo=UTC))
    db.session().refresh(organization)
    assert organization.standing == "active"  # 30 days since acceptance: not yet
    send_reminders(standing_days=30, now=datetime(2027, 7, 16, 15, 0, tzinfo=UTC))
    db.session().refresh(organization)
    assert organization.standing == "pending_payment"


def test_the_royalty_invoice_email_names_the_report_as_its_pages_do(
    app: Flask,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # "It is for royalty report CPT-2027-000001 2027-01-01.": the stored source
    # reference, which names no report, where the invoice page reads "Royalty report
    # RR-000001 (CPT-2027-000001, period from 2027-01-01)".
    agreement = active_agreement(vendor, SOFTWARE, DEVELOPMENT)  # a flat fee up front
    filing = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    email = next(m for m in _emails("invoice_issued") if filing.invoice_number in m.subject)
    assert (
        f"For: Royalty report {filing.report.reference} "
        f"({agreement.number}, period from January 1, 2027)." in email.body_text
    )
    [fee] = [m for m in _emails("invoice_issued") if m is not email]
    assert f"For: Agreement {agreement.number}." in fee.body_text


def test_the_royalty_invoice_pdf_names_the_report_it_bills(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The PDF's "For" read "Royalty report CPT-2027-000001 2027-01-01".
    agreement = active_agreement(vendor, SOFTWARE)
    filing = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    invoice_id = db.session().scalar(
        select(Invoice.id).where(Invoice.number == filing.invoice_number)
    )
    signed_in(client, vendor)
    response = client.get(f"/invoices/{invoice_id}.pdf")
    assert response.status_code == 200
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages
    ).replace("\n", " ")
    assert (
        f"For Royalty report {filing.report.reference} "
        f"({agreement.number}, period from January 1, 2027)" in text
    )
    assert f"Royalty report {agreement.number} 2027-01-01" not in text


def test_the_invoice_pdf_gives_the_working_in_words_as_the_invoice_page_does(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The page reads "usage to date 3000 end users"; the PDF the billing contact
    # files read "3000 end_users".
    agreement = active_agreement(vendor, SOFTWARE)
    filing = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    invoice_id = db.session().scalar(
        select(Invoice.id).where(Invoice.number == filing.invoice_number)
    )
    signed_in(client, vendor)
    pdf = client.get(f"/invoices/{invoice_id}.pdf").data
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "usage to date 3,000 end users" in text.replace("\n", " ")  # grouped (round 12)
    assert "end_users" not in text


def test_a_renewal_proposes_the_usage_to_date_of_its_reports_period_after_an_amendment(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # A report's lines describe the agreement to date when it was filed. After the
    # first quarter was amended (customer D added), the renewal still proposed the
    # second quarter's 150 end users as filed, though 170 had been reported to date
    # through that quarter; and an amended earlier quarter proposed the last
    # quarter's figure under its own period.
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)])
    file_report(vendor, agreement, 2, [row(1, "A", quantity=100), row(1, "B", quantity=50)])
    file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=100), row(1, "D", quantity=20)],
        amends=first.report.id,
        reason="Clinic D was left out",
        now=AFTER[2],
    )
    renewal = agreements.start_renewal(
        agreement.id, Actor.of(accounts.principal_for(vendor)), now=renewal_window(agreement)
    )
    [software] = renewal.uses
    assert software.quantity == {"end_users": 170}


def test_the_agreement_page_says_its_total_is_an_estimate_and_what_is_charged_to_date(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The page read "Total for the term 33,800.00 USD" (the application's estimate)
    # whatever was reported, and did not lead to the agreement's royalty reports: a
    # vendor charged more than that total could not see why from the agreement.
    agreement = active_agreement(vendor, SOFTWARE)  # 2500 end users estimated
    url = f"/portal/agreements/{agreement.id}"
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        before = text_of(client.get(url))
    assert "Estimated total for the term 33,800.00 USD" in before
    # (The amount's own tag reads as a space before the colon.)
    assert "Charged to date 0.00 USD : nothing reported yet" in before
    file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])  # 39,800.00
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = client.get(url)
    text = text_of(page)
    assert "Charged to date 39,800.00 USD : usage reported through March 31, 2027" in text
    assert 'href="/portal/royalty-reports"' in page.get_data(as_text=True)


def test_charged_to_date_counts_a_flat_fee_charged_up_front_beside_the_royalties(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DEVELOPMENT)  # 33,800 + 2,500 flat
    file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])  # 39,800.00
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        text = text_of(client.get(f"/portal/agreements/{agreement.id}"))
    assert "Estimated total for the term 36,300.00 USD" in text
    assert "Charged to date 42,300.00 USD : usage reported through March 31, 2027" in text


def test_staff_reach_the_agreements_royalty_reports_from_its_charged_to_date(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    signed_in(client, billing_staff)
    page = client.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    assert f'href="/console/royalty-reports?agreement={agreement.number}"' in page


def test_the_dashboard_says_a_report_waits_since_the_periods_first_filing_day_at_the_office(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # "Since 2027-03-31 19:00 (US Central time)": UTC midnight of April 1, shown at
    # the office, before the quarter had even ended there.
    active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        text = text_of(client.get("/portal/"))
    assert "Royalty report for CPT-2027-000001, January 1, 2027 to March 31, 2027" in text
    assert "2027-04-01 00:00 (US Central time)" in text
    assert "2027-03-31 19:00" not in text


def test_the_approval_email_says_the_total_is_an_estimate_and_what_is_due_on_acceptance(
    app: Flask,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # "License agreement CPT-... is issued for 2027-01-01 to 2027-12-31, total
    # 36,300.00 USD": the application's estimate, most of it royalties on usage
    # invoiced only with the reports; the vendor could not tell what acceptance costs.
    active_agreement(vendor, SOFTWARE, DEVELOPMENT)  # 33,800 on usage + 2,500 flat
    [email] = [m for m in _emails("application_update") if "ready to accept" in m.subject]
    body = " ".join(email.body_text.split())
    assert (
        "total 36,300.00 USD as estimated from the application: 2,500.00 USD is invoiced "
        "when you accept it, and royalties on usage are invoiced with your royalty "
        "reports." in body
    )


def test_the_staff_email_of_a_resubmission_gives_the_vendors_answer(
    apply: Any,  # noqa: F811
    vendor: Any,
    licensing_staff: Any,
) -> None:
    # "Northwind resubmitted APP-000001 (1 use, quoted ...)": staff were told the
    # vendor answered their question, not what the answer was.
    staff = Actor.of(accounts.principal_for(licensing_staff))
    application = apply(vendor, STAFF_USE)
    agreements.start_review(application.id, staff, now=NOW)
    agreements.return_for_information(application.id, "What revenue in Canada?", staff, now=NOW)
    agreements.submit(
        application.id,
        Actor.of(accounts.principal_for(vendor)),
        policy=issuing(),
        attest=True,
        response="About 10,000 USD a year in Canada.",
        now=NOW,
    )
    [email] = [m for m in _emails("application_waiting") if "resubmitted" in m.subject]
    assert "The office asked: What revenue in Canada?" in email.body_text
    assert "Their answer: About 10,000 USD a year in Canada." in email.body_text


def test_an_amended_earlier_period_says_its_figures_run_through_the_last_period_reported(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The first quarter's amendment read "Usage to date 150 end users" under
    # "2027-01-01 to 2027-03-31", a figure that includes the second quarter's
    # customer B: an amendment recomputes every later period, and its lines are
    # to date through the last one reported.
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)])
    file_report(vendor, agreement, 2, [row(1, "A", quantity=100), row(1, "B", quantity=50)])
    amended = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=120)],
        amends=first.report.id,
        reason="Clinic A had 120 users",
        now=AFTER[2],
    )
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/royalty-reports/report/{amended.report.id}"))
        earlier = text_of(client.get(f"/portal/royalty-reports/report/{first.report.id}"))
    assert (
        "The royalty, line by line, to date through June 30, 2027 "
        "(the last period reported: an amendment recomputes every later period)" in page
    )
    assert "170 end users" in page
    assert "to date through" not in earlier  # filed when it was the last period
    invoice = (
        db.session().scalars(select(Invoice).where(Invoice.number == amended.invoice_number)).one()
    )
    assert invoice.lines[0].description == (
        "Amended royalty, line 1 (Scrubber Pro; rule distribution-software of rate card "
        "2027.1), period 2027-01-01 to 2027-03-31, "
        "to date through 2027-06-30"
    )


def test_an_overdue_reminder_says_from_when_the_report_holds_the_organization(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    # Accepted on 2027-06-15, the first quarter's report (due 2027-04-30) was
    # reminded as "46 days overdue" with "A report more than 30 days overdue counts
    # like an overdue invoice", though it holds the organization only from 30 days
    # after acceptance; and no reminder said from which day a report holds it.
    make_active_agreement(
        vendor, licensing_staff, SOFTWARE, now=datetime(2027, 6, 15, 15, 0, tzinfo=UTC)
    )
    send_reminders(standing_days=30, now=datetime(2027, 6, 15, 16, 0, tzinfo=UTC))
    first = next(m for m in _emails("royalty_report_reminder") if "January 1, 2027" in m.subject)
    body = " ".join(first.body_text.split())
    assert "was due on April 30, 2027" in body
    assert (
        "If it is not filed by July 15, 2027, it counts like an overdue invoice from the "
        "next day: the organization cannot apply for new licenses until it is filed." in body
    )
    assert "more than 30 days overdue counts" not in body


def test_a_superseded_agreement_links_the_agreement_that_superseded_it(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # The old agreement's page read "superseded" and led nowhere, not to the
    # renewal that replaced it (the new one links back with "Renews").
    agreement = active_agreement(vendor, SOFTWARE)
    renewal = active_agreement(vendor, SOFTWARE)
    # As the expiry run leaves it once the renewal takes over (`expiry.supersede_when_due`).
    agreement.state, agreement.superseded_by_id = "superseded", renewal.id
    db.session().flush()
    signed_in(client, vendor)
    response = client.get(f"/portal/agreements/{agreement.id}")
    assert f'<a href="/portal/agreements/{renewal.id}">{renewal.number}</a>' in (
        response.get_data(as_text=True)
    )
    assert f"Superseded by {renewal.number}" in text_of(response)


def test_a_renewal_accepted_in_december_leaves_the_old_license_in_force_to_its_terms_end(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
    export_json: Any,  # noqa: F811
) -> None:
    # Accepting the renewal on 2 December made the 2027 agreement `superseded` at
    # once, ended that day: until the renewal's term started on 1 January no active
    # agreement covered the licensee, on the pages, the API and the exports.
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    old = active_agreement(vendor, SOFTWARE)
    for quarter in (1, 2, 3):  # filed in their time; the fourth is owed in January
        file_report(vendor, old, quarter, [row(1, "A", quantity=60)])
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    december = datetime(2027, 12, 2, 15, 0, tzinfo=UTC)
    draft = agreements.start_renewal(old.id, vendor_actor, now=december)
    renewal = agreement_of(
        agreements.submit(draft.id, vendor_actor, policy=issuing(), attest=True, now=december)
    )
    accept(renewal, vendor, now=december)

    def _old() -> Agreement:
        found = db.session().get(Agreement, old.id)
        assert found is not None
        db.session().refresh(found)
        return found

    assert (_old().state, _old().superseded_by_id, _old().ended_at) == ("active", renewal.id, None)
    with time_machine.travel(datetime(2027, 12, 10, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/agreements/{old.id}"))
        api = client.get(f"/api/v1/agreements/{old.id}", headers=bearer(vendor)).get_json()
    assert f"Renewed by {renewal.number}" in page
    assert "Renew for the next rate card year" not in page
    assert api["state"] == "active"
    with pytest.raises(Conflict, match="already renews"):
        agreements.start_renewal(old.id, vendor_actor, now=december)
    # Staff's renewals due list it as ending, renewed by the accepted application.
    [(ending, renewing)] = agreement_queries.renewals_due(db.session(), date(2027, 12, 10))
    assert (ending.id, renewing and renewing.id) == (old.id, draft.id)

    # The step on 31 December (evening at the office) leaves it in force.
    assert agreements.expire(now=datetime(2028, 1, 1, 4, 0, tzinfo=UTC)).superseded == []
    assert _old().state == "active"
    # On 1 January the renewal takes over: superseded, ended at its term's end.
    first = agreements.expire(now=datetime(2028, 1, 1, 15, 0, tzinfo=UTC))
    assert (first.superseded, first.expired) == ([old.number], [])
    ended_at = calendar.end_of_office_day(date(2027, 12, 31))
    assert (_old().state, _old().ended_at) == ("superseded", ended_at)
    events = db.session().scalars(
        select(AuditEvent.action).where(
            AuditEvent.entity_type == "agreement", AuditEvent.entity_id == str(old.id)
        )
    )
    assert {"agreement.renewed", "agreement.superseded"} <= set(events)
    # A second run changes nothing.
    again = agreements.expire(now=datetime(2028, 1, 1, 16, 0, tzinfo=UTC))
    assert (again.superseded, again.expired) == ([], [])
    assert (_old().state, _old().ended_at) == ("superseded", ended_at)
    (exported,) = [r for r in export_json("agreements") if r["agreement_number"] == old.number]
    assert (exported["state"], exported["ended_date"]) == ("superseded", "2027-12-31")

    # The old term's last quarter is still owed under it, and is filed.
    with time_machine.travel(AFTER[4], tick=False):
        listed = text_of(client.get("/portal/royalty-reports"))
        filed = client.post(
            f"/portal/royalty-reports/{old.id}/2027-10-01",
            data={"mode": "nil", "action": "submit", "attest": "yes"},
        )
    assert f"{old.number} 2027-10-01 to 2027-12-31" in listed
    assert filed.status_code == 302, text_of(filed)


def test_a_report_sent_back_for_correction_waits_on_the_vendor_on_the_dashboard(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Staff asked for a corrected report; the email said so, but the dashboard said
    # nothing was waiting on the vendor and the period list read "submitted".
    from licensing.royalties import services as royalties

    agreement = active_agreement(vendor, SOFTWARE)
    report = flagged_report(file_report, vendor, agreement)
    royalties.review(
        report.id,
        "request_correction",
        Actor.of(accounts.principal_for(licensing_staff)),
        note="Customer B is missing.",
    )
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        response = client.get("/portal/")
    text = text_of(response)
    assert (
        f"Royalty report {report.reference} for {agreement.number}, April 1, 2027 to "
        "June 30, 2027: a correction is asked for" in text
    )
    assert "Licensing staff ask: Customer B is missing. Amend the report" in text
    assert f'href="/portal/royalty-reports/{agreement.id}/2027-04-01"' in (
        response.get_data(as_text=True)
    )


def test_the_estimate_does_not_promise_a_fixed_price_for_royalties_on_usage(
    client: FlaskClient,
    example_card: str,
) -> None:
    # "An estimate is not an offer: the price is fixed when your application is
    # approved", over a distribution royalty charged on the usage reported each
    # quarter, whatever the estimate said.
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-user_type": "provider",
        "uses-0-quantity-end_users": "1200",
    }
    text = text_of(client.get("/estimate", query_string=query))
    assert "the price is fixed when your application is approved" not in text
    assert (
        "royalties on usage are charged on the usage you report each quarter, "
        "not on these estimates" in text
    )
    flat = {**query, "uses-0-use": "development"}
    assert "the price is fixed when your application is approved" in text_of(
        client.get("/estimate", query_string=flat)
    )


def test_the_application_form_reports_a_reversed_term_with_the_uses_problems_at_once(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    example_card: str,
) -> None:
    # A term ending before it starts was reported only once every use was right:
    # a second round for a problem the first submission already had.
    signed_in(client, vendor)
    form = {
        "term_start": "2027-12-31",
        "term_end": "2027-01-01",
        **{f"uses-0-{k}": str(v) for k, v in STAFF_USE.items() if k != "languages"},
        "uses-0-languages": "en",
        "uses-0-revenue": "-100",
    }
    response = client.post("/portal/applications/new", data=form)
    assert response.status_code == 422
    text = text_of(response)
    assert "The term cannot end before it starts." in text
    assert "Expected annual revenue" in text
