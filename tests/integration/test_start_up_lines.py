"""Round 36: an operator's start-up lines. The development keys' warnings were bare
lines on standard error, said by every process that built the app (four at a
`licensing serve --workers 2`: the command, the master's start-up check and each
worker); `Serving on http://...` was a bare line on standard output; and the
master built a second app in a fresh interpreter to say the start-up warnings,
about a second of every start. Now each line is in the app's format, said once per
server start, by the first worker to boot."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from licensing import serving
from tests.support.behind import AGENT, BIN, behind_url, billing_head
from tests.support.checkout import PROJECT_ROOT, this_checkout
from tests.support.servers import free_port, until

_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"


def _every_worker_serving(port: int, workers: int = 2) -> str:
    """Once each of the server's `workers` has built its app: the id of an answer to
    /healthz. A sync worker takes connections only once its app is built, and serves
    one at a time: with a connection held open (a request never finished) on every
    worker but one, a request is answered only by a worker that is not holding one.
    Connections are taken in the order they came, so the answer comes once `workers`
    workers take connections (round 63: a sleep of 3 s and one of 5 s had to be long
    enough for that, and on a loaded machine might not have been)."""
    held = [socket.create_connection(("127.0.0.1", port), timeout=90) for _ in range(workers - 1)]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=90) as answer:
            assert answer.status == 200
            return str(answer.headers["X-Request-Id"])
    finally:
        for connection in held:
            connection.close()  # never a request: no access line, no answer


def _started(command: list[str], tmp_path: Path, *, settle: str) -> tuple[str, list[str], str, str]:
    """Start `command` in development without keys, on a database behind the code,
    with two workers; wait for a 200 from /healthz, for `settle` in the log and for
    both workers to have built their apps, and take the log so far and the start-up
    warnings' flags left. Then send the server a HUP, wait for the workers it starts
    to have built their apps (the start's gone), stop it, and return the start's log,
    its flags, the whole log and the id of the last answer to /healthz (its access
    line written). With the jobs' worker, the server is stopped once that worker has
    checked the code on disk and replaces itself (stopped mid-check, it would finish
    the check first, and the server wait for it): its new start, one more import of
    the app, is not waited for, as it runs the command line it started with
    (`--beside-server`), whose silence the start's log shows; `test_worker.py` shows
    it restarting.

    One server run answers for both the start and the reload (round 62): each
    started in a test of its own, four runs of a multi-process server on a loaded
    machine took some 270 s of the suite's wall time; two do the same work, and
    answer for what two more servers were started to see (the warning of a
    schema behind, the access line ending with the request's id)."""
    environment = this_checkout(
        {
            name: value
            for name, value in os.environ.items()
            if name not in ("XDG_RUNTIME_DIR", "SECRET_KEY", "AUDIT_HMAC_KEY", "JOURNAL_STREAM")
        },
        HOME=str(tmp_path),
        TMPDIR=str(tmp_path),  # the start-up warnings' flag is made here
        LICENSING_ENV="development",
        LOG_TIMESTAMPS="on",
        DATABASE_URL=behind_url(tmp_path),
    )
    log, port = tmp_path / "log", free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=environment,
            # Plain gunicorn reads gunicorn.conf.py from where it starts; `licensing
            # serve` needs no directory of ours.
            cwd=PROJECT_ROOT if Path(command[0]).name == "gunicorn" else tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:

        def answered() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                return bool(r.status == 200)

        until(answered, seconds=90)
        until(lambda: settle in log.read_text(), seconds=90)
        _every_worker_serving(port)
        at_start = log.read_text()
        flags = [path.name for path in tmp_path.glob("licensing-start-warnings-*")]
        booted, exited = at_start.count("Booting worker"), at_start.count("Worker exiting")
        server.send_signal(signal.SIGHUP)
        until(lambda: log.read_text().count("Booting worker") >= booted + 2, seconds=120)
        # The start's workers gone, so only the reload's take connections.
        until(lambda: log.read_text().count("Worker exiting") >= exited + 2, seconds=90)
        request_id = _every_worker_serving(port)
        until(lambda: request_id in log.read_text(), seconds=30)
        if "--with-worker" in command:
            until(lambda: "worker: restarting (pid " in log.read_text(), seconds=120)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return at_start, flags, log.read_text(), request_id


# The two documented ways to start a server, each with what its log says once settled.
_BOTH_SERVERS = pytest.mark.parametrize(
    ("command", "settle"),
    [
        ([str(BIN / "licensing"), "serve", "--with-worker"], "worker started: "),
        ([str(BIN / "gunicorn"), "wsgi:app"], "Booting worker"),
    ],
    ids=["licensing serve --with-worker", "gunicorn wsgi:app"],
)


@pytest.mark.timeout(360)
@_BOTH_SERVERS
def test_a_server_start_says_each_start_up_warning_once_and_a_reload_once_more(
    tmp_path: Path, command: list[str], settle: str
) -> None:
    """Started, each warning is said once in the app's format (not once a process
    that built the app). Round 40: a HUP said nothing, so an operator who reloaded
    new code on a database behind it (or a configuration with a development key)
    was not told. Once at the start and once at the reload, by one worker each
    time, stamped."""
    text, flags, whole, request_id = _started(command, tmp_path, settle=settle)
    for key in ("SECRET_KEY", "AUDIT_HMAC_KEY"):
        said = [line for line in text.splitlines() if f"{key} is not set" in line]
        assert len(said) == 1, text  # not once a process that built the app
        assert re.fullmatch(
            rf"{_STAMP} WARNING:licensing\.config:{key} is not set: using a generated "
            rf"development key from .*; set {key} in production",
            said[0],
        ), said
    assert text.count("The database lacks revision(s)") == 1, text  # two workers, once
    # Round 33: plain gunicorn said nothing of a database behind the code.
    assert re.search(
        rf"WARNING:licensing\.serve:The database lacks revision\(s\) .*{billing_head()}.*: "
        r"run `licensing db upgrade`\. Serving meanwhile: /readyz answers 503",
        text,
    ), text
    # Round 61: plain gunicorn said nothing of the limits counted per worker;
    # `licensing serve` says it before the master starts, and its workers not again.
    assert text.count("Rate limits are counted per worker: 2 workers") == 1, text
    assert flags == []
    # Round 65: both run the worker whose refusals of a request the app answers.
    assert "Using worker: licensing.serving.ServiceWorker" in text, text
    if command[-1] == "--with-worker":
        assert re.search(
            rf"^{_STAMP} INFO:licensing\.serve:Serving on http://127\.0\.0\.1:\d+$",
            text,
            flags=re.MULTILINE,
        ), text
        assert not re.search(r"^Serving on", text, flags=re.MULTILINE), text

    for key in ("SECRET_KEY", "AUDIT_HMAC_KEY"):
        said = [line for line in whole.splitlines() if f"{key} is not set" in line]
        assert len(said) == 2, whole  # the start's and the reload's, not a process's each
        for line in said:
            assert re.fullmatch(rf"{_STAMP} WARNING:licensing\.config:{key} is not set: .*", line)
    assert whole.count("The database lacks revision(s)") == 2, whole
    # Round 33: each request's access line ends with its id, as `licensing serve`'s.
    [access] = [
        line for line in whole.splitlines() if "GET /healthz" in line and request_id in line
    ]
    assert access.endswith(f'"GET /healthz HTTP/1.1" 200 16 "-" "{AGENT}" {request_id}'), whole
    assert [path.name for path in tmp_path.glob("licensing-start-warnings-*")] == []


class _Replaced(Exception):
    """`os.execv` in `licensing serve`: the test stops there, the server unstarted."""


def test_serving_on_is_logged_as_the_other_start_up_lines(
    app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def replace(path: str, argv: list[str]) -> None:
        raise _Replaced(argv)

    monkeypatch.setattr("licensing.cli.os.execv", replace)
    from licensing import cli

    with caplog.at_level("INFO", logger="licensing.serve"):
        result = app.test_cli_runner().invoke(cli.serve, ["--bind", "127.0.0.1:5290"])
    assert isinstance(result.exception, _Replaced)
    [said] = [r for r in caplog.records if r.getMessage() == "Serving on http://127.0.0.1:5290"]
    assert (said.name, said.levelname) == ("licensing.serve", "INFO")
    assert "Serving on" not in result.output  # no bare line on standard output


def test_the_masters_start_hook_builds_no_app_and_the_first_worker_alone_claims_the_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The master ran `python -m licensing.start_warnings`, which built a second app."""

    def no_process(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the master started a process to say the warnings")

    monkeypatch.setattr(serving.subprocess, "run", no_process)
    monkeypatch.setattr(serving.subprocess, "Popen", no_process)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(serving, "_start_warnings_flag", None)
    assert serving.claim_start_warnings() is None  # not started by the hook: each says its own
    serving.warn_at_start(object())
    [flag] = tmp_path.glob("licensing-start-warnings-*")
    assert serving.claim_start_warnings() is True  # the first worker to boot
    assert serving.claim_start_warnings() is False  # the others, and those a HUP starts
    assert not flag.exists()
    serving.warn_at_start(object())
    [flag] = tmp_path.glob("licensing-start-warnings-*")
    serving.forget_start_warnings(object())  # a server whose workers never booted
    assert not flag.exists()


def test_a_reload_leaves_the_flag_again_for_the_first_new_worker_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 40: the workers a HUP started found the flag gone and said nothing. The
    `on_reload` hook (gunicorn.conf.py's and `licensing serve`'s, with or without the
    jobs' worker) leaves it again; one unclaimed since the start is replaced."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(serving, "_start_warnings_flag", None)
    assert serving.SETTINGS["on_reload"] is serving.warn_again_on_reload
    serving.warn_at_start(object())
    assert serving.claim_start_warnings() is True  # the start's first worker
    serving.warn_again_on_reload(object())  # kill -HUP
    assert serving.claim_start_warnings() is True  # the reload's first worker
    assert serving.claim_start_warnings() is False  # its other workers
    serving.warn_again_on_reload(object())  # a reload whose workers never booted...
    serving.warn_again_on_reload(object())  # ...then another: one flag, not two
    [flag] = tmp_path.glob("licensing-start-warnings-*")
    assert serving.claim_start_warnings() is True
    assert not flag.exists()

    class Jobs:
        reloaded = False

        def reload(self, _server: object) -> None:
            self.reloaded = True

    server = serving.Server({}, with_worker=True)
    server.jobs = Jobs()
    server.cfg.on_reload(object())  # `licensing serve --with-worker`: both
    assert server.jobs.reloaded
    assert serving.claim_start_warnings() is True


def test_a_start_up_check_that_fails_is_logged_and_the_worker_serves(
    app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The checks ran in an interpreter of their own; in the worker, one that raised
    would stop it booting, and gunicorn's master with it."""
    from licensing import start_warnings

    def fails() -> None:
        raise RuntimeError("the migrations' folder cannot be read")

    monkeypatch.setattr(start_warnings, "warn_when_schema_behind", fails)
    with caplog.at_level("WARNING", logger="licensing.serve"):
        start_warnings.at_server_start(app)
    [said] = [r for r in caplog.records if r.name == "licensing.serve"]
    assert said.getMessage() == "The start-up checks could not run; serving anyway"
    assert said.exc_info is not None
