"""`permissions expire` works through each batch oldest due first, then by id, so its
audit events and emails come out in the order an operator reading the log expects,
batch after batch (a batch smaller than the rows here shows the order carries across
batches)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.permissions import services
from licensing.permissions.services import expiry
from tests.integration.permissions.conftest import request_input
from tests.support.ties import rewritten

EXPIRES = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _expired_in_the_log() -> list[str]:
    events = db.session().scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity_type == "permission_request",
            AuditEvent.action == "permission_request.expired",
        )
        .order_by(AuditEvent.id)
    )
    return [event.entity_id for event in events]


def test_unconfirmed_requests_expire_the_earliest_link_first_then_in_the_order_made(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(expiry, "EXPIRY_BATCH", 2)
    made = [services.submit_request(request_input()) for _ in range(4)]
    session = db.session()
    # The second made has the earliest link; the first ties with the last two.
    for request, hours in zip(made, (5, 0, 5, 5), strict=True):
        request.confirm_expires_at = EXPIRES + timedelta(hours=hours)
    rewritten(session, made[0], through={"confirm_expires_at": EXPIRES})
    report = services.expire_due(EXPIRES + timedelta(days=1))
    assert report.expired_unconfirmed == 4
    expected = [made[1], made[0], made[2], made[3]]
    assert _expired_in_the_log() == [str(request.id) for request in expected]
