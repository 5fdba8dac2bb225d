"""Round 65: the requests gunicorn refuses before the app reads them are answered by
the app (`licensing.serving.ServiceRefusals`), with the status gunicorn gives each,
under the area (API or pages) of the target gunicorn read. Through a real server:
tests/integration/test_serving.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http import errors as http_errors
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.workers.base import Worker

from licensing import serving


def _config() -> Config:
    config = Config()
    for name, value in serving.SETTINGS.items():
        config.set(name, value)
    return config


class _Socket:
    """What gunicorn's `util.write_error` writes to: the bytes sent, kept."""

    def __init__(self) -> None:
        self.sent = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.sent += data


def _gunicorns_status(exc: BaseException) -> int:
    """The status gunicorn's own `handle_error` answers `exc` with."""
    worker: Any = Worker.__new__(Worker)  # its handle_error reads only these two
    worker.cfg, worker.log = _config(), logging.getLogger("test.gunicorn")
    client = _Socket()
    Worker.handle_error(worker, None, client, ("127.0.0.1", 1), exc)
    return int(client.sent.split(b" ", 2)[1])


REFUSED = [
    http_errors.LimitRequestLine(8191, 8190),
    http_errors.LimitRequestHeaders("limit request headers fields"),
    http_errors.LimitRequestHeaders("limit request headers fields size"),
    http_errors.LimitRequestHeaders("max buffer headers"),
    http_errors.InvalidRequestLine("GET"),
    http_errors.InvalidRequestMethod("G(T"),
    http_errors.InvalidHTTPVersion((9, 9)),
    http_errors.InvalidHeader("X-A"),
    http_errors.InvalidHeaderName("Bad Name"),
    http_errors.ObsoleteFolding("X-A"),
    http_errors.InvalidSchemeHeaders(),
    http_errors.InvalidChunkSize(b"zz"),
    http_errors.ChunkMissingTerminator(b"xx"),
    http_errors.InvalidChunkExtension("bad"),
    http_errors.UnsupportedTransferCoding("gzip"),
    http_errors.ExpectationFailed("200-ok"),
]


@pytest.mark.parametrize("exc", REFUSED, ids=lambda exc: f"{type(exc).__name__}:{exc}")
def test_each_refusal_keeps_the_status_gunicorn_answers_it_with(exc: BaseException) -> None:
    refusal = serving.refusal_for(exc, None, _config())
    assert refusal is not None
    assert refusal.status == _gunicorns_status(exc)


def test_the_header_limits_are_told_apart_and_the_limits_are_the_settings() -> None:
    kinds = [
        serving.refusal_for(exc, None, _config())
        for exc in REFUSED[:4]  # the line, then the header fields' three limits
    ]
    assert [refusal.kind for refusal in kinds if refusal] == [
        "request_line",
        "header_count",
        "header_field",
        "header_fields",
    ]
    refusal = kinds[0]
    assert refusal is not None
    assert (refusal.line_limit, refusal.field_limit, refusal.fields_limit) == (8190, 8190, 100)


@pytest.mark.parametrize(
    "exc",
    [
        http_errors.InvalidResponseHeader("X-A\r\n"),  # the app's own header: a 500
        http_errors.ConfigurationProblem("x"),
        http_errors.ForbiddenProxyRequest("10.0.0.1"),
        RuntimeError("a bug"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_errors_not_of_the_request_are_left_to_gunicorn(exc: BaseException) -> None:
    assert serving.refusal_for(exc, None, _config()) is None


def _refused(raw: bytes) -> tuple[BaseException, Any]:
    """The error gunicorn's parser raises reading `raw`, with the request if made."""
    try:
        request = Request(_config(), IterUnreader([raw]), ("127.0.0.1", 1))
    except http_errors.ParseException as error:
        return error, None
    raise AssertionError(f"read: {request.method} {request.uri}")


FIELDS = b"".join(b"X-F%d: v\r\n" % number for number in range(101))


@pytest.mark.parametrize(
    ("raw", "method", "target"),
    [
        (b"GET /api/v1/invoices?q=" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", "GET", "/api/v1/"),
        (b"POST /portal/x?" + b"b" * 9000, "POST", "/portal/x"),  # the line not ended
        (b"GET /api/v1/quotes HTTP/1.1\r\n" + FIELDS + b"\r\n", "GET", "/api/v1/quotes"),
        (b"GET /api/v1/quotes HTTP/1.1\r\nX: " + b"c" * 8200 + b"\r\n\r\n", "GET", "/api/v1/"),
        (b"G(T /api/v1/quotes HTTP/1.1\r\n\r\n", "G(T", "/api/v1/quotes"),
        (b"GET /api/v1/quotes HTTP/9.9\r\n\r\n", "GET", "/api/v1/quotes"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", "", ""),  # TLS to HTTP
    ],
    ids=["line", "line-unended", "fields", "field", "method", "version", "not-http"],
)
def test_what_gunicorn_read_of_a_refused_request_is_found(
    raw: bytes, method: str, target: str
) -> None:
    """The request line's start, where gunicorn's parser left it: the parsed request
    for a header field's refusal, the bytes it read for the line's own."""
    error, request = _refused(raw)
    found_method, found_target = serving.request_start(request, error)
    assert found_method == method
    assert found_target.startswith(target)


@pytest.mark.parametrize(
    ("target", "script_name", "area"),
    [
        ("/api/v1/invoices?q=a", "", "/api/"),
        ("/webhooks/stripe", "", "/webhooks/"),
        ("/portal/invoices", "", "/portal/"),
        ("/api", "", "/api"),
        ("/%61pi/v1/quotes", "", "/api/"),
        ("http://example.test/api/v1/quotes", "", "/api/"),
        ("/licensing/api/v1/quotes", "/licensing", "/api/"),
        ("/", "", "/"),
        ("", "", "/"),
        ("*", "", "/"),
        ("/<script>/x", "", "/"),
    ],
)
def test_the_app_is_asked_under_the_targets_first_segment_only(
    target: str, script_name: str, area: str
) -> None:
    assert serving.area_of(target, script_name) == area


def test_threads_asked_of_the_sync_worker_are_said_to_be_unused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """gunicorn turns its own sync worker into its threaded one for `--threads`, not
    one named otherwise: the operator is told which worker to name instead."""
    config = _config()
    config.set("threads", 4)
    with caplog.at_level("WARNING", logger="test.gunicorn"):
        serving.ServiceWorker.check_config(config, logging.getLogger("test.gunicorn"))
    assert "licensing.serving.ServiceThreadWorker" in caplog.text
    assert config.worker_class is serving.ServiceWorker
