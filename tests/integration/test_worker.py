"""`licensing worker` runs every periodic job against the real database, several
workers at once without stepping on each other, and `licensing serve --with-worker`
(what `make run` does) starts one beside the server and stops it with the server."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.config import PROJECT_ROOT
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.worker import JOBS, Worker
from tests.conftest import TEST_SECRET_KEY, DatabaseTemplate
from tests.support.checkout import this_checkout
from tests.support.servers import SMTPServer, free_port


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _queue(to: str) -> None:
    with db.transaction() as session:
        mail.enqueue(
            session,
            to=to,
            subject="Reset your password",
            template="reset_password",
            context={
                "user": {"full_name": "Robin", "email": to},
                "link": "http://x/y",
                "expires_at": utcnow(),
            },
        )


def test_worker_once_runs_every_job_logs_each_run_and_delivers_due_mail(
    app: Flask, mailbox: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    _queue("robin@northwind.example")
    with caplog.at_level(logging.INFO, logger="licensing.worker"):
        result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output + caplog.text
    for job in JOBS:
        assert f"worker: {job.name}: " in caplog.text
    assert "worker: outbox send: 1 sent" in caplog.text
    assert "worker: payments reconcile: skipped: card payments are not configured" in caplog.text
    assert [str(m["To"]) for m in mailbox.wait_for(1)] == ["robin@northwind.example"]


def test_each_job_run_as_the_crontab_runs_it_prints_the_workers_line_and_exits_0(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Round 32, docs/operations.md's crontab run a line at a time on an office
    without Stripe: the table says the worker's line is what the command prints.
    `payments prune-keys` printed "0 idempotency keys pruned" where the worker said
    "0 pruned"; `payments reconcile` exited 1 with the licensee's words ("Card
    payments are not available; pay by wire, ACH or check."), mailing MAILTO every
    hour, and `payments match-disputes` ran where the worker skipped it."""
    with caplog.at_level(logging.INFO, logger="licensing.worker"):
        assert app.test_cli_runner().invoke(args=["worker", "--once"]).exit_code == 0
    for job in JOBS:
        logged = caplog.text.split(f"worker: {job.name}: ", 1)[1].split("\n", 1)[0]
        said = logged.rsplit(" (", 1)[0]  # without the run's seconds
        result = app.test_cli_runner().invoke(args=job.name.split())
        assert result.exit_code == 0, (job.name, result.output)
        assert result.output.strip().splitlines()[-1] == said, job.name


def test_several_workers_on_one_database_run_every_job_and_send_each_message_once(
    committed_app: Flask, mailbox: SMTPServer
) -> None:
    committed_app.config["LICENSING"] = dataclasses.replace(
        committed_app.config["LICENSING"], smtp_url=mailbox.url
    )
    count, workers = 12, 3
    with committed_app.app_context():
        for number in range(count):
            _queue(f"reader{number}@northwind.example")
    start = threading.Barrier(workers)
    outcomes: list[Any] = []

    def work() -> None:
        start.wait()
        outcomes.extend(Worker(committed_app).run_due())

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [run for run in outcomes if not run.ok] == []
    assert len(outcomes) == workers * len(JOBS)
    received = mailbox.wait_for(count)
    assert sorted(str(m["To"]) for m in received) == sorted(
        f"reader{n}@northwind.example" for n in range(count)
    )
    with committed_app.app_context():
        assert {m.state for m in db.session().scalars(select(OutboxMessage))} == {"sent"}


def _wait_for_text(path: Path, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}:\n{content}")


