"""What `licensing serve` runs: gunicorn's master process, in a process of its own.

The master must not import the app: workers are forked from it, and a module the
master imported is the one every worker runs, so `kill -HUP` (which starts new
workers) would serve the old code. `licensing serve` checks its settings, then
replaces itself with `python -m licensing.serving` (the same process id), which
imports only gunicorn and this module; each worker imports the app when it
starts (gunicorn's default, `preload_app` off), so HUP serves the code on disk.
With `--with-worker`, HUP reaches `licensing worker` too, which restarts on the
code and configuration on disk after the job in hand (`licensing.worker`).

HUP is refused, and the workers in hand keep serving, when a fresh interpreter
cannot create the app from the code on disk in the server's environment
(`CheckedArbiter`): gunicorn would otherwise stop its old workers, fail to boot
new ones and halt, taking the service down over a release that does not import
or a setting the new code refuses.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import AppImportError
from gunicorn.glogging import Logger
from gunicorn.http import errors as http_errors
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, base_environ
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from licensing import start_check
from licensing.refusal import REFUSAL, Refusal
from licensing.secret_paths import HIDDEN, hide_secrets

# A check that hangs (an import waiting on a network drive) is a refusal.
RELOAD_CHECK_SECONDS = 300.0


def reload_refused() -> str | None:
    """Why workers started now would not boot, or None: a fresh interpreter creates
    the app from the code on disk in this process's environment, as a new worker
    will (`licensing worker --check` creates the app and does nothing else)."""
    return start_check.refused(
        [sys.executable, "-m", "licensing.cli", "worker", "--check"],
        None,
        timeout=RELOAD_CHECK_SECONDS,
    )


class CheckedArbiter(Arbiter):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's master, which starts new workers on HUP only once the code on
    disk has been seen to create the app (the module's docstring)."""

    def handle_hup(self) -> None:
        self.log.info("Hang up: checking the code on disk before starting new workers")
        refused = reload_refused()
        if refused is not None:
            self.log.error("reload refused, serving on as before: %s", refused)
            return
        super().handle_hup()


class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
    def __init__(self, options: dict[str, Any], *, with_worker: bool) -> None:
        global _limits_said_by_serve
        _limits_said_by_serve = True  # `licensing serve` said it (`_workers_to_warn_of`)
        self.options = options
        self.jobs = _WorkerProcess() if with_worker else None
        super().__init__()

    def run(self) -> None:
        # BaseApplication.run, with the checked master.
        try:
            CheckedArbiter(self).run()
        except RuntimeError as error:
            print(f"\nError: {error}\n", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)

    def load_config(self) -> None:
        # gunicorn.conf.py's settings (the same dict), then the command's options.
        options = {**SETTINGS, **self.options, "preload_app": False}  # the module's docstring
        if self.jobs is not None:  # gunicorn calls these hooks in its master process only
            options["when_ready"] = self.jobs.start
            options["on_exit"] = self._stop_jobs_and_forget_the_flag
            options["on_reload"] = self._reload_jobs_and_warn_again
        for key, value in options.items():
            self.cfg.set(key, value)

    def _stop_jobs_and_forget_the_flag(self, server: object) -> None:
        assert self.jobs is not None  # set as the hook only with the jobs
        self.jobs.stop(server)
        forget_start_warnings(server)

    def _reload_jobs_and_warn_again(self, server: Any) -> None:
        assert self.jobs is not None  # set as the hook only with the jobs
        warn_again_on_reload(server)
        self.jobs.reload(server)

    def load(self) -> Any:
        # In the worker, after the fork: the code as it is on disk now.
        return app_for_a_worker()


