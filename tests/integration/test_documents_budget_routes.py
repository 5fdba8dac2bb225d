"""Every route that makes a document on request is in the documents budget
(`DOCUMENT_RATE_LIMIT`), or is named in `downloads.NOT_RENDERED` with the reason it
is not counted (round 33). Until then the finance monthly report PDF and a royalty
period's CSV template, on the portal and the API, were outside it: a new route is
found by its path (`.pdf`, `.csv`, `/pdf`, `/rows`, `/template`) or by what its view
calls to answer."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.downloads import IN_DOCUMENTS_BUDGET, NOT_RENDERED

# What a view calls when it answers with a document rather than a page or JSON.
RESPONDERS = re.compile(
    r"pdf_response\(|template_response\(|rows_response\(|stream_with_session\(|"
    r"stream_with_context\(|return download\(|Content-Disposition|mimetype=\"text/csv\"|send_file\("
)
DOCUMENT_PATH = re.compile(r"(\.(pdf|csv|xlsx|json)|/(pdf|rows|template))$")


def _makes_a_document(app: Flask, rule: Any) -> bool:
    if DOCUMENT_PATH.search(rule.rule):
        return True
    view = inspect.unwrap(app.view_functions[rule.endpoint])
    try:
        source = inspect.getsource(view)
    except (OSError, TypeError):
        return False
    return bool(RESPONDERS.search(source))


def document_endpoints(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if _makes_a_document(app, rule)}


def test_every_route_that_makes_a_document_is_in_the_budget_or_named_as_stored(
    app: Flask,
) -> None:
    found = document_endpoints(app)
    outside = sorted(
        endpoint
        for endpoint in found - set(NOT_RENDERED)
        if not getattr(app.view_functions[endpoint], IN_DOCUMENTS_BUDGET, False)
    )
    assert outside == []
    # The walk finds what it must: the rendered PDFs, the exports, rows and templates.
    for endpoint in (
        "finance_console.monthly_report",
        "royalties.portal_template",
        "royalty_reports_api.get_template",
        "royalty_reports_api.get_rows",
        "exports_api.export",
        "exports_console.exports",
        "audit_console.audit_log_csv",
        "billing.statement_pdf",
        "billing_documents.linked_invoice_pdf",
    ):
        assert endpoint in found, endpoint


def test_what_is_named_as_not_rendered_is_a_route_and_is_not_counted(app: Flask) -> None:
    for endpoint in NOT_RENDERED:
        assert endpoint in app.view_functions, endpoint
        assert not getattr(app.view_functions[endpoint], IN_DOCUMENTS_BUDGET, False), endpoint


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"document_rate_limit": "2 per minute"}


def test_the_finance_monthly_report_counts_in_the_documents_budget(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    statuses = [
        client.get("/console/finance/report.pdf?month=2027-03&currency=USD").status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
