"""Round 33: what an operator still met. `licensing run` in production, log lines
without a time of their own, Flask-Limiter's line naming the client's address."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from licensing.cli import main
from tests.support.checkout import this_checkout
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
