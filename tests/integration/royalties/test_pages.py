"""The royalty report pages: the vendor's periods and filing (rows typed in a form,
a CSV upload carried from its preview to its submission, a nil report, an
amendment), the report and its downloads, the dashboard; the staff queue, the
review of flagged reports and the console home."""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing.models import Invoice
from licensing.calendar import day_text, office_date
from licensing.finance import queries as finance_queries
from licensing.mail.models import OutboxMessage
from licensing.royalties import services as royalty_services
from licensing.royalties.models import RoyaltyReport, RoyaltyReportRow
from licensing.royalties.services.review import CORRECTION_DUE_DAYS
from tests.integration.royalties.conftest import (
    AFTER,
    MID_MAY,
    QUARTERS,
    SOFTWARE,
    flagged_report,
    period_url,
    reports_of,
    row,
    stored_rows,
    typed,
)
from tests.support.pages import text_of

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"

SignIn = Callable[..., FlaskClient]


def hidden(response: Any, name: str) -> str | None:
    found = re.search(
        rf'<input type="hidden" name="{name}" value="([^"]*)"', response.get_data(as_text=True)
    )
    return html.unescape(found.group(1)) if found else None


# --- the vendor's periods ------------------------------------------------------------


def test_the_list_shows_every_period_with_its_state_and_a_filed_reports_invoice(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    with time_machine.travel(AFTER[2], tick=False):
        page = signed_in(client, vendor).get("/portal/royalty-reports")
    assert page.status_code == 200
    text = text_of(page)
    assert f"{agreement.number} 2027-01-01 to 2027-03-31 2027-04-30 submitted 1,110.00 USD" in text
    assert filed.invoice_number in text
    assert f'href="/portal/invoices/{filed.report.invoice_id}"' in page.get_data(as_text=True)
    assert f"Report {filed.report.reference}" in text
    # The second quarter has ended and is due; the last two are still to come.
    assert "2027-04-01 to 2027-06-30 2027-07-30 due" in text
    assert (
        f'href="{period_url(agreement, 2)}" aria-label="File the report for '
        f'{agreement.number}, 2027-04-01 to 2027-06-30"'
    ) in page.get_data(as_text=True)
    assert "from 2027-10-01" in text
    assert "from 2028-01-01" in text


def test_a_vendor_types_rows_adds_more_previews_and_submits_with_attestation(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    url = period_url(agreement, 1)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        page = client.get(url)
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        # Three blank rows, labelled for screen readers, the only line preselected.
        assert 'aria-label="Row 3, customer ID"' in body
        assert 'id="rows-4-customer_id"' not in body
        assert '<option value="1" selected>1: Scrubber Pro</option>' in body

        first = row(1, "A", quantity=60)
        more = client.post(url, data={"mode": "form", "action": "add_rows", **typed(first)})
        body = more.get_data(as_text=True)
        assert 'id="rows-6-customer_id"' in body  # the typed row and five blank ones
        assert 'id="rows-1-customer_id" name="rows-1-customer_id" value="A"' in body

        rows = typed(first, row(1, "B", quantity=30))
        preview = client.post(url, data={"mode": "form", "action": "preview", **rows})
        text = text_of(preview)
        assert "Preview: what this report would charge" in text
        assert "90 end users" in text
        assert "Total due 1,665.00 USD" in text
        assert reports_of(agreement) == []

        unattested = client.post(url, data={"mode": "form", "action": "submit", **rows})
        assert "Attestation: Attest that the report is complete" in text_of(unattested)
        assert 'href="#attest-form"' in unattested.get_data(as_text=True)
        assert reports_of(agreement) == []

        filed = client.post(url, data={"mode": "form", "action": "submit", "attest": "yes", **rows})
        shown = client.get(filed.headers["Location"])
    assert filed.status_code == 302
    (report,) = reports_of(agreement)
    assert filed.headers["Location"].endswith(f"/portal/royalty-reports/report/{report.id}")
    assert report.source == "form"
    assert report.row_count == 2
    # The rows are kept numbered as the vendor saw them.
    numbers = db.session().scalars(
        select(RoyaltyReportRow.row_number).where(RoyaltyReportRow.report_id == report.id)
    )
    assert sorted(numbers) == [1, 2]
    invoice = db.session().get(Invoice, report.invoice_id)
    text = text_of(shown)
    assert f"Report filed. Invoice {invoice.number} is issued for the royalty due." in text
    assert f'href="/portal/invoices/{invoice.id}"' in shown.get_data(as_text=True)
    assert "Royalty due 1,665.00 USD" in text


def test_row_errors_are_listed_by_row_and_column_in_the_labels_words_and_nothing_is_stored(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    url = period_url(agreement, 1)
    rows = typed(row(1, "A", quantity=60, country="ZZ"), row(1, "B", quantity="many"))
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            url, data={"mode": "form", "action": "submit", "attest": "yes", **rows}
        )
    assert refused.status_code == 422  # the page again, answered as refused
    body = refused.get_data(as_text=True)
    text = text_of(refused)
    assert "Please correct the following; nothing was stored" in text
    assert "Row 1, country: Not an ISO 3166-1 alpha-2 country code" in text
    assert "Row 2, quantity: Must be a whole number, 0 or more." in text
    assert '<a href="#rows-2-quantity">' in body
    # The field itself says what is wrong, and the typed values are kept.
    assert re.search(r'id="rows-2-quantity"[^>]*value="many"[^>]*aria-invalid="true"', body)
    assert 'aria-describedby="rows-2-quantity-error"' in body
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_a_customer_given_twice_is_named_by_the_rows_the_vendor_sees(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    rows = typed(row(1, "A", quantity=60), row(1, " a ", quantity=70))
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(period_url(agreement, 1), data={"mode": "form", **rows})
    assert "Row 2, customer ID: Rows 1 and 2 both report customer 'a'" in text_of(refused)


def test_an_empty_rows_form_is_refused_rather_than_filed_as_a_nil_report(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={
                "mode": "form",
                "action": "submit",
                "attest": "yes",
                **typed({"line": 1, "unit": "end_users"}),
            },
        )
    assert "Rows: Type at least one customer's row" in text_of(refused)
    assert reports_of(agreement) == []


def test_a_nil_report_is_filed_with_one_click_and_the_attestation(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        filed = client.post(
            period_url(agreement, 1), data={"mode": "nil", "action": "submit", "attest": "yes"}
        )
        shown = client.get(filed.headers["Location"])
    assert filed.status_code == 302
    (report,) = reports_of(agreement)
    assert report.row_count == 0
    # Nothing used yet, but the rule's minimum (not invoiced up front) is due.
    text = text_of(shown)
    assert "(a nil report: no rows)" in text
    assert "1 0 end users 1,000.00 USD 0.00 USD 1,000.00 USD" in text
    assert "minimum 1,000.00" in text


# --- the CSV template ----------------------------------------------------------------


def test_a_csv_upload_is_previewed_then_submitted_from_the_carried_file_byte_for_byte(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    url = period_url(agreement, 1)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        template = client.get(f"{url}/template.csv")
        assert template.mimetype == "text/csv"
        assert "attachment" in template.headers["Content-Disposition"]
        assert template.get_data(as_text=True).splitlines() == [HEADER, "1,,,,end_users,,"]
        # Saved by a spreadsheet: Windows line ends, a byte-order mark.
        content = (
            "\ufeff"
            + HEADER
            + "\r\n1,A,Clinic A,US,end_users,60,\r\n1,B,Clinic B,CA,end_users,30,\r\n"
        )
        data = content.encode("utf-8")
        preview = client.post(
            url,
            data={"mode": "csv", "action": "preview", "file": (io.BytesIO(data), "q1.csv")},
            content_type="multipart/form-data",
        )
        text = text_of(preview)
        assert "Preview: what this report would charge" in text
        assert "Total due 1,665.00 USD" in text
        assert "The file you previewed, q1.csv" in text
        carried = hidden(preview, "carried_csv")
        assert carried is not None
        assert base64.b64decode(carried) == data
        assert reports_of(agreement) == []

        filed = client.post(
            url,
            data={
                "mode": "csv",
                "action": "submit",
                "attest": "yes",
                "carried_csv": carried,
                "carried_name": "q1.csv",
            },
            content_type="multipart/form-data",
        )
    assert filed.status_code == 302, text_of(filed)
    (report,) = reports_of(agreement)
    assert report.source == "csv"
    assert report.row_count == 2
    assert report.file_sha256 == hashlib.sha256(data).hexdigest()


def test_a_csv_with_problems_names_the_lines_of_the_file_and_is_not_kept(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    data = f"{HEADER}\n1,A,Clinic A,US,end_users,60,\n1,B,Clinic B,US,end_users,lots,\n"
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={
                "mode": "csv",
                "action": "submit",
                "attest": "yes",
                "file": (io.BytesIO(data.encode()), "q1.csv"),
            },
            content_type="multipart/form-data",
        )
        missing = client.post(period_url(agreement, 1), data={"mode": "csv", "action": "preview"})
        latin1 = client.post(
            period_url(agreement, 1),
            data={
                "mode": "csv",
                "action": "preview",
                "file": (io.BytesIO("1,Clinique Hélène\n".encode("latin-1")), "x.csv"),
            },
            content_type="multipart/form-data",
        )
    text = text_of(refused)
    assert "Line 3 of the file, quantity: Must be a whole number, 0 or more." in text
    assert hidden(refused, "carried_csv") is None
    assert reports_of(agreement) == []
    assert "CSV file: Choose the CSV file to upload." in text_of(missing)
    assert "The file: The file must be UTF-8 text." in text_of(latin1)
    assert 'id="file-error"' in latin1.get_data(as_text=True)


def test_a_file_too_large_to_carry_in_the_page_is_chosen_again_rather_than_refused(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    lines = [HEADER] + [
        f"1,C{n:05d},Clinic number {n:05d} of the northern district,US,end_users,1,"
        for n in range(6000)
    ]
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 400_000  # its base64 is above Flask's 500,000-byte form field limit
    url = period_url(agreement, 1)

    def upload(action: str, **extra: str) -> Any:
        return client.post(
            url,
            data={"mode": "csv", "action": action, "file": (io.BytesIO(data), "big.csv"), **extra},
            content_type="multipart/form-data",
        )

    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        preview = upload("preview")
        assert preview.status_code == 200
        assert "6,000 end users" in text_of(preview)
        assert hidden(preview, "carried_csv") is None
        assert "too large to keep in the page: choose it again" in text_of(preview)
        filed = upload("submit", attest="yes")
    assert filed.status_code == 302
    (report,) = reports_of(agreement)
    assert report.row_count == 6000


# --- amendments, order, the report and its downloads ---------------------------------


def test_an_amendment_needs_a_reason_and_supersedes_the_filed_report(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    url = period_url(agreement, 1)
    rows = typed(row(1, "A", quantity=80))
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = client.get(url)
        assert f"You are amending report {first.report.reference}" in text_of(page)
        assert hidden(page, "amends") == str(first.report.id)
        amend = {"mode": "form", "action": "submit", "attest": "yes", "amends": first.report.id}
        unexplained = client.post(url, data={**amend, **rows})
        assert "Reason for the amendment: Say why the report is amended." in text_of(unexplained)
        assert len(reports_of(agreement)) == 1
        amended = client.post(url, data={**amend, **rows, "reason": "Clinic A had 80 users"})
        assert amended.status_code == 302
        old_page = client.get(f"/portal/royalty-reports/report/{first.report.id}")
        old, new = reports_of(agreement)
        new_page = client.get(f"/portal/royalty-reports/report/{new.id}")
    assert (old.state, new.state) == ("superseded", "submitted")
    assert new.amends_id == old.id
    assert new.total_due == 370  # 20 more end users at 18.50
    text = text_of(old_page)
    assert f"This report was superseded by an amendment, report {new.reference}" in text
    assert "Amend this report" not in text
    # The link's text, then the reason (the tag between them reads as a space).
    assert f"Amends report {old.reference} , because: Clinic A had 80 users" in text_of(new_page)
    assert old.reference == f"RR-{old.id:06d}"


def test_a_later_period_filed_out_of_order_is_refused_with_a_link_to_the_first_missing(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = client.get(period_url(agreement, 2))
        assert "first report the period 2027-01-01 to 2027-03-31" in text_of(page)
        refused = client.post(
            period_url(agreement, 2), data={"mode": "nil", "action": "submit", "attest": "yes"}
        )
        upcoming = client.get(period_url(agreement, 3))
    assert refused.status_code == 409
    assert (
        "The report was not filed Reports are filed in period order: first report the "
        "period January 1, 2027 to March 31, 2027"
    ) in text_of(refused)
    # Round 60 (pagesfix60): the period to file first links its page, where it is
    # filed, as the API's `file_first` gives its address.
    summary = refused.get_data(as_text=True).split('class="error-summary"')[1]
    assert f'first report the period <a href="{period_url(agreement, 1)}"><time ' in summary
    assert reports_of(agreement) == []
    assert "This period can be reported from October 1, 2027." in text_of(upcoming)
    assert 'name="mode"' not in upcoming.get_data(as_text=True)


def test_the_report_page_offers_its_rows_as_filed_and_other_organizations_get_not_found(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60), row(1, "B", quantity=30)])
    report_url = f"/portal/royalty-reports/report/{filed.report.id}"
    rows_url = f"/royalty-reports/report/{filed.report.id}/rows.csv"
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = client.get(report_url)
        assert f'href="{rows_url}"' in page.get_data(as_text=True)
        download = client.get(rows_url)
        # Read the streamed download now: its generator reads through a session of its own.
        downloaded = download.get_data(as_text=True)
        template = client.get(f"{period_url(agreement, 2)}/template.csv")
        client.post("/sign-out")
        signed_in(client, other_vendor)
        foreign = [
            client.get(url).status_code
            for url in (
                report_url,
                rows_url,
                period_url(agreement, 2),
                f"{period_url(agreement, 2)}/template.csv",
            )
        ]
    assert download.mimetype == "text/csv"
    assert list(csv.reader(io.StringIO(downloaded))) == [
        HEADER.split(","),
        ["1", "A", "Clinic A", "US", "end_users", "60", ""],
        ["1", "B", "Clinic B", "US", "end_users", "30", ""],
    ]
    # Next period's template lists last period's customers, quantities left blank.
    assert template.get_data(as_text=True).splitlines()[1:] == [
        "1,A,Clinic A,US,end_users,,",
        "1,B,Clinic B,US,end_users,,",
    ]
    assert foreign == [404, 404, 404, 404]


# --- the vendor's dashboard ----------------------------------------------------------


def test_the_dashboard_shows_the_report_due_next_and_then_the_overdue_one(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    title = f"Royalty report for {agreement.number}, January 1, 2027 to March 31, 2027"
    with time_machine.travel(datetime(2027, 3, 15, 15, 0, tzinfo=UTC), tick=False):
        before = text_of(signed_in(client, vendor).get("/portal/"))
    with time_machine.travel(AFTER[1], tick=False):
        due = client.get("/portal/")
    with time_machine.travel(MID_MAY, tick=False):
        overdue = text_of(signed_in(client, vendor).get("/portal/"))
    assert (
        f"Next {title[0].lower()}{title[1:]} Due by April 30, 2027. you, from April 1, 2027"
        in before
    )
    assert f"{title} Due by April 30, 2027: 28 days left. you" in text_of(due)
    assert f'href="{period_url(agreement, 1)}"' in due.get_data(as_text=True)
    assert f"{title} Overdue: it was due on April 30, 2027. It is 15 days overdue" in overdue


def test_a_due_report_on_the_dashboard_counts_its_days_left_to_the_last_day(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    # Round 51: the dashboard said "Due by 2027-04-30." where the console's queue
    # counted "28 days left".
    agreement = active_agreement(vendor, SOFTWARE)
    title = f"Royalty report for {agreement.number}, January 1, 2027 to March 31, 2027"
    with time_machine.travel(datetime(2027, 4, 29, 15, 0, tzinfo=UTC), tick=False):
        day_before = text_of(signed_in(client, vendor).get("/portal/"))
    with time_machine.travel(datetime(2027, 4, 30, 15, 0, tzinfo=UTC), tick=False):
        last_day = text_of(signed_in(client, vendor).get("/portal/"))
    assert f"{title} Due by April 30, 2027: 1 day left. you" in day_before
    assert f"{title} Due by April 30, 2027: today is the last day. you" in last_day


def test_an_overdue_report_says_how_late_it_is_and_the_day_it_holds_the_organization(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    # Round 51: the dashboard and the period's page said "overdue" and nothing of the
    # day after which the report counts like an overdue invoice (30 days after it is
    # late, OVERDUE_STANDING_DAYS), which only the reminder email told.
    agreement = active_agreement(vendor, SOFTWARE)
    title = f"Royalty report for {agreement.number}, January 1, 2027 to March 31, 2027"
    with time_machine.travel(MID_MAY, tick=False):
        browser = signed_in(client, vendor)
        dashboard = text_of(browser.get("/portal/"))
        period = text_of(browser.get(period_url(agreement, 1)))
    with time_machine.travel(datetime(2027, 6, 4, 15, 0, tzinfo=UTC), tick=False):
        browser = signed_in(client, vendor)
        held_dashboard = text_of(browser.get("/portal/"))
        held_period = text_of(browser.get(period_url(agreement, 1)))
    warning = (
        "It is 15 days overdue: file it by May 30, 2027, or from the next day it counts like "
        "an overdue invoice and your organization cannot apply for new licenses until it "
        "is filed."
    )
    assert f"{title} Overdue: it was due on April 30, 2027. {warning} you" in dashboard
    assert f"Due on April 30, 2027 · overdue {warning}" in period
    held = (
        "It is 35 days overdue, so it counts like an overdue invoice: your organization "
        "cannot apply for new licenses until it is filed."
    )
    assert f"{title} Overdue: it was due on April 30, 2027. {held} you" in held_dashboard
    assert f"Due on April 30, 2027 · overdue {held}" in held_period


# --- the staff console ---------------------------------------------------------------


def test_the_console_queue_shows_ages_and_filters_by_state_agreement_organization_and_period(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    punctual = active_agreement(vendor, SOFTWARE)
    late = active_agreement(other_vendor, SOFTWARE)
    file_report(vendor, punctual, 1, [row(1, "A", quantity=60)])
    punctual_name = punctual.organization.legal_name
    late_name = late.organization.legal_name

    def queue(**filters: Any) -> str:
        return text_of(client.get("/console/royalty-reports", query_string=filters))

    with time_machine.travel(MID_MAY, tick=False):
        signed_in(client, licensing_staff)
        everything = queue()
        overdue = queue(state="overdue")
        by_agreement = queue(agreement=late.number.lower())
        by_organization = queue(organization=punctual.organization_id)
        by_period = queue(period="2027-04-01", state="upcoming")
        nonsense = client.get(
            "/console/royalty-reports",
            query_string={"organization": "9" * 40, "period": "soon"},
        )
        # A state the filter does not offer is refused, not read as "every state"
        # (round 9: docs/list-pages.md).
        unknown_state = client.get("/console/royalty-reports", query_string={"state": "x"})
    assert "2 reporting periods, oldest due first" in everything
    assert (
        f"{late_name} {late.number} 2027-01-01 to 2027-03-31 2027-04-30 overdue 15 days overdue"
        in everything
    )
    assert (
        f"{punctual_name} {punctual.number} 2027-01-01 to 2027-03-31 2027-04-30 submitted "
        "filed 2027-04-02 10:00 (US Central time) 1,110.00 USD" in everything
    )
    assert punctual.number not in overdue.split("Filter")[-1]
    assert late.number in overdue
    assert punctual.number not in by_agreement.split("Filter")[-1]
    assert "1 reporting period, oldest due first" in by_organization
    assert late_name in by_organization  # still a choice of the organization filter
    assert "2 reporting periods" in by_period
    assert "2027-04-01 to 2027-06-30 2027-07-30 upcoming" in by_period
    assert nonsense.status_code == 200
    assert unknown_state.status_code == 422
    assert "the link gave “x”" in text_of(unknown_state)


def test_staff_ask_for_a_corrected_report_with_a_note_and_then_mark_it_reviewed(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    assert flagged.review_state == "flagged"
    url = f"/console/royalty-reports/{flagged.id}"
    with time_machine.travel(AFTER[3], tick=False):
        signed_in(client, licensing_staff)
        queue = text_of(client.get("/console/royalty-reports"))
        page = client.get(url)
        silent = client.post(url, data={"action": "request_correction", "note": " "})
        asked = client.post(
            url, data={"action": "request_correction", "note": "Clinic B is missing."}
        )
        after_asking = text_of(client.get(url))
        reviewed = client.post(url, data={"action": "mark_reviewed"})
        after_review = client.get(url)
        queue_after = text_of(client.get("/console/royalty-reports"))
    assert "Reports waiting for review or correction (1)" in queue
    assert (
        f"{flagged.reference} from {agreement.organization.legal_name} ({agreement.number})"
        in queue
    )
    assert "Ask for a corrected report" in page.get_data(as_text=True)
    assert "Say what the licensee should correct." in text_of(silent)
    assert silent.status_code == 422  # the page again, with the message
    assert asked.status_code == 302
    # Round 53: whom the email went to and by when the correction is due (it said "the
    # licensee is asked, by email"), and that marking it reviewed emails nobody.
    due = office_date(AFTER[3]) + timedelta(days=CORRECTION_DUE_DAYS)
    assert (
        f"A corrected report is asked for. We emailed {agreement.organization.legal_name} at "
        f"{vendor.email} your note: the corrected report is due by {day_text(due)}."
    ) in after_asking
    assert "waiting for a corrected report" in after_asking  # REVIEW.state_text
    (message,) = db.session().scalars(
        select(OutboxMessage).where(
            OutboxMessage.subject == f"Please correct royalty report {flagged.reference} "
            f"for {agreement.number}"
        )
    )
    assert vendor.email in message.to
    assert "Clinic B is missing." in message.body_text
    assert reviewed.status_code == 302
    assert "Mark reviewed" not in after_review.get_data(as_text=True)
    assert "The report is marked reviewed. Nobody is emailed." in text_of(after_review)
    assert "Reviewed " in text_of(after_review)
    assert "Reports waiting for review or correction" not in queue_after


def test_the_console_home_counts_reports_due_overdue_and_flagged(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    flagged_agreement = active_agreement(vendor, SOFTWARE)
    active_agreement(other_vendor, SOFTWARE)
    file_report(vendor, flagged_agreement, 1, [row(1, "A", quantity=100)])
    file_report(vendor, flagged_agreement, 2, [row(1, "A", quantity=10)])
    with time_machine.travel(datetime(2027, 7, 15, 15, 0, tzinfo=UTC), tick=False):
        page = signed_in(client, billing_staff).get("/console/")
    home = text_of(page)
    # The other vendor's first quarter is overdue and its second due. The oldest is
    # its due date, not "2027-04-01 00:00 UTC" (the period's first filing day shown
    # as an instant that nothing happened at).
    assert "Royalty reports due or overdue 2 1 overdue due 2027-04-30" in home
    assert "00:00 UTC" not in home
    assert "Flagged royalty reports to review 1 past the service level" in home
    assert "US business days. 1 1 to review" in home
    assert 'href="/console/royalty-reports#flagged-heading"' in page.get_data(as_text=True)


def test_vendors_cannot_open_the_console_pages_nor_staff_the_portal_pages(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        vendor_sees = [
            client.get(url).status_code
            for url in ("/console/royalty-reports", f"/console/royalty-reports/{filed.report.id}")
        ]
        client.post("/sign-out")
        signed_in(client, licensing_staff)
        staff_sees = [
            client.get(url).status_code
            for url in ("/portal/royalty-reports", period_url(agreement, 2))
        ]
    assert vendor_sees == [403, 403]
    assert staff_sees == [403, 403]


def test_a_terminated_agreements_periods_until_its_termination_are_still_filed_on_the_pages(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    agreements.terminate(
        agreement.id,
        "Licensee ceased trading",
        Actor.of(accounts.principal_for(licensing_staff)),
        now=AFTER[1],
    )
    nil = {"mode": "nil", "action": "submit", "attest": "yes"}
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        page = client.get(period_url(agreement, 1))
        filed = client.post(period_url(agreement, 1), data=nil)
        early = client.post(period_url(agreement, 2), data=nil)
    # Terminated on April 2, 2027: its last period is April 1, 2027 to April 2, 2027.
    assert (
        f"Agreement {agreement.number} was terminated on April 2, 2027: its last reporting "
        "period ends that day, and the usage until then is reported under it."
    ) in text_of(page)
    assert 'name="mode"' in page.get_data(as_text=True)
    assert filed.status_code == 302
    assert "The report was not filed" in text_of(early)
    assert "This period can be reported from April 3, 2027." in text_of(early)
    assert [report.period_start for report in reports_of(agreement)] == [QUARTERS[1]]


def test_a_report_filed_late_says_how_late_on_its_pages_and_an_amendment_does_not(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    app: Any,
) -> None:
    # Round 51: the console's queue said "filed 2027-05-06 ..., 6 days late"; the
    # report's own pages, the vendor's and the console's, said nothing of it.
    agreement = active_agreement(vendor, SOFTWARE)
    late = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=60)],
        now=datetime(2027, 5, 6, 15, 0, tzinfo=UTC),
    ).report
    on_time = file_report(vendor, agreement, 2, [row(1, "A", quantity=70)]).report
    amended = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=65)],
        amends=late.id,
        reason="A recounted",
        now=datetime(2027, 7, 3, 15, 0, tzinfo=UTC),
    ).report
    browser = signed_in(client, vendor)
    console = signed_in(app.test_client(), licensing_staff)
    said = "(typed in the form, 1 row), 6 days late"
    assert said in text_of(browser.get(f"/portal/royalty-reports/report/{late.id}"))
    assert said in text_of(console.get(f"/console/royalty-reports/{late.id}"))
    for report in (on_time, amended):
        assert "days late" not in text_of(
            browser.get(f"/portal/royalty-reports/report/{report.id}")
        )


def test_a_flagged_report_is_aged_against_the_review_service_level_on_the_queue_and_the_home(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    # Filed Monday 2027-07-12, 10:00 at the office: 5 business days (the default
    # ROYALTY_REVIEW_SLA_DAYS) run to the end of Monday 2027-07-19.
    db.session().execute(
        update(RoyaltyReport)
        .where(RoyaltyReport.id == flagged.id)
        .values(submitted_at=datetime(2027, 7, 12, 15, 0, tzinfo=UTC))
    )
    db.session().expire_all()
    due = "review due by the end of Monday, July 19, 2027 (US Central time)"
    with time_machine.travel(datetime(2027, 7, 16, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, licensing_staff)
        queue = text_of(client.get("/console/royalty-reports"))
        home = text_of(client.get("/console/"))
        health = {row.key: row for row in _queue_health()}["royalty_review"]
    assert f"(4 of 5 business days; {due})" in queue
    assert "0 past the service level of 5 US business days." in home
    assert (health.target_days, health.bands["due_soon"], health.oldest_days) == (5, 1, 4)
    with time_machine.travel(datetime(2027, 7, 20, 15, 0, tzinfo=UTC), tick=False):
        queue = text_of(client.get("/console/royalty-reports"))
        home = text_of(client.get("/console/"))
        health = {row.key: row for row in _queue_health()}["royalty_review"]
    assert "(6 of 5 business days; overdue: the review was due by the end of Monday" in queue
    assert "1 past the service level of 5 US business days." in home
    assert health.bands["past_target"] == 1
    # Sent back for correction, it waits on the licensee: no service level of staff's.
    with time_machine.travel(datetime(2027, 7, 20, 16, 0, tzinfo=UTC), tick=False):
        client.post(
            f"/console/royalty-reports/{flagged.id}",
            data={"action": "request_correction", "note": "Clinic B is missing."},
        )
        queue = text_of(client.get("/console/royalty-reports"))
        health = {row.key: row for row in _queue_health()}["royalty_review"]
    assert "of 5 business days" not in queue
    assert health.count == 0


def test_the_console_home_counts_and_highlights_only_the_flagged_reports_waiting_on_the_office(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    """Two flagged reports, one of them sent back for correction: the home's row counts
    and highlights the one staff must review and says the other waits on the licensee
    (round 53 counted both as flagged and highlighted them); both sent back, the row
    counts none, is not highlighted and says both wait on the licensees."""
    staff = Actor.of(accounts.principal_for(licensing_staff))
    first, second = (
        flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE)) for _ in range(2)
    )
    _send_back(first.id, staff)
    db.session().commit()
    title = "Flagged royalty reports to review"
    with time_machine.travel(datetime(2027, 7, 16, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, licensing_staff)
        one = client.get("/console/").get_data(as_text=True)
        _send_back(second.id, staff)
        db.session().commit()
        none = client.get("/console/").get_data(as_text=True)
    row = _home_row(one, title)
    assert row.startswith(
        f"{title} 1 past the service level of 5 US business days. "
        "1 report sent back for correction waits on the licensee. 1 1 to review"
    ), row
    assert _home_row_class(one, title) == "overdue"
    assert _home_row(none, title) == (
        f"{title} 2 reports sent back for correction wait on the licensees. 0 none —"
    )
    assert _home_row_class(none, title) == ""


def _send_back(report_id: int, staff: Actor) -> None:
    royalty_services.review(report_id, "request_correction", staff, note="Clinic B is missing.")


def _home_row(page: str, title: str) -> str:
    """The console home's row whose link reads `title`, as text."""
    [row] = [r for r in page.split("<tr") if f">{title}" in r]
    return " ".join(re.sub(r"<[^>]+>", " ", row.split("</tr>")[0].split(">", 1)[1]).split())


def _home_row_class(page: str, title: str) -> str:
    [row] = [r for r in page.split("<tr") if f">{title}" in r]
    found = re.match(r'\s*class="([^"]*)"', row)
    return found.group(1) if found else ""


def _queue_health() -> list[Any]:
    return finance_queries.queue_health(
        db.session(), db.utcnow(), application_target=10, permission_target=10
    )


def test_a_csv_upload_whose_lines_end_with_a_carriage_return_alone_is_previewed(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any
) -> None:
    """Round 61 (attack61): "CSV (Macintosh)" line ends were a 500 on the page too."""
    agreement = active_agreement(vendor, SOFTWARE)
    content = "\r".join(
        [HEADER, "1,A,Clinic A,US,end_users,60,", "1,B,Clinic B,CA,end_users,30,", ""]
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        preview = client.post(
            period_url(agreement, 1),
            data={
                "mode": "csv",
                "action": "preview",
                "file": (io.BytesIO(content.encode()), "q1.csv"),
            },
            content_type="multipart/form-data",
        )
    assert preview.status_code == 200
    text = text_of(preview)
    assert "Preview: what this report would charge" in text
    assert "Total due 1,665.00 USD" in text
    assert reports_of(agreement) == []