def app_for_a_worker() -> Any:
    """The app a gunicorn worker serves (`licensing serve`'s and `gunicorn
    wsgi:app`'s): built, then kept out of the collector's full collections
    (`freeze_start_up_objects`, docs/operations.md). Settings that cannot start
    the service are refused in one line naming the setting: gunicorn prints an
    `AppImportError`'s message alone, without the traceback, and its master
    stops ("App failed to load") instead of booting workers that fail again.
    Imported here, in the worker, never in the master (the module's docstring)."""
    from licensing import start_warnings
    from licensing.app import (
        START_UP_REFUSALS,
        create_app,
        freeze_start_up_objects,
        refusal_to_start,
    )

    try:
        app = create_app()
    except START_UP_REFUSALS as error:
        raise AppImportError(refusal_to_start(error)) from None
    first = claim_start_warnings()
    if first:
        start_warnings.at_server_start(app, workers=_workers_to_warn_of)
    elif first is None:  # not gunicorn with our settings: what each command says
        start_warnings.development_keys(app.config["LICENSING"])
    freeze_start_up_objects()
    return app


# gunicorn's default line, then the request's id (the response's `X-Request-Id`):
# the id an error page asks the user to quote and the app's log of an unexpected
# error names, so the access line of a failed request can be found by it.
ACCESS_LOG_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
)

# The start-up warnings' flag: a file `warn_at_start` makes in the master as the
# server starts; a worker, forked from the master, finds its path here, and the
# one that removes it (first to boot) says the warnings (`claim_start_warnings`).
# None in a process gunicorn's hook did not start (`wsgi` imported elsewhere).
_start_warnings_flag: str | None = None
# How many workers the master starts, for the first worker's warning that rate limits
# kept in each worker's memory count per worker (`start_warnings.limits_per_worker`).
# None under `licensing serve`, which says it itself before it starts the master
# (`licensing.cli`), and in a process no master started.
_workers_to_warn_of: int | None = None
# Set in `licensing serve`'s master (`Server`), where the warning was said already.
_limits_said_by_serve = False


def warn_at_start(server: Any) -> None:
    """gunicorn's `on_starting` hook, in the master: leave the flag by which the
    first worker to boot says the start-up warnings (`licensing.start_warnings`: a
    development key, a database behind the code, SQLite in production) once per
    server start. The master imports none of the app; before round 36 it built one
    in a fresh interpreter to say them, about a second of every start."""
    global _start_warnings_flag, _workers_to_warn_of
    # Round 61: `gunicorn wsgi:app --workers 2` said nothing of the limits counted
    # per worker (`licensing serve` did); the master knows the count, the app's
    # configuration is the worker's to read.
    configured = getattr(server, "cfg", None)
    _workers_to_warn_of = None if _limits_said_by_serve else getattr(configured, "workers", None)
    try:
        handle, path = tempfile.mkstemp(prefix="licensing-start-warnings-")
    except OSError as error:
        # Each worker then says the development keys: twice is better than never.
        server.log.warning("The start-up warnings' flag could not be made: %s", error)
        _start_warnings_flag = None  # at a reload, not the last start's flag
        return
    os.close(handle)
    _start_warnings_flag = path


def warn_again_on_reload(server: Any) -> None:
    """gunicorn's `on_reload` hook, in the master, after the HUP's check passed and
    before it starts the new workers: leave the flag again, so the first of them to
    boot says the start-up warnings once more, as at a start (round 40: a HUP said
    nothing, and an operator who reloaded new code on a database behind it, or on a
    configuration with a development key, was not told). A flag no worker claimed
    since the last start (none booted) is replaced, not left behind."""
    forget_start_warnings(server)
    warn_at_start(server)


def forget_start_warnings(_server: object) -> None:
    """gunicorn's `on_exit` hook: the flag of a server whose workers never booted."""
    if _start_warnings_flag is not None:
        with contextlib.suppress(OSError):
            os.unlink(_start_warnings_flag)


