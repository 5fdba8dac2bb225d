"""The last run of each periodic job (round 33): one row a job, written as a run
starts and as it ends, by the worker and by the same command run from cron.
`/readyz` and `licensing jobs status` read it to say which job has not succeeded
as often as its schedule says (docs/operations.md, "Jobs not run lately").

Several hosts may run the same job at once: each write is one upsert
(`INSERT ... ON CONFLICT (job) DO UPDATE`, on PostgreSQL and SQLite alike), so two
runs never conflict on the row; the last to finish writes its outcome, and a
success's time only ever moves forward (the later of the two is kept).

Each job's recent runs are kept too (round 47, `job_run_history`): a row a run,
written as it starts and completed as it ends (found by its run id), the last
`HISTORY_RUNS` of each job, the older pruned in the transaction that records a
run. That transaction writes the job's `job_runs` row first, and its upsert locks
that row until the commit, so two hosts recording runs of one job take turns for
the history's insert and prune too: no two prunes of a job cross, and none counts
a row another has not committed."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Index, Integer, Select, String, case, delete, select, update
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
# The runs of each job its history keeps (round 47): the newest, by when they were
# recorded. Fifty days of a daily job, two days of an hourly one, fifty minutes of
# `outbox send`; at most 550 rows for the eleven jobs, however long they have run.
HISTORY_RUNS = 50


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


class PastRun(Base):
    """One run of a job (round 47): its start, its end with `ok` and the outcome
    (`summary`, the job's closing line as `job_runs` keeps it), and on failure the
    error's first line. A run still going, or stopped before it could record its
    end, has no end. `started_at` is None for a run whose start was not recorded
    with its run id (its end was)."""

    __tablename__ = "job_run_history"
    __table_args__ = (Index("ix_job_run_history_job_id", "job", "id"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(RUN_ID_LENGTH), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ok: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    summary: Mapped[str | None] = mapped_column(String(OUTCOME_LENGTH), default=None)
    error: Mapped[str | None] = mapped_column(String(OUTCOME_LENGTH), default=None)


# A kept run's outcome (round 48), what the runs page's and the API's `outcome`
# filter takes: it ended well, it failed, or it has no end (still running, or its
# process died first). The words are the runs page's.
OUTCOMES = {
    "ok": "ok",
    "failed": "failed",
    "unfinished": "running or stopped before it finished",
}


def outcome_of(run: PastRun) -> str:
    """`run`'s outcome, one of `OUTCOMES`."""
    if run.finished_at is None:
        return "unfinished"
    return "ok" if run.ok else "failed"


def history(job: str, outcome: str | None = None) -> Select[PastRun]:
    """`job`'s kept runs, the newest recorded first (the id: unique); with `outcome`
    (one of `OUTCOMES`), only those that ended so. At most `HISTORY_RUNS` rows a job
    are read through the (job, id) index, so the filter needs none of its own."""
    statement = select(PastRun).where(PastRun.job == job)
    if outcome == "unfinished":
        statement = statement.where(PastRun.finished_at.is_(None))
    elif outcome in ("ok", "failed"):
        statement = statement.where(
            PastRun.finished_at.is_not(None), PastRun.ok.is_(outcome == "ok")
        )
    elif outcome is not None:
        raise ValueError(f"no outcome {outcome!r}")
    return statement.order_by(PastRun.id.desc())


def _prune(session: Session, job: str) -> None:
    """Keep `job`'s newest `HISTORY_RUNS` runs: one read of the oldest kept id,
    one bounded `DELETE` of those before it (the job's row is locked: see above)."""
    oldest_kept = session.scalar(
        select(PastRun.id)
        .where(PastRun.job == job)
        .order_by(PastRun.id.desc())
        .offset(HISTORY_RUNS - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        session.execute(delete(PastRun).where(PastRun.job == job, PastRun.id < oldest_kept))


def first_line(text: str) -> str:
    """An error's first line (a traceback's message may run over several)."""
    return text.strip().splitlines()[0][:OUTCOME_LENGTH] if text.strip() else text


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
        if run_id is not None:  # its end finds it by the id (none: the end adds it)
            session.add(PastRun(job=job, run_id=run_id, started_at=at))
            session.flush()
            _prune(session, job)


def finished(
    job: str,
    at: datetime,
    *,
    ok: bool,
    outcome: str,
    run_id: str | None = None,
    error: str | None = None,
) -> None:
    """A run of `job` ends, `ok` or not, with its closing line (own transaction);
    `run_id` is its log lines', kept with the outcome it belongs to. Its history
    row (round 47) is the one its start added under `run_id`, else a new one; a
    failure keeps `error`'s first line (by default the outcome's, after `failed: `)."""
    if not ok:
        error = first_line(outcome.removeprefix("failed: ") if error is None else error)
    else:
        error = None
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
        ended = {"finished_at": at, "ok": ok, "summary": outcome, "error": error}
        if run_id is not None:
            found = session.execute(
                update(PastRun)
                .where(PastRun.job == job, PastRun.run_id == run_id)
                .values(**ended)
                .execution_options(synchronize_session=False)
            )
            if getattr(found, "rowcount", 0):
                return
        session.add(PastRun(job=job, run_id=run_id, **ended))
        session.flush()
        _prune(session, job)


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


# The closing line of the command run from cron in hand (round 48): one line kept,
# the last said, not the command's output (which may run to thousands of lines).
@dataclass
class Said:
    """What a periodic job's command said as it closed (`closing`): its line, and
    the exit status it ends an ok run with (round 49: `outbox send` exits 1 when
    mail is left to retry, a script's signal, while its run is ok, as the worker's)."""

    line: str | None = None
    ok_exit_status: int = 0


_CLOSING: ContextVar[Said | None] = ContextVar("job_closing_line", default=None)


@contextlib.contextmanager
def closing_line_kept() -> Iterator[Said]:
    """Around a periodic job's command run from cron (`commands._recorded_run`): it
    ends holding the closing line its command said (`closing`), if it said one."""
    kept = Said()
    token = _CLOSING.set(kept)
    try:
        yield kept
    finally:
        _CLOSING.reset(token)


def closing(line: str, *, ok_exit_status: int = 0) -> str:
    """`line`, the job's closing line, the one the worker records for its run (its
    job function's result in words): a periodic job's command says it through here
    as it prints it, so that its run from cron records it too, not `exit status N`.
    `ok_exit_status`: the status the command exits with next while its run is ok
    (round 49), so that the run from cron is recorded ok with the worker's line.
    Outside such a run (the worker, a test), only `line` back."""
    kept = _CLOSING.get()
    if kept is not None:
        kept.line = line[:OUTCOME_LENGTH]
        kept.ok_exit_status = ok_exit_status
    return line


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
