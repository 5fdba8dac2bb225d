"""The scheduler's jobs work through their rows oldest due first, then by id, so the
audit events and emails they write come out in the order an operator reading the
log expects, not in the order the database meets the rows (SQLite's
`reverse_unordered_selects` shows a missing ORDER BY; `tests/support/ties.py` a
missing id on PostgreSQL, `CI=true`). The agreements' and permissions' expiry have
theirs beside their other tests (`test_expiry_order.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from tests.integration.billing.conftest import invoice_for as invoice_for
from tests.support import factories
from tests.support.ties import rewritten

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def test_tokens_are_reminded_of_the_soonest_to_expire_first_then_in_the_order_made(
    app: Any, vendor: Any
) -> None:
    made = [
        accounts.create_api_token(
            vendor.id, f"sync {n}", actor=Actor.SYSTEM, scope="read", expires_in_days=30, now=NOW
        )[0]
        for n in range(3)
    ]
    session = db.session()
    # The second expires first; the first ties with the third, its row written last.
    for token, days in zip(made, (6, 3, 6), strict=True):
        token.expires_at = NOW + timedelta(days=days)
    rewritten(session, made[0], through={"expires_at": NOW + timedelta(days=5)})
    reminded = accounts.remind_expiring_tokens(NOW)
    expected = [made[1], made[0], made[2]]
    assert reminded == [f"{token.prefix}… ({vendor.email})" for token in expected]


def test_organizations_are_held_for_overdue_invoices_the_longest_overdue_first(
    app: Any, invoice_for: Callable[..., Invoice]
) -> None:
    session = db.session()
    organizations = [factories.make_organization(session) for _ in range(3)]
    # Due 30, 10 and 45 days after the same activation: the second is the oldest due.
    for organization, terms in zip(organizations, (30, 10, 45), strict=True):
        invoice_for(organization.id, terms=terms)
    report = billing.process_overdue(standing_days=30, now=datetime(2027, 6, 1, tzinfo=UTC))
    first, oldest, last = organizations
    assert report.pending_payment == [o.legal_name for o in (oldest, first, last)]
