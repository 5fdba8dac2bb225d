"""Finance exports (API and console page), the Finance dashboard and the audit
log (page, CSV and API) under random query strings: unknown datasets and formats,
dates out of range, ids of nothing, huge and non-numeric numbers, NULs, paging and
sort keys. Never a 5xx; the API refuses with a problem document; an export or
dashboard refusal writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.exports import base
from licensing.exports.filters import PARAMETERS
from tests.integration.exports.conftest import Ledger
from tests.support import factories
from tests.support.nasty import PATH_SEGMENT, QUERY_TEXT, SWEEP, is_problem, query

DATASETS = st.one_of(
    st.sampled_from(sorted(base.all_datasets())),
    PATH_SEGMENT,
)
FORMATS = st.one_of(st.sampled_from(["csv", "jsonl", "xlsx"]), QUERY_TEXT)
FILTER_NAMES = [*PARAMETERS, "format"]


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"auth_rate_limit": "off"}


@pytest.fixture
def billing_bearer(billing_staff: Any) -> dict[str, str]:
    return factories.bearer(billing_staff)  # once: every example would make a token


@pytest.fixture
def billing_page(app: Flask, billing_staff: Any, signed_in: Any) -> Any:
    return signed_in(app.test_client(), billing_staff)


def _audited() -> int:
    return int(db.session().scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _read(response: Any) -> bytes:
    # A streamed export is read to its end: a failure midway is a failure too.
    return b"".join(response.response) if response.is_streamed else response.get_data()


@SWEEP
@given(dataset=DATASETS, query_args=query(FILTER_NAMES))
def test_an_export_through_the_api_answers_any_filter_without_a_server_error(
    app: Flask, ledger: Ledger, billing_bearer: dict[str, str], dataset: str, query_args: Any
) -> None:
    before = _audited()
    response = app.test_client().get(
        f"/api/v1/exports/{dataset}", query_string=query_args, headers=billing_bearer
    )
    body = _read(response)
    assert response.status_code < 500, (dataset, query_args, body[:800])
    if response.status_code >= 400:
        assert is_problem(response), (dataset, query_args, response.mimetype)
        assert _audited() == before


@SWEEP
@given(query_args=query(["page", "per_page"]))
def test_the_list_of_datasets_pages_any_query_without_a_server_error(
    app: Flask, billing_bearer: dict[str, str], query_args: Any
) -> None:
    response = app.test_client().get(
        "/api/v1/exports", query_string=query_args, headers=billing_bearer
    )
    assert response.status_code < 500, (query_args, response.get_data(as_text=True)[:800])
    if response.status_code >= 400:
        assert is_problem(response)


@SWEEP
@given(dataset=DATASETS, export_format=FORMATS, query_args=query(PARAMETERS))
def test_the_exports_page_answers_any_filter_without_a_server_error(
    ledger: Ledger, billing_page: Any, dataset: str, export_format: str, query_args: Any
) -> None:
    before = _audited()
    response = billing_page.get(
        "/console/exports",
        query_string={**query_args, "dataset": dataset, "format": export_format},
    )
    body = _read(response)
    assert response.status_code < 500, (dataset, export_format, query_args, body[:800])
    if response.status_code >= 400:
        assert response.mimetype == "text/html"
        assert _audited() == before


FINANCE_FILTERS = ["from", "to", "by", "currency", "as_of"]


@SWEEP
@given(query_args=query(FINANCE_FILTERS))
def test_the_finance_dashboard_answers_any_filter_without_a_server_error(
    app: Flask, ledger: Ledger, billing_page: Any, query_args: Any
) -> None:
    response = billing_page.get("/console/finance/", query_string=query_args)
    assert response.status_code < 500, (query_args, response.get_data(as_text=True)[:800])
    assert response.status_code in (200, 400, 422)


@SWEEP
@given(query_args=query(["month", "currency"]))
def test_the_monthly_report_answers_any_month_without_a_server_error(
    app: Flask, ledger: Ledger, billing_page: Any, query_args: Any
) -> None:
    response = billing_page.get("/console/finance/report.pdf", query_string=query_args)
    assert response.status_code < 500, (query_args, response.get_data()[:800])
    assert response.status_code in (200, 400, 422)


# A superscript two is a digit to str.isdigit() but not to int(): the filter read it as
# an id and answered 500. int() reads a mathematical bold nine and Arabic-Indic twelve
# as 9 and 12: ids nobody typed as such.
NOT_ASCII_DIGITS = ["\u00b2", "\U0001d7d7", "\u0661\u0662"]


@pytest.mark.parametrize("organization", NOT_ASCII_DIGITS)
def test_an_organization_filter_of_digits_other_than_ascii_is_a_field_message_on_the_page(
    billing_page: Any, organization: str
) -> None:
    response = billing_page.get(
        "/console/exports", query_string={"dataset": "invoices", "organization": organization}
    )
    assert response.status_code == 422
    assert "An organization id, a whole number." in response.get_data(as_text=True)


@pytest.mark.parametrize("organization", NOT_ASCII_DIGITS)
def test_an_organization_filter_of_digits_other_than_ascii_is_a_422_on_the_api(
    app: Flask, billing_bearer: dict[str, str], organization: str
) -> None:
    response = app.test_client().get(
        "/api/v1/exports/invoices",
        query_string={"organization": organization},
        headers=billing_bearer,
    )
    body = json.loads(_read(response))
    assert response.status_code == 422
    assert is_problem(response)
    assert "query.organization" in body["errors"]


# A month in digits other than ASCII: str.isdigit() took them for digits and int()
# read the Arabic-Indic and fullwidth ones as March 2027, a month nobody typed.
NOT_ASCII_MONTHS = [
    "\u0662\u0660\u0662\u0667-\u0660\u0663",
    "\uff12\uff10\uff12\uff17-\uff10\uff13",
    "\u00b2027-03",
]


@pytest.mark.parametrize("month", NOT_ASCII_MONTHS)
def test_a_month_in_digits_other_than_ascii_is_a_field_message_on_the_finance_page(
    billing_page: Any, month: str
) -> None:
    response = billing_page.get("/console/finance/", query_string={"from": month})
    assert response.status_code == 400  # as for any month the page cannot read
    assert "Give a month as YYYY-MM" in response.get_data(as_text=True)


@pytest.mark.parametrize("month", NOT_ASCII_MONTHS)
def test_a_month_in_digits_other_than_ascii_is_refused_for_the_monthly_report(
    billing_page: Any, month: str
) -> None:
    response = billing_page.get("/console/finance/report.pdf", query_string={"month": month})
    assert response.status_code == 400
    assert "Give the month as YYYY-MM" in response.get_data(as_text=True)


@pytest.fixture
def admin_page(app: Flask, admin: Any, signed_in: Any) -> Any:
    return signed_in(app.test_client(), admin)


@pytest.fixture
def admin_bearer(admin: Any) -> dict[str, str]:
    return factories.bearer(admin)


AUDIT_FILTERS = ["entity_type", "entity_id", "actor", "action", "since", "until"]


@SWEEP
@given(query_args=query(AUDIT_FILTERS))
def test_the_audit_log_page_and_its_csv_answer_any_filter_without_a_server_error(
    ledger: Ledger, admin_page: Any, query_args: Any
) -> None:
    for path in ("/console/audit", "/console/audit.csv"):
        response = admin_page.get(path, query_string=query_args)
        body = _read(response)
        assert response.status_code < 500, (path, query_args, body[:800])
        assert response.status_code in (200, 422), (path, query_args)


@SWEEP
@given(query_args=query(AUDIT_FILTERS))
def test_the_audit_log_api_answers_any_filter_without_a_server_error(
    app: Flask, ledger: Ledger, admin_bearer: dict[str, str], query_args: Any
) -> None:
    response = app.test_client().get(
        "/api/v1/audit-events", query_string=query_args, headers=admin_bearer
    )
    assert response.status_code < 500, (query_args, response.get_data(as_text=True)[:800])
    if response.status_code >= 400:
        assert is_problem(response), (query_args, response.mimetype)


@pytest.fixture
def licensing_page(app: Flask, licensing_staff: Any, signed_in: Any) -> Any:
    return signed_in(app.test_client(), licensing_staff)


@SWEEP
@given(query_args=query(FINANCE_FILTERS))
def test_the_queue_health_licensing_staff_see_answers_any_filter(
    licensing_page: Any, query_args: Any
) -> None:
    # Licensing staff see only the queues: the money filters are not theirs to get wrong.
    response = licensing_page.get("/console/finance/", query_string=query_args)
    unstorable = any("\x00" in value for value in query_args.values())
    assert response.status_code == (422 if unstorable else 200), query_args


@pytest.mark.parametrize("path", ["/api/v1/exports", "/api/v1/exports/invoices"])
def test_a_vendor_asking_for_an_export_is_refused_with_a_problem_document(
    app: Flask, vendor: Any, path: str
) -> None:
    response = app.test_client().get(path, headers=factories.bearer(vendor))
    assert response.status_code == 403
    assert is_problem(response)
