"""Round 60 (retry60): a batch job's unit of work that loses a deadlock or a serialization
failure is run again (`db.retried_unit`), and what it did is counted once. Until then the
first deadlock stopped the whole run, and the rows after it waited for the next run (an
hour or a day later). The error is raised as the driver reports PostgreSQL's "deadlock
detected", inside the unit, so on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.accounts.services import tokens
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import idempotency
from licensing.billing.models import IdempotentRequest
from licensing.mail.models import OutboxMessage

MADE = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DUE = MADE + timedelta(days=30) - timedelta(days=6, hours=20)


class _Deadlocked(Exception):
    sqlstate = "40P01"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)


def _count(statement: Any) -> int:
    return db.session().scalar(select(func.count()).select_from(statement.subquery())) or 0


def test_a_token_reminder_batch_that_lost_a_deadlock_is_run_again_and_reminds_once(
    app: Any, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [
        services.create_api_token(
            vendor.id, name, actor=Actor.SYSTEM, scope="read", expires_in_days=30, now=MADE
        )[0]
        for name in ("finance sync", "royalty upload")
    ]
    calls: list[int] = []
    original = tokens._remind_expiring

    def losing_after_the_second(session: Any, token: Any, now: datetime) -> None:
        original(session, token, now)
        calls.append(token.id)
        if len(calls) == 2:  # both reminded and emailed, then the batch loses
            raise OperationalError("UPDATE api_tokens ...", {}, _Deadlocked())

    monkeypatch.setattr(tokens, "_remind_expiring", losing_after_the_second)

    reminded = services.remind_expiring_tokens(DUE)

    # The base: the run stopped with the deadlock, nothing reminded until the next run.
    assert reminded == [f"{token.prefix}… ({vendor.email})" for token in made]
    assert len(calls) == 4  # the batch run twice
    assert (
        _count(select(OutboxMessage.id).where(OutboxMessage.subject.like("Your API token%"))) == 2
    )
    assert _count(select(AuditEvent.id).where(AuditEvent.action == tokens.EXPIRY_REMINDED)) == 2


def test_a_prune_of_keys_that_lost_a_deadlock_is_run_again(
    app: Any, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2027, 3, 2, 12, 0, tzinfo=UTC)
    for number in range(3):
        db.session().add(
            IdempotentRequest(
                user_id=vendor.id,
                organization_id=vendor.organization_id,
                key_hash=f"{number:064x}",
                request_hash="x",
                response_status=201,
                response_body="{}",
                created_at=now - idempotency.KEPT_FOR - timedelta(minutes=number + 1),
            )
        )
    db.session().commit()
    tries: list[int] = []
    original = idempotency._prune_before

    def losing_once(cutoff: datetime) -> int:
        tries.append(1)
        with db.transaction():
            if len(tries) == 1:
                raise OperationalError("DELETE FROM idempotent_requests ...", {}, _Deadlocked())
        return original(cutoff)

    monkeypatch.setattr(idempotency, "_prune_before", losing_once)

    assert idempotency.prune(now=now) == 3
    assert tries == [1, 1]
