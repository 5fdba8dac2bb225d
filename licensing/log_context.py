"""What every log line says about where it was written: the request it served, or
the periodic job's run it belongs to (docs/operations.md, "The app's log").

A request sets its id as it starts (`licensing.headers`) and the caller's user id
once the caller is recognised (`licensing.access`); a job or a command sets its
name and a fresh run id for as long as it runs (`run`). Both live in a context
variable, so each thread (a server's request, the outbox's delivery thread, which
is handed the request's context) sees its own, and any logger's records carry
them: a record factory reads the variable as each record is made, whichever
logger or handler (the root's, gunicorn's, a test's capture) writes it.

Only identifiers are kept: a request id, a user id, a job's name, a run id;
never an email, a token or anything a client sent besides its request id (which
`licensing.headers` keeps only when it is plainly an id).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from licensing import calendar

# The fields, in the order a line shows them; "-" when a line has none.
FIELDS = ("request_id", "user_id", "job", "run_id")
# The app's line: level, logger, then the fields this line has, then the message.
LOG_FORMAT = "%(levelname)s:%(name)s:%(context)s%(message)s"

_EMPTY: dict[str, str] = {}
_current: ContextVar[dict[str, str]] = ContextVar("licensing_log_context", default=_EMPTY)


def fields() -> dict[str, str]:
    """The fields set in this context (a copy)."""
    return dict(_current.get())


def _with(**values: str) -> Token[dict[str, str]]:
    return _current.set({**_current.get(), **values})


def start_request(request_id: str) -> Token[dict[str, str]]:
    """A request starts: its lines carry its id (and no earlier caller's)."""
    return _current.set({"request_id": request_id})


def end_request(token: Token[dict[str, str]] | None) -> None:
    """The request is done: back to what this thread had before it."""
    if token is not None:
        # Made in another context, or undone already: nothing of this request to undo.
        # (try/except, not `contextlib.suppress`: this runs on every request, and the
        # context manager's object and two Python calls were most of its cost.)
        try:
            _current.reset(token)
            return
        except (ValueError, RuntimeError):
            pass
    _current.set(_EMPTY)


def set_user(user_id: int | None) -> None:
    """The caller is known: the request's later lines carry the user's id."""
    if user_id is not None and _current.get().get("user_id") != str(user_id):
        _with(user_id=str(user_id))


def kept() -> dict[str, str]:
    """The fields as they stand, to put back with `put_back` (never changed in place:
    every change sets a new dictionary)."""
    return _current.get()


def put_back(values: dict[str, str]) -> None:
    """The fields as `kept` found them (round 60: a request's view run again after a
    deadlock starts with the fields its first try started with, not the caller its
    lost try recognised)."""
    if _current.get() is not values:
        _current.set(values)


def new_run_id() -> str:
    """Twelve hex digits: unique enough to find one run among a year's."""
    return os.urandom(6).hex()


@contextlib.contextmanager
def run(job: str) -> Iterator[str]:
    """One run of a periodic job or command: its lines carry `job` and a new run
    id (yielded), and nothing of a request."""
    run_id = new_run_id()
    token = _current.set({"job": job, "run_id": run_id})
    try:
        yield run_id
    finally:
        _current.reset(token)


def _quoted(value: str) -> str:
    if value and not any(c in value for c in ' "=\\') and value.isprintable():
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else " " for c in escaped) + '"'


def context_text(values: dict[str, str]) -> str:
    """`[request_id=... user_id=...] `: the fields a line has, logfmt style, or ""."""
    shown = [f"{name}={_quoted(values[name])}" for name in FIELDS if name in values]
    return f"[{' '.join(shown)}] " if shown else ""


def _factory_with_context(
    make: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        values = _current.get()
        for name in FIELDS:
            setattr(record, name, values.get(name, "-"))
        record.context = context_text(values)
        return record

    make_record.licensing_log_context = True  # type: ignore[attr-defined]
    return make_record


def install() -> None:
    """Every record made from now on carries the fields (once per process)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "licensing_log_context", False):
        logging.setLogRecordFactory(_factory_with_context(current))


def instant(created: float) -> str:
    """`2026-12-04T17:55:41.123+00:00`: a record's time, ISO 8601 in UTC to the
    millisecond, spelled as the API spells an instant (round 44: `...Z` before)."""
    return calendar.instant_iso(datetime.fromtimestamp(created, UTC), to_the_millisecond=True)


class Formatter(logging.Formatter):
    """The app's line (`LOG_FORMAT`), also for records made before `install`; with
    `timestamps`, it begins with the record's time (`instant`) and a space."""

    def __init__(self, *, timestamps: bool = False) -> None:
        super().__init__(LOG_FORMAT)
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "context"):
            record.context = ""
        line = super().format(record)
        return f"{instant(record.created)} {line}" if self.timestamps else line


def configure(level: str, *, timestamps: bool = False) -> None:
    """The app's logging: the fields on every record, and a handler on the root
    writing them (as `logging.basicConfig` adds one: only when nothing, a server
    or a test, configured the root before). `timestamps`: each line begins with
    its time (LOG_TIMESTAMPS), for a log nothing else stamps (a file, docker's
    plain output); off under systemd's journal, which stamps each line."""
    install()
    handler = logging.StreamHandler()
    handler.setFormatter(Formatter(timestamps=timestamps))
    logging.basicConfig(level=level, handlers=[handler])
