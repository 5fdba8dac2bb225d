"""Round 56: billing staff emailing an organization's statement on request while
its licensee files a royalty amendment that lowers the royalty, at once, both finish:
each takes the audit log's turn before the organization (the lock order,
`licensing/billing/services/__init__.py`).

The emailed statement locked the organization (FOR UPDATE, so that two presses at
once send once), then queued the email and audited it; the amendment audits the
report it supersedes, then stores credit notes naming the organization (PostgreSQL
checks that key with FOR KEY SHARE of it). On PostgreSQL the two, each holding its
first, waited for each other's: "deadlock detected". The test holds the statement,
once it holds what it locks first, until the amendment comes to credit (or is seen
waiting for a lock: with its turn taken first, the statement waits for the amendment's).

A card payment's webhook settling an invoice at that moment took turns before the
change: it writes its payment twice before its first event, and the second write's
key check waits for the organization's lock (tried, not kept as a test).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from flask import Flask

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.services import requested_statements
from licensing.royalties.services import settlement as royalty_settlement
from tests.integration.royalties.conftest import SOFTWARE
from tests.integration.royalties.lock_support import reported
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.factories import billing_clerk

RUN = datetime(2027, 2, 3, 15, 0, tzinfo=UTC)
JANUARY = services.Asked(start="2027-01-01", end="2027-01-31", currency="USD")


@pytest.fixture
def statement_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the emailed statement (thread "first") holds the organization, before
    it reads the statement; it then waits until the amendment (thread "second") comes
    to credit the royalty invoices, or is seen waiting for a lock."""
    return held_until(
        monkeypatch,
        (requested_statements, "statement_for"),
        (royalty_settlement._Settlement, "_credit"),
        before=True,
    )


def test_a_statement_emailed_on_request_and_a_royalty_amendment_crediting_both_finish(
    committed_app: Flask, statement_holds: threading.Event
) -> None:
    first = reported(committed_app, SOFTWARE)
    with committed_app.app_context():
        invoice = db.session().get(Invoice, first.invoice_id)
        assert invoice is not None
        organization_id = invoice.organization_id

    def emailed() -> str:
        return services.email_statement(organization_id, JANUARY, actor=billing_clerk(), now=RUN).to

    results = run_at_once(committed_app, emailed, first.amendment, statement_holds)

    assert "@" in results["first"]
    assert results["second"].total_due < 0
