"""Exports through the API, the console page and the CLI, against a small ledger
made through the real services: totals reconcile to the cent, accounts come from
configuration, every export is audited with the SHA-256 of its bytes."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import CreditNote
from licensing.config import DEFAULT_GL_ACCOUNTS
from tests.integration.exports.conftest import (
    UNKNOWN_CURRENCY,
    Ledger,
    at,
    corrupt_currency,
    read_jsonl,
    total,
)
from tests.support.billing import credited
from tests.support.factories import bearer
from tests.support.pages import text_of

Export = Callable[..., list[dict[str, Any]]]
AFTER_EVERYTHING = "2027-12-31"


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"gl_accounts": {**DEFAULT_GL_ACCOUNTS, "fee.development": "4010"}}


def _sums(invoices: list[Any]) -> dict[str, Decimal]:
    """Sums over the invoices themselves, computed here, not by the export."""
    ids = {i.id for i in invoices}
    credits = [c for c in db.session().scalars(select(CreditNote)) if c.invoice_id in ids]
    live = [i for i in invoices if i.state != "void"]
    return {
        "total": sum((i.total for i in invoices), Decimal(0)),
        "paid": sum((i.amount_paid for i in invoices), Decimal(0)),
        "credited": sum((c.amount for c in credits), Decimal(0)),
        "balance": sum((i.balance_due for i in invoices), Decimal(0)),
        "revenue": sum((i.total - i.amount_credited for i in live), Decimal(0)),
    }


def _of(rows: list[dict[str, Any]], invoices: list[Any]) -> list[dict[str, Any]]:
    numbers = {i.number for i in invoices}
    return [row for row in rows if row["invoice_number"] in numbers]


def _cases(ledger: Ledger) -> list[tuple[dict[str, Any], Callable[[Any], bool]]]:
    return [
        ({}, lambda i: True),
        ({"currency": "EUR"}, lambda i: i.currency == "EUR"),
        ({"currency": "USD"}, lambda i: i.currency == "USD"),
        ({"organization": ledger.org_b}, lambda i: i.organization_id == ledger.org_b),
        ({"state": "open"}, lambda i: i.state == "open"),
        (
            {"from": "2027-01-01", "to": "2027-03-31"},
            lambda i: date(2027, 1, 1) <= i.issue_date <= date(2027, 3, 31),
        ),
    ]


def test_for_each_filter_the_exports_totals_equal_the_invoices_and_payments_to_the_cent(
    ledger: Ledger, export_json: Export
) -> None:
    for given, keep in _cases(ledger):
        invoices = [i for i in ledger.invoices() if keep(i)]
        expected = _sums(invoices)
        assert total(export_json("invoices", **given), "total") == expected["total"], given
        assert total(export_json("invoice_lines", **given)) == expected["total"], given
        # Payments and credit notes take the filters they have; the rest is their invoice's.
        shared = {k: v for k, v in given.items() if k in ("organization", "currency")}
        payments = export_json("payments", **shared, state="succeeded")
        assert total(_of(payments, invoices)) == expected["paid"], given
        for dataset in ("credit_notes", "credit_note_lines"):
            credits = _of(export_json(dataset, **shared), invoices)
            assert total(credits) == expected["credited"], (dataset, given)
        if given == shared:
            revenue = export_json("revenue_recognition", **shared)
            assert total(revenue) == expected["revenue"], given
            receivable = export_json("receivables", **shared, as_of=AFTER_EVERYTHING)
            assert total(receivable, "balance") == expected["balance"], given
            buckets = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90")
            in_buckets = sum((total(receivable, b) for b in buckets), Decimal(0))
            assert in_buckets == expected["balance"], given


def test_payments_filtered_by_paid_date_are_those_received_in_the_range(
    ledger: Ledger, export_json: Export
) -> None:
    rows = export_json("payments", **{"from": "2027-02-01", "to": "2027-02-28"})
    assert [(r["reference"], r["amount"], r["paid_date"]) for r in rows] == [
        ("WIRE-0001", "500.00", "2027-02-01")
    ]
    assert rows[0]["stripe_payment_intent_id"] is None


def test_invoice_lines_name_their_use_and_the_configured_account(
    ledger: Ledger, export_json: Export
) -> None:
    rows = export_json("invoice_lines", use="development")
    assert [(r["invoice_number"], r["kind"], r["use"], r["gl_account"]) for r in rows] == [
        (ledger.agreement_invoice.number, "fee", "development", "4010")
    ]
    manual = [r for r in export_json("invoice_lines") if r["kind"] == "manual"]
    assert [(r["gl_account"], r["amount"]) for r in manual] == [("4900", "42.42")]


def test_a_credit_note_reverses_its_invoice_lines_accounts_in_proportion(
    ledger: Ledger, export_json: Export
) -> None:
    rows = export_json("credit_note_lines")
    assert [(r["line_position"], r["gl_account"], r["amount"]) for r in rows] == [
        (1, "4000", "100.00")
    ]


def test_an_up_front_fee_is_recognized_over_its_term_and_a_period_filter_picks_months(
    ledger: Ledger, export_json: Export
) -> None:
    rows = export_json(
        "revenue_recognition", **{"from": "2027-01-01", "to": "2027-03-31"}, use="development"
    )
    assert [(r["period"], r["days"], r["amount"], r["gl_account"]) for r in rows] == [
        ("2027-01", 31, "212.33", "4010"),
        ("2027-02", 28, "191.78", "4010"),
        ("2027-03", 31, "212.33", "4010"),
    ]
    credit = [r for r in export_json("revenue_recognition") if r["document_type"] == "credit_note"]
    assert [(r["period"], r["amount"], r["basis"]) for r in credit] == [
        ("2027-04", "-100.00", "point_in_time")
    ]


def test_receivables_as_of_a_past_date_age_what_was_owed_then(
    ledger: Ledger, export_json: Export
) -> None:
    rows = export_json("receivables", as_of="2027-03-31")
    found = {r["invoice_number"]: (r["balance"], r["bucket"], r["days_past_due"]) for r in rows}
    assert found == {
        ledger.agreement_invoice.number: ("2500.00", "over_90", 119),
        ledger.partly_paid.number: ("1050.50", "31-60", 45),
        ledger.credited_paid.number: ("999.99", "current", 0),
    }


def test_the_agreements_register_lists_term_fees_and_uses(
    ledger: Ledger, export_json: Export
) -> None:
    (row,) = export_json("agreements", **{"from": "2027-06-01", "to": "2027-06-30"})
    assert row["term_start"] == "2027-01-01"
    assert row["up_front_fees"] == "2500.00"
    assert row["uses"] == "distribution;development"
    assert row["annual_fees"] == row["term_fees"]  # a whole-year term
    assert export_json("agreements", **{"from": "2028-01-01"}) == []


def test_the_agreements_register_ends_with_charged_to_date_as_the_api_says_it(
    ledger: Ledger, export_json: Export, client: FlaskClient, billing_staff: User
) -> None:
    invoice = ledger.agreement_invoice
    credited(invoice.id, "125.50", "Seats not used", now=at(date(2027, 2, 1)))
    (row,) = export_json("agreements", **{"from": "2027-06-01", "to": "2027-06-30"})
    # Each added at the end, positions kept: charged_to_date, then (round 17) renewed_by,
    # then (round 66) how it was priced and, priced by hand, the card then in effect.
    assert list(row)[-4:] == ["charged_to_date", "renewed_by", "priced", "rate_card_in_effect"]
    assert row["charged_to_date"] == "2374.50"  # 2500.00 invoiced less 125.50 credited
    api = client.get(f"/api/v1/agreements/{invoice.source_id}", headers=bearer(billing_staff))
    assert api.get_json()["charged_to_date"] == row["charged_to_date"]
    assert api.get_json()["renewed_by"] is row["renewed_by"] is None  # not renewed


def test_each_export_is_audited_with_its_filter_rows_and_the_sha256_of_its_bytes(
    ledger: Ledger, client: FlaskClient, billing_staff: User
) -> None:
    response = client.get(
        "/api/v1/exports/invoices",
        query_string={"format": "csv", "currency": "USD"},
        headers=bearer(billing_staff),
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["X-Export-Schema-Version"] == "1"
    body = response.get_data()
    event = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "export.downloaded"))
        .one()
    )
    after = json.loads(event.after or "{}")
    assert event.actor == billing_staff.email
    assert after["sha256"] == hashlib.sha256(body).hexdigest()
    assert after["rows"] == body.decode().count("\r\n") - 1 == 5
    assert after["filter"] == {"currency": "USD"}
    assert after["complete"] is True


def test_xlsx_exports_open_in_a_spreadsheet_with_their_schema_version(
    ledger: Ledger, client: FlaskClient, billing_staff: User
) -> None:
    from openpyxl import load_workbook

    response = client.get(
        "/api/v1/exports/payments", query_string={"format": "xlsx"}, headers=bearer(billing_staff)
    )
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.get_data()))
    rows = list(workbook["payments"].iter_rows(values_only=True))
    assert rows[0][0] == "payment_id"
    assert len(rows) == 3
    about = dict(workbook["about"].iter_rows(values_only=True))
    assert about["schema_version"] == "1"


def test_only_billing_staff_may_export(
    app: Flask, client: FlaskClient, vendor: User, licensing_staff: User, admin: User
) -> None:
    url = "/api/v1/exports/invoices"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(vendor)).status_code == 403
    assert client.get(url, headers=bearer(licensing_staff)).status_code == 403
    assert client.get(url, headers=bearer(admin)).status_code == 200


def test_bad_filters_are_a_422_naming_each_field_before_anything_is_exported(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    headers = bearer(billing_staff)
    response = client.get(
        "/api/v1/exports/payments",
        query_string={"use": "development", "state": "open"},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    # Named as every other query argument of the API is (`query.format`), so a
    # client maps each to its input; they used to be bare (`use`, `state`).
    assert set(errors) == {"query.use", "query.state"}
    assert "does not filter by use" in errors["query.use"][0]
    reversed_range = client.get(
        "/api/v1/exports/invoices",
        query_string={"from": "2027-03-31", "to": "2027-01-01"},
        headers=headers,
    )
    assert reversed_range.status_code == 422
    assert set(reversed_range.get_json()["errors"]) == {"query.to"}
    bad_date = client.get(
        "/api/v1/exports/payments", query_string={"from": "2027-02-30"}, headers=headers
    )
    assert bad_date.status_code == 422
    assert client.get("/api/v1/exports/no_such_dataset", headers=headers).status_code == 404
    assert (
        client.get(
            "/api/v1/exports/invoices", query_string={"format": "pdf"}, headers=headers
        ).status_code
        == 422
    )
    logged = db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "export"))
    assert list(logged) == []


def test_each_export_format_names_its_media_type_and_charset_once(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: Any
) -> None:
    # A CSV export used to say "text/csv; charset=utf-8; charset=utf-8".
    headers = bearer(billing_staff)
    expected = {
        "csv": "text/csv; charset=utf-8",
        "jsonl": "application/x-ndjson; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    for export_format, content_type in expected.items():
        api = client.get(f"/api/v1/exports/invoices?format={export_format}", headers=headers)
        assert api.status_code == 200
        assert api.data
        assert api.headers["Content-Type"] == content_type
    page = signed_in(client, billing_staff).get("/console/exports?dataset=invoices&format=csv")
    assert page.status_code == 200
    assert page.data
    assert page.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_the_datasets_and_the_export_route_are_in_the_openapi_document(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/exports/{dataset}"]["get"]
    assert set(operation["responses"]["200"]["content"]) >= {"text/csv", "application/x-ndjson"}
    # `by` says what each value's days are and which datasets take it (round 31).
    (by,) = [p for p in operation["parameters"] if p["name"] == "by"]
    assert by["schema"]["enum"] == ["issued", "paid", "period", "reversed", "recorded"]
    described = by["description"]
    assert "`recorded`: the office day the record was written or changed" in described
    assert "nightly pull" in described
    taking = "(invoices, payments, refunds, revenue_recognition, royalty_report_lines)."
    assert described.endswith(taking)
    listed = client.get("/api/v1/exports", headers=bearer(billing_staff)).get_json()
    assert [d["name"] for d in listed][:2] == ["invoices", "invoice_lines"]
    assert listed[0]["columns"][0] == {
        "name": "invoice_id",
        "type": "integer",
        "description": "The invoice's id in the service.",
    }


def test_the_console_page_exports_for_billing_staff_and_explains_bad_filters(
    ledger: Ledger, client: FlaskClient, billing_staff: User, signed_in: Any
) -> None:
    signed_in(client, billing_staff)
    page = client.get("/console/exports")
    assert page.status_code == 200
    assert 'href="/console/exports"' in page.get_data(as_text=True)  # in the navigation
    bad = client.get("/console/exports", query_string={"dataset": "invoices", "from": "soon"})
    assert bad.status_code == 422
    assert "is not a date such as 2027-01-31" in bad.get_data(as_text=True)
    download = client.get(
        "/console/exports", query_string={"dataset": "credit_notes", "format": "csv"}
    )
    assert download.status_code == 200
    assert "CN-2027-000001" in download.get_data(as_text=True)


def test_licensing_staff_do_not_see_or_open_the_exports_page(
    app: Flask, client: FlaskClient, licensing_staff: User, signed_in: Any
) -> None:
    signed_in(client, licensing_staff)
    assert 'href="/console/exports"' not in client.get("/console/").get_data(as_text=True)
    assert client.get("/console/exports").status_code == 403


def test_the_command_writes_the_file_with_progress_on_stderr_and_audits_it(
    ledger: Ledger, app: Flask, tmp_path: Path
) -> None:
    target = tmp_path / "lines.jsonl"
    result = app.test_cli_runner().invoke(
        args=[
            "exports",
            "invoice_lines",
            "--from",
            "2027-01-01",
            "--to",
            "2027-12-31",
            "--format",
            "jsonl",
            "--output",
            str(target),
        ]
    )
    assert result.exit_code == 0, result.output
    header, rows = read_jsonl(target.read_bytes())
    assert header["schema_version"] == 1
    assert header["filter"] == {"from": "2027-01-01", "to": "2027-12-31", "by": "issued"}
    assert len(rows) == 7  # the lines of the five invoices issued in 2027
    assert "Exporting" in result.stderr
    # Round 14: the counts grouped for people (they read "7 rows, 2345 bytes"); the
    # digest and the file's name as a script reads them.
    size, digest = len(target.read_bytes()), hashlib.sha256(target.read_bytes()).hexdigest()
    assert size >= 1000
    assert result.stderr.splitlines()[-1] == f"7 rows, {size:,} bytes, sha256 {digest} -> {target}"
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "export")).one()
    assert json.loads(event.after or "{}")["rows"] == 7
    assert not list(tmp_path.glob("*.part"))


def test_the_command_refuses_a_bad_filter_and_writes_nothing(app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = app.test_cli_runner().invoke(
        args=["exports", "credit_notes", "--state", "open", "--output", str(target)]
    )
    assert result.exit_code == 2
    assert "--state" in result.output
    assert not target.exists()


def test_the_command_names_its_own_options_in_a_refusal(app: Flask, tmp_path: Path) -> None:
    # The API's parameter names ("Must be on or after from") read oddly to an operator.
    result = app.test_cli_runner().invoke(
        args=[
            "exports",
            "payments",
            "--from",
            "2027-03-01",
            "--to",
            "2027-02-01",
            "--as-of",
            "2027-01-01",
        ]
    )
    assert result.exit_code == 2
    assert "--to: Must be on or after --from (2027-03-01)." in result.output
    assert "does not filter by --as-of (it takes --from, --to, --by" in result.output


def test_an_export_holding_a_currency_edited_in_the_database_is_refused_naming_the_record(
    ledger: Ledger, client: FlaskClient, billing_staff: User, signed_in: Any
) -> None:
    corrupt_currency(ledger.credited_paid.id)
    named = f"invoice_id {ledger.credited_paid.id} has amounts in {UNKNOWN_CURRENCY!r}"
    api = client.get(
        "/api/v1/exports/invoices", query_string={"format": "csv"}, headers=bearer(billing_staff)
    )
    assert api.status_code == 409
    assert api.mimetype == "application/problem+json"
    assert named in api.get_json()["detail"]
    signed_in(client, billing_staff)
    page = client.get("/console/exports", query_string={"dataset": "payments", "format": "jsonl"})
    assert page.status_code == 409
    assert "a currency the service does not know" in page.get_data(as_text=True)
    # Rows that hold only known currencies still export.
    org_a = client.get(
        "/console/exports", query_string={"dataset": "invoices", "organization": ledger.org_a}
    )
    assert org_a.status_code == 200
    assert ledger.manual.number in org_a.get_data(as_text=True)
    logged = db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "export"))
    assert [event.action for event in logged] == ["export.downloaded"]


def test_the_command_refuses_an_export_holding_an_unknown_currency_and_writes_no_file(
    ledger: Ledger, app: Flask, tmp_path: Path
) -> None:
    corrupt_currency(ledger.credited_paid.id)
    target = tmp_path / "lines.csv"
    result = app.test_cli_runner().invoke(
        args=["exports", "invoice_lines", "--output", str(target)]
    )
    assert result.exit_code == 1
    assert f"invoice_number {ledger.credited_paid.number} has amounts in 'XQQ'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_meets_an_unknown_currency_midway_leaves_no_file_and_audits_why(
    ledger: Ledger, app: Flask, tmp_path: Path
) -> None:
    corrupt_currency(ledger.credited_paid.id)
    target = tmp_path / "credits.csv"
    result = app.test_cli_runner().invoke(
        args=["exports", "credit_note_lines", "--output", str(target)]
    )
    assert result.exit_code == 1
    assert "export stopped after 0 rows: unknown currency 'XQQ'" in result.output
    assert list(tmp_path.iterdir()) == []
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "export")).one()
    assert event.action == "export.interrupted"
    assert "unknown currency 'XQQ'" in (event.note or "")


def test_a_refused_export_filter_reads_as_any_refused_argument_and_names_from(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: Any
) -> None:
    # Round 17: the service's refusals said "The export's filter has problems."
    # where the schema's said "The request has invalid fields; see errors.", and
    # a reversed range "Must be on or after the start date." where the API's
    # argument is `from` (and the page's field "From").
    headers = bearer(billing_staff)
    by_service = client.get(
        "/api/v1/exports/invoices",
        query_string={"from": "2027-03-31", "to": "2027-01-01"},
        headers=headers,
    )
    by_schema = client.get(
        "/api/v1/exports/invoices", query_string={"from": "2027-02-30"}, headers=headers
    )
    for refused in (by_service, by_schema):
        assert refused.status_code == 422
        problem = refused.get_json()
        assert (problem["title"], problem["detail"]) == (
            "Invalid input",
            "The request has invalid fields; see errors.",
        )
    assert by_service.get_json()["errors"] == {
        "query.to": ["Must be on or after from (2027-03-31)."]
    }
    page = signed_in(client, billing_staff).get(
        "/console/exports",
        query_string={"dataset": "invoices", "from": "2027-03-31", "to": "2027-01-01"},
    )
    assert page.status_code == 422
    assert "Must be on or after From (March 31, 2027)." in text_of(page)
