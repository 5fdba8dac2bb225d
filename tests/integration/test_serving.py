"""`licensing serve`: gunicorn's master imports none of the app, so `kill -HUP`
starts workers on the code as it is on disk (they once ran the old code: the
master had imported the app, and workers are forked from it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def test_the_servers_master_process_imports_none_of_the_app() -> None:
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, licensing.serving; print(' '.join(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('licensing', 'flask', 'sqlalchemy'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert imported == ["licensing", "licensing.serving"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _workers(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


def _until(check: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    environment = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'served.sqlite'}",
        SECRET_KEY="s" * 64,
        AUDIT_HMAC_KEY="a" * 64,
    )
    server = subprocess.Popen(
        [str(BIN / "licensing"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield server, f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return int(response.status)


def test_hup_replaces_the_workers_and_the_server_keeps_serving(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    server, url = served
    _until(lambda: _status(url) == 200 and _workers(server.pid))
    # The command's own process is gunicorn's master (replaced, not a parent), so
    # HUP and TERM sent to it reach gunicorn.
    assert b"licensing.serving" in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    before = _workers(server.pid)
    os.kill(server.pid, signal.SIGHUP)
    _until(lambda: _workers(server.pid) and not _workers(server.pid) & before)
    _until(lambda: _status(url) == 200)
