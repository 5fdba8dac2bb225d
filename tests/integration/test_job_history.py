"""Round 47: each periodic job's recent runs, kept and shown. Before, only each job's
last run was kept (`job_runs`), so an admin asking "did the overdue run fail last
night, or every night this week?" could not tell (docs/operations.md, "Jobs not run
lately", *The runs kept*)."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable
from datetime import timedelta

import click
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db, job_pages, job_runs
from licensing.accounts.models import User
from licensing.job_runs import PastRun
from licensing.mail.services import DeliveryReport
from licensing.web.filters import when
from licensing.worker import JOBS, MINUTE, SCHEDULE, Job, Worker, jobs_readiness
from tests.support.factories import bearer

SignIn = Callable[..., FlaskClient]


def _kept(job: str) -> list[PastRun]:
    db.session().expire_all()
    return list(db.session().scalars(job_runs.history(job)))


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))).strip()


def _rows(page: str) -> list[str]:
    return [_text(row) for row in re.findall(r'<tr id="run-\d+"[^>]*>(.*?)</tr>', page, re.S)]


def test_each_worker_run_is_kept_with_its_start_end_summary_and_the_errors_first_line(
    app: Flask,
) -> None:
    outcomes = iter([None, RuntimeError("SMTP refused\nat mail.example.org:25, line 2")])

    def flaky() -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "1 sent, 0 to retry later, 0 failed after 8 attempts"

    with app.app_context():
        worker = Worker(app, [Job("outbox send", MINUTE, flaky)], record_runs=True)
        worker.run_due()
        worker.next_due["outbox send"] = 0.0
        worker.run_due()
        failed, succeeded = _kept("outbox send")
        last = db.session().get(job_runs.JobRun, "outbox send")
        assert last is not None
    # One row a run, found again by its run id at its end: its start and end both.
    assert succeeded.started_at is not None
    assert succeeded.finished_at is not None
    assert succeeded.started_at <= succeeded.finished_at
    assert (succeeded.ok, succeeded.error) == (True, None)
    assert succeeded.summary == "1 sent, 0 to retry later, 0 failed after 8 attempts"
    assert failed.ok is False
    assert failed.summary == "failed: RuntimeError: SMTP refused\nat mail.example.org:25, line 2"
    assert failed.error == "RuntimeError: SMTP refused"  # the first line alone
    assert failed.run_id == last.last_run_id
    assert failed.run_id != succeeded.run_id
    assert len(failed.run_id or "") == job_runs.RUN_ID_LENGTH


def test_a_run_from_cron_is_kept_as_the_workers_are(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise click.ClickException("the SMTP server refused")

    monkeypatch.setattr("licensing.mail.cli.send_due", refuse)
    assert runner.invoke(args=["outbox", "send"]).exit_code != 0
    with app.app_context():
        failed, succeeded = _kept("outbox send")
    # The job's closing line, as the worker's run keeps it (round 48: `exit status 0`).
    closing = "Nothing sent: SMTP_URL is not set, so messages stay in the outbox."
    assert (succeeded.ok, succeeded.summary, succeeded.error) == (True, closing, None)
    assert succeeded.started_at is not None
    assert failed.ok is False
    assert failed.error == "ClickException: the SMTP server refused"


def test_a_jobs_newest_runs_are_kept_and_the_older_pruned_as_a_run_is_recorded(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_runs, "HISTORY_RUNS", 3)
    base = db.utcnow()
    job_runs.finished("tokens remind", base, ok=True, outcome="other job")
    for n in range(5):
        at = base + timedelta(minutes=n)
        run = f"{n:012x}"
        job_runs.started("outbox send", at, run)
        # A start alone counts: the pruning runs as each run is first recorded.
        assert len(_kept("outbox send")) == min(n + 1, 3)
        job_runs.finished("outbox send", at, ok=n != 3, outcome=f"run {n}", run_id=run)
    kept = _kept("outbox send")
    assert [row.summary for row in kept] == ["run 4", "run 3", "run 2"]
    assert [row.ok for row in kept] == [True, False, True]
    assert kept[1].error == "run 3"  # a failure's outcome with no `failed: ` is its error
    # Another job's runs are its own to keep.
    assert [row.summary for row in _kept("tokens remind")] == ["other job"]


def test_an_end_whose_start_was_not_kept_is_kept_with_the_start_not_recorded(
    app: Flask,
) -> None:
    job_runs.finished(
        "statements send", db.utcnow(), ok=True, outcome="sent", run_id="c0ffee000001"
    )
    [row] = _kept("statements send")
    assert (row.started_at, row.run_id, row.summary) == (None, "c0ffee000001", "sent")


def test_runs_of_one_job_on_several_hosts_at_once_are_each_kept_within_the_bound(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight hosts start and finish `statements send` at the same moment: each write
    first upserts the job's row (the lock round 33's upsert takes), so every run is
    kept whole, none conflicts, and the bound holds exactly once they are done."""
    monkeypatch.setattr(job_runs, "HISTORY_RUNS", 8)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    base = db.utcnow()

    def run(n: int) -> None:
        with committed_app.app_context():
            try:
                barrier.wait(timeout=30)
                job_runs.started("statements send", base, f"{n:012x}")
                barrier.wait(timeout=30)
                job_runs.finished(
                    "statements send",
                    base + timedelta(seconds=n),
                    ok=n % 2 == 0,
                    outcome=f"run {n}",
                    run_id=f"{n:012x}",
                )
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with committed_app.app_context():
        kept = _kept("statements send")
        assert len(kept) == 8
        for row in kept:  # each run kept once, whole: its start found again at its end
            n = int(row.run_id or "", 16)
            assert (row.started_at, row.summary, row.ok) == (base, f"run {n}", n % 2 == 0)
            assert row.finished_at == base + timedelta(seconds=n)
        oldest = kept[-1].id
        job_runs.started("statements send", base + timedelta(days=1), "0000000000ff")
        job_runs.finished(
            "statements send",
            base + timedelta(days=1),
            ok=True,
            outcome="next",
            run_id="0000000000ff",
        )
        kept = _kept("statements send")
        everything = db.session().scalars(select(PastRun)).all()
    assert len(kept) == len(everything) == 8
    assert kept[0].summary == "next"
    assert oldest not in {row.id for row in kept}


