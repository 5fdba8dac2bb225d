"""`licensing serve`: gunicorn's master imports none of the app, so `kill -HUP`
starts workers on the code as it is on disk (they once ran the old code: the
master had imported the app, and workers are forked from it)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.support.checkout import this_checkout
from tests.support.servers import free_port, until

BIN = Path(sys.executable).parent

# The module's two servers serve all its tests: on one worker, each started once.
pytestmark = pytest.mark.xdist_group("serving")


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
    # log, the check of the code on disk before a HUP, and what its workers tell the
    # app of a request gunicorn refused (round 65; standard library only).
    assert imported == [
        "licensing",
        "licensing.refusal",
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


@dataclass
class _Served:
    """A running `licensing serve --workers 1`: its process (gunicorn's master), its
    /healthz, its log, its home (where gunicorn would put a control socket of its
    own, `$HOME/.gunicorn/gunicorn.ctl`) and the code it imports."""

    server: subprocess.Popen[bytes]
    url: str
    log: Path
    home: Path
    code: Path


def _serving(home: Path, code: Path, *options: str, **settings: str) -> Iterator[_Served]:
    """`licensing serve` importing the `licensing` under `code`, with its home in
    `home` and `settings` added to its environment; stopped when done. Started once a
    module (round 63): each test had started a server of its own, five a run, each
    paying for its worker's import of the app; two now answer for all six tests."""
    environment = {name: value for name, value in os.environ.items() if name != "XDG_RUNTIME_DIR"}
    environment.update(
        HOME=str(home),
        DATABASE_URL=f"sqlite:///{home / 'served.sqlite'}",
        SECRET_KEY="s" * 64,
        AUDIT_HMAC_KEY="a" * 64,
        **settings,
    )
    environment["PYTHONPATH"] = str(code)
    log, port = home / "stderr", free_port()
    command = [str(BIN / "licensing"), "serve", "--bind", f"127.0.0.1:{port}"]
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [*command, "--workers", "1", *options],
            env=environment,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    served = _Served(server, f"http://127.0.0.1:{port}/healthz", log, home, code)
    try:
        # A start imports the app in its worker: on a loaded machine, well over 30 s.
        until(lambda: _status(served.url) == 200 and _workers(server.pid), seconds=120)
        yield served
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    """The server as an operator starts it (no control socket, no proxy trusted), on
    a copy of this checkout's code, a release a test may break on disk and mend."""
    from licensing.config import PROJECT_ROOT

    home = tmp_path_factory.mktemp("served")
    release = home / "release"
    shutil.copytree(
        PROJECT_ROOT / "licensing",
        release / "licensing",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("templates", "static", "migrations"):
        (release / name).symlink_to(PROJECT_ROOT / name)
    yield from _serving(home, release)


@pytest.fixture(scope="module")
def served_asking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    """The server with what an operator may ask for: a control socket where they say,
    and one proxy in front trusted."""
    from tests.support.checkout import PROJECT_ROOT

    home = tmp_path_factory.mktemp("served-asking")
    options = ("--control-socket", str(home / "licensing.ctl"))
    yield from _serving(home, PROJECT_ROOT, *options, TRUSTED_PROXIES="1")


def test_hup_replaces_the_workers_and_no_control_socket_is_opened_unless_asked(
    served: _Served,
) -> None:
    """The server keeps serving through a HUP, on new workers. gunicorn 25.1 and
    later open a control socket by default, under the user's home, and print where
    at every start; `licensing serve` never used it. One server run answers both
    (round 62: each was a test starting a server of its own)."""
    server, url = served.server, served.url
    # The master opens its control socket as soon as it has forked the workers,
    # before a worker has imported the app and can answer: the server has answered.
    assert _status(url) == 200
    # The command's own process is gunicorn's master (replaced, not a parent), so
    # HUP and TERM sent to it reach gunicorn.
    assert b"licensing.serving" in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    before = _workers(server.pid)
    os.kill(server.pid, signal.SIGHUP)
    # The HUP checks the code on disk in a fresh interpreter, then starts new workers.
    until(lambda: _workers(server.pid) and not _workers(server.pid) & before, seconds=120)
    until(lambda: _status(url) == 200, seconds=120)
    assert "Control socket" not in served.log.read_text()
    assert not (served.home / ".gunicorn").exists()


def test_a_control_socket_the_operator_asks_for_is_opened_where_asked(
    served_asking: _Served,
) -> None:
    socket_path = served_asking.home / "licensing.ctl"
    until(lambda: f"Control socket listening at {socket_path}" in served_asking.log.read_text())
    assert socket_path.is_socket()


def test_hup_with_code_that_cannot_start_is_refused_and_the_workers_keep_serving(
    served: _Served,
) -> None:
    """Round 13: HUP stopped the old workers, the new ones failed to boot (a
    release that does not import, a setting the new code refuses) and gunicorn
    halted: the service was down until someone restarted it."""
    server, url = served.server, served.url
    until(lambda: _status(url) == 200 and _workers(server.pid))
    before = _workers(server.pid)
    config = served.code / "licensing" / "config.py"
    mended = config.read_text()
    config.write_text(mended + "\nraise ImportError('a release that cannot start')\n")
    try:
        os.kill(server.pid, signal.SIGHUP)
        until(
            lambda: "reload refused, serving on as before: " in served.log.read_text(),
            seconds=120,
        )
        assert "a release that cannot start" in served.log.read_text()
        assert server.poll() is None
        assert _workers(server.pid) == before
        assert _status(url) == 200
    finally:
        config.write_text(mended)  # the module's server serves on for the other tests


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
    ("server", "scheme"),
    [("served", "http"), ("served_asking", "https")],
    ids=["0-http", "1-https"],
)
def test_only_trusted_proxies_decide_the_scheme_a_request_was_made_in(
    request: pytest.FixtureRequest, server: str, scheme: str
) -> None:
    """Round 14: gunicorn was told to believe `X-Forwarded-Proto` from any
    address, so with TRUSTED_PROXIES=0 (no proxy in front) any client could say
    its plain-HTTP request was HTTPS. TRUSTED_PROXIES alone decides now: the
    module's servers trust none (`served`) and one (`served_asking`)."""
    url = request.getfixturevalue(server).url
    until(lambda: _status(url) == 200)
    forwarded = _redirect_for(url, {"X-Forwarded-Proto": "https"})
    plain = _redirect_for(url, {})
    assert urlsplit(forwarded).scheme == scheme
    assert urlsplit(plain).scheme == "http"


def _answer(url: str, target: str) -> tuple[int, str, bytes]:
    """The status, content type and body the server answers `GET target` with."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, str(response.getheader("Content-Type")), response.read()
    finally:
        connection.close()


def _every_byte_encoded(text: str) -> str:
    """`text` percent-encoded byte by byte, ASCII letters too: legal, and the longest."""
    return "".join(f"%{byte:02X}" for byte in text.encode())


# 각 typed as its three conjoining jamo (ᄀ, ᅡ, ᆨ: nine bytes of UTF-8), which the app
# composes into one syllable (licensing.printable.composed): 27 bytes a character.
DECOMPOSED_SYLLABLE = "\u1100\u1161\u11a8"


def test_the_longest_legal_request_lines_reach_the_app_and_are_answered_in_json(
    served: _Served,
) -> None:
    """Round 64: gunicorn's default request line, 4,094 bytes, refused these with its
    own 414 in text/html before the app saw them: an invoice search of 200 characters
    (its bound) typed decomposed, and the audit-event search with every text at its
    bound in 4-byte characters (tests/integration/test_request_line.py: the longest of
    the document's operations in any script). Both reach the app now: its JSON answer
    (401, no token given) with its request id."""
    until(lambda: _status(served.url) == 200)
    search = "/api/v1/invoices?q=" + quote(DECOMPOSED_SYLLABLE * 200, safe="")
    wide = "\U0001f600"  # four bytes of UTF-8
    audit = "/api/v1/audit-events?" + "&".join(
        [
            *(
                f"{name}={quote(wide * bound, safe='')}"
                for name, bound in (("entity_type", 50), ("entity_id", 64), ("actor", 254))
            ),
            f"action={quote(wide * 100, safe='')}",
            *(
                f"{name}={_every_byte_encoded(value)}"
                for name, value in (
                    ("since", "2027-01-01"),
                    ("until", "2027-12-31"),
                    ("page", "100000"),
                    ("per_page", "500"),
                )
            ),
        ]
    )
    for target in (search, audit):
        assert len(f"GET {target} HTTP/1.1") > 4094
        status, content_type, body = _answer(served.url, target)
        assert status == 401, body[:200]
        assert content_type == "application/problem+json"
    assert len(f"GET {audit} HTTP/1.1") == 5805  # the figure serving.SETTINGS names


def test_a_request_line_beyond_the_limit_is_refused_with_414(served: _Served) -> None:
    """The limit is 8,190 bytes, the request line's CRLF not counted: a line of 8,190
    bytes reaches the app, one byte more gunicorn refuses (414), as docs/api.md says;
    the answer is the app's since round 65 (below)."""
    until(lambda: _status(served.url) == 200)
    prefix = "/api/v1/invoices?q="
    at_the_limit = prefix + "a" * (8190 - len(f"GET {prefix} HTTP/1.1"))
    assert len(f"GET {at_the_limit} HTTP/1.1") == 8190
    status, content_type, _ = _answer(served.url, at_the_limit)
    assert (status, content_type) == (401, "application/problem+json")
    status, content_type, _ = _answer(served.url, at_the_limit + "a")
    assert (status, content_type) == (414, "application/problem+json")


def _sent(url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """The status, headers (names in lower case) and body of the answer to `data`,
    sent as it is (http.client refuses to send a malformed request)."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname or "", address.port or 80), 30) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()


_OVER_THE_LINE = "q=" + "a" * 8190
_FIELDS = "".join(f"X-Field-{number}: v\r\n" for number in range(101))
_TITLES = {400: "Bad request", 414: "Request line too long", 431: "Header fields too large"}


@pytest.mark.parametrize(
    ("head", "status", "said"),
    [
        (f"GET /api/v1/invoices?{_OVER_THE_LINE} HTTP/1.1\r\n", 414, "8,190 bytes"),
        (f"GET /portal/invoices?{_OVER_THE_LINE} HTTP/1.1\r\n", 414, "Address too long"),
        (f"GET /api/v1/invoices HTTP/1.1\r\n{_FIELDS}", 431, "100 header fields"),
        (f"GET /api/v1/invoices HTTP/1.1\r\nX-Long: {'b' * 8190}\r\n", 431, "8,190 bytes"),
        ("GET /api/v1/invoices HTTP/1.1\r\nBad Name: v\r\n", 400, "not well-formed"),
        ("GET /portal/invoices HTTP/1.1\r\nBad Name: v\r\n", 400, "Request not understood"),
    ],
    ids=["line-api", "line-page", "fields-api", "field-api", "malformed-api", "malformed-page"],
)
def test_what_gunicorn_refuses_is_answered_by_the_service_with_gunicorns_status(
    served: _Served, head: str, status: int, said: str
) -> None:
    """Round 65: gunicorn answered each of these itself, a text/html page of its own
    with no request id whatever the path, and logged only its own warning. Its worker
    (`serving.ServiceWorker`) hands them to the app now: problem+json under /api/
    (its title the status's, its detail naming the limit, its `request_id`), the
    service's page elsewhere, `X-Request-Id`, and the app's log line with the id. The
    status is gunicorn's: 414 for the line, 431 for the header fields, 400 malformed."""
    until(lambda: _status(served.url) == 200)
    answer, headers, body = _sent(served.url, f"{head}Host: localhost\r\n\r\n".encode())
    assert answer == status
    request_id = headers["x-request-id"]
    assert headers["connection"] == "close"
    assert "content-security-policy" in headers
    if head.split()[1].startswith("/api/"):
        assert headers["content-type"] == "application/problem+json"
        problem = json.loads(body)
        assert problem["status"] == status
        assert problem["title"] == _TITLES[status]  # docs/api.md, one title a status
        assert said in problem["detail"]
        assert problem["request_id"] == request_id
    else:
        assert headers["content-type"] == "text/html; charset=utf-8"
        page = body.decode()
        assert f"Error {status}" in page
        assert said in page
        assert "CPT Licensing Office" in page  # the service's page, not gunicorn's
    line = f"[request_id={request_id}] refused by the server before the app read it: {status}"
    until(lambda: line in served.log.read_text())
