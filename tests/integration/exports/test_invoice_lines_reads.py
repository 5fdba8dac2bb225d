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
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Table, insert, select

from licensing import db
from licensing.accounts.models import User
from licensing.agreements.models import Agreement, Application, ApplicationUse
from licensing.billing.models import Invoice, InvoiceLine
from licensing.exports.ledger import Ledger as ExportLedger
from tests.integration.exports.conftest import Ledger
from tests.support import factories
from tests.support.statements import sent_on

SMALL, LARGE = 10, 100

Export = Callable[..., bytes]


@pytest.fixture
def export(client: FlaskClient, billing_staff: User) -> Export:
    """`export(format, **filters)`: the invoice-lines export's bytes, via the API."""
    return exporter(client, billing_staff, "invoice_lines")


def exporter(client: FlaskClient, staff: User, dataset: str) -> Export:
    """`export(format, **filters)`: a dataset's export bytes, via the API."""
    headers = factories.bearer(staff)

    def fetch(format_name: str = "csv", **filters: Any) -> bytes:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": format_name, **filters},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data()

    return fetch


def _copy(table: Table, match: Any, **changes: Any) -> int:
    """A copy of the row of `table` that `match` selects, with a new id and
    `changes`: its id."""
    session = db.session()
    values = dict(session.execute(select(table).where(match)).one()._mapping)
    values.pop("id")
    values.update(changes)
    return int(session.execute(insert(table).values(values).returning(table.c.id)).scalar_one())


def _agreements_invoiced(invoice: Invoice, count: int, start: int) -> None:
    """`count` more agreements like `invoice`'s, each on an application of its
    own, with an up-front invoice of its own like `invoice` (its lines too). Every
    other one asks for its uses in the other order, so that its lines' uses differ
    from its neighbours' (a line given another agreement's use shows)."""
    session = db.session()
    agreement = session.get(Agreement, invoice.source_id)
    assert agreement is not None
    applications = Application.__table__
    uses = ApplicationUse.__table__
    asked = session.execute(
        select(uses.c.id, uses.c.use)
        .where(uses.c.application_id == agreement.application_id)
        .order_by(uses.c.position)
    ).all()
    assert len({use for _id, use in asked}) > 1, "the agreement asks for one use"
    invoices, lines = Invoice.__table__, InvoiceLine.__table__
    for index in range(start, start + count):
        application_id = _copy(applications, applications.c.id == agreement.application_id)
        order = asked if index % 2 else asked[::-1]
        for (use_id, _use), (_other, use) in zip(asked, order, strict=True):
            _copy(uses, uses.c.id == use_id, application_id=application_id, use=use)
        agreement_id = _copy(
            Agreement.__table__,  # type: ignore[arg-type]
            Agreement.__table__.c.id == agreement.id,  # type: ignore[attr-defined]
            application_id=application_id,
            number=f"CPT-2027-9{index:05d}",
            pdf_sha256=f"{index:064d}",
        )
        invoice_id = _copy(
            invoices,  # type: ignore[arg-type]
            invoices.c.id == invoice.id,  # type: ignore[attr-defined]
            number=f"INV-2027-9{index:05d}",
            source_id=agreement_id,
        )
        for (line_id,) in session.execute(
            select(lines.c.id).where(lines.c.invoice_id == invoice.id)  # type: ignore[attr-defined]
        ).all():
            _copy(lines, lines.c.id == line_id, invoice_id=invoice_id)  # type: ignore[arg-type, attr-defined]
    session.commit()


def _body(export: bytes, format_name: str) -> bytes:
    """The export without the JSON Lines header's `generated_at` (its first line)."""
    return export.split(b"\n", 1)[1] if format_name == "jsonl" else export


def _statements(export: Export, format_name: str) -> int:
    export(format_name)  # warm: the token is read once
    # On the module's shared connection, whose engine is not the app's
    # (`tests.conftest.app_in_transaction`).
    with sent_on(db.session().connection().engine) as statements:
        export(format_name)
    assert statements, "nothing counted: the listener is on another engine"
    return len(statements)


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_an_invoice_lines_export_runs_no_query_per_agreement(
    ledger: Ledger, export: Export, format_name: str
) -> None:
    _agreements_invoiced(ledger.agreement_invoice, SMALL, 0)
    at_small = _statements(export, format_name)
    _agreements_invoiced(ledger.agreement_invoice, LARGE - SMALL, SMALL)
    at_large = _statements(export, format_name)
    lines = export("csv").decode().count("\r\n")
    assert lines > LARGE  # the header, the ledger's lines, the copies' lines
    assert at_large == at_small, f"statements at {SMALL} and {LARGE} agreements' invoices"


FILTERS: tuple[dict[str, str], ...] = (
    {},
    {"use": "development"},
    {"use": "distribution"},
    {"use": "translation"},
    {"organization": "ORG"},
    {"by": "paid", "from": "2027-01-01", "to": "2027-12-31"},
)


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_the_export_writes_the_bytes_the_per_agreement_reading_wrote(
    ledger: Ledger, export: Export, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's lines (an agreement's up-front invoice, invoices naming
    agreements that do not exist, a manual one, euros, a voided one) and 30 more
    agreements' invoices, half with their uses the other way round: the same bytes
    read a batch at a time as read agreement by agreement (the reading before
    round 14, which the ledger keeps for the agreements a batch did not read)."""
    _agreements_invoiced(ledger.agreement_invoice, 30, 0)
    given = [
        {name: str(ledger.org_a) if value == "ORG" else value for name, value in f.items()}
        for f in FILTERS
    ]
    batched = [_body(export(format_name, **filters), format_name) for filters in given]
    monkeypatch.setattr(ExportLedger, "remember_agreements", lambda self, ids: None)
    one_by_one = [_body(export(format_name, **filters), format_name) for filters in given]
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
    _agreements_invoiced(ledger.agreement_invoice, 30, 0)
    unbounded = _body(export(format_name), format_name)
    monkeypatch.setattr("licensing.exports.ledger._CACHE_LIMIT", 4)
    assert _body(export(format_name), format_name) == unbounded
