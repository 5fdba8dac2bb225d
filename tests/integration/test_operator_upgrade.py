"""An operator's deployment and upgrade, walked (round 31): new code started before
`licensing db upgrade` says so and runs no job, production refuses Flask's debug
mode, `/readyz` names an outbox nobody sends, and the access log names the request."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update

from licensing import db
from licensing.cli import main
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support.behind import billing_head
from tests.support.settings import production_environment


def test_the_worker_on_a_database_behind_the_code_runs_no_job_and_says_what_to_run(
    tmp_path: Path,
) -> None:
    """New code started before the migration ran every job on the old schema: the
    daily ones failed on a missing table, with a traceback, and waited a day."""
    from licensing import migrations

    url = f"sqlite:///{tmp_path / 'older.db'}"
    migrations.upgrade(url, "billing_0011")
    result = CliRunner().invoke(main, ["worker", "--once"], env=production_environment(url))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "Error: no job ran: the database lacks revision(s) " in result.output
    assert billing_head() in result.output
    assert "run `licensing db upgrade`" in result.output


def test_production_refuses_flask_debug_mode_in_one_line(tmp_path: Path) -> None:
    """`licensing --env-file prod.env run --debug` served Werkzeug's debugger."""
    url = f"sqlite:///{tmp_path / 'licensing.db'}"
    result = CliRunner().invoke(
        main, ["db", "current"], env=production_environment(url, FLASK_DEBUG="1")
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: the configuration cannot start the service: ")
    assert "FLASK_DEBUG (or `licensing --debug`) cannot be on" in result.output


def _queue_due(minutes_ago: int) -> None:
    with db.transaction() as session:
        message = mail.enqueue(
            session,
            to="robin@northwind.example",
            subject="Reset your password",
            template="reset_password",
            context={
                "user": {"full_name": "Robin", "email": "robin@northwind.example"},
                "link": "http://x/y",
                "expires_at": utcnow(),
            },
        )
        session.flush()
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(next_attempt_at=utcnow() - timedelta(minutes=minutes_ago))
        )


def test_readyz_names_an_outbox_nobody_sends_and_still_takes_traffic(
    committed_app: Flask,
) -> None:
    client = committed_app.test_client()
    with committed_app.app_context():
        _queue_due(minutes_ago=2)  # due a moment ago: a sender takes it within a minute
    assert client.get("/readyz").get_json()["outbox"] == "ok"
    with committed_app.app_context():
        _queue_due(minutes_ago=45)
    response = client.get("/readyz")
    assert response.status_code == 200  # the instance serves; mail waits
    answer = response.get_json()
    assert answer["database"] == "ok"
    assert answer["outbox"] == "stuck"
    assert answer["outbox_detail"].startswith("1 email(s) due and unsent, the oldest for 4")
    assert "`licensing worker`" in answer["outbox_detail"]
    assert "northwind" not in response.get_data(as_text=True)  # no address, no subject


def test_db_current_says_when_the_database_is_behind_the_code(tmp_path: Path) -> None:
    """The operator's check before and after an upgrade: `alembic current` cannot
    read the `--env-file` (its values are not shell syntax), and `db current`
    printed the revisions alone, leaving the operator to compare them by hand."""
    from licensing import migrations

    url = f"sqlite:///{tmp_path / 'older.db'}"
    migrations.upgrade(url, "billing_0011")
    result = CliRunner().invoke(main, ["db", "current"], env=production_environment(url))
    assert result.exit_code == 1, result.output
    assert "billing_0011" in result.output.splitlines()[0]
    assert "Error: behind this code: the database lacks revision(s) " in result.output
    migrations.upgrade(url)
    result = CliRunner().invoke(main, ["db", "current"], env=production_environment(url))
    assert result.exit_code == 0, result.output
    assert "Error" not in result.output


def test_serve_warns_about_sqlite_in_production_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Production took `DATABASE_URL=sqlite:///...` without a word."""
    from licensing import start_warnings
    from licensing.app import create_app
    from licensing.config import Config

    url = f"sqlite:///{tmp_path / 'licensing.db'}"
    for environment, warned in (("production", True), ("testing", False)):
        config = Config.from_env(production_environment(url, LICENSING_ENV=environment))
        app = create_app(config)
        caplog.clear()
        with app.app_context(), caplog.at_level(logging.WARNING, logger="licensing.serve"):
            start_warnings.warn_about_sqlite_in_production()
        app.extensions["licensing.db"].engine.dispose()
        assert ("DATABASE_URL is a SQLite file in production" in caplog.text) is warned
