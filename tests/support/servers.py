"""Real servers on loopback for the test suite: PostgreSQL, SMTP, localstripe, the app.

Each is started by the test session itself, on a free port, in a temporary
directory, and stopped at the end. Nothing here imitates a server: the suite
talks to the real thing.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import glob
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import pytest
from werkzeug.serving import make_server

from tests.support.checkout import this_checkout
from tests.support.travelled_clock import travelled_to

T = TypeVar("T")


class ServerUnavailable(RuntimeError):
    """A server the tests need cannot be started on this machine."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise ServerUnavailable(f"nothing answered on port {port} within {timeout}s")


def until(check: object, seconds: float = 30) -> None:
    """Wait until `check()` is true (an OSError counting as not yet), for up to
    `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


# --- PostgreSQL ---------------------------------------------------------------


def postgres_bindir() -> Path:
    """Debian keeps the server binaries off PATH, under /usr/lib/postgresql/N/bin."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServerUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


class PostgresServer:
    """A throwaway cluster: initdb in a temp dir, trust auth on 127.0.0.1.

    initdb and postgres refuse to run as root, so as root the cluster belongs to
    the `postgres` system user and its commands run through `runuser`.
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="licensing-pg-"))
        self.data = self.root / "data"
        self.as_user: str | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable("running as root and there is no postgres user") from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = "postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServerUnavailable(f"{args[0]} failed: {result.stderr.strip() or result.stdout}")

    def start(self) -> PostgresServer:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        return self.resume()

    def resume(self) -> PostgresServer:
        """Start the cluster's server (again, after `halt`), on the same port."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def halt(self) -> None:
        """Stop the server as an operator's restart does (`pg_ctl stop -m fast`: every
        session is ended, its open transaction rolled back), keeping the cluster."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str, template: str | None = None) -> str:
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        with contextlib.suppress(ServerUnavailable):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        remove_in_the_background(self.root)


def remove_in_the_background(directory: Path) -> None:
    """Remove `directory` in a process of its own, left to finish after the caller.

    The session's cluster holds a database for each test that needed one of its
    own (some 15 MB and 750 files each): at the end of a CI run, a few hundred of
    them, and removing them took 10 to 17 s of each test worker's last test (the
    session's teardown is timed as its part: round 63 found it on a unit test of
    nine milliseconds). Nothing waits for the files to go, so nothing waits now."""
    try:
        subprocess.run(
            ["sh", "-c", 'rm -rf -- "$1" &', "sh", str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not ended with the session's process group
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(directory, ignore_errors=True)


# --- SMTP ---------------------------------------------------------------------


@dataclass
class SMTPServer:
    """An aiosmtpd server on loopback that keeps every message it receives."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False  # answer every message with a temporary failure

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = self.port or free_port()
        # Notified as each message arrives, so tests wait for mail without polling.
        self._arrived = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.refuse:
            return "451 Requested action aborted: try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        with self._arrived:
            self.messages.clear()
        self.refuse = False

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        with self._arrived:
            return [m for m in self.messages if address in str(m["To"])]

    def when(self, find: Callable[[], T | None], timeout: float = 15.0) -> T | None:
        """What `find()` returns once it is not None, looked for as each message
        arrives (not on a clock), or None after `timeout` seconds. `find` may read
        `to()` and `messages`: the lock is the same, and reentrant."""
        with self._arrived:
            return self._arrived.wait_for(find, timeout)

    def link_to(self, address: str, path: str, timeout: float = 15.0) -> str:
        """The newest link to `path` on the loopback app in the mail `address`
        received, waiting for it to arrive."""
        pattern = re.compile(rf"(http://127\.0\.0\.1:\d+{path}\S*)")

        def newest() -> str | None:
            for message in reversed(self.to(address)):
                found = pattern.search(message_text(message))
                if found:
                    return found.group(1)
            return None

        link = self.when(newest, timeout)
        if link is None:
            raise AssertionError(f"no {path} link emailed to {address}")
        return link


def message_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


# --- localstripe --------------------------------------------------------------


class LocalStripe:
    """The `localstripe` server (PyPI): a stateful Stripe-compatible API on loopback."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="localstripe-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        return f"{self.url}/js.stripe.com/v3/"

    def start(self) -> LocalStripe:
        if importlib.util.find_spec("localstripe") is None:
            raise ServerUnavailable("localstripe is not installed in this environment")
        # localstripe itself, its store not pickled to disk on every write (round 65;
        # the launcher's docstring says why).
        launcher = Path(__file__).with_name("localstripe_in_memory.py")
        self.process = subprocess.Popen(
            [sys.executable, str(launcher), "--port", str(self.port), "--from-scratch"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)
        return self

    def register_webhook(self, webhook_id: str, url: str, secret: str) -> None:
        """localstripe delivers signed events to URLs registered this way. It signs
        them with the real clock, so under a travelled one (`TRAVEL_TO`) the service
        refuses them as too old or too new, as it should: the test is skipped, saying
        so, rather than fail on an artefact of travel."""
        if travelled_to() is not None:
            pytest.skip(
                f"travelled to {travelled_to()}: localstripe signs its webhook deliveries "
                "with the real clock, outside Stripe's tolerance (an artefact of travel)"
            )
        data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback test server
            f"{self.url}/_config/webhooks/{webhook_id}", data=data, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 200

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


# --- the app itself -----------------------------------------------------------


# How often the live server's loop looks for `stop`. socketserver's default, half a
# second, was waited out at the end of every browser test (its `shutdown` returns
# only once the loop has looked): some 0.45 s of each test's teardown, a minute and a
# half of the browser tier. A request still wakes the loop at once; only a stop waits.
SHUTDOWN_POLL_SECONDS = 0.02


class LiveServer:
    """The Flask app served by werkzeug in a thread, on a free loopback port."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self._thread.start()
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(10)


class GunicornServer:
    """The service as production runs it: `licensing serve` (gunicorn, several
    worker processes) in a subprocess, configured through the environment.
    `workers=None` leaves the count to `licensing serve`.

    `through_cli=False` starts the command `licensing serve` replaces itself with
    (`licensing.serving.command`: gunicorn's master, whose workers import the app),
    without the console script's import of the CLI first (some 2 s of CPU, 8 s of
    wall on a loaded machine): for a test of what the server answers, not of the
    command."""

    def __init__(
        self, environment: dict[str, str], workers: int | None = 2, *, through_cli: bool = True
    ) -> None:
        self.port = free_port()
        self.workers = workers
        self.environment = environment
        self.through_cli = through_cli
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GunicornServer:
        executable = Path(sys.executable).with_name("licensing")
        if not executable.exists():
            raise ServerUnavailable("the licensing console script is not installed")
        workers = [] if self.workers is None else ["--workers", str(self.workers)]
        command = [str(executable), "serve", "--bind", f"127.0.0.1:{self.port}", *workers]
        if not self.through_cli:
            from licensing.serving import command as serving_command

            assert self.workers is not None, "the count is the CLI's to choose"
            options = {"bind": f"127.0.0.1:{self.port}", "workers": self.workers, "timeout": 60}
            command = serving_command(options, with_worker=False)
        self.process = subprocess.Popen(
            command,
            env=this_checkout(**self.environment),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            # The command imports the app before gunicorn binds: on a loaded machine
            # that alone has taken more than 20 s.
            wait_for_port(self.port, timeout=60.0)
        except ServerUnavailable:
            self.stop()  # it may still bind later: not left serving after the test
            raise
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
