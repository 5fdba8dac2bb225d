"""The royalty report pages: the vendor's periods and filing (rows typed in a form,
a CSV upload carried from its preview to its submission, a nil report, an
amendment), the report and its downloads, the dashboard; the staff queue, the
review of flagged reports and the console home."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.agreements.models import Agreement
from licensing.billing.models import Invoice
from licensing.royalties.models import RoyaltyReport, RoyaltyReportRow
from tests.integration.royalties.conftest import AFTER, QUARTERS, SOFTWARE, row

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
# Mid-May 2027: the first quarter's report (due 2027-04-30) is 15 days overdue.
MID_MAY = datetime(2027, 5, 15, 15, 0, tzinfo=UTC)

SignIn = Callable[..., FlaskClient]


def period_url(agreement: Agreement, quarter: int) -> str:
    return f"/portal/royalty-reports/{agreement.id}/{QUARTERS[quarter].isoformat()}"


def typed(*rows: dict[str, Any]) -> dict[str, str]:
    """The rows form's fields for `rows` (numbered from 1, as on the page)."""
    fields = {}
    for number, values in enumerate(rows, start=1):
        for column, value in values.items():
            fields[f"rows-{number}-{column}"] = str(value)
    return fields


def text_of(response: Any) -> str:
    """The page's text, tags dropped and spaces squeezed, for sentences."""
    without_tags = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def reports_of(agreement: Agreement) -> list[RoyaltyReport]:
    return list(
        db.session().scalars(
            select(RoyaltyReport)
            .where(RoyaltyReport.agreement_id == agreement.id)
            .order_by(RoyaltyReport.id)
        )
    )


def stored_rows() -> int:
    return db.session().scalar(select(func.count()).select_from(RoyaltyReportRow)) or 0


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
    assert f"Report {filed.report.reference}" in text
    # The second quarter has ended and is due; the last two are still to come.
    assert "2027-04-01 to 2027-06-30 2027-07-30 due" in text
    assert f'href="{period_url(agreement, 2)}"' in page.get_data(as_text=True)
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
    assert refused.status_code == 200
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
    assert "(FORM, 0 rows)" in text
    assert "1 0 end users 1,000.00 USD 0.00 USD 1,000.00 USD" in text
    assert "minimum 1000.00" in text
