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
from tests.support.factories import bearer
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


def _late_with_its_last_run_failed() -> datetime:
    """`_four_states`, and `reports remind` late with its last run failed (late says
    more, so its state is `late`, not `failing`). Returns now."""
    now = _four_states()
    job_runs.finished("reports remind", now, ok=False, outcome="failed: OSError: disk full")
    _times(
        "reports remind",
        first_started_at=now - timedelta(hours=3),
        last_started_at=now - timedelta(minutes=80),
        last_finished_at=now - timedelta(minutes=80),
        last_succeeded_at=now - timedelta(hours=3),
    )
    return now


def _listed(page: str) -> list[str]:
    return re.findall(r'<tr id="job-[^"]+"[^>]*>\s*<th scope="row"><a [^>]*>([^<]+)</a>', page)


DAILY = ["statements send", "invoices overdue", "users prune-browsers"]


def test_an_admin_lists_the_overdue_jobs_or_those_whose_last_run_failed_alone(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    """Round 49: the page listed every job, whatever was asked of it."""
    _late_with_its_last_run_failed()
    client = signed_in(app.test_client(), admin)
    late = client.get("/console/jobs?state=late")
    assert late.status_code == 200
    page = late.get_data(as_text=True)
    assert _listed(page) == ["reports remind", "tokens remind"]
    assert '<option value="late" selected>Late</option>' in page
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    assert "2 of the 11 jobs listed, those with state \u201clate\u201d. List every job" in text
    assert "2 jobs late or failing" not in text  # the trouble is the whole schedule's
    assert "3 jobs late or failing" in text
    failed = client.get("/console/jobs?last_run=failed").get_data(as_text=True)
    assert _listed(failed) == ["payments prune-keys", "reports remind"]
    assert '<option value="failed" selected>Failed</option>' in failed
    both = client.get("/console/jobs?state=failing&last_run=failed").get_data(as_text=True)
    assert _listed(both) == ["payments prune-keys"]
    never = client.get("/console/jobs?state=never+run").get_data(as_text=True)
    assert _listed(never) == DAILY
    none = client.get("/console/jobs?state=ok&last_run=unfinished").get_data(as_text=True)
    assert _listed(none) == []
    assert "No job is so" in none
    every = client.get("/console/jobs?state=&last_run=").get_data(as_text=True)
    assert len(_listed(every)) == len(SCHEDULE)
    assert 'id="jobs-count"' not in every


def test_a_jobs_filter_the_page_does_not_offer_or_given_twice_is_said_beside_it(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    _late_with_its_last_run_failed()
    client = signed_in(app.test_client(), admin)
    bogus = client.get("/console/jobs?state=overdue")
    assert bogus.status_code == 422
    page = bogus.get_data(as_text=True)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    assert (
        "State takes one of: ok, late, failing, never run; the link gave \u201coverdue\u201d"
        in (text)
    )
    assert "Nothing is listed until the filters above are corrected." in text
    assert 'aria-invalid="true" aria-describedby="state-error"' in page
    assert _listed(page) == []
    run = client.get("/console/jobs?last_run=broken")
    assert run.status_code == 422
    assert 'aria-describedby="last_run-error"' in run.get_data(as_text=True)
    twice = client.get("/console/jobs?state=late&state=ok")
    assert twice.status_code == 400
    assert "State takes one value" in twice.get_data(as_text=True)
    assert _listed(twice.get_data(as_text=True)) == []


def test_the_api_lists_the_overdue_jobs_or_those_whose_last_run_failed_alone(
    app: Flask, admin: User
) -> None:
    _late_with_its_last_run_failed()
    client = app.test_client()
    headers = bearer(admin)

    def names(query: str) -> list[str]:
        answer = client.get(f"/api/v1/jobs?{query}", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["state"] == "late"  # the whole schedule's, as /readyz
        return [job["name"] for job in answer.get_json()["jobs"]]

    assert names("state=late") == ["reports remind", "tokens remind"]
    assert names("last_run=failed") == ["payments prune-keys", "reports remind"]
    assert names("state=failing&last_run=failed") == ["payments prune-keys"]
    assert names("state=never%20run") == DAILY
    every = client.get("/api/v1/jobs", headers=headers).get_json()["jobs"]
    assert len(every) == len(SCHEDULE)
    last_runs = {job["name"]: job["last_run"] for job in every}
    assert (last_runs["reports remind"], last_runs["outbox send"]) == ("failed", "ok")
    assert last_runs["invoices overdue"] is None
    bogus = client.get("/api/v1/jobs?state=overdue", headers=headers)
    assert bogus.status_code == 422
    assert bogus.headers["Content-Type"] == "application/problem+json"
    assert bogus.get_json()["errors"]["query.state"] == [
        "Must be one of: ok, late, failing, never run."
    ]
    assert (
        "query.last_run"
        in client.get("/api/v1/jobs?last_run=broken", headers=headers).get_json()["errors"]
    )
    twice = client.get("/api/v1/jobs?state=late&state=ok", headers=headers)
    assert twice.status_code == 400
    assert "query.state" in twice.get_json()["errors"]
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/jobs"]["get"]
    enums = {p["name"]: p["schema"]["enum"] for p in operation["parameters"]}
    assert enums == {
        "state": ["ok", "late", "failing", "never run"],
        "last_run": ["ok", "failed", "unfinished"],
    }
    assert {"200", "400", "401", "403", "422"} <= set(operation["responses"])
