"""The access log of `licensing serve` hides one-time secrets only in the atoms its
line shows (`serving.HiddenSecretAtoms`), and writes exactly what hiding every
atom, then escaping every one as gunicorn's `SafeAtoms` does, wrote."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms
from hypothesis import given
from hypothesis import strategies as st

from licensing.secret_paths import HIDDEN, hide_secrets
from licensing.serving import HiddenSecretAtoms, SecretHidingLogger

SECRET = "Zq3xW9_secretPart-0123456789abcdefghijkLMNOP"

DEFAULT_FORMAT = Config().access_log_format
FORMATS = (
    DEFAULT_FORMAT,
    '%(r)s "%({Referer}i)s" %({X-Request-Id}o)s %({PATH_INFO}e)s %({absent}i)s %(zz)s',
    "%(U)s?%(q)s %(s)s %(B)s %(D)s %(p)s",
)

_TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            f"/reset/{SECRET}",
            f'GET /invitations/{SECRET}"x HTTP/1.1',
            f"http://office.example/permissions/status/{SECRET}?a=1",
            f"/invoice-links/7/{SECRET}/invoice.pdf",
            '/api/v1/invitations/5 "quoted"',
            "/reset/",
            "-",
        ]
    ),
)
_VALUES = st.one_of(_TEXTS, st.integers(), st.none())
_KEYS = st.one_of(
    st.sampled_from(["h", "l", "u", "t", "r", "s", "m", "U", "q", "H", "b", "B", "f", "a"]),
    st.sampled_from(["{referer}i", "{x-request-id}o", "{path_info}e", "{user-agent}i"]),
)


def _hidden_then_escaped(atoms: dict[str, Any]) -> SafeAtoms:
    """What the logger wrote before: every string atom hidden, then SafeAtoms."""
    return SafeAtoms({k: hide_secrets(v) if isinstance(v, str) else v for k, v in atoms.items()})


@given(st.dictionaries(_KEYS, _VALUES, max_size=14))
def test_the_line_is_what_hiding_and_escaping_every_atom_wrote(atoms: dict[str, Any]) -> None:
    for line_format in FORMATS:
        assert line_format % HiddenSecretAtoms(atoms) == line_format % _hidden_then_escaped(atoms)


def _request(path: str, referrer: str) -> tuple[Any, Any, dict[str, Any]]:
    headers = [("HOST", "127.0.0.1"), ("REFERER", referrer), ("USER-AGENT", 'wrk "4"')]
    req = SimpleNamespace(headers=headers)
    resp = SimpleNamespace(
        status="200 OK",
        sent=123,
        headers=[("Content-Type", "application/json"), ("X-Request-Id", "abcdef0123")],
    )
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": referrer,
        "HTTP_USER_AGENT": 'wrk "4"',
    }
    return resp, req, environ


def test_the_server_logger_writes_the_line_with_the_secret_hidden() -> None:
    config = Config()
    config.set("accesslog", "-")
    logger = SecretHidingLogger(config)
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.access_log.handlers = [handler]
    referrer = f"http://office.example/permissions/status/{SECRET}"
    resp, req, environ = _request(f"/reset/{SECRET}", referrer)
    logger.access(resp, req, environ, timedelta(microseconds=1500))

    line = written.getvalue()
    assert SECRET not in line
    assert f'"GET /reset/{HIDDEN} HTTP/1.1" 200 123' in line
    assert f'"http://office.example/permissions/status/{HIDDEN}" "wrk \\"4\\""' in line
    # gunicorn's own logger, given the atoms hidden beforehand, writes the same line.
    atoms = Logger(config).atoms(resp, req, environ, timedelta(microseconds=1500))
    hidden_line = config.access_log_format % _hidden_then_escaped(atoms)
    # After the time atom, which may have moved on a second.
    assert line.rstrip("\n").split("]", 1)[1] == hidden_line.split("]", 1)[1]


def test_a_format_naming_a_credential_header_writes_it_hidden() -> None:
    """Round 30: an operator's format with `%({cookie}i)s` or `%({authorization}i)s`
    wrote the session cookie, a remembered browser's token or an API token whole."""
    atoms = {
        "{cookie}i": f"session=abc.def; licensing_browser={SECRET}",
        "{authorization}i": f"Bearer {SECRET}",
        "{set-cookie}o": f"licensing_browser={SECRET}; HttpOnly",
        "{http_cookie}e": f"licensing_browser={SECRET}",
        "{http_authorization}e": f"Bearer {SECRET}",
        "{user-agent}i": "curl",
    }
    line_format = (
        "%({Cookie}i)s %({Authorization}i)s %({Set-Cookie}o)s %({HTTP_COOKIE}e)s "
        "%({HTTP_AUTHORIZATION}e)s %({User-Agent}i)s"
    )
    line = line_format % HiddenSecretAtoms(atoms)
    assert SECRET not in line
    assert line == " ".join([HIDDEN] * 5 + ["curl"])
