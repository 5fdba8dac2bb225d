"""Round 6 of the journeys: billing staff working the receivables through a
month, and finance reconciling the Finance page, the monthly report, the
exports and the API."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.billing import pdfs
from licensing.billing import services as billing
from licensing.billing.models import Invoice, Payment
from licensing.mail.models import OutboxMessage
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    DEVELOPMENT,
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
    row,
)
from tests.support.documents import pdf_text
from tests.support.factories import bearer, billing_clerk
from tests.support.pages import text_of
from tests.support.settings import standing_days

SignIn = Callable[..., FlaskClient]

# The invoice_for invoices are issued 2027-01-15 and due 2027-02-14.
A_MONTH_OVERDUE = datetime(2027, 3, 20, 18, 0, tzinfo=UTC)


def test_an_overdue_invoice_tells_billing_staff_its_reminders_and_links_its_late_fees(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Any,
) -> None:
    # The invoice page said "34 days overdue" and nothing of the follow-up: not
    # whether the licensee had been reminded, nor the late-fee invoice issued on
    # it, also owed (only the late fee's page named its overdue invoice).
    overdue = invoice_for(vendor, ("1000.00",))
    report = billing.process_overdue(standing_days=standing_days(), now=A_MONTH_OVERDUE)
    assert report.reminders == 1
    assert len(report.late_fee_invoices) == 1
    late_fee = (
        db.session()
        .scalars(select(Invoice).where(Invoice.number == report.late_fee_invoices[0]))
        .one()
    )
    page = signed_in(client, billing_staff).get(f"/console/invoices/{overdue.id}")
    assert page.status_code == 200
    text = text_of(page)
    assert "Reminders 1 sent, the last on March 20, 2027" in text
    # (text_of leaves a space where each tag was)
    assert f"Late fees {late_fee.number} : 15.00 USD , open, 15.00 USD to pay" in text
    assert f'href="/console/invoices/{late_fee.id}"' in page.get_data(as_text=True)


def test_an_invoice_never_reminded_says_nothing_of_reminders(
    client: FlaskClient, signed_in: SignIn, vendor: Any, billing_staff: Any, invoice_for: Any
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    text = text_of(signed_in(client, billing_staff).get(f"/console/invoices/{invoice.id}"))
    assert "Reminders" not in text
    assert "Late fees" not in text


def test_the_royalty_lines_export_names_the_credit_notes_an_amendment_issued(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # An amendment that lowered the royalty read "due -100.00" with an empty
    # invoice_number: the export alone could not say where that money went (the
    # credit notes it issued), though a raised royalty names its invoice.
    agreement = active_agreement(vendor, SOFTWARE)
    lowered = lowered_by_amendment(file_report, vendor, agreement)
    assert lowered.credit_notes
    answer = client.get(
        "/api/v1/exports/royalty_report_lines?format=csv", headers=bearer(billing_staff)
    )
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    by_report = {int(row["report_id"]): row for row in rows}
    amendment = by_report[lowered.report.id]
    assert amendment["due"].startswith("-")
    assert amendment["invoice_number"] == ""
    assert amendment["credit_note_numbers"] == ";".join(lowered.credit_notes)
    first = by_report[lowered.report.amends_id]
    assert first["invoice_number"]
    assert first["credit_note_numbers"] == ""


def _mail_about(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(select(OutboxMessage).where(OutboxMessage.template == template))
    )


def test_voiding_an_issued_invoice_tells_the_billing_contact_not_to_pay_it(
    vendor: Any, invoice_for: Any
) -> None:
    # The billing contact had been emailed the invoice, its PDF and how to pay;
    # billing staff voided it (issued in error) and the contact heard nothing,
    # so a licensee's finance team could wire 4,800.00 against a void invoice.
    invoice = invoice_for(vendor, ("4800.00",))
    assert len(_mail_about("invoice_issued")) == 1
    billing.void_invoice(invoice.id, reason="Issued with the wrong amount", actor=billing_clerk())
    [voided] = _mail_about("invoice_voided")
    assert voided.subject == f"Invoice {invoice.number} is void: do not pay it"
    assert "4,800.00 USD" in voided.body_text
    assert "Reason: Issued with the wrong amount" in voided.body_text
    assert "Nothing is owed on it" in voided.body_text


def test_voiding_a_draft_is_refused_in_words_not_a_server_error(
    client: FlaskClient, vendor: Any, billing_staff: Any
) -> None:
    # A draft offered "void" among its allowed actions, and voiding it broke the
    # rule that every invoice past draft has a number: a 500. A draft was never
    # issued, so there is nothing to void: it is finalized or left unissued.
    headers = bearer(billing_staff)
    made = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "currency": "USD",
            "lines": [{"description": "Data file audit fee", "amount": "100.00"}],
        },
        headers=headers,
    )
    assert made.status_code == 201
    draft = made.get_json()
    assert draft["allowed_actions"] == ["finalize"]
    voided = client.post(
        f"/api/v1/invoices/{draft['id']}/void", json={"reason": "Not needed"}, headers=headers
    )
    assert voided.status_code == 409
    assert "finalize" in voided.get_json()["detail"]
    assert client.get(f"/api/v1/invoices/{draft['id']}", headers=headers).get_json()["state"] == (
        "draft"
    )


def test_an_up_front_invoice_line_names_the_product_type_in_words(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # Printed on the invoice and its PDF, and the description in the invoice_lines
    # and credit_note_lines exports: "Scrubber Pro SDK: development of saas".
    # The whole line in the forms' words since round 38 (test_round38_words.py).
    saas = active_agreement(vendor, {**DEVELOPMENT, "product_name": "Scrubber Cloud"})
    [line] = (
        db.session()
        .scalars(
            select(Invoice).where(Invoice.source_type == "agreement", Invoice.source_id == saas.id)
        )
        .one()
        .lines
    )
    assert line.description.startswith(
        "Scrubber Cloud: Develop, test, maintain or service a product; SaaS for provider users"
    )


def _exported_events() -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "export")))


def test_an_export_to_a_folder_that_does_not_exist_says_so_and_exports_nothing(
    app: Flask, tmp_path: Path
) -> None:
    # `--output reports/2026-11/invoices.csv` before making the folder printed a
    # Python traceback (FileNotFoundError on the .part file) after the export
    # had started.
    target = tmp_path / "2026-11" / "invoices.csv"
    result = app.test_cli_runner().invoke(args=["exports", "invoices", "--output", str(target)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"--output: there is no folder {target.parent}" in result.output
    assert _exported_events() == []

    result = app.test_cli_runner().invoke(args=["exports", "invoices", "--output", str(tmp_path)])
    assert result.exit_code == 2
    assert f"--output: {tmp_path} is a folder; name the file to write" in result.output
    assert list(tmp_path.iterdir()) == []


def _issued_email(number: str | None) -> str:
    [message] = [
        message
        for message in _mail_about("invoice_issued")
        if message.subject.startswith(f"Invoice {number}:")
    ]
    return message.body_text


def test_the_invoice_pdf_names_what_it_bills_as_the_invoice_page_does(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The PDF's "For" read "Royalty report CPT-2027-000001 2027-01-01", the
    # agreement's number and a date, where the page says which report.
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    royalty = db.session().get(Invoice, filed.report.invoice_id)
    assert royalty is not None
    text = pdf_text(pdfs.invoice_pdf(db.session(), royalty))
    assert f"Royalty report {filed.report.reference} ({agreement.number}, period" in text
    # Its working said "usage to date 3000 end_users", where the page says "end users".
    assert "end_users" not in text
    assert "3,000 end users" in text  # grouped as on the page (round 12)


def test_the_invoice_email_names_what_it_bills_as_the_invoice_page_does(
    vendor: Any,
    invoice_for: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The email said "It is for royalty report CPT-2027-000001 2027-01-01" (an
    # agreement number called a report), "It is for late fee INV-2027-000001",
    # and a late fee was "due 2027-03-20 (net 0 days)"; the page says "For:
    # Royalty report RR-000001 (...)". (Round 12: a late fee takes the payment
    # terms of the invoice it is charged on, net 30 here, not "due on receipt".)
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    royalty = db.session().get(Invoice, filed.report.invoice_id)
    assert royalty is not None
    body = _issued_email(royalty.number)
    assert f"For: {royalty.source_in_words}." in body  # its day in words (round 56)
    assert f"Royalty report {filed.report.reference} ({agreement.number}" in body

    overdue = invoice_for(vendor, ("1000.00",))
    [late] = billing.process_overdue(
        standing_days=standing_days(), now=A_MONTH_OVERDUE
    ).late_fee_invoices
    body = _issued_email(late)
    assert f"For: Late fee {overdue.number}." in body
    assert "due April 19, 2027 (net 30 days)" in body
    assert "net 0 days" not in body


def test_the_api_gives_a_payments_and_a_refunds_day_as_the_exports_do(
    client: FlaskClient, vendor: Any, billing_staff: Any, invoice_for: Any
) -> None:
    # A finance system reading /api/v1 got `received_on` for an offline payment
    # and null for a card payment (only `settled_at` in UTC), so to put a card
    # payment on the day the Finance page and the payments export count it
    # (`paid_date`, the office's day) it had to know the office's time zone.
    invoice = invoice_for(vendor, ("300.00",))
    late_evening = datetime(2027, 2, 1, 5, 30, tzinfo=UTC)  # 2027-01-31 23:30 at the office
    payment = billing.record_offline_payment(
        invoice.id,
        method="check",
        amount=Decimal("300.00"),
        reference="CHK 10442",
        now=late_evening,
        actor=billing_clerk(),
    )
    db.session().execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(method="card", received_on=None, settled_at=late_evening, reference=None)
    )
    headers = bearer(billing_staff)
    answer = client.get(f"/api/v1/payments/{payment.id}", headers=headers).get_json()
    assert answer["received_on"] is None
    assert answer["paid_date"] == "2027-01-31"
    credit = billing.issue_credit_note(
        invoice.id,
        amount=Decimal("20.00"),
        reason="Goodwill",
        now=late_evening,
        actor=billing_clerk(),
    )
    refund = billing.record_offline_refund(
        credit.id,
        method="check",
        amount=Decimal("20.00"),
        reference="CHK 20001",
        now=late_evening,
        actor=billing_clerk(),
    )
    sent = client.get(f"/api/v1/refunds/{refund.id}", headers=headers).get_json()
    assert sent["sent_date"] == sent["sent_on"] == "2027-01-31"
    exported = client.get("/api/v1/exports/payments?format=jsonl", headers=headers).get_data(
        as_text=True
    )
    assert '"paid_date":"2027-01-31"' in exported


def test_the_finance_pages_revenue_charts_name_each_class_as_their_tables_do(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # The product-type chart's axis read "saas" beside the table's "SaaS".
    active_agreement(vendor, DEVELOPMENT)
    page = signed_in(client, billing_staff).get("/console/finance/?from=2026-11&to=2026-11")
    assert page.status_code == 200
    charts = [
        json.loads(html.unescape(found))
        for found in re.findall(r"data-chart='([^']*)'", page.get_data(as_text=True))
    ]
    labels = {label for chart in charts for label in chart["labels"]}
    assert "SaaS" in labels
    assert "saas" not in labels


def test_a_written_off_invoice_reads_open_to_the_licensee_who_still_owes_it(
    client: FlaskClient, signed_in: SignIn, vendor: Any, billing_staff: Any, invoice_for: Any
) -> None:
    # Marking an invoice uncollectible is the office's write-off: the licensee
    # still owes it (the page offers to pay it) but the portal said
    # "uncollectible", the office's bad-debt word, to the debtor.
    invoice = invoice_for(vendor, ("15.00",))
    billing.mark_uncollectible(invoice.id, reason="Disputed late fee", actor=billing_clerk())
    portal = signed_in(client, vendor)
    for url in (f"/portal/invoices/{invoice.id}", "/portal/invoices"):
        page = portal.get(url)
        assert page.status_code == 200
        assert "uncollectible" not in text_of(page)
        assert "state-open" in page.get_data(as_text=True)
    console = signed_in(client, billing_staff).get(f"/console/invoices/{invoice.id}")
    assert "uncollectible" in text_of(console)
