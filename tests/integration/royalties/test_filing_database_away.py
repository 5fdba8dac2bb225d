"""Round 61 (outage61b): a royalty report filed through the API with PostgreSQL stopped
in the middle of its filing (its rows written by COPY, the report priced, its lines
being stored), as a restart stops it, and started again.

A filing is one transaction, and its period is its key: the client is answered 503 with
`Retry-After: 10` saying nothing was saved, nothing of it is kept (no report, no row, no
invoice), the same report sent again once the server is back is filed once, and sent a
third time it is the 409 naming the report filed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from licensing import db, migrations
from licensing.app import create_app
from licensing.billing.models import Invoice
from licensing.royalties.models import RoyaltyReport, RoyaltyReportRow
from licensing.royalties.services import filing
from tests.conftest import make_config, unavailable
from tests.integration.agreements.conftest import NOW
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.servers import PostgresServer, ServerUnavailable

from .conftest import AFTER, SOFTWARE, row, vendor_and_reviewer

BODY = {"attest": True, "rows": [row(1, "A", quantity=60), row(1, "B", quantity=40)]}


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, to stop and start."""
    try:
        found = PostgresServer().start()
    except ServerUnavailable as exc:
        unavailable(f"PostgreSQL: {exc}")
    yield found
    found.stop()


def _kept() -> tuple[int, int, int]:
    """How many royalty reports, their rows and invoices are stored."""
    session = db.session()
    session.rollback()
    reports, rows, invoices = (
        session.scalar(select(func.count()).select_from(table)) or 0
        for table in (RoyaltyReport, RoyaltyReportRow, Invoice)
    )
    return reports, rows, invoices


def test_a_filing_whose_database_stops_under_it_keeps_nothing_and_is_filed_once_when_sent_again(
    server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.create_database(f"filing_{factories._unique()}")
    migrations.upgrade(url)
    application = create_app(make_config(url))
    try:
        with application.app_context():
            vendor, reviewer = vendor_and_reviewer(db.session())
            agreement = make_active_agreement(vendor, reviewer, SOFTWARE, now=NOW)
            path = f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01"
            headers = factories.bearer(vendor)
            db.session().commit()
            before = _kept()
            original = filing._store_lines

            def stopped_first(*args: Any, **kwargs: Any) -> Any:
                server.halt()  # the rows are written, the report priced, not committed
                return original(*args, **kwargs)

            monkeypatch.setattr(filing, "_store_lines", stopped_first)
            client = application.test_client()
            with time_machine.travel(AFTER[1], tick=False):
                answer = client.post(path, json=BODY, headers=headers)
            assert answer.status_code == 503, answer.get_data(as_text=True)[:2000]
            assert answer.headers["Retry-After"] == str(db.UNAVAILABLE_RETRY_AFTER_SECONDS)
            assert "nothing of it was saved" in answer.get_json()["detail"]
            monkeypatch.setattr(filing, "_store_lines", original)
            server.resume()
            assert _kept() == before

            with time_machine.travel(AFTER[1], tick=False):
                again = client.post(path, json=BODY, headers=headers)
                third = client.post(path, json=BODY, headers=headers)
            assert again.status_code == 201, again.get_json()
            reports, rows, invoices = _kept()
            assert (reports, rows, invoices) == (before[0] + 1, before[1] + 2, before[2] + 1)
            assert third.status_code == 409
            assert "already has report" in third.get_json()["detail"]
            assert _kept() == (reports, rows, invoices)
    finally:
        with contextlib.suppress(ServerUnavailable):  # running already
            server.resume()
        application.extensions["licensing.db"].engine.dispose()
