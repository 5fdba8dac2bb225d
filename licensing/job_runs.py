"""The last run of each periodic job (round 33): one row a job, written as a run
starts and as it ends, by the worker and by the same command run from cron.
`/readyz` and `licensing jobs status` read it to say which job has not succeeded
as often as its schedule says (docs/operations.md, "Jobs not run lately").

Several hosts may run the same job at once: each write is one upsert
(`INSERT ... ON CONFLICT (job) DO UPDATE`, on PostgreSQL and SQLite alike), so two
runs never conflict on the row; the last to finish writes its outcome, and a
success's time only ever moves forward (the later of the two is kept)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, String, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from licensing import calendar, db, log_context
from licensing.db import Base, UTCDateTime

log = logging.getLogger("licensing.job_runs")

# An outcome is the job's closing line; long ones (a traceback's message) are cut.
OUTCOME_LENGTH = 500
# A run's id: `log_context.new_run_id`'s twelve hex digits.
RUN_ID_LENGTH = 12


class JobRun(Base):
    """A job's last start, finish and outcome, and when it last succeeded."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    # When this job was first recorded: a job never run counts as late only once
    # the jobs have been recorded for longer than its schedule allows.
    first_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_ok: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    last_outcome: Mapped[str | None] = mapped_column(String(OUTCOME_LENGTH), default=None)
    last_succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The last run's id (round 42: operations_0002), as its log lines carry it
    # (`run_id`, licensing.log_context): set as a run starts, and again as a run
    # ends, so that with the outcome it names the run whose outcome it is.
    last_run_id: Mapped[str | None] = mapped_column(String(RUN_ID_LENGTH), default=None)


def _upsert(session: Session, values: dict[str, Any], updates: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(JobRun).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobRun.job],
            set_={name: update(statement.excluded) for name, update in updates.items()},
        )
    )


def started(job: str, at: datetime, run_id: str | None = None) -> None:
    """A run of `job` begins (its own transaction); `run_id` is its log lines'."""
    with db.transaction() as session:
        _upsert(
            session,
            {"job": job, "first_started_at": at, "last_started_at": at, "last_run_id": run_id},
            {
                "last_started_at": lambda new: new.last_started_at,
                "last_run_id": lambda new: new.last_run_id,
            },
        )


def finished(job: str, at: datetime, *, ok: bool, outcome: str, run_id: str | None = None) -> None:
    """A run of `job` ends, `ok` or not, with its closing line (own transaction);
    `run_id` is its log lines', kept with the outcome it belongs to."""
    outcome = outcome[:OUTCOME_LENGTH]
    with db.transaction() as session:
        _upsert(
            session,
            {
                "job": job,
                "first_started_at": at,
                "last_started_at": at,
                "last_finished_at": at,
                "last_ok": ok,
                "last_outcome": outcome,
                "last_succeeded_at": at if ok else None,
                "last_run_id": run_id,
            },
            {
                "last_run_id": lambda new: new.last_run_id,
                "last_finished_at": lambda new: new.last_finished_at,
                "last_ok": lambda new: new.last_ok,
                "last_outcome": lambda new: new.last_outcome,
                # Kept unless this run succeeded later than the one recorded.
                "last_succeeded_at": lambda new: case(
                    (
                        new.last_ok
                        & (
                            JobRun.last_succeeded_at.is_(None)
                            | (JobRun.last_succeeded_at < new.last_finished_at)
                        ),
                        new.last_finished_at,
                    ),
                    else_=JobRun.last_succeeded_at,
                ),
            },
        )


def record_finish(job: str, at: datetime, *, ok: bool, outcome: str) -> None:
    """The run's end, with the run id of the log context it runs in."""
    try:
        finished(job, at, ok=ok, outcome=outcome, run_id=_run_id())
    except SQLAlchemyError as error:
        log.warning("job runs: the end of %s was not recorded: %s", job, type(error).__name__)


def record_start(job: str, at: datetime) -> None:
    """The run's start, with the run id of the log context it runs in."""
    try:
        started(job, at, _run_id())
    except SQLAlchemyError as error:
        log.warning("job runs: the start of %s was not recorded: %s", job, type(error).__name__)


def _run_id() -> str | None:
    """The run id this run's log lines carry (`log_context.run`), if any."""
    return log_context.fields().get("run_id")