def test_an_admin_reads_a_jobs_runs_a_page_at_a_time_from_the_jobs_page(
    app: Flask, admin: User, signed_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_pages, "RUNS_PER_PAGE", 2)
    base = db.utcnow() - timedelta(days=3)
    for n in range(3):  # three nights: ok, failed, failed
        at = base + timedelta(days=n)
        job_runs.started("invoices overdue", at, f"a{n:011x}")
        job_runs.finished(
            "invoices overdue",
            at + timedelta(seconds=40),
            ok=n == 0,
            outcome="0 overdue invoice(s)" if n == 0 else "failed: OperationalError: gone\nSQL",
            run_id=f"a{n:011x}",
        )
    job_runs.started("invoices overdue", db.utcnow(), "b00000000000")  # running now
    client = signed_in(app.test_client(), admin)
    jobs = client.get("/console/jobs").get_data(as_text=True)
    assert '<a href="/console/jobs/invoices%20overdue">invoices overdue</a>' in jobs

    first = client.get("/console/jobs/invoices%20overdue")
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "<h1>invoices overdue: runs</h1>" in page
    assert "Runs every day. The last 50 runs of this job are kept" in _text(page)
    running, last_night = _rows(page)
    assert running.endswith(" Running or stopped before it finished. b00000000000")
    night = base + timedelta(days=2)
    assert last_night == (
        f"{when(night)} {when(night + timedelta(seconds=40))} failed "
        "failed: OperationalError: gone SQL OperationalError: gone a00000000002"
    )
    assert f'<time datetime="{night:%Y-%m-%dT%H:%M:%S+00:00}">' in page
    assert "Runs 1\u20132 of 4" in page
    assert re.findall(r'<a href="([^"]*)" rel="next"', page) == [
        "/console/jobs/invoices%20overdue?page=2"
    ]

    older = client.get("/console/jobs/invoices%20overdue?page=2").get_data(as_text=True)
    two_nights_ago, three_nights_ago = _rows(older)
    assert two_nights_ago.endswith("OperationalError: gone a00000000001")
    assert three_nights_ago == (
        f"{when(base)} {when(base + timedelta(seconds=40))} ok 0 overdue invoice(s) — a00000000000"
    )
    assert "Runs 3\u20134 of 4" in older


