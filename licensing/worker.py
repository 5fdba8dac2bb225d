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

`kill -HUP` restarts the worker on the code and configuration on disk, after the
job in hand: the process checks them in a fresh interpreter (`worker --check`),
then replaces itself (same process id) with its own command line in the
environment it started with, so an `--env-file` is read again. Should the check
fail, the worker logs why and carries on with what it runs. TERM still stops it
after the job in hand, and wins over a reload asked for before it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Literal, NoReturn, Protocol

from flask import Flask

from licensing import db, job_runs, log_context, start_check
from licensing.accounts import cli as accounts
from licensing.agreements import cli as agreements
from licensing.billing import cli as billing
from licensing.config import Config
from licensing.mail import cli as mail
from licensing.permissions import cli as permissions
from licensing.royalties import cli as royalties
from licensing.web import health

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
# settings); here only how the worker's log words three of them.
def _reconcile_payments() -> object:
    return billing.reconcile_summary(billing.reconcile_due())


def _prune_idempotency_keys() -> object:
    return billing.prune_summary(billing.prune_due())  # as the command says it


def _match_disputes() -> object:
    return billing.match_due().summary()


def _send_statements() -> object:
    return billing.statements_send_due().summary()


JOBS: tuple[Job, ...] = (
    Job("outbox send", MINUTE, mail.send_due),
    Job("applications expire", agreements.RUNS_EVERY, agreements.expire_due),
    Job("permissions expire", HOUR, permissions.expire_due),
    Job("payments reconcile", HOUR, _reconcile_payments, billing.without_stripe),
    Job("payments prune-keys", HOUR, _prune_idempotency_keys),
    Job("payments match-disputes", HOUR, _match_disputes, billing.without_stripe),
    Job("reports remind", HOUR, royalties.remind_due),
    Job("tokens remind", HOUR, accounts.remind_expiring),
    # Daily, not monthly: the first run after a month's end sends its statements,
    # and the later ones send none again (nor any but those a late entry made due).
    Job("statements send", DAY, _send_statements),
    Job("invoices overdue", DAY, billing.overdue_due),
    Job("users prune-browsers", DAY, accounts.prune_browsers_due),
)


SCHEDULE: tuple[tuple[str, timedelta], ...] = tuple((job.name, job.every) for job in JOBS)


def late_jobs(
    config: Config, found: Mapping[str, job_runs.JobRun] | None = None
) -> list[job_runs.Late]:
    """The periodic jobs whose last success is older than their schedule allows
    (`JOB_GRACE_MINUTES` beyond their interval); in an app context. From the
    records `found` when given (`job_runs.rows`)."""
    grace = timedelta(minutes=config.job_grace_minutes)
    return job_runs.late(db.session(), SCHEDULE, db.utcnow(), grace, found)


def failing_jobs(
    late: Sequence[job_runs.Late], found: Mapping[str, job_runs.JobRun] | None = None
) -> list[job_runs.Failed]:
    """The periodic jobs whose last run failed, but the `late` ones (named already)."""
    return job_runs.failing(db.session(), SCHEDULE, besides=late, found=found)


@dataclass(frozen=True)
class Trouble:
    """What `/readyz` says of the jobs when some are late or failing."""

    state: Literal["late", "failing"]
    late: Sequence[job_runs.Late]
    failed: Sequence[job_runs.Failed]

    @property
    def detail(self) -> str:
        return "; ".join(job.text() for job in self.named)

    @property
    def named(self) -> tuple[job_runs.Late | job_runs.Failed, ...]:
        """Each job late or failing, the late first, as `detail` names them."""
        return (*self.late, *self.failed)

    @property
    def since(self) -> datetime | None:
        """When the longest-standing of them became late or failed."""
        moments = [
            *(job.since for job in self.late if job.since is not None),
            *(job.failed_at for job in self.failed),
        ]
        return min(moments, default=None)

    @property
    def log_detail(self) -> str:
        """The detail with since when each job is late (the log's line)."""
        return "; ".join(job.log_text() for job in self.named)

    @property
    def key(self) -> frozenset[tuple[str, str]]:
        """Which job is late and which failing: what a change of state changes."""
        return frozenset(
            [
                *((job.job, "late") for job in self.late),
                *((job.job, "failing") for job in self.failed),
            ]
        )


