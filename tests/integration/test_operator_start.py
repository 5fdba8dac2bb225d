"""An operator's first production start (round 13): a refused setting is one
line naming it, and `licensing setup` publishes no sample rate cards there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from licensing.app import create_app
from licensing.cli import main
from tests.conftest import DatabaseTemplate, make_config
from tests.support.checkout import this_checkout
from tests.support.settings import production_environment

GOOD_KEY = "k" * 40
AUDIT_KEY = "a" * 40


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 32 characters"),
        ({"SMTP_URL": ""}, "SMTP_URL must be set when LICENSING_ENV=production"),
        ({"RATELIMIT_STORAGE_URI": "junk://"}, "RATELIMIT_STORAGE_URI: "),
    ],
)
def test_the_console_script_names_a_refused_setting_in_one_line(
    tmp_path: Path, changes: dict[str, str], said: str
) -> None:
    """It printed a traceback of the app factory ending in the setting's name."""
    environment = production_environment(f"sqlite:///{tmp_path / 'licensing.db'}", **changes)
    result = CliRunner().invoke(main, ["db", "current"], env=environment)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: the configuration cannot start the service: ")
    assert said in lines[0]


@pytest.fixture
def production_app(database_template: DatabaseTemplate) -> Iterator[Flask]:
    application = create_app(make_config(database_template.new_url(), environment="production"))
    yield application
    application.extensions["licensing.db"].engine.dispose()


def test_setup_in_production_publishes_no_sample_rate_cards(production_app: Flask) -> None:
    """Published cards never change: samples published on a production install
    priced vendors' quotes with invented figures for good."""
    runner = production_app.test_cli_runner()
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "Sample rate cards: not published in production" in result.output
    assert "licensing ratecards import FILE" in result.output
    listed = runner.invoke(args=["ratecards", "list"])
    assert "No rate cards are published." in listed.output


def test_sessions_signed_under_a_former_secret_key_still_open_pages(
    database_template: DatabaseTemplate,
) -> None:
    """Flask checks a session cookie under SECRET_KEY_FALLBACKS too: rotating the
    key with the former one kept signs nobody out."""
    from licensing import db
    from tests.support.factories import DEFAULT_PASSWORD, make_vendor

    former, new = "f" * 40, "n" * 40
    url = database_template.new_url()
    before = create_app(make_config(url, secret_key=former))
    with before.app_context():
        vendor = make_vendor(db.session())
        client = before.test_client()
        signing_in = client.post(
            "/sign-in", data={"email": vendor.email, "password": DEFAULT_PASSWORD}
        )
        assert signing_in.status_code == 302
        assert client.get("/portal/").status_code == 200
        cookie = client.get_cookie("licensing_session")
        assert cookie is not None
    after = create_app(make_config(url, secret_key=new, secret_key_fallbacks=(former,)))
    dropped = create_app(make_config(url, secret_key=new))
    try:
        for application, status in ((after, 200), (dropped, 302)):
            with application.app_context():
                rotated = application.test_client()
                rotated.set_cookie("licensing_session", cookie.value)
                assert rotated.get("/portal/").status_code == status
    finally:
        for application in (before, after, dropped):
            application.extensions["licensing.db"].engine.dispose()


# Between two commands run in one process, on both streams.
_NEXT = "--- the next command ---"
_COMMANDS_IN_ONE_PROCESS = f"""
import json, sys
from licensing.cli import main
for number, arguments in enumerate(json.loads(sys.argv[1])):
    if number:
        print({_NEXT!r}, flush=True)
        print({_NEXT!r}, file=sys.stderr, flush=True)
    try:
        main.main(args=arguments, prog_name="licensing")
    except SystemExit as done:
        if done.code:
            raise
"""


def _licensing(tmp_path: Path, *commands: list[str]) -> list[list[str]]:
    """The lines each of `licensing COMMANDS` prints (both streams), the commands
    run one after another in one fresh process: Alembic says its set-up once a
    process, when it is first imported, so the first command's lines are what a
    first run prints. (Round 63: a process of its own for each run cost some 3 s
    of interpreter and app import apiece.)"""
    import json
    import subprocess
    import sys

    environment = this_checkout(
        DATABASE_URL=f"sqlite:///{tmp_path / 'licensing.db'}",
        SECRET_KEY=GOOD_KEY,
        AUDIT_HMAC_KEY=AUDIT_KEY,
    )
    environment.pop("LOG_LEVEL", None)  # the default, INFO
    done = subprocess.run(
        [sys.executable, "-c", _COMMANDS_IN_ONE_PROCESS, json.dumps(commands)],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    printed = zip(done.stdout.split(_NEXT + "\n"), done.stderr.split(_NEXT + "\n"), strict=True)
    return [(out + err).splitlines() for out, err in printed]


@pytest.mark.parametrize("command", [["db", "upgrade"], ["setup"]])
def test_migrating_prints_what_it_did_not_alembics_set_up(
    tmp_path: Path, command: list[str]
) -> None:
    """Round 14: every run printed seven `INFO:alembic.runtime.plugins:setup
    plugin ...` lines, and "Context impl SQLiteImpl." / "Will assume
    non-transactional DDL." twice. The run again is the same process's second
    command: the set-up lines come once a process, with its first."""
    first, again = _licensing(tmp_path, command, command)
    assert not [line for line in first if "setup plugin" in line], first
    assert not [line for line in first if "Context impl" in line or "Will assume" in line]
    # What it did: each revision it ran, and where the database is now.
    assert any("Running upgrade  -> 0001" in line for line in first), first
    assert any(line.startswith("Database at revision ") for line in first), first
    # Run again on a database up to date: nothing but the revision (and `setup`'s steps).
    assert again[0].startswith("Database at revision "), again
    if command == ["db", "upgrade"]:
        assert len(again) == 1, again


def test_alembics_warnings_still_show() -> None:
    import logging

    create_app(make_config("sqlite://"))
    for name in ("alembic.runtime.plugins", "alembic.runtime.migration"):
        assert logging.getLogger(name).isEnabledFor(logging.WARNING)
    warning = logging.LogRecord(
        "alembic.runtime.migration", logging.WARNING, __file__, 1, "Will assume x", None, None
    )
    assert logging.getLogger("alembic.runtime.migration").filter(warning)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 32 characters"),
        ({"RATELIMIT_STORAGE_URI": "junk://"}, "RATELIMIT_STORAGE_URI: "),
    ],
)
def test_plain_gunicorn_names_a_refused_setting_in_one_line_and_stops(
    tmp_path: Path, changes: dict[str, str], said: str
) -> None:
    """`gunicorn wsgi:app`, the server run without `licensing serve`, printed
    each worker's traceback ending in the setting's name."""
    import subprocess
    import sys

    from tests.support.servers import free_port

    environment = this_checkout(
        **production_environment(f"sqlite:///{tmp_path / 'licensing.db'}", **changes)
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    done = subprocess.run(
        [str(gunicorn), "--bind", f"127.0.0.1:{free_port()}", "--workers", "1", "wsgi:app"],
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0  # the master stops: no worker can boot
    assert "Traceback" not in done.stderr, done.stderr
    refusals = [line for line in done.stderr.splitlines() if "cannot start" in line]
    assert len(refusals) == 1, done.stderr
    assert refusals[0].startswith("the configuration cannot start the service: ")
    assert said in refusals[0]
    assert "App failed to load" in done.stderr
