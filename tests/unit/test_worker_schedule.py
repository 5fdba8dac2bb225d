"""The worker's schedule: each job runs when due, again after its interval, and a
failing job is logged without stopping the others."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from flask import Flask

from licensing.commands import GROUPS
from licensing.config import Config
from licensing.worker import JOBS, Job, Worker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _app() -> Flask:
    app = Flask("worker-test")
    app.config["LICENSING"] = Config(secret_key="k", environment="testing")
    return app


def _recording(name: str, every: timedelta, ran: list[str]) -> Job:
    def run() -> str:
        ran.append(name)
        return f"{name} done"

    return Job(name, every, run)


def test_every_job_is_due_when_the_worker_starts_then_after_its_interval() -> None:
    ran: list[str] = []
    clock = FakeClock()
    worker = Worker(
        _app(),
        [
            _recording("minutely", timedelta(minutes=1), ran),
            _recording("hourly", timedelta(hours=1), ran),
        ],
        clock=clock,
    )
    assert [run.job for run in worker.run_due()] == ["minutely", "hourly"]
    clock.advance(59)
    assert worker.run_due() == []
    assert worker.seconds_to_next() == pytest.approx(1)
    clock.advance(1)
    assert [run.job for run in worker.run_due()] == ["minutely"]
    clock.advance(3600)
    assert [run.job for run in worker.run_due()] == ["minutely", "hourly"]
    assert ran == ["minutely", "hourly", "minutely", "minutely", "hourly"]


def test_a_failing_job_is_logged_and_the_other_jobs_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    def broken() -> str:
        raise RuntimeError("the database went away")

    worker = Worker(
        _app(),
        [Job("broken", timedelta(minutes=1), broken), _recording("fine", timedelta(hours=1), ran)],
        clock=FakeClock(),
    )
    with caplog.at_level(logging.INFO, logger="licensing.worker"):
        runs = worker.run_due()
    assert [(run.job, run.ok) for run in runs] == [("broken", False), ("fine", True)]
    assert ran == ["fine"]
    assert "worker: broken: failed: RuntimeError: the database went away" in caplog.text
    assert "worker: fine: fine done" in caplog.text


def test_a_stopped_worker_starts_no_further_job() -> None:
    ran: list[str] = []
    worker = Worker(_app(), [_recording("a", timedelta(minutes=1), ran)], clock=FakeClock())
    worker.stop()
    assert worker.run_due() == []
    worker.run_forever()  # returns at once
    assert ran == []


def test_the_schedule_is_the_one_operators_are_told_about() -> None:
    schedule = {job.name: job.every for job in JOBS}
    assert schedule == {
        "outbox send": timedelta(minutes=1),
        "applications expire": timedelta(hours=1),
        "permissions expire": timedelta(hours=1),
        "payments reconcile": timedelta(hours=1),
        "payments prune-keys": timedelta(hours=1),
        "payments match-disputes": timedelta(hours=1),
        "reports remind": timedelta(hours=1),
        "tokens remind": timedelta(hours=1),
        "statements send": timedelta(days=1),
        "invoices overdue": timedelta(days=1),
        "users prune-browsers": timedelta(days=1),
    }


def test_every_job_is_a_command_operators_can_run_from_cron() -> None:
    commands = {f"{group} {c.name}" for group, (_, members) in GROUPS.items() for c in members}
    assert {job.name for job in JOBS} <= commands


def test_no_job_runs_while_the_database_lacks_a_migration_and_every_job_runs_once_it_has_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []
    clock = FakeClock()
    missing = ["billing_0013"]
    worker = Worker(
        _app(),
        [_recording("daily", timedelta(days=1), ran)],
        clock=clock,
        schema_behind=lambda: tuple(missing),
    )
    with caplog.at_level(logging.INFO, logger="licensing.worker"):
        assert worker.run_due() == []
    assert ran == []
    assert "the database lacks revision(s) billing_0013: run `licensing db upgrade`" in caplog.text
    assert worker.seconds_to_next() == pytest.approx(60)  # looked at again in a minute
    clock.advance(30)
    assert worker.run_due() == []
    missing.clear()  # the operator ran `licensing db upgrade`
    clock.advance(30)
    assert [run.job for run in worker.run_due()] == ["daily"]  # not a day later
    assert worker.seconds_to_next() == pytest.approx(86400)


def _documented_jobs() -> dict[str, str]:
    """docs/operations.md's table of periodic jobs: each command and its interval."""
    from licensing.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    table = text.split("| job (same as the command) | every | several hosts |", 1)[1]
    rows: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("| `"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        assert len(cells) == 5, line  # job, every, several hosts, prints, a failure
        assert all(cells), line
        rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_operators_table_lists_every_scheduled_job_with_its_interval() -> None:
    """Round 31: one table says what each job does, how often, whether it is safe on
    several hosts, what it prints and what a failure looks like."""
    words = {timedelta(minutes=1): "minute", timedelta(hours=1): "hour", timedelta(days=1): "day"}
    assert _documented_jobs() == {job.name: words[job.every] for job in JOBS}


def test_the_crontab_example_runs_every_scheduled_job() -> None:
    from licensing.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    crontab = text.split("```cron", 1)[1].split("```", 1)[0]
    for job in JOBS:
        assert f"$L {job.name} " in crontab, job.name


def test_the_crontab_example_runs_each_job_as_often_as_the_worker_does() -> None:
    """Round 50: each crontab line's schedule is the job's interval (`*` minutes: every
    minute; a minute and `*` hours: hourly; a minute and an hour: daily), so cron and the
    worker keep the same schedule, as the page says."""
    from licensing.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    crontab = text.split("```cron", 1)[1].split("```", 1)[0]
    every = {}
    for line in crontab.splitlines():
        fields = line.split()
        if len(fields) < 6 or "$L" not in fields:
            continue
        command = " ".join(fields[fields.index("$L") + 1 :][:2])
        minute, hour, day, month, weekday = fields[:5]
        assert (day, month, weekday) == ("*", "*", "*"), line
        if minute == "*":
            every[command] = timedelta(minutes=1)
        elif hour == "*":
            every[command] = timedelta(hours=1)
        else:
            every[command] = timedelta(days=1)
    assert every == {job.name: job.every for job in JOBS}