def _jobs_trouble(
    config: Config, found: Mapping[str, job_runs.JobRun] | None = None
) -> Trouble | None:
    found = job_runs.rows(db.session()) if found is None else found  # one read for both
    late = late_jobs(config, found)
    failed = failing_jobs(late, found)
    if not late and not failed:
        return None
    return Trouble("late" if late else "failing", late, failed)


# What `jobs status` and the console's Jobs page say of a run that has a start and
# no end after it: still going, or its process ended before it could record one.
UNFINISHED = "running or stopped before it finished"


@dataclass(frozen=True)
class JobStatus:
    """One periodic job as `licensing jobs status` and the console's Jobs page
    (round 44) show it: its record (None: never run), and what `/readyz` says of
    it when it is late or failing (`trouble`, whose `text()` is `jobs_detail`'s)."""

    name: str
    every: timedelta
    record: job_runs.JobRun | None
    trouble: job_runs.Late | job_runs.Failed | None

    @property
    def every_words(self) -> str:
        return job_runs.every_words(self.every)

    @property
    def state(self) -> Literal["late", "failing", "never run", "ok"]:
        if isinstance(self.trouble, job_runs.Late):
            return "late"
        if isinstance(self.trouble, job_runs.Failed):
            return "failing"
        return "never run" if self.record is None else "ok"

    @property
    def last_run(self) -> str | None:
        """How its last run ended, in the runs' words (`job_runs.OUTCOMES`): `ok`,
        `failed`, or `unfinished` while its last start has no end; None: never run."""
        if self.record is None:
            return None
        if not self.finished:
            return "unfinished"
        return "ok" if self.record.last_ok else "failed"

    @property
    def finished(self) -> bool:
        """Whether its last start has an end recorded after it (else `UNFINISHED`)."""
        record = self.record
        return (
            record is not None
            and record.last_finished_at is not None
            and record.last_finished_at >= record.last_started_at
        )


def jobs_overview(config: Config) -> tuple[list[JobStatus], Trouble | None]:
    """Every job of the schedule, in its order, with what `/readyz` says of those
    late or failing, from one read of their records; in an app context."""
    found = job_runs.rows(db.session())
    trouble = _jobs_trouble(config, found)
    named = {job.job: job for job in trouble.named} if trouble is not None else {}
    statuses = [
        JobStatus(name, every, found.get(name), named.get(name)) for name, every in SCHEDULE
    ]
    return statuses, trouble


# The Jobs page's and `GET /api/v1/jobs`' filters (round 49): a job's state (the
# words the page and the API show: `late` is overdue) and how its last run ended.
JOB_STATES = ("ok", "late", "failing", "never run")
JOB_FILTERS = {"state": JOB_STATES, "last_run": tuple(job_runs.OUTCOMES)}


def jobs_where(
    statuses: Sequence[JobStatus], state: str | None = None, last_run: str | None = None
) -> list[JobStatus]:
    """The jobs of `statuses` in `state` (one of `JOB_STATES`) and whose last run
    ended so (`last_run`, one of `job_runs.OUTCOMES`), in the schedule's order;
    None (or empty): any. `last_run=failed` holds a late job whose last run failed,
    which `state` names `late` (round 34: late says more)."""
    for name, value in (("state", state), ("last_run", last_run)):
        if value and value not in JOB_FILTERS[name]:
            raise ValueError(f"no {name} {value!r}")
    return [
        job
        for job in statuses
        if (not state or job.state == state) and (not last_run or job.last_run == last_run)
    ]


