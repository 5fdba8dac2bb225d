"""Round 33: what an operator still met. `licensing run` in production, log lines
without a time of their own, Flask-Limiter's line naming the client's address."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from licensing import serving
from licensing.cli import main
from tests.support.checkout import PROJECT_ROOT, this_checkout
from tests.support.servers import free_port, until
from tests.support.settings import production_environment

BIN = Path(sys.executable).parent
_AGENT = f"Python-urllib/{sys.version_info.major}.{sys.version_info.minor}"


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


_STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING:licensing\.probe:hello$")
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


def test_plain_gunicorn_ends_the_access_line_with_the_request_id_and_warns_of_a_schema_behind(
    tmp_path: Path,
) -> None:
    """Round 33: `gunicorn wsgi:app` wrote gunicorn's default access line (no id),
    or none at all, and said nothing of a database behind the code; it now reads
    gunicorn.conf.py, whose settings are `licensing serve`'s."""
    from licensing import migrations

    url = f"sqlite:///{tmp_path / 'older.db'}"
    migrations.upgrade(url, "billing_0011")
    environment = this_checkout(
        {
            **{name: value for name, value in os.environ.items() if name != "XDG_RUNTIME_DIR"},
            "HOME": str(tmp_path),
            "DATABASE_URL": url,
            "SECRET_KEY": "s" * 64,
            "AUDIT_HMAC_KEY": "a" * 64,
        }
    )
    log, port = tmp_path / "log", free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=environment,
            cwd=PROJECT_ROOT,  # where an operator starts it: gunicorn.conf.py is read from there
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        until(lambda: "Booting worker" in log.read_text())
        request_id = ""

        def answered() -> bool:
            nonlocal request_id
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    request_id = r.headers["X-Request-Id"]
            except OSError:
                return False
            return True

        until(answered)
        until(lambda: request_id in log.read_text())
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert re.search(
        r"WARNING:licensing\.serve:The database lacks revision\(s\) .*billing_0013.*: "
        r"run `licensing db upgrade`\. Serving meanwhile: /readyz answers 503",
        text,
    ), text
    assert text.count("The database lacks revision(s)") == 1, text  # once, not per worker
    access_line = [line for line in text.splitlines() if "GET /healthz" in line][-1]
    assert access_line.endswith(f'"GET /healthz HTTP/1.1" 200 16 "-" "{_AGENT}" {request_id}')
    assert "Control socket listening" not in text


def test_gunicorn_conf_is_the_settings_licensing_serve_applies() -> None:
    settings: dict[str, Any] = {}
    exec((PROJECT_ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own file
    assert {name: settings[name] for name in serving.SETTINGS} == serving.SETTINGS
    server = serving.Server({"bind": "127.0.0.1:1", "workers": 1}, with_worker=False)
    assert server.cfg.access_log_format == serving.ACCESS_LOG_FORMAT
    assert server.cfg.on_starting is serving.warn_at_start
    assert server.cfg.logger_class is serving.SecretHidingLogger