def test_a_job_never_run_says_so_and_a_name_not_scheduled_is_not_found(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), admin)
    page = client.get("/console/jobs/users%20prune-browsers").get_data(as_text=True)
    assert "This job has never run: no run of it has been recorded." in page
    assert "never run" in page
    # Round 49: a job whose last run was recorded before its runs were kept
    # (operations_0003) says so, not that it never ran.
    with db.transaction() as session:
        session.add(
            job_runs.JobRun(
                job="users prune-browsers",
                first_started_at=db.utcnow(),
                last_started_at=db.utcnow(),
                last_finished_at=db.utcnow(),
                last_ok=True,
                last_outcome="0 remembered browser(s) past their date deleted.",
            )
        )
    before = client.get("/console/jobs/users%20prune-browsers").get_data(as_text=True)
    assert "No run of this job is kept yet: its last run, started" in _text(before)
    assert "was recorded before its runs were kept (the Jobs page shows it)." in _text(before)
    assert "never run" not in before
    answer = client.get("/api/v1/jobs/users%20prune-browsers/runs", headers=bearer(admin))
    assert answer.get_json() == []
    never = client.get("/api/v1/jobs/invoices%20overdue", headers=bearer(admin)).get_json()
    assert (never["state"], never["last_run"], never["last_started_at"]) == (
        "never run",
        None,
        None,
    )
    assert client.get("/console/jobs/no%20such%20job").status_code == 404


def test_only_admins_read_a_jobs_runs(
    app: Flask,
    admin: User,
    licensing_staff: User,
    billing_staff: User,
    vendor: User,
    signed_in: SignIn,
) -> None:
    anonymous = app.test_client().get("/console/jobs/outbox%20send")
    assert anonymous.status_code == 302
    for user in (licensing_staff, billing_staff, vendor):
        response = signed_in(app.test_client(), user).get("/console/jobs/outbox%20send")
        assert response.status_code == 403, user.email
    assert signed_in(app.test_client(), admin).get("/console/jobs/outbox%20send").status_code == 200


def test_the_api_gives_the_jobs_overview_in_readyzs_words_and_instants(
    app: Flask, admin: User
) -> None:
    now = db.utcnow().replace(microsecond=0)
    for name, _every in SCHEDULE:
        job_runs.finished(name, now - timedelta(minutes=1), ok=True, outcome="done")
    job_runs.finished(
        "payments prune-keys",
        now,
        ok=False,
        outcome="failed: OperationalError: could not connect",
        run_id="a41be07c9d12",
    )
    job_runs.started("outbox send", now, "b0b0b0b0b0b0")
    response = app.test_client().get("/api/v1/jobs", headers=bearer(admin))
    assert response.status_code == 200
    answer = response.get_json()
    detail = jobs_readiness()["jobs_detail"]
    assert (answer["state"], answer["jobs_detail"]) == ("failing", detail)
    assert [job["name"] for job in answer["jobs"]] == [name for name, _every in SCHEDULE]
    by_name = {job["name"]: job for job in answer["jobs"]}
    failing = by_name["payments prune-keys"]
    assert failing == {
        "name": "payments prune-keys",
        "every": "hour",
        "every_seconds": 3600,
        "state": "failing",
        "trouble": detail,
        "last_started_at": (now - timedelta(minutes=1)).isoformat(),  # its end alone recorded
        "last_finished_at": now.isoformat(),
        "last_ok": False,
        "last_run": "failed",  # round 49
        "last_outcome": "failed: OperationalError: could not connect",
        "last_succeeded_at": (now - timedelta(minutes=1)).isoformat(),
        "last_run_id": "a41be07c9d12",
    }
    assert failing["last_started_at"].endswith("+00:00")
    # A run going: its start, and no end, outcome or `ok` of the run before's.
    going = by_name["outbox send"]
    assert (going["state"], going["last_started_at"]) == ("ok", now.isoformat())
    assert (going["last_finished_at"], going["last_ok"], going["last_outcome"]) == (None,) * 3
    assert going["last_run_id"] == "b0b0b0b0b0b0"
    assert going["last_run"] == "unfinished"  # round 49


