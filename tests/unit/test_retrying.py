"""Round 59 (locks59): `db.retrying` runs a call again after a deadlock or a
serialization failure, a bounded number of times, and only while nothing it did was
kept or went out of the process. The real deadlock, on PostgreSQL through a request:
tests/integration/test_deadlock_retried.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from licensing import db
from licensing.billing.stripe_gateway import StripeGateway


class _ServerError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"error {sqlstate}")
        self.sqlstate = sqlstate


def _lost(sqlstate: str = "40P01") -> OperationalError:
    return OperationalError("UPDATE organizations ...", {}, _ServerError(sqlstate))


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(db.time, "sleep", waits.append)
    return waits


def _losing(
    times: int, before: Callable[[], None] = lambda: None
) -> tuple[list[int], Callable[[], str]]:
    tries: list[int] = []

    def call() -> str:
        tries.append(len(tries) + 1)
        before()
        if len(tries) <= times:
            raise _lost()
        return "done"

    return tries, call


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_call_losing_a_deadlock_or_a_serialization_failure_once_is_run_again(
    sqlstate: str, no_waiting: list[float]
) -> None:
    tries: list[int] = []

    def call() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise _lost(sqlstate)
        return "done"

    assert db.retrying(call) == "done"
    assert len(tries) == 2
    assert len(no_waiting) == 1
    assert 0 <= no_waiting[0] <= db.RETRY_WAIT_SECONDS


def test_a_call_losing_every_try_is_tried_a_bounded_number_of_times_then_contended(
    no_waiting: list[float],
) -> None:
    tries, call = _losing(times=10)

    with pytest.raises(db.Contended) as raised:
        db.retrying(call)

    assert len(tries) == db.ATTEMPTS
    assert raised.value.retry_after == db.RETRY_AFTER_SECONDS
    assert isinstance(raised.value.__cause__, OperationalError)
    # Jittered, and longer bounds as the tries go on.
    assert [wait <= db.RETRY_WAIT_SECONDS * n for n, wait in enumerate(no_waiting, 1)] == [True] * (
        db.ATTEMPTS - 1
    )


def test_a_database_error_that_is_not_transient_is_raised_at_once() -> None:
    tries: list[int] = []

    def call() -> None:
        tries.append(1)
        raise IntegrityError("INSERT ...", {}, _ServerError("23505"))

    with pytest.raises(IntegrityError):
        db.retrying(call)
    assert tries == [1]


def test_a_lock_timeout_is_not_run_again_either() -> None:
    tries: list[int] = []

    def call() -> None:
        tries.append(1)
        raise _lost("55P03")  # lock_not_available: a step that would rather not wait

    with pytest.raises(OperationalError):
        db.retrying(call)
    assert tries == [1]


def test_a_call_that_asked_stripe_anything_is_not_run_again() -> None:
    def ask_stripe() -> None:
        StripeGateway._call(lambda params, options: None, {}, {})

    tries, call = _losing(times=1, before=ask_stripe)

    with pytest.raises(db.Contended):
        db.retrying(call)
    assert tries == [1]


def test_a_call_whose_email_went_to_the_smtp_server_is_not_run_again() -> None:
    tries, call = _losing(times=1, before=lambda: db.went_outside("the SMTP server"))

    with pytest.raises(db.Contended):
        db.retrying(call)
    assert tries == [1]


def _ran(statement: str) -> None:
    """What the engine's hook hears of a statement sent (`db._note_write`)."""
    db._note_write(None, None, statement, None, None, False)  # type: ignore[arg-type]


def _committed_a_write() -> None:
    _ran("UPDATE organizations SET legal_name = 'x' WHERE id = 1")
    db._note_committed(repeatable=False)


def test_a_call_with_a_unit_of_work_committed_before_the_one_lost_is_not_run_again() -> None:
    tries, call = _losing(times=1, before=_committed_a_write)

    with pytest.raises(db.Contended):
        db.retrying(call)
    assert tries == [1]


def test_a_call_whose_input_cannot_be_read_again_is_not_run_again() -> None:
    tries, call = _losing(times=1)

    with pytest.raises(db.Contended):
        db.retrying(call, may_run_again=lambda: False)
    assert tries == [1]


def test_what_went_out_in_one_call_does_not_stop_the_next_call_running_again() -> None:
    _tries, earlier = _losing(times=0, before=lambda: db.went_outside("Stripe"))
    db.retrying(earlier)
    tries, call = _losing(times=1)

    assert db.retrying(call) == "done"
    assert tries == [1, 2]


def test_what_the_call_keeps_outside_the_database_is_put_back_before_each_try_run_again() -> None:
    """Round 59 (retrycheck59): `before_again` runs between tries, after the lost one's
    rollback (the edges put back the request's cookie session and `g` there)."""
    steps: list[str] = []
    _tries, call = _losing(times=2, before=lambda: steps.append("try"))

    assert db.retrying(call, before_again=lambda: steps.append("put back")) == "done"
    assert steps == ["try", "put back", "try", "put back", "try"]


