"""A server started on a database two billing migrations behind the code: what
`licensing serve` and plain `gunicorn wsgi:app` each log of it (the operator
tests of rounds 31 and 33 read the same log, started two ways)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from licensing import migrations
from tests.support.checkout import this_checkout
from tests.support.servers import free_port, until

BIN = Path(sys.executable).parent
AGENT = f"Python-urllib/{sys.version_info.major}.{sys.version_info.minor}"


def behind_url(tmp_path: Path) -> str:
    """A SQLite database migrated to billing_0011 only."""
    url = f"sqlite:///{tmp_path / 'older.db'}"
    migrations.upgrade(url, "billing_0011")
    return url


def billing_head() -> str:
    """The billing branch's newest revision: the one the warning names as lacking."""
    return next(name for name in migrations.heads("") if name.startswith("billing_"))


def serve_behind(command: list[str], tmp_path: Path, cwd: Path) -> tuple[str, str]:
    """Start `command` (with `--bind` and `--workers 1` added) on a database behind the
    code, ask `/healthz` once it answers, stop it, and return its whole log and the
    answer's request id."""
    environment = this_checkout(
        {
            **{name: value for name, value in os.environ.items() if name != "XDG_RUNTIME_DIR"},
            "HOME": str(tmp_path),
            "DATABASE_URL": behind_url(tmp_path),
            "SECRET_KEY": "s" * 64,
            "AUDIT_HMAC_KEY": "a" * 64,
        }
    )
    log, port = tmp_path / "log", free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=environment,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    request_id = ""
    try:
        until(lambda: "Booting worker" in log.read_text())

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
    return log.read_text(), request_id


def access_line_of_healthz(text: str) -> str:
    # The last: a try that timed out while the worker booted is logged too.
    return [line for line in text.splitlines() if "GET /healthz" in line][-1]