def test_the_api_pages_a_jobs_runs_newest_first_and_refuses_a_name_not_scheduled(
    app: Flask, admin: User
) -> None:
    base = db.utcnow().replace(microsecond=0)
    for n in range(3):
        job_runs.started("invoices overdue", base + timedelta(days=n), f"a{n:011x}")
        job_runs.finished(
            "invoices overdue",
            base + timedelta(days=n, seconds=40),
            ok=n != 1,
            outcome=f"run {n}" if n != 1 else "failed: OSError: refused\nmore",
            run_id=f"a{n:011x}",
        )
    client = app.test_client()
    first = client.get("/api/v1/jobs/invoices%20overdue/runs?per_page=2", headers=bearer(admin))
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in first.headers["Link"]
    newest, failed = first.get_json()
    assert newest["summary"] == "run 2"
    assert newest["started_at"] == (base + timedelta(days=2)).isoformat()
    assert newest["finished_at"] == (base + timedelta(days=2, seconds=40)).isoformat()
    assert (failed["ok"], failed["error"], failed["run_id"]) == (
        False,
        "OSError: refused",
        "a00000000001",
    )
    [oldest] = client.get(
        "/api/v1/jobs/invoices%20overdue/runs?per_page=2&page=2", headers=bearer(admin)
    ).get_json()
    assert oldest["summary"] == "run 0"
    missing = client.get("/api/v1/jobs/no%20such%20job/runs", headers=bearer(admin))
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"


def test_only_admins_call_the_jobs_api(
    app: Flask, admin: User, licensing_staff: User, billing_staff: User, vendor: User
) -> None:
    client = app.test_client()
    for path in ("/api/v1/jobs", "/api/v1/jobs/outbox%20send/runs"):
        assert client.get(path).status_code == 401
        for user in (licensing_staff, billing_staff, vendor):
            refused = client.get(path, headers=bearer(user))
            assert refused.status_code == 403, (path, user.email)
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert refused.get_json()["title"] == "Forbidden"
            assert "This endpoint is for admins." in refused.get_json()["detail"]
        assert client.get(path, headers=bearer(admin)).status_code == 200


