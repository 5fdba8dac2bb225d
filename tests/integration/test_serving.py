"""`licensing serve`: gunicorn's master imports none of the app, so `kill -HUP`
starts workers on the code as it is on disk (they once ran the old code: the
master had imported the app, and workers are forked from it)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.checkout import this_checkout
from tests.support.servers import free_port, until

BIN = Path(sys.executable).parent


def test_the_servers_master_process_imports_none_of_the_app() -> None:
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, licensing.serving; print(' '.join(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('licensing', 'flask', 'sqlalchemy'))))",
        ],
        env=this_checkout(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Its modules of ours besides: the standard-library rule hiding secrets in the
    # log, and the check of the code on disk before a HUP (standard library only).
    assert imported == [
        "licensing",
        "licensing.secret_paths",
        "licensing.serving",
        "licensing.start_check",
    ]


def _workers(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return int(response.status)


def _started(
    tmp_path: Path, *options: str, **settings: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`licensing serve` with its home in `tmp_path`, where gunicorn would put a
    control socket of its own (`$HOME/.gunicorn/gunicorn.ctl`); its log in a file;
    `settings` added to its environment."""
    environment = {name: value for name, value in os.environ.items() if name != "XDG_RUNTIME_DIR"}
    environment.update(
        HOME=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'served.sqlite'}",
        SECRET_KEY="s" * 64,
        AUDIT_HMAC_KEY="a" * 64,
        **settings,
    )
    environment = this_checkout(environment)
    log, port = tmp_path / "stderr", free_port()
    command = [str(BIN / "licensing"), "serve", "--bind", f"127.0.0.1:{port}"]
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [*command, "--workers", "1", *options],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return server, f"http://127.0.0.1:{port}/healthz", log


def _stopped(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def test_hup_replaces_the_workers_and_no_control_socket_is_opened_unless_asked(
    tmp_path: Path,
) -> None:
    """The server keeps serving through a HUP, on new workers. gunicorn 25.1 and
    later open a control socket by default, under the user's home, and print where
    at every start; `licensing serve` never used it. One server run answers both
    (round 62: each was a test starting a server of its own)."""
    server, url, log = _started(tmp_path)
    try:
        # The master opens its control socket as soon as it has forked the
        # workers, before a worker has imported the app and can answer.
        until(lambda: _status(url) == 200 and _workers(server.pid))
        # The command's own process is gunicorn's master (replaced, not a parent), so
        # HUP and TERM sent to it reach gunicorn.
        assert b"licensing.serving" in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        before = _workers(server.pid)
        os.kill(server.pid, signal.SIGHUP)
        until(lambda: _workers(server.pid) and not _workers(server.pid) & before)
        until(lambda: _status(url) == 200)
    finally:
        _stopped(server)
    assert "Control socket" not in log.read_text()
    assert not (tmp_path / ".gunicorn").exists()


def test_a_control_socket_the_operator_asks_for_is_opened_where_asked(tmp_path: Path) -> None:
    socket_path = tmp_path / "licensing.ctl"
    server, _url, log = _started(tmp_path, "--control-socket", str(socket_path))
    try:
        until(lambda: f"Control socket listening at {socket_path}" in log.read_text())
        assert socket_path.is_socket()
    finally:
        _stopped(server)


def test_hup_with_code_that_cannot_start_is_refused_and_the_workers_keep_serving(
    tmp_path: Path,
) -> None:
    """Round 13: HUP stopped the old workers, the new ones failed to boot (a
    release that does not import, a setting the new code refuses) and gunicorn
    halted: the service was down until someone restarted it."""
    import shutil

    from licensing.config import PROJECT_ROOT

    release = tmp_path / "release"
    shutil.copytree(
        PROJECT_ROOT / "licensing",
        release / "licensing",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("templates", "static", "migrations"):
        (release / name).symlink_to(PROJECT_ROOT / name)
    environment = {name: value for name, value in os.environ.items() if name != "XDG_RUNTIME_DIR"}
    environment.update(
        HOME=str(tmp_path),
        PYTHONPATH=str(release),
        DATABASE_URL=f"sqlite:///{tmp_path / 'served.sqlite'}",
        SECRET_KEY="s" * 64,
        AUDIT_HMAC_KEY="a" * 64,
    )
    log, port = tmp_path / "stderr", free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [str(BIN / "licensing"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        until(lambda: _status(url) == 200 and _workers(server.pid))
        before = _workers(server.pid)
        config = release / "licensing" / "config.py"
        config.write_text(
            config.read_text() + "\nraise ImportError('a release that cannot start')\n"
        )
        os.kill(server.pid, signal.SIGHUP)
        until(lambda: "reload refused, serving on as before: " in log.read_text())
        assert "a release that cannot start" in log.read_text()
        assert server.poll() is None
        assert _workers(server.pid) == before
        assert _status(url) == 200
    finally:
        _stopped(server)


def _redirect_for(url: str, headers: dict[str, str]) -> str:
    """Where `/api/v1` (without its slash) redirects a request with `headers`: an
    absolute address, so its scheme is the one the app believes it was asked in."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    try:
        connection.request("GET", "/api/v1", headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 308
        return str(response.getheader("Location"))
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("trusted_proxies", "scheme"),
    [("0", "http"), ("1", "https")],
)
def test_only_trusted_proxies_decide_the_scheme_a_request_was_made_in(
    tmp_path: Path, trusted_proxies: str, scheme: str
) -> None:
    """Round 14: gunicorn was told to believe `X-Forwarded-Proto` from any
    address, so with TRUSTED_PROXIES=0 (no proxy in front) any client could say
    its plain-HTTP request was HTTPS. TRUSTED_PROXIES alone decides now."""
    server, url, _log = _started(tmp_path, TRUSTED_PROXIES=trusted_proxies)
    try:
        until(lambda: _status(url) == 200)
        forwarded = _redirect_for(url, {"X-Forwarded-Proto": "https"})
        plain = _redirect_for(url, {})
    finally:
        _stopped(server)
    assert urlsplit(forwarded).scheme == scheme
    assert urlsplit(plain).scheme == "http"
