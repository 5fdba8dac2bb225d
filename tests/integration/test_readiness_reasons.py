"""Round 40: `/readyz` keeps a failure's words out of its public answer (it needs no
sign-in and reads no secret); the operator learns why it failed from the app's log,
whose line carries the probe's request id (the answer's `X-Request-Id`, which the
access line ends with too). Before, a database that refused the write probe was
answered with the driver's own message as `detail`, which may name a file, a role or
a host."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from licensing.app import create_app
from licensing.db import make_engine
from licensing.web import health
from tests.conftest import make_config
from tests.support.behind import behind_url


def _probed(
    application: Flask, caplog: pytest.LogCaptureFixture
) -> tuple[TestResponse, logging.LogRecord]:
    """The probe's answer and the one line at WARNING or above the app logged for it,
    which carries the answer's request id."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = application.test_client().get("/readyz")
    [said] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert getattr(said, "request_id", None) == response.headers["X-Request-Id"]
    assert response.status_code == 503
    return response, said


def test_an_unreachable_database_is_logged_with_why_and_the_probes_request_id(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    database = app.extensions["licensing.db"]
    working = database.engine
    database.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        response, said = _probed(app, caplog)
    finally:
        database.engine = working
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert (said.levelname, said.getMessage()) == (
        "ERROR",
        "readiness check: database unreachable",
    )
    assert said.exc_info is not None
    assert "Connection refused" in str(said.exc_info[1])  # the why, in the log only


def test_a_read_only_database_is_named_so_and_the_drivers_words_are_logged(
    database_template: Any,
    backend: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = database_template.new_url()
    if backend == "sqlite":
        url = f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    else:
        request.getfixturevalue("postgres_server").execute(
            f'ALTER DATABASE "{url.rsplit("/", 1)[-1]}" SET default_transaction_read_only = on'
        )
    application = create_app(make_config(url))
    try:
        response, said = _probed(application, caplog)
    finally:
        application.extensions["licensing.db"].engine.dispose()
    assert response.get_json() == {
        "status": "unavailable",
        "database": "not writable",
        "detail": "the database is read-only",
    }
    assert said.levelname == "WARNING"
    assert said.getMessage().startswith("readiness check: database not writable: ")


def test_a_refusal_of_another_kind_is_answered_in_the_services_words_and_logged_whole(
    sqlite_template: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A driver's message the answer does not know (here a disk error naming the
    database's file) stays in the log; the answer says where to look."""

    def fails(_connection: object) -> None:
        raise sqlite3.OperationalError("disk I/O error: /srv/licensing/private/licensing.db")

    monkeypatch.setattr(health, "_probe_sqlite", fails)
    application = create_app(make_config(sqlite_template.new_url()))
    try:
        response, said = _probed(application, caplog)
    finally:
        application.extensions["licensing.db"].engine.dispose()
    assert response.get_json()["detail"] == health.NOT_WRITABLE_ELSE
    assert "/srv/licensing" not in response.get_data(as_text=True)
    assert said.getMessage() == (
        "readiness check: database not writable: "
        "disk I/O error: /srv/licensing/private/licensing.db"
    )


def test_a_database_behind_the_code_is_logged_with_the_probes_request_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    application = create_app(make_config(behind_url(tmp_path)))
    try:
        response, said = _probed(application, caplog)
    finally:
        application.extensions["licensing.db"].engine.dispose()
    assert response.get_json()["database"] == "schema behind"
    assert said.getMessage() == f"readiness check: {response.get_json()['detail']}"
