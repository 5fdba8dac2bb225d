"""The console's Jobs page (round 44): each periodic job as `licensing jobs status`
shows it, and those late or failing in `/readyz`'s words, for admins alone; and
the console home's line for the jobs. Before, an admin learned of a late or failing
job from `/readyz` or a server's shell only (docs/operations.md, "Jobs not run
lately")."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db, job_runs
from licensing.accounts.models import User
from licensing.job_runs import JobRun
from licensing.web.filters import when
from licensing.worker import SCHEDULE, jobs_readiness
from tests.support.statements import sent_by, statements_for

SignIn = Callable[..., FlaskClient]
# The console home's line for the jobs, from its link to the row's end.
HOME_LINE = r'<td><a href="/console/jobs">Periodic jobs</a>.*?</tr>'


def _times(name: str, **values: datetime | None) -> None:
    with db.transaction() as session:
        session.execute(update(JobRun).where(JobRun.job == name).values(**values))


def _row(name: str) -> JobRun:
    db.session().expire_all()
    row = db.session().get(JobRun, name)
    assert row is not None
    return row


def _four_states() -> datetime:
    """`outbox send` ok, `tokens remind` late, `payments prune-keys` failing (it
    succeeded ten minutes ago), the other hourly jobs ok, the daily ones never run;
    the jobs first recorded two hours ago (so the daily ones are not late yet).
    Returns now."""
    now = db.utcnow()
    for name, every in SCHEDULE:
        if every < timedelta(days=1):
            job_runs.finished(name, now, ok=True, outcome="done")
    job_runs.finished("outbox send", now, ok=True, outcome="3 sent", run_id="0a0a0a0a0a0a")
    job_runs.finished("tokens remind", now, ok=True, outcome="done", run_id="5e0c1d2b3a49")
    _times(
        "tokens remind",
        first_started_at=now - timedelta(hours=2),
        last_started_at=now - timedelta(minutes=80),
        last_finished_at=now - timedelta(minutes=80),
        last_succeeded_at=now - timedelta(minutes=80),
    )
    job_runs.finished(
        "payments prune-keys", now - timedelta(minutes=10), ok=True, outcome="0 pruned"
    )
    job_runs.finished(
        "payments prune-keys",
        now,
        ok=False,
        outcome="failed: OperationalError: could not connect",
        run_id="a41be07c9d12",
    )
    return now


def _cell_row(page: str, job: str) -> str:
    found = re.search(rf'<tr id="job-{job.replace(" ", "-")}"[^>]*>(.*?)</tr>', page, re.S)
    assert found is not None, job
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))).strip()


def _readyz_detail(_app: Flask) -> str:
    """`/readyz`'s `jobs_detail`, from its own function (the probe's write check
    cannot run in the test's transaction)."""
    return jobs_readiness()["jobs_detail"]


