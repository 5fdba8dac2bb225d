"""`applications expire` works through its rows oldest due first, then by id, so its
audit events and emails come out in the order an operator reading the log expects,
not in the order the database meets the rows (SQLite's `reverse_unordered_selects`
shows a missing ORDER BY; `tests/support/ties.py` a missing id on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update

from licensing import db
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.audit.models import AuditEvent
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support.agreements import make_active_agreement
from tests.support.ties import rewritten

AFTER_ALL = datetime(2028, 2, 1, 15, 0, tzinfo=UTC)


def _expired_in_the_log() -> list[str]:
    events = db.session().scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "agreement", AuditEvent.action == "agreement.expired")
        .order_by(AuditEvent.id)
    )
    return [event.entity_id for event in events]


def test_agreements_past_their_term_expire_the_earliest_ended_first_then_in_the_order_issued(
    app: Any, example_card: str, vendor: Any, licensing_staff: Any
) -> None:
    made = [make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW) for _ in range(3)]
    first, earlier, tied = made
    session = db.session()
    # Issued agreements never change through the ORM: the test moves the term in SQL.
    table = Agreement.__table__
    session.execute(
        update(table).where(table.c.id == earlier.id).values(term_end=date(2027, 6, 30))
    )
    # The first issued ends with the last (a tie), its row written after the others.
    rewritten(session, first, through={"term_end": date(2027, 12, 30)})
    report = services.expire(now=AFTER_ALL)
    expected = [earlier, first, tied]
    assert report.expired == [agreement.number for agreement in expected]
    assert _expired_in_the_log() == [str(agreement.id) for agreement in expected]
    assert {a.state for a in session.scalars(select(Agreement))} == {"expired"}
