"""HUP on `licensing worker`: the job in hand finishes, then the worker restarts on
the code and configuration on disk; a refused check keeps it running; TERM still
stops it (the worker once ignored HUP: a new release needed a full restart)."""

from __future__ import annotations

import signal
import sys
from datetime import timedelta
from typing import NoReturn

import pytest
from flask import Flask

from licensing.config import Config
from licensing.worker import Job, Restart, Worker


class Restarted(Exception):
    """What the fake restart raises where the real one replaces the process."""


class FakeRestart:
    def __init__(self, refusals: list[str | None]) -> None:
        self.refusals = refusals
        self.checks = 0

    def refused(self) -> str | None:
        self.checks += 1
        return self.refusals.pop(0)

    def exec(self) -> NoReturn:
        raise Restarted


class RunningClock:
    """Every job is due at every look: the worker never waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 3600.0
        return self.now


def _app() -> Flask:
    app = Flask("worker-reload-test")
    app.config["LICENSING"] = Config(secret_key="k", environment="testing")
    return app


def _worker(steps: list[str], ran: list[str]) -> Worker:
    """A worker of two jobs; the first does, on each of its runs, the next step
    (`reload`, `stop`, `nothing`) as a signal arriving while it runs would."""
    worker: Worker

    def first() -> str:
        step = steps.pop(0)
        if step != "nothing":
            getattr(worker, step)()
        ran.append("first")
        return "done"

    def second() -> str:
        ran.append("second")
        return "done"

    worker = Worker(
        _app(),
        [Job("first", timedelta(minutes=1), first), Job("second", timedelta(minutes=1), second)],
        clock=RunningClock(),
    )
    return worker


def test_hup_during_a_job_finishes_that_job_then_restarts_without_starting_another() -> None:
    ran: list[str] = []
    restart = FakeRestart([None])
    worker = _worker(["nothing", "reload"], ran)
    with pytest.raises(Restarted):
        worker.run_forever(restart=restart)
    assert ran == ["first", "second", "first"]
    assert restart.checks == 1


def test_a_refused_reload_is_logged_and_the_worker_carries_on_with_its_jobs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []
    restart = FakeRestart(["SyntaxError: invalid syntax (pricing.py, line 12)"])
    worker = _worker(["reload", "stop"], ran)
    with caplog.at_level("INFO", logger="licensing.worker"):
        worker.run_forever(restart=restart)
    assert ran == ["first", "first"]
    assert (
        "worker: reload refused, carrying on as before: "
        "SyntaxError: invalid syntax (pricing.py, line 12)" in caplog.text
    )
    assert caplog.text.rstrip().endswith("worker stopped")


def test_term_after_hup_stops_the_worker_rather_than_restarting_it() -> None:
    worker = _worker([], [])
    worker.reload()
    worker.stop()
    worker.reload()
    restart = FakeRestart([None])
    worker.run_forever(restart=restart)  # returns: no restart
    assert restart.checks == 0


def test_the_worker_handles_hup_as_a_reload() -> None:
    worker = _worker([], [])
    handled = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.getsignal(number) for number in handled}
    try:
        worker.handle_signals()
        assert signal.getsignal(signal.SIGHUP) == worker.reload
        assert signal.getsignal(signal.SIGTERM) == worker.stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def test_a_check_that_fails_refuses_the_reload_with_its_last_line_of_error() -> None:
    failing = Restart(
        (sys.executable, "-c", "raise SystemExit('PERMISSION_SLA_DAYS: not a number')"), {}
    )
    assert failing.refused() == "PERMISSION_SLA_DAYS: not a number"
    assert Restart((sys.executable, "-c", "pass"), {}).refused() is None


def test_a_check_that_hangs_refuses_the_reload_rather_than_ending_the_worker() -> None:
    hanging = Restart((sys.executable, "-c", "import time; time.sleep(30)"), {}, check_seconds=0.5)
    refusal = hanging.refused()
    assert refusal is not None
    assert refusal.startswith("the check could not run: ")
    assert "timed out after 0.5 seconds" in refusal
