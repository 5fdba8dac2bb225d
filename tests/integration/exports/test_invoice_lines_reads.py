"""The invoice-lines export reads the agreements of a batch of lines at once
(round 14), and writes what it wrote before.

Each up-front invoice is for an agreement of its own, and a line's use comes
from its agreement's quote and application: until round 14 the ledger read
them with two statements for each agreement (its cache only helped an
agreement's second line), so 10 agreements' invoices cost 20 statements more
than none, 100 cost 200. Now each batch of lines (1,000) reads its agreements
in two statements, in CSV (the database's text) and the other formats alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.exports.ledger import Ledger as ExportLedger
from tests.integration.exports.conftest import Ledger
from tests.support.copies import invoiced_agreements
from tests.support.exports import (
    FILTERS,
    exporter,
    statements_per_export,
    unstamped,
)

SMALL, LARGE = 10, 100

Export = Callable[..., bytes]


@pytest.fixture
def export(client: FlaskClient, billing_staff: User) -> Export:
    """`export(format, **filters)`: the invoice-lines export's bytes, via the API."""
    return exporter(client, billing_staff, "invoice_lines")


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_an_invoice_lines_export_runs_no_query_per_agreement(
    ledger: Ledger, export: Export, format_name: str
) -> None:
    invoiced_agreements(ledger.agreement_invoice, SMALL, 0)
    at_small = statements_per_export(export, format_name)
    invoiced_agreements(ledger.agreement_invoice, LARGE - SMALL, SMALL)
    at_large = statements_per_export(export, format_name)
    lines = export("csv").decode().count("\r\n")
    assert lines > LARGE  # the header, the ledger's lines, the copies' lines
    assert at_large == at_small, f"statements at {SMALL} and {LARGE} agreements' invoices"


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_the_export_writes_the_bytes_the_per_agreement_reading_wrote(
    ledger: Ledger, export: Export, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's lines (an agreement's up-front invoice, invoices naming
    agreements that do not exist, a manual one, euros, a voided one) and 30 more
    agreements' invoices, half with their uses the other way round: the same bytes
    read a batch at a time as read agreement by agreement (the reading before
    round 14, which the ledger keeps for the agreements a batch did not read)."""
    invoiced_agreements(ledger.agreement_invoice, 30, 0)
    given = [
        {name: str(ledger.org_a) if value == "ORG" else value for name, value in f.items()}
        for f in FILTERS
    ]
    batched = [unstamped(export(format_name, **filters), format_name) for filters in given]
    monkeypatch.setattr(ExportLedger, "remember_agreements", lambda self, ids: None)
    one_by_one = [unstamped(export(format_name, **filters), format_name) for filters in given]
    for filters, now, before in zip(given, batched, one_by_one, strict=True):
        assert now == before, filters
    assert b"development" in batched[1]
    assert b"distribution" in batched[2]


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_a_ledger_emptied_midway_writes_the_same_bytes(
    ledger: Ledger, export: Export, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's cache bounds its memory: full, it is emptied before a batch's
    agreements are read (here after four agreements, the batch holding 30)."""
    invoiced_agreements(ledger.agreement_invoice, 30, 0)
    unbounded = unstamped(export(format_name), format_name)
    monkeypatch.setattr("licensing.exports.ledger._CACHE_LIMIT", 4)
    assert unstamped(export(format_name), format_name) == unbounded
