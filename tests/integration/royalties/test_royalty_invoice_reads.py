"""The invoice-lines and revenue-recognition exports read the royalty reports of
a batch of lines at once (round 15), and write what they wrote before.

A royalty invoice's line takes its use from its report's lines with a due and
its agreement's quote, and its revenue from the report's period: until round
15 the ledger read them with statements for each report (its cache only helped
a report's second line), so 100 royalty invoices cost more statements than 10.
Now each batch of lines (1,000) reads its reports in two statements, in CSV
(the database's text) and the other formats alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.exports.ledger import Ledger as ExportLedger
from tests.integration.royalties.conftest import PAYER, SOFTWARE, row
from tests.support import factories
from tests.support.copies import invoiced_reports
from tests.support.statements import sent_by

SMALL, LARGE = 10, 100
DATASETS = ("invoice_lines", "revenue_recognition")

Export = Callable[..., bytes]


@pytest.fixture
def export(client: FlaskClient, billing_staff: User) -> Export:
    """`export(dataset, format, **filters)`: an export's bytes, via the API."""
    headers = factories.bearer(billing_staff)

    def fetch(dataset: str, format_name: str = "csv", **filters: Any) -> bytes:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": format_name, **filters},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_data()
        # Without the JSON Lines header's `generated_at` (its first line).
        return body.split(b"\n", 1)[1] if format_name == "jsonl" else body

    return fetch


@pytest.fixture
def filed(vendor: Any, active_agreement: Any, file_report: Any) -> int:
    """A report on an agreement for two uses, its two lines each with a due: its id."""
    agreement = active_agreement(vendor, SOFTWARE, PAYER)
    filing = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=60), row(2, "P", unit="members", quantity=1000000)],
    )
    return int(filing.report.id)


def _statements(app: Flask, export: Export, dataset: str, format_name: str) -> int:
    export(dataset, format_name)  # warm: the token is read once
    with sent_by(app) as statements:
        export(dataset, format_name)
    assert statements, "nothing counted: the listener is on another engine"
    return len(statements)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_an_export_runs_no_query_per_royalty_report(
    app: Flask, filed: int, export: Export, dataset: str, format_name: str
) -> None:
    invoiced_reports(filed, SMALL, 0)
    at_small = _statements(app, export, dataset, format_name)
    invoiced_reports(filed, LARGE - SMALL, SMALL)
    at_large = _statements(app, export, dataset, format_name)
    assert export(dataset).decode().count("\r\n") > LARGE
    assert at_large == at_small, (
        f"{at_small} statements at {SMALL} royalty invoices, {at_large} at {LARGE}"
    )


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_the_exports_write_the_bytes_the_per_report_reading_wrote(
    filed: int, export: Export, dataset: str, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The filed report's invoice and 30 more reports' invoices, half with no due
    on their first line, under four filters, and with the ledger's cache emptied
    midway (after four reports, the batch holding 31): the same bytes read a batch
    at a time as read report by report (the reading before round 15, which the
    ledger keeps for the reports a batch did not read)."""
    invoiced_reports(filed, 30, 0)
    given: list[dict[str, str]] = [
        {},
        {"use": "distribution"},
        {"currency": "USD"},
        {"from": "2027-02-01", "to": "2027-03-31"},
    ]
    batched = [export(dataset, format_name, **filters) for filters in given]
    with monkeypatch.context() as patched:
        patched.setattr("licensing.exports.ledger._CACHE_LIMIT", 4)
        emptied = export(dataset, format_name)
    monkeypatch.setattr(ExportLedger, "remember_reports", lambda self, ids: None)
    one_by_one = [export(dataset, format_name, **filters) for filters in given]
    for filters, now, before in zip(given, batched, one_by_one, strict=True):
        assert now == before, filters
    assert emptied == batched[0]
    assert b"distribution" in batched[1]
    assert batched[0].count(b"royalty") > 30