def claim_start_warnings() -> bool | None:
    """In a worker: True for the one worker of this server start (or reload: round
    40) that says the start-up warnings (removing the flag is atomic: one process
    succeeds), False for the others; None when no flag was left (the app imported
    outside a server started with these settings)."""
    if _start_warnings_flag is None:
        return None
    try:
        os.unlink(_start_warnings_flag)
    except FileNotFoundError:
        return False
    except OSError:
        # Round 39: the flag's name is in a temporary directory anyone can list, so
        # once removed, another user may make a directory (or a file of theirs) at it:
        # not ours, and no reason for a worker not to boot (gunicorn's master stops
        # when one fails to).
        return False
    return True


# The server's settings, one place for both ways of starting it: `licensing serve`
# applies them before its options, and gunicorn.conf.py (which gunicorn reads
# from the folder it is started in) is these, so `gunicorn wsgi:app` run from the
# project's folder serves the same way (round 33: it wrote no request id at the end
# of the access line, and did not warn of a database behind the code).
SETTINGS: dict[str, Any] = {
    "accesslog": "-",
    "access_log_format": ACCESS_LOG_FORMAT,
    "logger_class": "licensing.serving.SecretHidingLogger",
    # gunicorn believes no forwarding header itself, from any address (a unix
    # socket included): which proxies to believe is TRUSTED_PROXIES alone,
    # applied by the app (werkzeug's ProxyFix, `licensing.app`). gunicorn's
    # own trust (`*` here before round 14, its default loopback otherwise)
    # let any client say `X-Forwarded-Proto: https` and be served as HTTPS.
    "forwarded_allow_ips": "",
    "secure_scheme_headers": {},
    "forwarder_headers": "",
    # gunicorn (25.1 and later) opens a control socket under the user's home by
    # default and says so at every start: none unless the operator asks for one.
    "control_socket_disable": True,
    # The request line (method, target, version) gunicorn reads before the app sees
    # anything; a longer one it answers itself, 414 in text/html (docs/api.md,
    # "Request line"). Its default, 4,094 bytes, refused legal requests (round 64):
    # the audit-event search at its bounds in 4-byte characters (every byte
    # percent-encoded as %XX, 12 a character) is 5,805 bytes; an invoice search of
    # 200 syllables typed as decomposed jamo (27 bytes each, composed by the app) is
    # 5,432. 8,190 is the most gunicorn takes (a larger figure is cut to it); only 0
    # is more, no limit at all: its parser would read a line of any length into
    # memory. At 8,190 every API request at its bounds in composed text fits, and so
    # does a CSV filing's amendment `reason` of 2,000 ASCII characters all
    # percent-encoded (6,187). What no figure fits: that `reason` at 2,000 non-ASCII
    # characters (a JSON filing carries it in the body), and the audit search's 468
    # characters all typed decomposed. tests/integration/test_request_line.py works
    # the figures out from the OpenAPI document; test_serving.py sends them through
    # gunicorn.
    "limit_request_line": 8190,
    # A header field, its name included: gunicorn's default, kept. The longest legal
    # one is a browser's Referer (Chromium and Firefox send at most 4,096 bytes of
    # it) or its cookie (4,096 bytes a cookie); an Idempotency-Key is 255.
    "limit_request_field_size": 8190,
    # gunicorn's sync worker, whose refusals of a request (a request line or header
    # fields over these limits, a malformed one) the app answers: problem+json under
    # /api/, the service's page elsewhere, with a request id and a log line (round 65;
    # "Requests gunicorn refuses before the app reads them" below).
    "worker_class": "licensing.serving.ServiceWorker",
    "on_starting": warn_at_start,
    "on_reload": warn_again_on_reload,
    "on_exit": forget_start_warnings,
}


# Headers that carry a credential whole: the session cookie, a remembered browser's
# token (`licensing_browser`), an API token. A log format naming one (an operator's
# `%({cookie}i)s`) writes `[hidden]` for it, never the value. Round 30.
CREDENTIAL_ATOMS = frozenset(
    {
        "{cookie}i",
        "{authorization}i",
        "{set-cookie}o",
        "{http_cookie}e",
        "{http_authorization}e",
    }
)