class ReadinessLog:
    """What this process's `/readyz` last said of the jobs, so that a degraded
    answer is logged once when it begins or changes (which jobs are late or
    failing), and once when it ends, not on every probe (round 42: a probe every
    few seconds would fill the log; before, a degraded answer logged its line on
    every probe under its request id). One per app: each server process logs the
    changes it sees."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.said: frozenset[tuple[str, str]] = frozenset()

    def changed(self, now: frozenset[tuple[str, str]]) -> frozenset[tuple[str, str]] | None:
        """The state said before, when `now` differs from it (and is now said)."""
        with self.lock:
            before, self.said = self.said, now
        return before if before != now else None


_READINESS_LOG = "licensing.jobs_readiness_log"


@health.readiness_note
def jobs_readiness() -> dict[str, str]:
    """`jobs: ok`; or `late` (a job not succeeded within its schedule) or
    `failing` (a job whose last run failed, its last success recent: round 34),
    with `status: degraded` and each job named. The instance still takes traffic
    (200): it serves requests; the jobs run elsewhere (docs/operations.md, "What
    to watch and alert on"). A change of state is logged once, under the probe's
    request id (`ReadinessLog`)."""
    from flask import current_app

    said: ReadinessLog = current_app.extensions.setdefault(_READINESS_LOG, ReadinessLog())
    trouble = _jobs_trouble(current_app.config["LICENSING"])
    before = said.changed(frozenset() if trouble is None else trouble.key)
    if trouble is None:
        if before:
            current_app.logger.info(
                "readiness check: jobs ok again, no job late or failing (were %s)",
                _named(before),
            )
        return {"jobs": "ok"}
    if before is not None:
        current_app.logger.warning(
            "readiness check: degraded, jobs %s: %s", trouble.state, trouble.log_detail
        )
    return {"status": "degraded", "jobs": trouble.state, "jobs_detail": trouble.detail}


def _named(state: frozenset[tuple[str, str]]) -> str:
    """`late: tokens remind; failing: outbox send`, in the schedule's order."""
    order = {name: n for n, (name, _every) in enumerate(SCHEDULE)}
    parts = []
    for kind in ("late", "failing"):
        jobs = sorted((job for job, k in state if k == kind), key=lambda j: order.get(j, 99))
        if jobs:
            parts.append(f"{kind}: {', '.join(jobs)}")
    return "; ".join(parts)


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


# Where `licensing.cli` leaves, in the click context's `meta`, the environment the
# process started with (before `--env-file` added to it): what a reload runs in.
STARTING_ENVIRONMENT = "licensing.starting_environment"


class Restarter(Protocol):
    def refused(self) -> str | None: ...

    def exec(self) -> NoReturn: ...


@dataclass(frozen=True)
class Restart:
    """How a worker starts again on HUP: its own command line (`sys.orig_argv`,
    the interpreter's options included), in the environment it started with.

    That environment is the one before `--env-file` read its file: the file's
    variables never replace ones already set, so a process that kept them would
    read the old values again rather than the file as it is now."""

    argv: tuple[str, ...]
    environment: Mapping[str, str]
    check_seconds: float = 300.0  # a check that hangs (a database lock) is a refusal

    @classmethod
    def of_this_process(cls, environment: Mapping[str, str]) -> Restart:
        return cls((sys.executable, *sys.orig_argv[1:]), dict(environment))

    def refused(self) -> str | None:
        """Why the code or configuration on disk would not start, or None: a fresh
        interpreter creates the app with them (`worker --check`) first, so a typo
        in a module or the environment file keeps the running worker alive."""
        return start_check.refused(
            [*self.argv, "--check"], self.environment, timeout=self.check_seconds
        )

    def exec(self) -> NoReturn:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(self.argv[0], list(self.argv), dict(self.environment))  # noqa: S606


# While the database lacks a migration the code needs, the worker runs no job and
# looks again this often (seconds): `licensing db upgrade` is a minute's work.
SCHEMA_RECHECK_SECONDS = 60.0


class Worker:
    """Runs each job when it is due, by a monotonic clock (immune to clock changes).

    With `schema_behind` (the `worker` command passes the database's), no job runs
    while it names migrations the database lacks: the worker says so and looks
    again every minute, and the jobs run as soon as the database has them. Before,
    new code started ahead of `licensing db upgrade` ran every job against the old
    schema: the daily ones failed on a missing table, with a traceback, and were
    next tried a day later."""

    def __init__(
        self,
        app: Flask,
        jobs: Sequence[Job] = JOBS,
        *,
        clock: Callable[[], float] = time.monotonic,
        schema_behind: Callable[[], Sequence[str]] | None = None,
        record_runs: bool = False,
    ) -> None:
        self.app = app
        # Each run's start, end and outcome in `job_runs` (the `worker` command's).
        self.record_runs = record_runs
        self.jobs = tuple(jobs)
        self.clock = clock
        self.schema_behind = schema_behind
        # The migrations the database lacked at the last look (none: jobs run).
        self.waiting_for: tuple[str, ...] = ()
        self.recheck_at = 0.0
        # What a signal asked for: stop (TERM, INT) or restart (HUP), after the job in hand.
        self.wanted: Literal["stop", "reload"] | None = None
        self.wake = threading.Event()  # wakes the wait between jobs
        start = clock()
        self.next_due = {job.name: start for job in self.jobs}

    def run_due(self) -> list[Run]:
        """Run, once each, the jobs that are due now; schedule their next turn."""
        runs: list[Run] = []
        if self._waiting_for_migrations():
            return runs
        for job in self.jobs:
            if self.wanted is not None:
                break
            if self.clock() >= self.next_due[job.name]:
                runs.append(self._run(job))
                self.next_due[job.name] = self.clock() + job.every.total_seconds()
        return runs

    def seconds_to_next(self) -> float:
        if self.waiting_for:
            return max(self.recheck_at - self.clock(), 0.0)
        return max(min(self.next_due.values()) - self.clock(), 0.0)

    def _waiting_for_migrations(self) -> bool:
        """True while the database lacks migrations this code needs (logged
        once a look, a look a minute); looked at only when a job is due."""
        now = self.clock()
        if self.schema_behind is None or not any(now >= due for due in self.next_due.values()):
            return False
        if self.waiting_for and now < self.recheck_at:
            return True
        with self.app.app_context():
            missing = tuple(self.schema_behind())
        if missing:
            from licensing.migrations import behind_message

            log.error(
                "worker: %s; no job runs until it has them (looked at again in %d s)",
                behind_message(missing),
                SCHEMA_RECHECK_SECONDS,
            )
            self.recheck_at = now + SCHEMA_RECHECK_SECONDS
        elif self.waiting_for:
            log.info("worker: the database has every migration now; the jobs run")
        self.waiting_for = missing
        return bool(missing)

    def run_forever(
        self, *, parent_pid: int | None = None, restart: Restarter | None = None
    ) -> None:
        """Until `stop()` (SIGTERM, SIGINT) or, with `parent_pid`, until that
        process is gone (a worker started by `licensing serve` dies with it).
        With `restart`, `reload()` (SIGHUP) replaces the process once the job in
        hand is done, unless the code or configuration on disk is refused."""
        log.info("worker started: %s", "; ".join(f"{j.name} {_every(j.every)}" for j in self.jobs))
        while self._run_until_signalled(parent_pid):
            if restart is None:
                break
            log.info("worker: reloading the code and configuration on disk")
            refused = restart.refused()
            if self.wanted != "reload":  # TERM came while the new code was checked
                break
            if refused is None:
                log.info("worker: restarting (pid %d)", os.getpid())
                restart.exec()
            log.error("worker: reload refused, carrying on as before: %s", refused)
            self.wanted = None
            self.wake.clear()
        log.info("worker stopped")

    def _run_until_signalled(self, parent_pid: int | None) -> bool:
        """Run the jobs as they fall due; True when a reload was asked for."""
        while self.wanted is None:
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("worker: the server that started it has gone; stopping")
                return False
            self.run_due()
            # Wake at least every few seconds to notice a parent that died.
            self.wake.wait(min(self.seconds_to_next(), 5.0))
        return self.wanted == "reload"

    def stop(self, *_signal: int | FrameType | None) -> None:
        """Finish the job in hand, then stop (signal handler)."""
        self.wanted = "stop"
        self.wake.set()

    def reload(self, *_signal: int | FrameType | None) -> None:
        """Finish the job in hand, then restart on the code on disk (signal
        handler); a stop asked for already stays a stop."""
        if self.wanted is None:
            self.wanted = "reload"
        self.wake.set()

    def handle_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, self.reload)

    def _run(self, job: Job) -> Run:
        """One run of the job; every line it logs (its own and this one's closing
        line) carries the job's name and a run id of its own (`log_context`)."""
        with log_context.run(job.name):
            return self._run_once(job)

    def _run_once(self, job: Job) -> Run:
        started = time.monotonic()
        with self.app.app_context():
            if self.record_runs:
                job_runs.record_start(job.name, db.utcnow())
            skipped = job.skip_reason(self.app.config["LICENSING"])
            if skipped:
                outcome, ok = f"skipped: {skipped}", True
            else:
                try:
                    outcome, ok = str(job.run()), True
                except Exception as error:  # logged; the job runs again at its next turn
                    log.exception("worker: %s failed", job.name)
                    outcome, ok = f"failed: {type(error).__name__}: {error}", False
            if self.record_runs:
                job_runs.record_finish(job.name, db.utcnow(), ok=ok, outcome=outcome)
        run = Run(job.name, outcome, ok, time.monotonic() - started)
        log.log(
            logging.INFO if ok else logging.ERROR,
            "worker: %s: %s (%.2f s)",
            run.job,
            run.outcome,
            run.seconds,
        )
        return run
