"""Round 4 of the journeys: the royalty cycle and the finance side, as a vendor's
billing contact, licensing and billing staff and a finance analyst meet them."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing.models import Invoice
from tests.integration.finance.conftest import RANGE, History, at, history  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
    row,
)
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.documents import pdf_text
from tests.support.factories import bearer
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


COLLECTED = ("succeeded", "reversed")


def test_a_royalty_invoice_links_the_report_it_bills_on_the_portal_and_the_console(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    report = filed.report
    with time_machine.travel(AFTER[2], tick=False):
        portal = signed_in(client, vendor).get(f"/portal/invoices/{report.invoice_id}")
        assert portal.status_code == 200
        assert f'href="/portal/royalty-reports/report/{report.id}"' in portal.get_data(as_text=True)
        assert f"Royalty report {report.reference}" in text_of(portal)
        listed = client.get("/portal/invoices")
        assert f'href="/portal/royalty-reports/report/{report.id}"' in listed.get_data(as_text=True)
        console = signed_in(client, billing_staff).get(f"/console/invoices/{report.invoice_id}")
        assert console.status_code == 200
        assert f'href="/console/royalty-reports/{report.id}"' in console.get_data(as_text=True)


def test_the_invoice_lists_show_fifty_a_page_and_reach_the_oldest_invoice(
    client: FlaskClient, signed_in: SignIn, vendor: Any, billing_staff: Any, invoice_for: Any
) -> None:
    # The lists read at most 500 invoices and said nothing of the rest: a finance
    # analyst with a year of invoices could not reach the oldest from the list.
    made = [invoice_for(vendor, ("100.00",)) for _ in range(53)]
    oldest = made[0]
    console = signed_in(client, billing_staff)
    first = console.get("/console/invoices?state=open")
    assert first.status_code == 200
    assert "Invoices 1\u201350 of 53 · page 1 of 2" in text_of(first)
    assert oldest.number not in text_of(first)
    assert 'href="/console/invoices?state=open&amp;page=2"' in first.get_data(as_text=True)
    second = console.get("/console/invoices?state=open&page=2")
    assert "Invoices 51\u201353 of 53 · page 2 of 2" in text_of(second)
    assert oldest.number in text_of(second)

    portal = signed_in(client, vendor)
    listed = portal.get("/portal/invoices")
    assert "Invoices 1\u201350 of 53" in text_of(listed)
    assert oldest.number in text_of(portal.get("/portal/invoices?page=2"))


def test_the_finance_pages_top_licensees_link_each_organization_page(
    client: FlaskClient,
    signed_in: SignIn,
    billing_staff: Any,
    history: History,  # noqa: F811
) -> None:
    # The link named an endpoint that does not exist, so it was silently dropped:
    # a top licensee was a dead end on the way to its invoices.
    page = signed_in(client, billing_staff).get(RANGE)
    table = page.get_data(as_text=True).split('id="licensees-table"')[1].split("</table>")[0]
    for key in ("A", "B"):
        organization_id = history.organizations[key]
        assert f'<a href="/console/organizations/{organization_id}">' in table


def test_staff_read_an_amendments_due_as_a_change_with_its_credit_notes(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The portal said so since round 2; the console's queue still showed the
    # amendment's -60.00 as the period's royalty, and "—" for its credit note.
    agreement = active_agreement(vendor, SOFTWARE)
    lowered = lowered_by_amendment(file_report, vendor, agreement)
    assert lowered.credit_notes
    with time_machine.travel(AFTER[2], tick=False):
        console = signed_in(client, licensing_staff)
        listed = text_of(console.get("/console/royalty-reports"))
        assert "less by amendment)" in listed  # round 52: as amended, and the change
        assert f"credit note {lowered.credit_notes[0]}" in listed
        report = text_of(console.get(f"/console/royalty-reports/{lowered.report.id}"))
        assert "Royalty due (change by this amendment)" in report
        portal = text_of(
            signed_in(client, vendor).get(f"/portal/royalty-reports/report/{lowered.report.id}")
        )
        assert "Royalty due (change by this amendment)" in portal


def test_an_amendments_invoice_names_the_report_it_amends_by_its_reference(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The memo read "amending report 1", a number no page shows; pages say RR-000001.
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    raised = file_report(
        vendor, agreement, 1, [row(1, "A", quantity=90)], amends=first.report.id, reason="90"
    )
    invoice = db.session().get(Invoice, raised.report.invoice_id)
    assert invoice is not None
    assert f"amending report {first.report.reference}." in (invoice.memo or "")


def test_filing_a_period_filed_meanwhile_says_so_in_words_and_links_the_report(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # A colleague filed the quarter while this page was open (or the form was
    # posted twice): the page answered "already has report 1; to correct it, amend
    # it (amends: 1, with a reason)", the API's words and a bare id.
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    reference = filed.report.reference
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        again = client.post(
            f"/portal/royalty-reports/{agreement.id}/2027-01-01",
            data={"mode": "nil", "action": "submit", "attest": "yes"},
        )
    assert again.status_code == 409
    text = text_of(again)
    assert f"Report {reference} was filed for this period since this page was opened" in text
    assert "amends:" not in text
    assert f'href="/portal/royalty-reports/report/{filed.report.id}"' in again.get_data(
        as_text=True
    )


def test_the_api_names_the_report_already_filed_by_its_reference_and_its_id(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    with time_machine.travel(AFTER[1], tick=False):
        again = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01",
            json={"attest": True, "rows": []},
            headers=bearer(vendor),
        )
    assert again.status_code == 409
    detail = again.get_json()["detail"]
    assert f"already has report {filed.report.reference};" in detail
    assert f"(amends: {filed.report.id}, with a reason)" in detail


def test_the_console_royalty_queue_shows_fifty_periods_a_page_with_its_filters(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # Every period of every agreement was one table: four a year per agreement,
    # a thousand rows for 250 licensees, drawn at once with no way to page.
    for _ in range(13):
        active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[4], tick=False):
        console = signed_in(client, licensing_staff)
        first = console.get("/console/royalty-reports?agreement=CPT-2027")
        assert "Reporting periods 1\u201350 of 52 \u00b7 page 1 of 2" in text_of(first)
        assert "52 reporting periods, oldest due first" in text_of(first)
        # With the last period shown, to read page 2 from it (round 56).
        assert 'href="/console/royalty-reports?agreement=CPT-2027&amp;page=2&amp;after=' in (
            first.get_data(as_text=True)
        )
        second = text_of(console.get("/console/royalty-reports?agreement=CPT-2027&page=2"))
        assert "Reporting periods 51\u201352 of 52" in second
        # The last two rows are the fourth quarter's (due last); the filter's choice
        # of period names it once more.
        assert second.count("2027-10-01 to 2027-12-31") == 3


def test_the_finance_page_links_the_exports_behind_its_figures_for_the_same_days(
    client: FlaskClient,
    signed_in: SignIn,
    billing_staff: Any,
    licensing_staff: Any,
    history: History,  # noqa: F811
) -> None:
    # The analyst retyped the range on the Exports page in days, from months on
    # this one: a range off by a day no longer reconciled, and nothing said which
    # export holds which figure.
    console = signed_in(client, billing_staff)
    page = console.get(RANGE)
    links = {  # a link's words, its day in a <time> read as its words (round 58)
        url: re.sub(r"<[^>]+>", "", name)
        for url, name in re.findall(
            r'<a href="(/console/exports\?[^"]+)">(.*?)</a>', page.get_data(as_text=True)
        )
    }
    by_name = {name: html.unescape(url) for url, name in links.items()}
    assert by_name["invoices issued"] == (
        "/console/exports?dataset=invoices&from=2027-01-01&to=2027-03-31&currency=USD&by=issued"
    )
    rows = list(csv.DictReader(io.StringIO(console.get(by_name["invoices issued"]).text)))
    invoiced = sum(Decimal(r["total"]) for r in rows if r["state"] != "void")
    assert invoiced == sum(total for *_, total in history.invoices)
    assert f"invoiced {invoiced:,.2f} USD" in text_of(page)
    payments = list(csv.DictReader(io.StringIO(console.get(by_name["payments received"]).text)))
    # Collected: the succeeded rows and those reversed since (round 16).
    collected = sum(Decimal(r["amount"]) for r in payments if r["state"] in COLLECTED)
    assert f"collected {collected:,.2f} USD" in text_of(page)
    credits = list(csv.DictReader(io.StringIO(console.get(by_name["credit notes issued"]).text)))
    assert f"credited {sum(Decimal(r['amount']) for r in credits):,.2f} USD" in text_of(page)
    assert "receivables as of April 20, 2027 (CSV)" in by_name

    # Licensing staff see queue health only, and no export they may not open.
    queues = signed_in(client, licensing_staff).get(RANGE)
    assert "/console/exports" not in queues.get_data(as_text=True)


def test_the_invoices_export_totals_the_pages_invoiced_and_voided_to_the_cent(
    client: FlaskClient,
    signed_in: SignIn,
    billing_staff: Any,
    history: History,  # noqa: F811
) -> None:
    # The page left void invoices out of "Invoiced" and the export it links listed
    # them: the two reconciled only by a footnote. The page shows them as a line
    # of their own, and invoiced + voided is the export's total.
    console = signed_in(client, billing_staff)
    page = console.get(RANGE)
    shown = text_of(page)
    links = dict(
        re.findall(r'<a href="(/console/exports\?[^"]+)">([^<]+)</a>', page.get_data(as_text=True))
    )
    by_name = {name: html.unescape(url) for url, name in links.items()}
    rows = list(csv.DictReader(io.StringIO(console.get(by_name["invoices issued"]).text)))
    exported = sum(Decimal(r["total"]) for r in rows)
    void = sum(Decimal(r["total"]) for r in rows if r["state"] == "void")
    invoiced = Decimal(re.search(r"invoiced ([0-9,.]+) USD", shown)[1].replace(",", ""))  # type: ignore[index]
    voided = re.search(r"Voided: 1 invoice issued in these days, ([0-9,.]+) USD", shown)
    assert voided is not None, shown
    assert Decimal(voided[1].replace(",", "")) == void == Decimal("300.00")
    assert invoiced + void == exported
    assert f"add up to {exported:,.2f} USD" in shown
    assert "count nowhere" not in shown


def test_the_refunds_the_finance_page_counts_are_an_export_of_their_own(
    client: FlaskClient,
    signed_in: SignIn,
    billing_staff: Any,
    history: History,  # noqa: F811
) -> None:
    # "Refunded" was the one figure on the page no export listed: payments and
    # credit notes were exported, the money sent back was not.
    paid = db.session().scalars(select(Invoice).where(Invoice.total == Decimal("2500.00"))).one()
    credit = credited(paid.id, "150.00", "Seats billed twice", now=at(date(2027, 3, 25)))
    refunded_offline(
        credit.id, "150.00", "RF-0150", sent_on=date(2027, 3, 28), now=at(date(2027, 3, 28))
    )
    console = signed_in(client, billing_staff)
    page = console.get(RANGE)
    assert "net refunds (refunds sent less those the bank returned) 150.00 USD" in text_of(page)
    found = re.search(r'<a href="(/console/exports\?[^"]+)">refunds sent</a>', page.text)
    assert found
    url = html.unescape(found.group(1))
    assert url == (
        "/console/exports?dataset=refunds&from=2027-01-01&to=2027-03-31&currency=USD&by=paid"
    )
    rows = list(csv.DictReader(io.StringIO(console.get(url).text)))
    assert [(r["credit_note_number"], r["invoice_number"]) for r in rows] == [
        (credit.number, paid.number)
    ]
    assert [(r["method"], r["amount"], r["sent_date"], r["reference"]) for r in rows] == [
        ("wire", "150.00", "2027-03-28", "RF-0150")
    ]
    # A range that ends before the day sent leaves it out, as the page does.
    earlier = url.replace("to=2027-03-31", "to=2027-03-27")
    assert list(csv.DictReader(io.StringIO(console.get(earlier).text))) == []


def test_the_api_invoice_names_the_report_it_bills_by_id_to_fetch_it(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # A script holding an invoice had the report's agreement and period as text
    # only; GET /royalty-reports/{id} needs the report's id.
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    invoice = client.get(
        f"/api/v1/invoices/{filed.report.invoice_id}", headers=bearer(vendor)
    ).get_json()
    assert (invoice["source_type"], invoice["source_id"]) == ("royalty_report", filed.report.id)
    report = client.get(f"/api/v1/royalty-reports/{invoice['source_id']}", headers=bearer(vendor))
    assert report.get_json()["invoice"] == invoice["number"]


def test_a_report_says_whether_its_invoice_is_paid(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The report named its invoice and nothing of its payment: the billing contact
    # opened the invoice to learn whether the royalty had been paid.
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    url = f"/portal/royalty-reports/report/{filed.report.id}"
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        assert f"{filed.invoice_number} (open: 1,110.00 USD to pay by " in text_of(client.get(url))
        paid_offline(filed.report.invoice_id, "1110.00", "FEDWIRE 1")
        assert f"{filed.invoice_number} (paid)" in text_of(client.get(url))
        console = signed_in(client, billing_staff)
        staff_page = text_of(console.get(f"/console/royalty-reports/{filed.report.id}"))
        assert f"{filed.invoice_number} (paid)" in staff_page


def test_the_monthly_report_shows_the_voided_invoices_as_the_finance_page_does(
    client: FlaskClient,
    signed_in: SignIn,
    billing_staff: Any,
    history: History,  # noqa: F811
) -> None:
    # The page shows the invoices voided since they were issued as a line of their
    # own (invoiced + voided = the invoices export's total) while the PDF's notes
    # still said "void invoices excluded": the two read differently for one month.
    console = signed_in(client, billing_staff)
    shown = console.get("/console/finance/?from=2027-03&to=2027-03&currency=USD")
    page = text_of(shown).replace(" ,", ",")
    assert "Voided: 1 invoice issued in these days, 300.00 USD, since voided" in page
    assert "Invoiced and voided together, 1,050.50 USD" in page
    report = console.get("/console/finance/report.pdf?month=2027-03&currency=USD")
    text = " ".join(pdf_text(report.data).split())
    assert "excluded" not in text
    assert "Voided: 1 invoice issued in March 2027, 300.00 USD, since voided" in text
    assert "Invoiced and voided together, 1,050.50 USD" in text