class HiddenSecretAtoms(dict[str, Any]):
    """The access log's atoms, each string read with its one-time secrets hidden,
    then its double quotes escaped, as gunicorn's `SafeAtoms` escapes them.

    The log line reads the handful of atoms its format names (nine by default);
    gunicorn makes one for every request header, response header and environ
    key (about sixty a request). Hiding secrets in every one of them, and
    escaping every one, was done for each request; now only what the line
    shows is. The same text as hiding all, then escaping all
    (`tests/unit/test_access_log_atoms.py`)."""

    def __getitem__(self, key: str) -> Any:
        # SafeAtoms' look-up: header and environ atoms in any case, "-" if absent.
        if key.startswith("{"):
            key = key.lower()
        if not dict.__contains__(self, key):
            return "-"
        if key in CREDENTIAL_ATOMS:
            return HIDDEN
        value = dict.__getitem__(self, key)
        if isinstance(value, str):
            return hide_secrets(value).replace('"', '\\"')
        return value


def instant(moment: float) -> str:
    """`2026-12-04T17:55:41.123+00:00`: the app's stamp, ISO 8601 in UTC to the
    millisecond, as `licensing.calendar.instant_iso(..., to_the_millisecond=True)`
    writes it (`licensing.log_context.instant`), which the master does not import: a
    module it imports is the one its workers keep after HUP. A test holds the two to
    one spelling (round 44: both wrote `Z`)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


# gunicorn's own lines (its error log: starting, booting a worker, a worker's
# timeout) in the app's shape: the instant, level, logger, then the process as a
# field (`2026-12-04T18:01:00.412Z INFO:gunicorn.error:[pid=812] Booting worker
# with pid: 813`). gunicorn's `[2026-12-04 18:01:00 +0000] [812] [INFO]` stood
# beside the app's lines in another format (round 34).
GUNICORN_LINE = "%(levelname)s:%(name)s:[pid=%(process)d] %(message)s"


class InstantFormatter(logging.Formatter):
    """A line beginning with its record's time, as the app's (`instant`)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return instant(record.created)

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.formatTime(record)} {super().format(record)}"