def test_the_jobs_api_is_in_the_document_with_its_errors(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    overview = document["paths"]["/api/v1/jobs"]["get"]
    runs = document["paths"]["/api/v1/jobs/{name}/runs"]["get"]
    assert {"200", "401", "403", "422"} <= set(overview["responses"])
    assert {"200", "400", "401", "403", "404", "422"} <= set(runs["responses"])


def _three_nights_and_one_going() -> None:
    """`invoices overdue`: ok, failed, failed (oldest first), and a run going now."""
    base = db.utcnow().replace(microsecond=0) - timedelta(days=3)
    for n in range(3):
        job_runs.started("invoices overdue", base + timedelta(days=n), f"a{n:011x}")
        job_runs.finished(
            "invoices overdue",
            base + timedelta(days=n, seconds=40),
            ok=n == 0,
            outcome="0 overdue invoice(s)" if n == 0 else f"failed: OSError: night {n}",
            run_id=f"a{n:011x}",
        )
    job_runs.started("invoices overdue", db.utcnow(), "b00000000000")


def test_an_admin_lists_a_jobs_failed_runs_alone_a_page_at_a_time(
    app: Flask, admin: User, signed_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_pages, "RUNS_PER_PAGE", 1)
    _three_nights_and_one_going()
    client = signed_in(app.test_client(), admin)
    first = client.get("/console/jobs/invoices%20overdue?outcome=failed")
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    [last_night] = _rows(page)
    assert "OSError: night 2" in last_night
    assert "Failed runs 1\u20131 of 2" in page
    assert '<option value="failed" selected>Failed</option>' in page
    # The filter kept by the pager's links, the path escaped once.
    assert re.findall(r'<a href="([^"]*)" rel="next"', page) == [
        "/console/jobs/invoices%20overdue?outcome=failed&amp;page=2"
    ]
    second = client.get("/console/jobs/invoices%20overdue?outcome=failed&page=2")
    [night_before] = _rows(second.get_data(as_text=True))
    assert "OSError: night 1" in night_before
    ok = client.get("/console/jobs/invoices%20overdue?outcome=ok").get_data(as_text=True)
    assert [row.split(" ok ")[1] for row in _rows(ok)] == [
        "0 overdue invoice(s) \u2014 a00000000000"
    ]
    going = client.get("/console/jobs/invoices%20overdue?outcome=unfinished")
    assert [run.endswith("b00000000000") for run in _rows(going.get_data(as_text=True))] == [True]
    everything = client.get("/console/jobs/invoices%20overdue").get_data(as_text=True)
    assert "Runs 1\u20131 of 4" in everything


def test_a_runs_filter_the_page_does_not_offer_or_given_twice_is_said_beside_it(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    _three_nights_and_one_going()
    client = signed_in(app.test_client(), admin)
    bogus = client.get("/console/jobs/invoices%20overdue?outcome=broken")
    assert bogus.status_code == 422
    text = _text(bogus.get_data(as_text=True))
    assert (
        "Outcome takes one of: ok, failed, running or stopped before it finished; "
        "the link gave \u201cbroken\u201d: choose one and filter again."
    ) in text
    assert "Nothing is listed until the filters above are corrected." in text
    assert _rows(bogus.get_data(as_text=True)) == []
    assert 'aria-invalid="true" aria-describedby="outcome-error"' in bogus.get_data(as_text=True)
    twice = client.get("/console/jobs/invoices%20overdue?outcome=failed&outcome=ok")
    assert twice.status_code == 400
    assert "Outcome takes one value" in _text(twice.get_data(as_text=True))
    assert _rows(twice.get_data(as_text=True)) == []


def test_the_api_lists_a_jobs_failed_runs_alone_and_refuses_an_outcome_it_lacks(
    app: Flask, admin: User
) -> None:
    _three_nights_and_one_going()
    client = app.test_client()
    runs = "/api/v1/jobs/invoices%20overdue/runs"
    failed = client.get(f"{runs}?outcome=failed&per_page=1", headers=bearer(admin))
    assert failed.status_code == 200
    assert failed.headers["X-Total-Count"] == "2"
    [last_night] = failed.get_json()
    assert (last_night["outcome"], last_night["error"]) == ("failed", "OSError: night 2")
    assert (
        f'<http://localhost{runs}?outcome=failed&per_page=1&page=2>; rel="next"'
        in failed.headers["Link"]
    )
    every = client.get(runs, headers=bearer(admin)).get_json()
    assert [run["outcome"] for run in every] == ["unfinished", "failed", "failed", "ok"]
    ok = client.get(f"{runs}?outcome=ok", headers=bearer(admin)).get_json()
    assert [run["run_id"] for run in ok] == ["a00000000000"]
    bogus = client.get(f"{runs}?outcome=broken", headers=bearer(admin))
    assert bogus.status_code == 422
    assert bogus.headers["Content-Type"] == "application/problem+json"
    assert bogus.get_json()["errors"]["query.outcome"] == [
        "Must be one of: ok, failed, unfinished."
    ]
    twice = client.get(f"{runs}?outcome=failed&outcome=ok", headers=bearer(admin))
    assert twice.status_code == 400
    assert "query.outcome" in twice.get_json()["errors"]
    document = client.get("/api/v1/openapi.json").get_json()
    parameters = document["paths"]["/api/v1/jobs/{name}/runs"]["get"]["parameters"]
    [outcome] = [p for p in parameters if p["name"] == "outcome"]
    assert outcome["schema"]["enum"] == ["ok", "failed", "unfinished"]


def test_every_jobs_run_from_cron_keeps_the_closing_line_the_workers_run_keeps(
    app: Flask,
) -> None:
    runner = app.test_cli_runner()
    for job in JOBS:
        said = runner.invoke(args=job.name.split())
        assert said.exit_code == 0, (job.name, said.output)
        with app.app_context():
            Worker(app, [job], record_runs=True).run_due()
            by_worker, from_cron = _kept(job.name)[:2]
        assert by_worker.summary == from_cron.summary, job.name
        assert from_cron.summary is not None
        assert not from_cron.summary.startswith("exit status"), job.name
        # The line the command printed (the last but for `payments reconcile`'s, which
        # prints a line a kind of record and keeps them joined, as the worker does).
        assert from_cron.summary.split("; ")[-1] in said.output, job.name


def test_a_failed_run_from_cron_keeps_its_closing_line_and_exit_status_and_no_more(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_args: object, **_kwargs: object) -> str:
        click.echo("a line of the command's own output\n" * 1000)
        click.echo(job_runs.closing("2 expired, 1 refused by the database"))
        raise SystemExit(1)

    monkeypatch.setattr("licensing.permissions.cli.expire_due", refused)
    said = app.test_cli_runner().invoke(args=["permissions", "expire"])
    assert said.exit_code == 1
    with app.app_context():
        [run] = _kept("permissions expire")
    line = "2 expired, 1 refused by the database"
    assert (run.ok, run.summary) == (False, f"{line} (exit status 1)")
    assert run.error == f"{line} (exit status 1)"
    assert run.finished_at is not None


def _mail_left_to_retry(*_args: object, **_kwargs: object) -> DeliveryReport:
    return DeliveryReport(sent=2, deferred=1, errors=["421 try later"])


def test_outbox_sends_run_with_mail_left_to_retry_is_kept_alike_from_cron_and_the_worker(
    app: Flask, admin: User, signed_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 49: from cron the run was failed (`(exit status 1)`), from the worker ok.
    Both are ok now with the same line, which counts the mail left to retry; the
    command still exits 1 for a script."""
    monkeypatch.setattr("licensing.mail.cli.deliver_due", _mail_left_to_retry)
    line = "2 sent, 1 to retry later, 0 failed after 8 attempts (last error: 421 try later)"
    said = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert said.exit_code == 1
    assert line in said.output
    with app.app_context():
        [from_cron] = _kept("outbox send")
        cron_record = job_runs.rows(db.session())["outbox send"]
        assert (cron_record.last_ok, cron_record.last_outcome) == (True, line)
        [job] = [job for job in JOBS if job.name == "outbox send"]
        [run] = Worker(app, [job], record_runs=True).run_due()
        by_worker = _kept("outbox send")[0]
    assert (run.ok, run.outcome) == (True, line)
    for kept in (from_cron, by_worker):
        assert (kept.ok, kept.summary, kept.error) == (True, line, None)
        assert job_runs.outcome_of(kept) == "ok"
    with app.test_request_context():
        assert jobs_readiness() == {"jobs": "ok"}  # not failing: `outbox: stuck` says more
    page = signed_in(app.test_client(), admin).get("/console/jobs").get_data(as_text=True)
    assert "1 to retry later" in _text(page)


def test_a_command_that_says_no_closing_line_keeps_its_exit_status(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def silent(*_args: object, **_kwargs: object) -> None:
        raise SystemExit(3)

    monkeypatch.setattr("licensing.permissions.cli.expire_due", silent)
    assert app.test_cli_runner().invoke(args=["permissions", "expire"]).exit_code == 3
    with app.app_context():
        [run] = _kept("permissions expire")
    assert (run.ok, run.summary) == (False, "exit status 3")


def test_the_api_gives_one_jobs_overview_as_the_list_does(
    app: Flask, admin: User, licensing_staff: User
) -> None:
    _three_nights_and_one_going()
    job_runs.finished("outbox send", db.utcnow(), ok=True, outcome="1 sent")
    client = app.test_client()
    one = client.get("/api/v1/jobs/invoices%20overdue", headers=bearer(admin))
    assert one.status_code == 200
    listed = client.get("/api/v1/jobs", headers=bearer(admin)).get_json()["jobs"]
    assert one.get_json() == next(job for job in listed if job["name"] == "invoices overdue")
    assert one.get_json()["state"] == "late"  # its last success three days ago
    assert one.get_json()["last_run_id"] == "b00000000000"
    missing = client.get("/api/v1/jobs/no%20such%20job", headers=bearer(admin))
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/jobs/outbox%20send").status_code == 401
    assert (
        client.get("/api/v1/jobs/outbox%20send", headers=bearer(licensing_staff)).status_code == 403
    )
    document = client.get("/api/v1/openapi.json").get_json()
    responses = document["paths"]["/api/v1/jobs/{name}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422"} <= set(responses)
