"""`licensing worker`: every periodic job on its schedule, without cron.

Each job is a service function that is already idempotent and claims its rows
(SKIP LOCKED on PostgreSQL, the write lock on SQLite), so any number of workers
may run against one database: they only share out the rows. A job runs in an
app context of its own (a fresh session each time); a job that raises is
logged and tried again at its next turn, and the other jobs carry on.

The schedule lives in this process, so a worker runs every job as soon as it
starts and then at each job's interval. What a job calls, with which settings,
is its command's job function in the feature's `cli.py` (`royalties.cli.remind_due`),
so operators who prefer cron run the very same calls through the commands
(`licensing outbox send`, ...).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

from flask import Flask

from licensing.agreements import cli as agreements
from licensing.billing import cli as billing
from licensing.config import Config
from licensing.mail import cli as mail
from licensing.permissions import cli as permissions
from licensing.royalties import cli as royalties

log = logging.getLogger("licensing.worker")

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Job:
    """A periodic job: what it is called (its CLI command), how often, and what runs."""

    name: str
    every: timedelta
    run: Callable[[], object]
    # Why the job has nothing to do under this configuration, or None.
    skip_reason: Callable[[Config], str | None] = lambda _config: None


# Each job is its command's (the feature's cli.py says what it calls, with which
# settings); here only how the worker's log words two of them.
def _reconcile_payments() -> object:
    return "; ".join(str(report) for report in billing.reconcile_due())


def _prune_idempotency_keys() -> object:
    return f"{billing.prune_due()} pruned"


def _needs_stripe(config: Config) -> str | None:
    return None if config.stripe_enabled else "card payments are not configured"


JOBS: tuple[Job, ...] = (
    Job("outbox send", MINUTE, mail.send_due),
    Job("applications expire", HOUR, agreements.expire_due),
    Job("permissions expire", HOUR, permissions.expire_due),
    Job("payments reconcile", HOUR, _reconcile_payments, _needs_stripe),
    Job("payments prune-keys", HOUR, _prune_idempotency_keys),
    Job("reports remind", HOUR, royalties.remind_due),
    Job("invoices overdue", DAY, billing.overdue_due),
)


def _every(interval: timedelta) -> str:
    for unit, name in ((DAY, "day"), (HOUR, "hour"), (MINUTE, "minute")):
        if interval % unit == timedelta(0):
            count = interval // unit
            return f"every {name}" if count == 1 else f"every {count} {name}s"
    return f"every {interval.total_seconds():g} seconds"


@dataclass(frozen=True)
class Run:
    """One run of one job, as logged."""

    job: str
    outcome: str
    ok: bool
    seconds: float


class Worker:
    """Runs each job when it is due, by a monotonic clock (immune to clock changes)."""

    def __init__(
        self,
        app: Flask,
        jobs: Sequence[Job] = JOBS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.jobs = tuple(jobs)
        self.clock = clock
        self.stopping = threading.Event()
        start = clock()
        self.next_due = {job.name: start for job in self.jobs}

    def run_due(self) -> list[Run]:
        """Run, once each, the jobs that are due now; schedule their next turn."""
        runs = []
        for job in self.jobs:
            if self.stopping.is_set():
                break
            if self.clock() >= self.next_due[job.name]:
                runs.append(self._run(job))
                self.next_due[job.name] = self.clock() + job.every.total_seconds()
        return runs

    def seconds_to_next(self) -> float:
        return max(min(self.next_due.values()) - self.clock(), 0.0)

    def run_forever(self, *, parent_pid: int | None = None) -> None:
        """Until `stop()` (SIGTERM, SIGINT) or, with `parent_pid`, until that
        process is gone (a worker started by `licensing serve` dies with it)."""
        log.info("worker started: %s", "; ".join(f"{j.name} {_every(j.every)}" for j in self.jobs))
        while not self.stopping.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("worker: the server that started it has gone; stopping")
                break
            self.run_due()
            # Wake at least every few seconds to notice a parent that died.
            self.stopping.wait(min(self.seconds_to_next(), 5.0))
        log.info("worker stopped")

    def stop(self, *_signal: int | FrameType | None) -> None:
        """Finish the job in hand, then stop (signal handler)."""
        self.stopping.set()

    def handle_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _run(self, job: Job) -> Run:
        started = time.monotonic()
        with self.app.app_context():
            skipped = job.skip_reason(self.app.config["LICENSING"])
            if skipped:
                outcome, ok = f"skipped: {skipped}", True
            else:
                try:
                    outcome, ok = str(job.run()), True
                except Exception as error:  # logged; the job runs again at its next turn
                    log.exception("worker: %s failed", job.name)
                    outcome, ok = f"failed: {type(error).__name__}: {error}", False
        run = Run(job.name, outcome, ok, time.monotonic() - started)
        log.log(
            logging.INFO if ok else logging.ERROR,
            "worker: %s: %s (%.2f s)",
            run.job,
            run.outcome,
            run.seconds,
        )
        return run