class SecretHidingLogger(Logger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger, whose access log never writes a one-time link's secret:
    the request line, path, query, `Referer` (a page's stylesheet is fetched with
    the page's URL as its referrer) and every other header it could print.

    Its times are the app's: its own lines begin with `instant` (`GUNICORN_LINE`),
    and the access line's `%(t)s` is the same instant in brackets, in UTC
    whatever the host's zone (gunicorn's was `[04/Dec/2026:18:01:00 +0000]`, in
    the host's). The syslog handler, which syslog stamps, keeps gunicorn's."""

    atoms_wrapper_class = HiddenSecretAtoms

    def _set_handler(
        self,
        log: logging.Logger,
        output: str | None,
        fmt: logging.Formatter,
        stream: Any = None,
    ) -> None:
        if log is self.error_log:
            fmt = InstantFormatter(GUNICORN_LINE)
        super()._set_handler(log, output, fmt, stream=stream)

    def now(self) -> str:
        return f"[{instant(time.time())}]"


# --- Requests gunicorn refuses before the app reads them -----------------------------
#
# gunicorn reads the request line and the header fields itself, and refuses a request
# it cannot take (a line or header fields over its limits, a malformed line or field)
# before the app sees it: it answered with a text/html page of its own, with no
# request id, no log line but its own warning, whatever the path (round 65: an API
# client got HTML where every other refusal is problem+json). The workers below hand
# such a refusal to the app instead, as a request of its own marked with the refusal
# (`REFUSAL` in its environ), which the app answers first thing
# (`licensing.server_refusals`): problem+json under /api/, the service's error page
# elsewhere, the X-Request-Id header, and the app's log line. The status stays
# gunicorn's (`tests/unit/test_server_refusals.py` holds them to it). gunicorn's own
# extension point: `worker_class` (SETTINGS), a subclass of its worker overriding
# `handle_error`, which its workers call for every request they could not serve.

# How much of the target read a log line shows (a refused line is up to 8 KiB).
TARGET_SHOWN = 300
# What gunicorn said of the refusal, as much as a log line shows.
SAID_SHOWN = 200


# gunicorn's checks, each with the status and reason phrase its `handle_error` gives
# (gunicorn.workers.base). A 500 (a header the app tried to send) and the TLS and
# PROXY-protocol refusals (neither is used by these settings) stay gunicorn's own.
_REFUSALS: tuple[tuple[tuple[type[BaseException], ...], int, str, str], ...] = (
    ((http_errors.LimitRequestLine,), 414, "URI Too Long", "request_line"),
    ((http_errors.LimitRequestHeaders,), 431, "Request Header Fields Too Large", "header_fields"),
    (
        (
            http_errors.InvalidRequestLine,
            http_errors.InvalidRequestMethod,
            http_errors.InvalidHTTPVersion,
        ),
        400,
        "Bad Request",
        "malformed_line",
    ),
    (
        (
            http_errors.InvalidHeader,
            http_errors.InvalidHeaderName,
            http_errors.ObsoleteFolding,
            http_errors.InvalidSchemeHeaders,
        ),
        400,
        "Bad Request",
        "malformed_header",
    ),
    (
        (
            http_errors.InvalidChunkSize,
            http_errors.ChunkMissingTerminator,
            http_errors.InvalidChunkExtension,
        ),
        400,
        "Bad Request",
        "malformed_body",
    ),
    ((http_errors.UnsupportedTransferCoding,), 501, "Not Implemented", "transfer_coding"),
    ((http_errors.ExpectationFailed,), 417, "Expectation Failed", "expectation"),
)
# The header-field limits gunicorn names in its words (gunicorn.http.message).
_HEADER_KINDS = {
    "limit request headers fields": "header_count",
    "limit request headers fields size": "header_field",
}
# gunicorn's largest request line and header count (gunicorn.http.message).
_MOST_LINE, _MOST_FIELDS, _DEFAULT_FIELD = 8190, 32768, 8190


def refusal_for(exc: BaseException, req: Any, cfg: Any) -> Refusal | None:
    """The refusal of `exc`, raised reading a request, or None for an error that is
    not the request's (gunicorn answers those itself: a 500, TLS, PROXY lines)."""
    if isinstance(exc, http_errors.InvalidResponseHeader | http_errors.InvalidResponseHeaderName):
        return None  # the app's header, the app's fault: gunicorn's 500
    found = next((row for row in _REFUSALS if isinstance(exc, row[0])), None)
    if found is None:
        return None
    _kinds, status, reason, kind = found
    if kind == "header_fields":
        kind = _HEADER_KINDS.get(str(exc), kind)
    method, target = request_start(req, exc)
    line_limit = int(cfg.limit_request_line)
    line_limit = _MOST_LINE if line_limit < 0 or line_limit >= _MOST_LINE else line_limit
    fields = int(cfg.limit_request_fields)
    field_size = int(cfg.limit_request_field_size)
    return Refusal(
        status=status,
        reason=reason,
        kind=kind,
        line_limit=line_limit,
        field_limit=field_size if field_size > 0 else _DEFAULT_FIELD,
        fields_limit=fields if 0 < fields <= _MOST_FIELDS else _MOST_FIELDS,
        method=_shown(method, 32),
        target=_shown(target, TARGET_SHOWN),
        said=_shown(str(exc), SAID_SHOWN),
    )


# The start of a request line: a method (as sent: a malformed one is a refusal too)
# and the target as far as read.
_LINE_START = re.compile(rb"(?:\r\n)?([^ \r\n]{1,32}) +([^ \r\n]*)")


def request_start(req: Any, exc: BaseException) -> tuple[str, str]:
    """The method and target of a refused request, as far as gunicorn read them, or
    ("", ""). A request refused for its header fields has its line parsed; one
    refused for its line has none: what was read of it is found in the parser's
    frames in the error's traceback (gunicorn's `Request` and the bytes it held), as
    nothing else keeps it. Used to say which area answers (the API or the pages)."""
    for candidate in (req, getattr(exc, "req", None)):
        if isinstance(candidate, Request) and candidate.uri:
            return candidate.method or "", candidate.uri
    read: list[bytes] = []
    for frame, _line in traceback.walk_tb(exc.__traceback__):
        owner = frame.f_locals.get("self")
        if not isinstance(owner, Request):
            continue
        if owner.uri:
            return owner.method or "", owner.uri
        read += [bytes(v) for v in frame.f_locals.values() if isinstance(v, bytes | bytearray)]
    for data in sorted(read, key=len, reverse=True):
        found = _LINE_START.match(data[: 64 + TARGET_SHOWN * 4])
        if found:
            return found[1].decode("latin-1"), found[2].decode("latin-1")
    return "", ""


def _shown(text: str, most: int) -> str:
    """`text` for a log line: at most `most` characters, each printable."""
    cut = text if len(text) <= most else text[: most - 1] + "…"
    return "".join(c if c.isprintable() else "?" for c in cut)


# A path's first segment the app is asked under: letters, digits, `-._~` only.
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,64}")


def area_of(target: str, script_name: str = "") -> str:
    """The path the app is asked the refusal under: the target's first segment
    (`/api/v1/invoices?q=...` -> `/api/`; `/portal/x` -> `/portal/`), which is what
    decides between problem+json and a page (`licensing.web.errors`), without the
    rest (long, maybe cut, maybe a route's). `/` when there is none."""
    path = target if target.startswith("/") else urlsplit(target).path
    path = unquote(path.split("?", 1)[0], encoding="latin-1")
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    first, slash, _rest = path.lstrip("/").partition("/")
    return f"/{first}{slash}" if _SEGMENT.fullmatch(first) else "/"


def refusal_environ(refusal: Refusal, client: Any, addr: Any, cfg: Any) -> dict[str, Any]:
    """The WSGI environ of the request by which the app answers a refusal: a GET of
    the refused target's area (`area_of`) without a query, header or body, marked
    with the refusal (`REFUSAL`)."""
    script_name = os.environ.get("SCRIPT_NAME", "")  # gunicorn's own source of it
    address = addr or ("", -1)  # a unix socket's client has none
    try:
        server = client.getsockname()
    except (AttributeError, OSError):
        server = None
    if isinstance(server, tuple):
        server_name, server_port = str(server[0]), str(server[1])
    else:
        server_name, server_port = "localhost", "443" if cfg.is_ssl else "80"
    environ: dict[str, Any] = base_environ(cfg)
    environ.update(
        {
            "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "https" if cfg.is_ssl else "http",
            "gunicorn.socket": client,
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": script_name,
            "PATH_INFO": area_of(refusal.target, script_name),
            "QUERY_STRING": "",
            # The access line's request: the method and target as read.
            "RAW_URI": refusal.target or "-",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
            "REMOTE_ADDR": str(address[0]),
            "REMOTE_PORT": str(address[1]),
            REFUSAL: refusal,
        }
    )
    return environ


def app_answer(
    app: Callable[..., Iterable[bytes]], environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes]:
    """The app's status, headers and body for `environ`."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda _data: None  # the app writes its body as an iterable

    answer = app(environ, start_response)
    try:
        body = b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    status, headers = started
    return status, list(headers), body


# Headers the answer's head sets itself, whatever the app said.
_HEAD_OWN = frozenset({"connection", "content-length", "transfer-encoding", "date"})


def refusal_head(refusal: Refusal, headers: list[tuple[str, str]], length: int) -> bytes:
    """The answer's status line and headers: gunicorn's status and reason phrase,
    the app's headers, the connection closed as gunicorn closes it after a refusal."""
    lines = [f"HTTP/1.1 {refusal.status} {refusal.reason}"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _HEAD_OWN]
    lines += [f"Date: {util.http_date()}", f"Content-Length: {length}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class ServiceRefusals:
    """A gunicorn worker's `handle_error` that has the app answer the requests
    gunicorn refuses (the section's comment); anything else, and a refusal the app
    could not answer with gunicorn's status, gunicorn answers as before."""

    cfg: Any
    log: Any
    wsgi: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refusal = refusal_for(exc, req, self.cfg)
        if refusal is None:
            super().handle_error(req, client, addr, exc)  # type: ignore[misc]  # the worker's
            return
        started = time.monotonic()
        environ = refusal_environ(refusal, client, addr, self.cfg)
        try:
            status, headers, body = app_answer(self.wsgi, environ)
        except Exception:
            self.log.exception("The app could not answer a request the server refused")
            status = ""
        if not status.startswith(f"{refusal.status} "):
            self.log.error("The app answered a refused request %r: gunicorn answers it", status)
            super().handle_error(req, client, addr, exc)  # type: ignore[misc]  # the worker's
            return
        try:
            util.write_nonblock(client, refusal_head(refusal, headers, len(body)) + body)
        except Exception:  # gunicorn's: the client may be gone
            self.log.debug("Failed to send error message.")
        # The access line, ending with the request id as every other one does.
        answer = Response(req, client, self.cfg)
        answer.status = f"{refusal.status} {refusal.reason}"
        answer.headers = headers
        answer.sent = answer.response_length = len(body)
        environ["REQUEST_METHOD"] = refusal.method or "-"
        took = timedelta(seconds=time.monotonic() - started)
        self.log.access(answer, req if req is not None else [], environ, took)


class ServiceWorker(ServiceRefusals, SyncWorker):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's sync worker (its default, the service's), its refusals the app's."""

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        # gunicorn runs its threaded worker for `--threads` only with its own sync
        # worker named: this one serves one request at a time whatever the threads.
        if cfg.threads > 1:
            log.warning(
                "--threads %d is not used by the sync worker: pass "
                "`--worker-class licensing.serving.ServiceThreadWorker` for threads",
                cfg.threads,
            )


class ServiceThreadWorker(ServiceRefusals, ThreadWorker):  # type: ignore[misc]  # no types
    """gunicorn's threaded worker (`--threads`), its refusals the app's."""


class _WorkerProcess:
    """`licensing worker` as a child of the server's master process: started when
    the server is ready, stopped when it exits (and, should the master be killed,
    the worker notices its parent is gone and stops by itself)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, server: Any) -> None:
        command = [
            sys.executable,
            "-m",
            "licensing.cli",
            "--beside-server",  # the server says the start-up warnings
            "worker",
            "--parent-pid",
            str(os.getpid()),
        ]
        self.process = subprocess.Popen(command)  # noqa: S603 - our own interpreter and module
        # gunicorn's error log: stamped as its lines and the app's are.
        server.log.info(
            "Worker started (pid %d): the periodic jobs run beside the server", self.process.pid
        )

    def reload(self, server: object) -> None:
        """HUP on the server: the worker restarts on the code on disk as well
        (and starts again, should it have stopped)."""
        if self.process is None or self.process.poll() is not None:
            self.start(server)
            return
        self.process.send_signal(signal.SIGHUP)

    def stop(self, _server: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def command(options: dict[str, Any], *, with_worker: bool) -> list[str]:
    """The command line `licensing serve` replaces itself with."""
    settings = json.dumps({"options": options, "with_worker": with_worker})
    return [sys.executable, "-m", "licensing.serving", settings]


def main(settings: str) -> None:
    given = json.loads(settings)
    Server(given["options"], with_worker=given["with_worker"]).run()


if __name__ == "__main__":
    main(sys.argv[1])