def test_nothing_is_put_back_for_a_call_that_is_not_run_again() -> None:
    steps: list[str] = []
    _tries, call = _losing(times=1, before=_committed_a_write)

    with pytest.raises(db.Contended):
        db.retrying(call, before_again=lambda: steps.append("put back"))
    assert steps == []


# --- round 60 (retry60) -------------------------------------------------------------


def _committed_after(*statements: str, repeatable: bool = False) -> Callable[[], None]:
    def unit() -> None:
        for statement in statements:
            _ran(statement)
        db._note_committed(repeatable=repeatable)

    return unit


@pytest.mark.parametrize(
    "statements",
    [
        ("SELECT id FROM idempotent_requests WHERE user_id = 7",),
        ("SELECT id FROM organizations WHERE id = 7 FOR NO KEY UPDATE",),
        ("WITH due AS (SELECT id FROM invoices) SELECT * FROM due FOR UPDATE",),
        ("SELECT pg_advisory_xact_lock(7645, 7)", "SAVEPOINT sa_1", "RELEASE SAVEPOINT sa_1"),
        ("(SELECT id FROM invoices LIMIT 1) UNION (SELECT id FROM invoices LIMIT 1)",),
    ],
    ids=[
        "a read",
        "a row locked",
        "a WITH read",
        "an advisory lock and a savepoint",
        "a compound read",
    ],
)
def test_a_unit_of_work_that_wrote_nothing_does_not_stop_the_call_running_again(
    statements: tuple[str, ...],
) -> None:
    # The base: any commit stopped it (an `Idempotency-Key` looked up first: a 503).
    tries, call = _losing(times=1, before=_committed_after(*statements))

    assert db.retrying(call) == "done"
    assert tries == [1, 2]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO audit_events (action) VALUES ('x')",
        "delete from idempotent_requests where id = 1",
        "WITH gone AS (DELETE FROM outbox RETURNING id) SELECT count(*) FROM gone",
        "DO $$ BEGIN PERFORM 1; END $$",
    ],
    ids=["an insert", "a delete", "a WITH that deletes", "anything not known to read"],
)
def test_a_unit_of_work_that_wrote_anything_stops_it(statement: str) -> None:
    tries, call = _losing(times=1, before=_committed_after(statement))

    with pytest.raises(db.Contended):
        db.retrying(call)
    assert tries == [1]


def test_a_unit_of_work_that_says_its_writes_are_repeatable_does_not_stop_it() -> None:
    deletes = "DELETE FROM idempotent_requests WHERE created_at <= '2026-12-05'"
    tries, call = _losing(times=1, before=_committed_after(deletes, repeatable=True))

    assert db.retrying(call) == "done"
    assert tries == [1, 2]


def test_a_write_rolled_back_is_forgotten_before_the_next_commit() -> None:
    def rolled_back_then_read() -> None:
        _ran("UPDATE organizations SET legal_name = 'x' WHERE id = 1")
        db._note_rolled_back()
        _committed_after("SELECT 1")()

    tries, call = _losing(times=1, before=rolled_back_then_read)

    assert db.retrying(call) == "done"
    assert tries == [1, 2]


@dataclass
class _Run:
    done: list[str] = field(default_factory=list)
    count: int = 0


def test_a_batch_job_s_row_run_again_is_counted_once() -> None:
    run, named = _Run(), ["earlier row"]
    tries: list[int] = []

    def row() -> str:
        tries.append(1)
        run.done.append("APP-000001")
        run.count += 1
        named.append("APP-000001")
        if len(tries) == 1:
            raise _lost()
        return "done"

    assert db.retried_unit(row, keeping=(run, named)) == "done"
    assert tries == [1, 1]
    assert run == _Run(["APP-000001"], 1)
    assert named == ["earlier row", "APP-000001"]


def test_a_retrying_call_inside_another_tells_it_what_went_out() -> None:
    # A batch job's row (`retried_unit`) run from a request: the row's email went to the
    # SMTP server, so the request is not run again whole after a later deadlock.
    outer: list[int] = []

    def request() -> str:
        outer.append(1)
        db.retried_unit(lambda: db.went_outside("the SMTP server"))
        raise _lost()

    with pytest.raises(db.Contended):
        db.retrying(request)
    assert outer == [1]


def _away() -> OperationalError:
    return _lost("57P01")  # admin_shutdown: the server stopped under the call


def test_the_database_away_after_a_unit_committed_or_stripe_was_asked_says_part_was_done() -> None:
    """Round 61 (outage61b): the 503 of the database away said "nothing of it was
    saved" even when a unit of the request had committed, or Stripe had been asked."""

    def committed_then_away() -> None:
        db._note_write(None, None, "INSERT INTO refunds ...", {}, None, False)
        db._note_committed(repeatable=False)
        raise _away()

    def asked_stripe_then_away() -> None:
        db.went_outside("Stripe")
        raise _away()

    def away_at_once() -> None:
        db._note_write(None, None, "INSERT INTO refunds ...", {}, None, False)
        raise _away()  # written, not committed: rolled back

    for call, done in (
        (committed_then_away, True),
        (asked_stripe_then_away, True),
        (away_at_once, False),
    ):
        with pytest.raises(OperationalError) as raised:
            db.retrying(call)
        assert db.done_before(raised.value) is done, call.__name__
