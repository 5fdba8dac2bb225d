"""Round 59 (locks59): `db.retrying` runs a call again after a deadlock or a
serialization failure, a bounded number of times, and only while nothing it did was
kept or went out of the process. The real deadlock, on PostgreSQL through a request:
tests/integration/test_deadlock_retried.py."""

from __future__ import annotations

from collections.abc import Callable

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


def test_a_call_with_a_unit_of_work_committed_before_the_one_lost_is_not_run_again() -> None:
    tries, call = _losing(times=1, before=db._note_committed)

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
    _tries, call = _losing(times=1, before=db._note_committed)

    with pytest.raises(db.Contended):
        db.retrying(call, before_again=lambda: steps.append("put back"))
    assert steps == []