def test_an_admin_sees_each_job_ok_late_failing_or_never_run_in_readyzs_words(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    now = _four_states()
    late, failing = _row("tokens remind"), _row("payments prune-keys")
    page = signed_in(app.test_client(), admin).get("/console/jobs").get_data(as_text=True)
    detail = _readyz_detail(app)
    late_words = (
        f"tokens remind (every hour) last succeeded at "
        f"{late.last_succeeded_at:%Y-%m-%dT%H:%M:%S+00:00} (last run 5e0c1d2b3a49)"
    )
    failing_words = (
        f"payments prune-keys (every hour) last run failed at {now:%Y-%m-%dT%H:%M:%S+00:00} "
        f"(run a41be07c9d12), last succeeded at {failing.last_succeeded_at:%Y-%m-%dT%H:%M:%S+00:00}"
    )
    assert detail == f"{late_words}; {failing_words}"  # /readyz's, word for word
    unescaped = html.unescape(page)
    assert "2 jobs late or failing" in unescaped
    assert f"<li>{late_words}</li>" in unescaped
    assert f"<li>{failing_words}</li>" in unescaped

    ok = _cell_row(page, "outbox send")
    assert ok == (f"outbox send minute ok {when(now)} {when(now)} 3 sent {when(now)} 0a0a0a0a0a0a")
    assert _cell_row(page, "tokens remind").startswith(f"tokens remind hour late {late_words} ")
    failed = _cell_row(page, "payments prune-keys")
    assert failed.startswith(f"payments prune-keys hour failing {failing_words} ")
    # The failed run's outcome is the error's words; its last success is kept.
    assert "failed: OperationalError: could not connect" in failed
    assert failed.endswith(f"{when(failing.last_succeeded_at)} a41be07c9d12")
    # A job never run, not yet late (the jobs were first recorded two hours ago).
    assert _cell_row(page, "users prune-browsers") == (
        "users prune-browsers day never run Never run: no run of this job has been recorded."
    )
    # Instants as other console pages give them: at the office, the zone named,
    # with the UTC instant /readyz names kept in the markup.
    assert f'<time datetime="{now:%Y-%m-%dT%H:%M:%S+00:00}">{when(now)}</time>' in page
    # Every job of the schedule, in its order.
    order = re.findall(r'<tr id="job-([^"]+)"', page)
    assert order == [name.replace(" ", "-") for name, _every in SCHEDULE]


def test_a_job_never_run_is_said_late_once_the_others_have_run_longer_than_its_schedule(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    now = db.utcnow()
    for name, _every in SCHEDULE:
        if name != "users prune-browsers":
            job_runs.finished(name, now, ok=True, outcome="done")
    _times("outbox send", first_started_at=now - timedelta(days=2))
    page = signed_in(app.test_client(), admin).get("/console/jobs").get_data(as_text=True)
    words = "users prune-browsers (every day) has not succeeded since the jobs were first recorded"
    assert _readyz_detail(app) == words
    assert _cell_row(page, "users prune-browsers") == (
        f"users prune-browsers day late {words} Never run: no run of this job has been recorded."
    )
    assert "1 job late or failing" in page


def test_with_every_job_well_the_page_says_so_as_jobs_status_does(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    for name, _every in SCHEDULE:
        job_runs.finished(name, db.utcnow(), ok=True, outcome="done")
    page = signed_in(app.test_client(), admin).get("/console/jobs").get_data(as_text=True)
    assert '<p id="jobs-trouble">No job is late or failing.</p>' in page
    assert 'class="overdue"' not in page
    result = app.test_cli_runner().invoke(args=["jobs", "status"])
    assert result.output.endswith("No job is late or failing.\n")


def test_a_run_still_going_is_said_as_jobs_status_says_it(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    job_runs.finished("outbox send", db.utcnow() - timedelta(seconds=30), ok=True, outcome="1 sent")
    job_runs.started("outbox send", db.utcnow(), "b0b0b0b0b0b0")
    page = signed_in(app.test_client(), admin).get("/console/jobs").get_data(as_text=True)
    row = _cell_row(page, "outbox send")
    assert "running or stopped before it finished" in row
    assert "1 sent" not in row  # the outcome is the run before's
    status = app.test_cli_runner().invoke(args=["jobs", "status"]).output
    assert "outbox send: started " in status
    assert ", running or stopped before it finished; last success " in status


def test_only_admins_open_the_jobs_page_or_see_it_in_the_menu_and_home(
    app: Flask,
    admin: User,
    licensing_staff: User,
    billing_staff: User,
    vendor: User,
    signed_in: SignIn,
) -> None:
    anonymous = app.test_client().get("/console/jobs")
    assert anonymous.status_code == 302
    assert "/sign-in?next=" in anonymous.headers["Location"]
    for user in (licensing_staff, billing_staff, vendor):
        client = signed_in(app.test_client(), user)
        assert client.get("/console/jobs").status_code == 403, user.email
        if user is not vendor:
            home = client.get("/console/").get_data(as_text=True)
            assert 'href="/console/jobs"' not in home
            assert "Periodic jobs" not in home
    client = signed_in(app.test_client(), admin)
    home = client.get("/console/").get_data(as_text=True)
    assert '<a href="/console/jobs">Jobs</a>' in home or 'href="/console/jobs"' in home
    assert client.get("/console/jobs").status_code == 200


def test_the_console_home_names_the_jobs_late_or_failing_from_the_same_words(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    """Round 44: the home said nothing when a job was late: an admin saw it only on
    `/readyz` or a server's shell."""
    client = signed_in(app.test_client(), admin)
    for name, _every in SCHEDULE:
        job_runs.finished(name, db.utcnow(), ok=True, outcome="done")
    home = client.get("/console/").get_data(as_text=True)
    row = re.search(rf"<tr>\s*{HOME_LINE}", home, re.S)
    assert row is not None
    assert 'class="overdue"' not in row.group(0)
    assert "none" in row.group(0)
    _four_states()
    home = html.unescape(client.get("/console/").get_data(as_text=True))
    row = re.search(rf'<tr class="overdue">\s*{HOME_LINE}', home, re.S)
    assert row is not None, home
    late, failing = _readyz_detail(app).split("; ")
    assert f"Late: {late}. Failing: {failing}" in row.group(0)
    assert "<strong>2 late or failing</strong>" in row.group(0)
    # Since when: the late job's, its last success and the interval and grace ago.
    since = _row("tokens remind").last_succeeded_at
    assert since is not None
    assert when(since + timedelta(hours=1, minutes=15)) in row.group(0)


def test_the_jobs_page_reads_the_jobs_records_once_however_many_there_are(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), admin)
    job_runs.finished("outbox send", db.utcnow(), ok=True, outcome="done")
    few = statements_for(app, client, "/console/jobs")
    _four_states()
    for name, _every in SCHEDULE:
        job_runs.finished(name, db.utcnow(), ok=False, outcome="failed: x")
    assert statements_for(app, client, "/console/jobs") == few
    with sent_by(app) as statements:
        client.get("/console/jobs")
    assert len([s for s in statements if "FROM job_runs" in s]) == 1