@dataclass(frozen=True)
class Late:
    """A job whose last success is older than its schedule allows."""

    job: str
    every: timedelta
    last_succeeded_at: datetime | None  # None: never succeeded (or never ran)
    # When it became late: its last success (or its first record, or the jobs'
    # first record for one never run) plus its interval and the grace.
    since: datetime | None = None
    # Its last run's id (round 42), as that run's log lines carry it, if recorded.
    run_id: str | None = None

    def text(self) -> str:
        when = (
            f"last succeeded at {_instant(self.last_succeeded_at)}"
            if self.last_succeeded_at is not None
            else "has not succeeded since the jobs were first recorded"
        )
        run = f" (last run {self.run_id})" if self.run_id else ""
        return f"{self.job} (every {every_words(self.every)}) {when}{run}"

    def log_text(self) -> str:
        """`text()` and since when the job has been late (the log's line)."""
        since = f", late since {_instant(self.since)}" if self.since is not None else ""
        return self.text() + since


@dataclass(frozen=True)
class Failed:
    """A job whose last run failed, though its last success may be recent: a job
    failing every other run is never late, and was seen nowhere but the log."""

    job: str
    every: timedelta
    failed_at: datetime
    last_succeeded_at: datetime | None
    # The failed run's id (round 42), as its log lines carry it, if recorded.
    run_id: str | None = None

    def text(self) -> str:
        since = (
            f"last succeeded at {_instant(self.last_succeeded_at)}"
            if self.last_succeeded_at is not None
            else "never succeeded"
        )
        run = f" (run {self.run_id})" if self.run_id else ""
        return (
            f"{self.job} (every {every_words(self.every)}) last run failed at "
            f"{_instant(self.failed_at)}{run}, {since}"
        )

    def log_text(self) -> str:
        """The log's line says what `/readyz` says: since when is in `text()`."""
        return self.text()


def _instant(moment: datetime) -> str:
    """As the API writes an instant in a sentence (round 44: `...Z` before)."""
    return calendar.instant_iso(moment, to_the_second=True)


def every_words(interval: timedelta) -> str:
    """A job's interval in words, as `/readyz` names it: "minute", "hour", "day"."""
    for unit, name in ((timedelta(days=1), "day"), (timedelta(hours=1), "hour")):
        if interval % unit == timedelta(0):
            count = interval // unit
            return name if count == 1 else f"{count} {name}s"
    minutes = int(interval.total_seconds() // 60)
    return "minute" if minutes == 1 else f"{minutes} minutes"


def rows(session: Session) -> dict[str, JobRun]:
    return {row.job: row for row in session.scalars(select(JobRun).order_by(JobRun.job))}


def failing(
    session: Session,
    schedule: Sequence[tuple[str, timedelta]],
    *,
    besides: Sequence[Late] = (),
    found: Mapping[str, JobRun] | None = None,
) -> list[Failed]:
    """The jobs of `schedule` whose last finished run failed, but those named
    in `besides` (late already, which says more); from the rows `found` when
    given (`rows`: one read for a page that shows them too)."""
    found = rows(session) if found is None else found
    named = {job.job for job in besides}
    failed: list[Failed] = []
    for job, every in schedule:
        row = found.get(job)
        if row is None or row.last_ok is not False or job in named:
            continue
        ended = row.last_finished_at or row.last_started_at  # an outcome comes with its end
        failed.append(Failed(job, every, ended, row.last_succeeded_at, row.last_run_id))
    return failed


def late(
    session: Session,
    schedule: Sequence[tuple[str, timedelta]],
    now: datetime,
    grace: timedelta,
    found: Mapping[str, JobRun] | None = None,
) -> list[Late]:
    """The jobs of `schedule` (name, interval) whose last success is older than
    their interval plus `grace`. A job never recorded counts only once some job
    has been recorded for longer than that (a fresh install is not late; a
    crontab missing a job's line is, once the others have run that long). From
    the rows `found` when given (`rows`), else read here: one query either way,
    the jobs' first record being the earliest of every row's."""
    found = rows(session) if found is None else found
    first = min((row.first_started_at for row in found.values()), default=None)
    overdue: list[Late] = []
    for job, every in schedule:
        allowed = every + grace
        row = found.get(job)
        if row is None:
            if first is not None and now - first > allowed:
                overdue.append(Late(job, every, None, first + allowed))
            continue
        since = row.last_succeeded_at or row.first_started_at
        if now - since > allowed:
            overdue.append(
                Late(job, every, row.last_succeeded_at, since + allowed, row.last_run_id)
            )
    return overdue