def _wait_for_text_after(path: Path, marker: str, text: str, timeout: float = 60) -> str:
    """What the file says after `marker`, once it says `text` there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        after = path.read_text().partition(marker)[2]
        if text in after:
            return after
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared after {marker!r} in {path}:\n{after}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_with_worker_runs_the_jobs_beside_the_server_reloads_and_stops_them_with_it(
    sqlite_template: DatabaseTemplate, tmp_path: Path
) -> None:
    environment = this_checkout(
        LICENSING_ENV="testing", SECRET_KEY=TEST_SECRET_KEY, DATABASE_URL=sqlite_template.new_url()
    )
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    command = [sys.executable, "-m", "licensing.cli", "serve", "--workers", "1", "--with-worker"]
    command += ["--bind", f"127.0.0.1:{free_port()}"]
    with out.open("w") as stdout, err.open("w") as stderr:
        server = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environment, stdout=stdout, stderr=stderr
        )
    try:
        started = _wait_for_text(err, "Worker started (pid ")  # gunicorn's error log
        worker_pid = int(started.split("Worker started (pid ")[1].split(")")[0])
        # Round 34: gunicorn's lines, this one too, are stamped as the app's.
        said = next(line for line in started.splitlines() if "Worker started (pid " in line)
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 INFO:gunicorn\.error:\[pid=\d+\] "
            rf"Worker started \(pid {worker_pid}\): the periodic jobs run beside the server",
            said,
        ), said
        _wait_for_text(err, "worker: invoices overdue: ")
        assert _alive(worker_pid)
        # HUP on the server reaches the worker, which restarts (same pid) on the code on disk.
        server.send_signal(signal.SIGHUP)
        restarted = f"worker: restarting (pid {worker_pid})"
        _wait_for_text(err, restarted)
        _wait_for_text_after(err, restarted, "worker: invoices overdue: ")
        assert _alive(worker_pid)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert not _alive(worker_pid)
        assert "worker stopped" in err.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_hup_restarts_the_worker_on_the_configuration_on_disk_after_the_job_in_hand(
    sqlite_template: DatabaseTemplate, tmp_path: Path
) -> None:
    # The file names the Stripe keys empty at first: variables an env file set stay
    # in the process's environment and win over the file, so a restart that kept
    # them would read the old, empty keys again.
    settings = tmp_path / "worker.env"
    settings.write_text(
        "LICENSING_ENV=testing\n"
        f"SECRET_KEY={TEST_SECRET_KEY}\n"
        f"DATABASE_URL={sqlite_template.new_url()}\n"
        f"AUDIT_HMAC_KEY={'a' * 64}\n"
        "STRIPE_SECRET_KEY=\nSTRIPE_PUBLISHABLE_KEY=\n"
        # Refused with the keys unless set: it verifies Stripe's webhooks.
        "STRIPE_WEBHOOK_SECRET=whsec_worker\n"
    )
    environment = this_checkout(
        {
            name: value
            for name, value in os.environ.items()
            if name not in ("LICENSING_ENV", "SECRET_KEY", "DATABASE_URL") and "STRIPE" not in name
        }
    )
    err = tmp_path / "stderr"
    command = [sys.executable, "-m", "licensing.cli", "--env-file", str(settings), "worker"]
    with err.open("w") as stderr:
        worker = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        _wait_for_text(err, "worker: payments reconcile: skipped: card payments are not configured")
        _wait_for_text(err, "worker: invoices overdue: ")
        # A mistake on disk is refused and the worker carries on.
        with settings.open("a") as more:
            more.write("PERMISSION_SLA_DAYS=soon\n")
        worker.send_signal(signal.SIGHUP)
        _wait_for_text(err, "worker: reload refused, carrying on as before: ")
        assert worker.poll() is None
        settings.write_text(
            settings.read_text()
            .replace("PERMISSION_SLA_DAYS=soon\n", "")
            .replace("STRIPE_SECRET_KEY=\n", "STRIPE_SECRET_KEY=sk_test_worker\n")
            .replace("STRIPE_PUBLISHABLE_KEY=\n", "STRIPE_PUBLISHABLE_KEY=pk_test_worker\n")
        )
        worker.send_signal(signal.SIGHUP)
        restarted = f"worker: restarting (pid {worker.pid})"
        _wait_for_text(err, restarted)
        after = _wait_for_text_after(err, restarted, "worker: invoices overdue: ")
        assert after.count("worker started: ") == 1
        assert "worker: payments reconcile: 0 card payment(s) checked" in after  # configured now
        assert "skipped" not in after
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        assert err.read_text().rstrip().endswith("worker stopped")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
