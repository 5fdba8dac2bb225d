"""Round 33: what an operator still met. `licensing run` in production, log lines
without a time of their own, Flask-Limiter's line naming the client's address."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update

from licensing import db, job_runs, log_context, serving
from licensing.calendar import instant_iso
from licensing.cli import main
from licensing.job_runs import JobRun
from licensing.worker import MINUTE, SCHEDULE, Job, Worker
from tests.support.checkout import PROJECT_ROOT, this_checkout
from tests.support.settings import production_environment


def _served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    started: list[tuple[Any, ...]] = []
    monkeypatch.setattr("flask.cli.run_simple", lambda *args, **_kw: started.append(args))
    return started


def test_licensing_run_is_refused_in_production_and_says_to_use_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It started Flask's development server with only Flask's own warning."""
    started = _served(monkeypatch)
    env = production_environment(f"sqlite:///{tmp_path / 'licensing.db'}")
    result = CliRunner().invoke(main, ["run"], env=env)
    assert result.exit_code == 1, result.output
    assert "Error: `licensing run` starts Flask's development server" in result.output
    assert "serve with `licensing serve`" in result.output
    assert "--in-production" in result.output
    assert started == []


def test_licensing_run_starts_in_production_when_the_flag_says_so_and_in_development(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _served(monkeypatch)
    url = f"sqlite:///{tmp_path / 'licensing.db'}"
    result = CliRunner().invoke(
        main, ["run", "--in-production", "--port", "5999"], env=production_environment(url)
    )
    assert result.exit_code == 0, result.output
    development = production_environment(url, LICENSING_ENV="development")
    result = CliRunner().invoke(main, ["run", "--port", "5998"], env=development)
    assert result.exit_code == 0, result.output
    assert [(host, port) for host, port, _app in started] == [
        ("127.0.0.1", 5999),
        ("127.0.0.1", 5998),
    ]


_STAMPED = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 WARNING:licensing\.probe:hello$"
)
_PROBE = (
    "import logging; from licensing.app import create_app; create_app(); "
    "logging.getLogger('licensing.probe').warning('hello')"
)


@pytest.mark.parametrize(("setting", "stamped"), [({}, True), ({"LOG_TIMESTAMPS": "off"}, False)])
def test_the_apps_lines_begin_with_a_utc_instant_unless_turned_off(
    tmp_path: Path, setting: dict[str, str], stamped: bool
) -> None:
    """Written to a file (`nohup`, docker's plain log), a line said nothing of when."""
    env = this_checkout(production_environment(f"sqlite:///{tmp_path / 'l.db'}", **setting))
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    lines = [line for line in done.stderr.splitlines() if "licensing.probe" in line]
    if stamped:
        assert len(lines) == 1, done.stderr
        assert _STAMPED.match(lines[0]), done.stderr
    else:
        assert lines == ["WARNING:licensing.probe:hello"], done.stderr


