"""Finance's exports as tests read them: through the API as staff fetch them, and
the CSV both ways the service can write it (by the database, by Python)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.config import DEFAULT_GL_ACCOUNTS
from licensing.exports.base import Dataset, ExportContext
from licensing.exports.datasets import invoice_lines
from licensing.exports.filters import ExportFilter
from licensing.exports.formats import Header, write_csv, write_csv_lines
from licensing.exports.ledger import Ledger
from tests.support import factories
from tests.support.statements import sent_on

Export = Callable[..., Any]

ACCOUNTS = {**DEFAULT_GL_ACCOUNTS, "manual": "-4900", "fee.development": "4010"}
MOMENT = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)


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


def receivables(
    client: FlaskClient, staff: User, as_of: str, **filters: Any
) -> list[dict[str, str]]:
    """The receivables export's CSV rows on `as_of`, as finance fetches them."""
    fetch = exporter(client, staff, "receivables")
    text = fetch("csv", as_of=as_of, **filters).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def written(dataset: Dataset, given_filter: ExportFilter, *, by_database: bool) -> bytes:
    """The CSV of the rows in the session, from the database or the Python writer."""
    session = db.session()
    context = ExportContext(session, Ledger(session, ACCOUNTS))
    header = Header(dataset, MOMENT, given_filter.describe())
    if not by_database:
        return b"".join(write_csv(header, dataset.rows(context, given_filter)))
    assert dataset.csv_lines is not None
    return b"".join(write_csv_lines(header, dataset.csv_lines(context, given_filter)))


def both(
    given_filter: ExportFilter | None = None, dataset: Dataset = invoice_lines.DATASET
) -> tuple[bytes, bytes]:
    """(the database's CSV, the Python writer's) for the rows in the session."""
    given_filter = given_filter or ExportFilter()
    return (
        written(dataset, given_filter, by_database=True),
        written(dataset, given_filter, by_database=False),
    )


# Filters the batched readers must answer as reading row by row did ("ORG": the
# ledger's first organization).
FILTERS: tuple[dict[str, str], ...] = (
    {},
    {"use": "development"},
    {"use": "distribution"},
    {"use": "translation"},
    {"organization": "ORG"},
    {"by": "paid", "from": "2027-01-01", "to": "2027-12-31"},
)


def unstamped(export: bytes, format_name: str) -> bytes:
    """The export without the JSON Lines header's `generated_at` (its first line)."""
    return export.split(b"\n", 1)[1] if format_name == "jsonl" else export


def statements_per_export(export: Export, *args: Any) -> int:
    """How many SQL statements `export(*args)` sends once warm (what is read once,
    the token and the rate card, is read by a first export)."""
    export(*args)
    # On the module's shared connection, whose engine is not the app's
    # (`tests.conftest.app_in_transaction`).
    with sent_on(db.session().connection().engine) as statements:
        export(*args)
    assert statements, "nothing counted: the listener is on another engine"
    return len(statements)