def test_gunicorn_conf_is_the_settings_licensing_serve_applies() -> None:
    settings: dict[str, Any] = {}
    exec((PROJECT_ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own file
    assert {name: settings[name] for name in serving.SETTINGS} == serving.SETTINGS
    server = serving.Server({"bind": "127.0.0.1:1", "workers": 1}, with_worker=False)
    assert server.cfg.access_log_format == serving.ACCESS_LOG_FORMAT
    assert server.cfg.on_starting is serving.warn_at_start
    assert server.cfg.logger_class is serving.SecretHidingLogger
    assert server.cfg.worker_class is serving.ServiceWorker  # round 65


# --- jobs not run lately -----------------------------------------------------------


def _job_row(name: str) -> JobRun | None:
    db.session().expire_all()
    return db.session().get(JobRun, name)


def _set_times(name: str, *, first: timedelta, succeeded: timedelta | None) -> None:
    now = db.utcnow()
    with db.transaction() as session:
        session.execute(
            update(JobRun)
            .where(JobRun.job == name)
            .values(
                first_started_at=now - first,
                last_started_at=now - first,
                last_succeeded_at=None if succeeded is None else now - succeeded,
            )
        )


def test_the_worker_records_each_jobs_start_finish_and_outcome_and_a_failure_keeps_the_last_success(
    app: Flask,
) -> None:
    """Round 33: nothing recorded job runs; /readyz could not say a job had stopped."""
    outcomes = iter([None, RuntimeError("SMTP refused")])

    def flaky() -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "1 sent"

    with app.app_context():
        worker = Worker(app, [Job("outbox send", MINUTE, flaky)], record_runs=True)
        [run] = worker.run_due()
        assert run.ok
        row = _job_row("outbox send")
        assert row is not None
        assert row.last_ok is True
        assert row.last_outcome == "1 sent"
        assert row.last_succeeded_at == row.last_finished_at
        succeeded = row.last_succeeded_at
        assert row.last_started_at <= row.last_finished_at
        worker.next_due["outbox send"] = 0.0
        [run] = worker.run_due()
        assert not run.ok
        row = _job_row("outbox send")
        assert row is not None
        assert row.last_ok is False
        assert row.last_outcome == "failed: RuntimeError: SMTP refused"
        assert row.last_succeeded_at == succeeded  # kept
        assert row.last_finished_at > succeeded


def _ready(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200  # the instance still serves
    answer: dict[str, Any] = response.get_json()
    return answer


def _record(app: Flask, *names: str) -> None:
    with app.app_context():
        for name in names:
            job_runs.finished(name, db.utcnow(), ok=True, outcome="done")


def _aged(app: Flask, name: str, *, first: timedelta, succeeded: timedelta | None) -> None:
    with app.app_context():
        _set_times(name, first=first, succeeded=succeeded)


def test_readyz_names_a_job_whose_last_success_is_older_than_its_schedule_allows(
    committed_app: Flask,
) -> None:
    # A fresh install: nothing recorded, nothing late (`make run` is ready).
    answer = _ready(committed_app)
    assert (answer["status"], answer["jobs"]) == ("ok", "ok")
    _record(committed_app, *(name for name, _every in SCHEDULE))
    assert _ready(committed_app)["jobs"] == "ok"
    # An hourly job last done 1 h 10 min ago: within the grace of 15 minutes.
    _aged(committed_app, "tokens remind", first=timedelta(days=3), succeeded=timedelta(minutes=70))
    assert _ready(committed_app)["jobs"] == "ok"
    _aged(committed_app, "tokens remind", first=timedelta(days=3), succeeded=timedelta(minutes=80))
    answer = _ready(committed_app)
    assert (answer["status"], answer["database"], answer["jobs"]) == ("degraded", "ok", "late")
    with committed_app.app_context():
        row = _job_row("tokens remind")
        assert row is not None
        assert row.last_succeeded_at is not None
        when = instant_iso(row.last_succeeded_at, to_the_second=True)
    assert answer["jobs_detail"] == f"tokens remind (every hour) last succeeded at {when}"


@pytest.mark.parametrize("config_changes", [{"job_grace_minutes": 120}])
def test_the_grace_is_configurable(committed_app: Flask) -> None:
    _record(committed_app, *(name for name, _every in SCHEDULE))
    _aged(committed_app, "tokens remind", first=timedelta(days=3), succeeded=timedelta(minutes=170))
    assert _ready(committed_app)["jobs"] == "ok"
    _aged(committed_app, "tokens remind", first=timedelta(days=3), succeeded=timedelta(minutes=190))
    assert "tokens remind" in _ready(committed_app)["jobs_detail"]


def test_a_job_never_run_is_late_once_the_others_have_run_longer_than_its_schedule(
    committed_app: Flask,
) -> None:
    """A crontab missing a release's new job's line: the others run, it never does."""
    _record(committed_app, *(name for name, _ in SCHEDULE if name != "users prune-browsers"))
    assert _ready(committed_app)["jobs"] == "ok"  # a day has not passed
    _aged(committed_app, "outbox send", first=timedelta(days=2), succeeded=timedelta(seconds=5))
    assert _ready(committed_app)["jobs_detail"] == (
        "users prune-browsers (every day) has not succeeded since the jobs were first recorded"
    )


def test_a_job_run_from_cron_is_recorded_and_jobs_status_names_a_late_one(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = _job_row("outbox send")
        assert row is not None
        # The job's closing line, as the worker records it (round 48: `exit status 0`).
        closing = "Nothing sent: SMTP_URL is not set, so messages stay in the outbox."
        assert (row.last_ok, row.last_outcome) == (True, closing)
    result = runner.invoke(args=["jobs", "status"])
    assert result.exit_code == 0, result.output
    assert "outbox send: started " in result.output
    assert "No job is late or failing." in result.output
    with app.app_context():
        _set_times("outbox send", first=timedelta(hours=1), succeeded=timedelta(minutes=30))
    result = runner.invoke(args=["jobs", "status"])
    assert result.exit_code == 1, result.output
    assert "Error: late: outbox send (every minute) last succeeded at " in result.output


def test_a_failing_command_from_cron_is_recorded_as_failed(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise click.ClickException("the SMTP server refused")

    monkeypatch.setattr("licensing.mail.cli.send_due", refuse)
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code != 0
    with app.app_context():
        row = _job_row("outbox send")
        assert row is not None
        assert row.last_ok is False
        assert row.last_succeeded_at is None


def test_runs_of_one_job_finishing_at_once_on_several_hosts_do_not_conflict(
    committed_app: Flask,
) -> None:
    """Each write is one upsert: eight runs of a job never recorded before, each
    inserting its row at the same moment, all land; the latest success is kept."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    base = db.utcnow()

    def finish(n: int) -> None:
        with committed_app.app_context():
            barrier.wait(timeout=30)
            try:
                job_runs.finished(
                    "statements send", base + timedelta(seconds=n), ok=n % 2 == 0, outcome=str(n)
                )
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=finish, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with committed_app.app_context():
        row = _job_row("statements send")
        assert row is not None
        assert row.last_succeeded_at == base + timedelta(seconds=6)  # the latest even one


def _failed(app: Flask, name: str) -> None:
    with app.app_context():
        job_runs.finished(name, db.utcnow(), ok=False, outcome="failed: OSError: refused")


def test_readyz_names_a_job_whose_last_run_failed_though_it_succeeded_lately(
    committed_app: Flask,
) -> None:
    """Round 34: readiness read the last success only, so a job failing every
    other run was never late and looked healthy. Its last run failing names it,
    degraded, still 200; `jobs status` says the same and exits 1; a success
    clears it. The outcome's text (an exception's words) stays out of /readyz."""
    _record(committed_app, *(name for name, _every in SCHEDULE))
    _failed(committed_app, "outbox send")
    answer = _ready(committed_app)
    assert (answer["status"], answer["database"], answer["jobs"]) == ("degraded", "ok", "failing")
    with committed_app.app_context():
        row = _job_row("outbox send")
        assert row is not None
        assert row.last_succeeded_at is not None
        assert row.last_finished_at is not None
        failed_at = instant_iso(row.last_finished_at, to_the_second=True)
        succeeded_at = instant_iso(row.last_succeeded_at, to_the_second=True)
    assert answer["jobs_detail"] == (
        f"outbox send (every minute) last run failed at {failed_at}, "
        f"last succeeded at {succeeded_at}"
    )
    assert "refused" not in answer["jobs_detail"]
    result = committed_app.test_cli_runner().invoke(args=["jobs", "status"])
    assert result.exit_code == 1, result.output
    assert f"Error: failing: outbox send (every minute) last run failed at {failed_at}" in (
        result.output
    )
    # A late job is named as late once, first; another job's failure follows it.
    _aged(committed_app, "tokens remind", first=timedelta(days=3), succeeded=timedelta(hours=2))
    _failed(committed_app, "tokens remind")
    answer = _ready(committed_app)
    assert answer["jobs"] == "late"
    assert answer["jobs_detail"].startswith("tokens remind (every hour) last succeeded at ")
    assert answer["jobs_detail"].count("tokens remind") == 1
    assert "; outbox send (every minute) last run failed at " in answer["jobs_detail"]
    _record(committed_app, "outbox send", "tokens remind")
    assert _ready(committed_app)["jobs"] == "ok"


# Any ISO 8601 instant, however its zone is written (`Z`, `+00:00`, none).
_ANY_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def _spelled_as_the_api_spells_them(text: str) -> list[str]:
    """Each instant in `text`, held to `calendar.instant_iso`'s spelling: `+00:00`,
    to the second, or to the millisecond in a log line's stamp."""
    found = _ANY_INSTANT.findall(text)
    for written in found:
        moment = datetime.fromisoformat(written)
        assert moment.utcoffset() == timedelta(0), written
        millisecond = "." in written
        assert written == instant_iso(
            moment, to_the_second=not millisecond, to_the_millisecond=millisecond
        ), text
    return found


def test_readyz_the_log_and_jobs_status_write_instants_as_the_api_does(
    committed_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Round 44: `/readyz`'s `jobs_detail`, its log line, `jobs status` and every
    log line's stamp wrote `2026-12-04T18:02:00Z` while every API answer (and export)
    writes `+00:00`: one instant, two strings, for the same monitoring script."""
    _record(committed_app, *(name for name, _every in SCHEDULE))
    _aged(committed_app, "tokens remind", first=timedelta(days=3), succeeded=timedelta(hours=2))
    _failed(committed_app, "outbox send")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        answer = _ready(committed_app)
    [line] = [r for r in caplog.records if r.getMessage().startswith("readiness check: ")]
    # A late job (its success and since when) and a failing one (failed, succeeded).
    assert len(_spelled_as_the_api_spells_them(answer["jobs_detail"])) == 3
    assert len(_spelled_as_the_api_spells_them(line.getMessage())) == 4
    stamped = log_context.Formatter(timestamps=True).format(line)
    assert len(_spelled_as_the_api_spells_them(stamped)) == 5
    # gunicorn's lines, written by the master, which does not import the app.
    assert serving.instant(line.created) == log_context.instant(line.created)
    assert len(_spelled_as_the_api_spells_them(serving.InstantFormatter().format(line))) == 5
    result = committed_app.test_cli_runner().invoke(args=["jobs", "status"])
    assert result.exit_code == 1  # late and failing
    assert len(_spelled_as_the_api_spells_them(result.output)) >= 3 * len(SCHEDULE)


def _probe_lines(app: Flask, caplog: pytest.LogCaptureFixture) -> tuple[str, list[Any]]:
    """A probe's request id and the readiness lines it logged."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = app.test_client().get("/readyz")
    assert response.status_code == 200
    said = [r for r in caplog.records if r.getMessage().startswith("readiness check: ")]
    return response.headers["X-Request-Id"], said


def test_a_degraded_readyz_is_logged_once_when_it_begins_changes_and_ends(
    committed_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Round 42: a degraded answer logged its line on every probe (a probe every
    few seconds, a line every few seconds) and never when it recovered. Now once
    per change of state, under the probe's request id, saying since when."""
    _record(committed_app, *(name for name, _every in SCHEDULE))
    assert _probe_lines(committed_app, caplog)[1] == []
    # Late: logged once, with since when (its last success plus an hour and the grace).
    _aged(committed_app, "tokens remind", first=timedelta(days=3), succeeded=timedelta(hours=2))
    request_id, [line] = _probe_lines(committed_app, caplog)
    assert line.levelno == logging.WARNING
    assert getattr(line, "request_id", None) == request_id
    with committed_app.app_context():
        row = _job_row("tokens remind")
        assert row is not None
        assert row.last_succeeded_at is not None
        succeeded = row.last_succeeded_at
    late_since = instant_iso(succeeded + timedelta(minutes=75), to_the_second=True)
    assert line.getMessage() == (
        "readiness check: degraded, jobs late: tokens remind (every hour) last succeeded at "
        f"{instant_iso(succeeded, to_the_second=True)}, late since {late_since}"
    )
    # The same state: nothing on the next probes.
    assert _probe_lines(committed_app, caplog)[1] == []
    assert _probe_lines(committed_app, caplog)[1] == []
    # Another job failing besides: a change, logged once.
    _failed(committed_app, "outbox send")
    request_id, [line] = _probe_lines(committed_app, caplog)
    assert getattr(line, "request_id", None) == request_id
    assert line.getMessage().startswith("readiness check: degraded, jobs late: tokens remind")
    assert "; outbox send (every minute) last run failed at " in line.getMessage()
    assert "refused" not in line.getMessage()  # the outcome's words: `jobs status`
    assert _probe_lines(committed_app, caplog)[1] == []
    # The late job recovers, the other still fails: failing, logged once.
    _record(committed_app, "tokens remind")
    _, [line] = _probe_lines(committed_app, caplog)
    assert line.getMessage().startswith(
        "readiness check: degraded, jobs failing: outbox send (every minute) last run failed at "
    )
    assert _probe_lines(committed_app, caplog)[1] == []
    # Recovered: one line, then none.
    _record(committed_app, "outbox send")
    request_id, [line] = _probe_lines(committed_app, caplog)
    assert line.levelno == logging.INFO
    assert getattr(line, "request_id", None) == request_id
    assert line.getMessage() == (
        "readiness check: jobs ok again, no job late or failing (were failing: outbox send)"
    )
    assert _probe_lines(committed_app, caplog)[1] == []


def test_a_job_failing_run_after_run_is_logged_once_not_at_each_failure(
    committed_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    _record(committed_app, *(name for name, _every in SCHEDULE))
    _failed(committed_app, "outbox send")
    request_id, [line] = _probe_lines(committed_app, caplog)
    assert line.levelno == logging.WARNING
    assert getattr(line, "request_id", None) == request_id
    assert line.getMessage().startswith(
        "readiness check: degraded, jobs failing: outbox send (every minute) last run failed at "
    )
    _failed(committed_app, "outbox send")  # failed again: still failing, nothing new
    assert _probe_lines(committed_app, caplog)[1] == []
    _record(committed_app, "outbox send")
    [line] = _probe_lines(committed_app, caplog)[1]
    assert line.getMessage().endswith("(were failing: outbox send)")


def test_each_runs_id_is_recorded_and_named_by_jobs_status_and_readyz(
    committed_app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 42: each run's log lines carry its `run_id`, which neither `jobs
    status` nor `/readyz`'s `jobs_detail` named: an operator could not go from
    either to the run's lines. The worker's run and a command's run from cron
    each record theirs; a failed run's is the one named."""

    def refuse() -> str:
        raise RuntimeError("SMTP refused")

    with committed_app.app_context():
        worker = Worker(
            committed_app, [Job("outbox send", MINUTE, lambda: "1 sent")], record_runs=True
        )
        caplog.clear()
        with caplog.at_level(logging.INFO):
            [run] = worker.run_due()
        [closing] = [r for r in caplog.records if r.getMessage().startswith("worker: outbox send")]
        run_id = getattr(closing, "run_id", None)
        assert run_id is not None
        assert re.fullmatch(r"[0-9a-f]{12}", run_id)
        db.session().rollback()  # a read of its own, after the run's commits
        row = _job_row("outbox send")
        assert row is not None
        assert row.last_run_id == run_id
        # A failed run: its id with its outcome, and in the failure /readyz names.
        worker = Worker(committed_app, [Job("outbox send", MINUTE, refuse)], record_runs=True)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            [run] = worker.run_due()
        assert not run.ok
        [failed] = [r for r in caplog.records if r.getMessage() == "worker: outbox send failed"]
        failed_run = getattr(failed, "run_id", None)
        assert failed_run not in (None, run_id)
        db.session().rollback()  # a read of its own, after the run's commits
        row = _job_row("outbox send")
        assert row is not None
        assert row.last_run_id == failed_run
    detail = _ready(committed_app)["jobs_detail"]
    assert "outbox send (every minute) last run failed at " in detail
    assert f" (run {failed_run}), last succeeded at " in detail
    result = committed_app.test_cli_runner().invoke(args=["jobs", "status"])
    assert result.exit_code == 1, result.output
    assert f"; run {failed_run}\n" in result.output  # the job's own line
    assert f"(run {failed_run})" in result.output  # and the failure named at the end
    # A command run from cron records the run id its own lines carry (the one
    # `log_context.run` gives them: made known here, as this command logs nothing).
    monkeypatch.setattr("licensing.log_context.new_run_id", lambda: "c0ffee000042")
    with committed_app.app_context():  # as the CLI's own
        result = committed_app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    cron_run = "c0ffee000042"
    with committed_app.app_context():
        db.session().rollback()  # a read of its own, after the run's commits
        row = _job_row("outbox send")
        assert row is not None
        assert row.last_run_id == cron_run
    result = committed_app.test_cli_runner().invoke(args=["jobs", "status"])
    assert re.search(
        rf"^outbox send: started .*; last success \S+; run {cron_run}$", result.output, re.M
    )


# --- gunicorn's lines -----------------------------------------------------------------

_INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"


def test_gunicorns_own_lines_and_the_access_lines_time_are_stamped_as_the_apps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round 34: gunicorn wrote `[2026-12-04 18:01:00 +0000] [812] [INFO] ...` and
    `[04/Dec/2026:18:01:00 +0000]` in the host's zone beside the app's
    `2026-12-04T18:01:00.412+00:00 INFO:...`: one format now, from `licensing.serving`."""
    import logging
    import time

    from gunicorn.config import Config as GunicornConfig

    from licensing import log_context

    monkeypatch.setenv("TZ", "America/Chicago")  # the host's zone: the stamp stays UTC
    time.tzset()
    try:
        config = GunicornConfig()
        for name, value in serving.SETTINGS.items():
            config.set(name, value)
        logger = serving.SecretHidingLogger(config)
        [handler] = [h for h in logger.error_log.handlers if getattr(h, "_gunicorn", False)]
        record = logging.LogRecord("gunicorn.error", logging.INFO, "", 0, "Booting", (), None)
        record.created = 1796407260.4129  # 2026-12-04T18:01:00.412+00:00
        record.process = 812
        line = handler.format(record)
        assert line == "2026-12-04T18:01:00.412+00:00 INFO:gunicorn.error:[pid=812] Booting"
        assert re.fullmatch(rf"\[{_INSTANT}\]", logger.now())
        moment = time.time()
        assert serving.instant(moment) == log_context.instant(moment)
        assert serving.instant(1796407260.0) == "2026-12-04T18:01:00.000+00:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
