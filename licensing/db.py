"""Database access: the declarative base, engines, and the unit of work.

Services own transactions: they run their changes inside `transaction()`, which
commits when the block succeeds and rolls back when it raises. Views, schemas,
models and CLI commands never call `commit()`.

One `Session` per app context (a request, a CLI command) is reached with
`session()`; it is closed when the context ends.
"""

from __future__ import annotations

import logging
import os
import random
import re
import sqlite3
import string
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from flask import Flask, current_app, g, has_app_context
from flask.globals import app_ctx
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    DateTime,
    Engine,
    MetaData,
    Numeric,
    Select,
    String,
    TypeDecorator,
    and_,
    create_engine,
    event,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    ORMExecuteState,
    Session,
    sessionmaker,
)
from sqlalchemy.sql.elements import ColumnElement, Over
from sqlalchemy.sql.functions import FunctionElement

from licensing.calendar import OFFICE_TIMEZONE, office_date
from licensing.money import AMOUNT_INTEGER_DIGITS, AMOUNT_PLACES, beyond_largest

# A SELECT of any columns: SQLAlchemy 2.1 types a statement by its columns' types,
# and helpers that filter or count statements take any of them.
Statement: TypeAlias = Select[*tuple[Any, ...]]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the service's one clock."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so a naive value read back is taken as UTC; naive
    values are refused on the way in, so local time never slips in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use licensing.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# The money columns hold every amount the input bounds let in (licensing.money).
MONEY_SCALE = AMOUNT_PLACES
MONEY_PRECISION = AMOUNT_INTEGER_DIGITS + AMOUNT_PLACES


class Money(TypeDecorator[Decimal]):
    """An exact amount: NUMERIC(18, 4) on PostgreSQL, scaled integer on SQLite.

    SQLite has no decimal type (its NUMERIC affinity stores REAL), so there the
    amount is kept as an integer count of 1/10,000ths: exact, and still sortable
    and summable in SQL. Values finer than four decimal places are refused.
    """

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be Decimal, not {type(value).__name__}")
        if beyond_largest(value):
            # Never stored changed or partly (SQLite holds to about 9.2e14, so
            # it would take what PostgreSQL's NUMERIC(18, 4) refuses): every step
            # that records a computed amount refuses it first, naming it.
            raise ValueError(f"{value} is beyond the money columns' largest amount")
        scaled = value.scaleb(MONEY_SCALE)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {MONEY_SCALE} decimal places")
        return int(scaled) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE)
        return Decimal(value)


class MoneySumType(TypeDecorator[Decimal]):
    """The result of `money_sum`: a `Decimal` on both databases, however large.

    On SQLite it reads the text `MoneySum` writes, "<whole units>:<ten-thousandths>",
    or a scaled integer (a `Money` value the sum was coalesced with)."""

    impl = Numeric(asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> Any:
        raise TypeError("a money sum is read, never bound")

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if dialect.name != "sqlite":
            return Decimal(value)
        units, _, fraction = str(value).partition(":")
        if not fraction:
            return Decimal(int(units)).scaleb(-MONEY_SCALE)
        return Decimal(int(units)) + Decimal(int(fraction)).scaleb(-MONEY_SCALE)


class MoneySum(FunctionElement[Decimal]):
    """SUM of a `Money` expression, exact however large (round 50): PostgreSQL's SUM of
    NUMERIC is; SQLite's SUM of the scaled integers raises "integer overflow" past
    about 9.2e14 (ten invoices near the largest amount) and its TOTAL() is a float.
    There the whole units and the ten-thousandths are summed apart (integer division
    and remainder truncate alike, so each row is exactly their sum; each row is
    CAST to an integer, as a `Decimal` literal is bound a REAL) and read back
    into one `Decimal` (`MoneySumType`): exact up to 9.2e18 whole units. NULL over no
    rows, as SUM. A sum is read, never stored: one beyond the largest amount can be
    shown, and a caller that records it tests it first (`money.beyond_largest`)."""

    type = MoneySumType()
    name = "money_sum"
    inherit_cache = True


def money_sum(amount: Any) -> MoneySum:
    """The exact sum of a money column or expression (`MoneySum`), in a select."""
    return MoneySum(amount)


class MoneyTotal(FunctionElement[Decimal]):
    """SUM of a `Money` expression that stays a `Money` value, for arithmetic inside the
    statement (round 60, asof60; `MoneySum` is read back in Python). On SQLite a plain
    SUM of the scaled integers raises "integer overflow" once its running total passes
    about 9.2e14 in whole units, whatever the total: ten payments of the largest amount
    on one invoice, each returned by the bank, summed before their returns. Here the
    whole units and the ten-thousandths are summed apart (as `MoneySum` does) and put
    together once: the units' running total is at most the sum of the amounts' sizes,
    past 9.2e18 whole units only beyond 92,000 rows of the largest amount, and the
    result is the sum itself (a scaled integer while it is within 9.2e14 whole units,
    nine times the largest amount a column holds). PostgreSQL's SUM of NUMERIC is exact.
    NULL over no rows, as SUM."""

    type = Money()
    name = "money_total"
    inherit_cache = True

    def over(self, **window: Any) -> Over[Decimal]:
        """The running total over a window, as `func.sum(...).over(...)` (round 60,
        edges60: the Finance page's balance at each period's end): `MoneyRunning`."""
        return MoneyRunning(self, **window)


class MoneyRunning(Over[Decimal]):
    """`money_total(amount).over(...)`: a window's SUM of a `Money` expression that stays a
    `Money` value. On SQLite a window's SUM of the scaled integers raises "integer
    overflow" as a plain SUM does, so each of `MoneyTotal`'s two sums is taken over the
    window and put together once; PostgreSQL's `SUM(...) OVER (...)`."""

    inherit_cache = True


def money_total(amount: Any) -> MoneyTotal:
    """The sum of a money expression as a money value (`MoneyTotal`), in a select; its
    `.over(...)` is the running sum over a window (`MoneyRunning`). Every SUM over money
    a statement goes on computing with is this one (round 60, edges60); `money_sum` is
    for a sum read back as it is."""
    return MoneyTotal(amount)


def _sqlite_parts(element: MoneySum | MoneyTotal, compiler: Any, kw: Any) -> tuple[str, str]:
    """The two SQLite SUMs' arguments: the amount's whole units and its ten-thousandths.
    CAST: a Decimal literal (a CASE's `else_=Decimal(0)`) is bound as a REAL, and a REAL
    makes the division a float's and the whole SUM a REAL."""
    amount = f"CAST(({compiler.process(element.clauses, **kw)}) AS INTEGER)"
    scale = 10**MONEY_SCALE
    return f"{amount} / {scale}", f"{amount} % {scale}"


@compiles(MoneySum, "sqlite")
@compiles(MoneyTotal, "sqlite")
def _money_sum_sqlite(element: MoneySum | MoneyTotal, compiler: Any, **kw: Any) -> str:
    units, fraction = _sqlite_parts(element, compiler, kw)
    # `MoneySum` reads the two sums back apart; `MoneyTotal` puts them together.
    joined = " || ':' || " if isinstance(element, MoneySum) else f" * {10**MONEY_SCALE} + "
    return f"(SUM({units}){joined}SUM({fraction}))"


@compiles(MoneyRunning, "sqlite")
def _money_running_sqlite(element: MoneyRunning, compiler: Any, **kw: Any) -> str:
    total = element.element
    assert isinstance(total, MoneyTotal)

    def over(part: str) -> str:
        """SUM(`part`) over the element's own window, as SQLAlchemy writes a window."""
        window = element._clone()
        window.element = literal_column(f"SUM({part})")
        return str(compiler.visit_over(window, **kw))

    units, fraction = _sqlite_parts(total, compiler, kw)
    return f"({over(units)} * {10**MONEY_SCALE} + {over(fraction)})"


@compiles(MoneySum)  # and for str(statement), as PostgreSQL reads it
@compiles(MoneySum, "postgresql")
@compiles(MoneyTotal)
@compiles(MoneyTotal, "postgresql")
def _money_sum_postgresql(element: MoneySum | MoneyTotal, compiler: Any, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


# How long a SQLite writer queues for the write lock (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 15000
# Execution option of the engine behind `read_session()`.
READ_ONLY_OPTION = "licensing_read_only"


def _configure_sqlite(engine: Engine) -> None:
    """Make pysqlite transactional in the way SQLAlchemy documents.

    The stdlib driver otherwise begins transactions lazily and mishandles
    SAVEPOINT; we emit BEGIN ourselves, enforce foreign keys, and use WAL so that
    readers outside a transaction do not block the writer.

    A unit of work (`transaction()`) begins IMMEDIATE: SQLite has one writer,
    and a deferred transaction that read first and then tries to write fails at
    once with "database is locked" when another connection writes (waiting
    could deadlock), whatever the busy timeout. Taking the write lock at BEGIN
    makes concurrent writers queue for it (up to the busy timeout) instead.
    Reads outside a unit of work begin DEFERRED, so pages and API reads never
    wait for the write lock (WAL lets them read while a writer writes).
    PostgreSQL, the production database, needs none of this.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()
        dbapi_connection.create_function(
            REPLACE_EACH, -1, _replace_each_in_python, deterministic=True
        )
        dbapi_connection.create_function(OFFICE_DAY, 1, _office_day_in_python, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # Asked for no transaction (a migration's `autocommit_block`, to set a
            # pragma SQLite ignores inside one): none is begun.
            return
        # A unit of work takes the write lock at BEGIN; a reader (outside one, or a
        # `read_session`) takes none, so writers go on while a download reads.
        reading = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        writing = _WRITING.get() and not reading
        brief = _LOCK_WAIT_MS.get()
        if writing and brief is not None:
            # A unit of work that would rather not be done than wait
            # (`transaction(lock_wait=...)`): it queues that long for the write lock.
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {brief}")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _create_owner_only(path: Path) -> None:
    """Create a new SQLite file readable and writable by its owner alone.

    It holds password hashes and unsent one-time links, and SQLite would create it
    under the process's umask (world-readable at the usual 022). SQLite gives its
    `-wal` and `-shm` files the database file's own permissions, so they follow.
    An existing file is left as its owner set it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def make_engine(url: str, *, jit: str = "server") -> Engine:
    """The engine for `url`. `jit` (PostgreSQL only): `off` or `on` starts each
    connection with `-c jit=...` (added to any `options` the URL gives), `server`
    asks nothing (DATABASE_JIT, docs/configuration.md; round 42)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A `file:...?uri=true` database is a URI, not a path: SQLite opens it as given.
        is_uri = parsed.query.get("uri") == "true"
        if parsed.database and parsed.database != ":memory:" and not is_uri:
            _create_owner_only(Path(parsed.database))
        engine = create_engine(url)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver we install; plain postgresql:// means it.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "postgresql" and jit in ("on", "off"):
        # A startup option, so it holds for the whole session, the first query
        # included, with no statement sent per connection.
        given = parsed.query.get("options")
        given = given[-1] if isinstance(given, tuple) else given
        options = f"{given} -c jit={jit}" if given else f"-c jit={jit}"
        return create_engine(url, pool_pre_ping=True, connect_args={"options": options})
    return create_engine(url, pool_pre_ping=True)


class Database:
    """The engine and session factory of one app, kept in `app.extensions`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(
            bind=engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    def bind_to(self, connection: Connection) -> None:
        """Tests: run every session inside `connection`'s outer transaction.

        Each `commit()` then only releases a savepoint, and the test rolls the
        outer transaction back at the end.
        """
        self.sessionmaker = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        self.read_sessionmaker = self.sessionmaker

    @property
    def shares_one_connection(self) -> bool:
        """True once `bind_to` has put every session on one connection (tests): a
        thread of its own must then not open a session, or two threads would run
        SQL on one driver connection at once (sqlite3 can crash the process)."""
        return not isinstance(self.sessionmaker.kw.get("bind"), Engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def init_app(app: Flask, database_url: str, *, jit: str = "server") -> Database:
    database = Database(make_engine(database_url, jit=jit))
    app.extensions["licensing.db"] = database
    app.teardown_appcontext(_close_session)
    return database


def database() -> Database:
    db: Database = current_app.extensions["licensing.db"]
    return db


@event.listens_for(Session, "do_orm_execute")
def _locked_rows_read_afresh(state: ORMExecuteState) -> None:
    """Every row a step locks is read as it is once locked (round 55, stale55): any
    ORM read FOR UPDATE (`session.get(..., with_for_update=...)`, a select's
    `.with_for_update()`, a batch job's `claim`) loads with `populate_existing`.

    Without it SQLAlchemy returns the object already in the session with the values
    read before the lock: the lock waited for another step that changed the row and
    committed, and the step then acted on what its page read earlier (an acceptance
    accepted a replaced agreement, a denial overwrote a grant,
    `tests/integration/permissions/test_decision_read_locked.py`). Here, once, rather
    than a flag at each call: a new locked read cannot forget it. It costs no
    statement (the locked SELECT is sent anyway; its row now overwrites the
    session's copy), and autoflush has written the step's own changes first."""
    locking = getattr(state.statement, "_for_update_arg", None) is not None
    if state.is_select and locking:
        state.update_execution_options(populate_existing=True)


def session() -> Session:
    """The session of the current app context, created on first use."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    current: Session = g.db_session
    return current


def idle_engine() -> Engine | None:
    """The engine, while this context holds no open transaction and its sessions
    bind the engine itself: a read may then learn from a cache of the process
    that nothing changed without opening a session (`ratecards.queries`). None
    inside a transaction, and in tests that bind every session to one
    connection."""
    # Every quote asks: its `g` and its app from one context lookup, not two.
    context = app_ctx._get_current_object()  # type: ignore[attr-defined]
    current = context.g.get("db_session")
    if current is not None and current.in_transaction():
        return None
    bind = context.app.extensions["licensing.db"].sessionmaker.kw.get("bind")
    return bind if isinstance(bind, Engine) else None


def read_session() -> Session:
    """A new session of the caller's own, for reading outside the request's unit
    of work (streamed downloads, see `licensing.streaming`). The caller closes it.

    On SQLite its transactions begin DEFERRED rather than IMMEDIATE: a reader
    holds no write lock, so writers are not kept waiting while it reads.
    """
    return database().read_sessionmaker()


def _close_session(_exc: BaseException | None) -> None:
    # `g` itself, not its proxy: this runs after every request.
    current = g._get_current_object().pop("db_session", None)
    if current is None:
        return
    try:
        current.close()
    except DBAPIError as error:
        # Round 61 (outage61): the server went away while the request held a connection
        # (a restart ended its session), and closing rolls back on it: raised here, after
        # the answer was made, the WSGI server got the error instead of the answer (a 200
        # or the 503 already drawn). The connection is thrown away; nothing to roll back.
        if not is_unavailable(error):
            raise
        log.warning("the request's database connection was lost as it ended: %s", error.orig)
        current.invalidate()


# True inside a unit of work: SQLite then begins its transaction IMMEDIATE.
_WRITING: ContextVar[bool] = ContextVar("licensing_db_writing", default=False)
# Inside `transaction(lock_wait=...)`: how long (ms) it waits for a lock, else None.
_LOCK_WAIT_MS: ContextVar[int | None] = ContextVar("licensing_db_lock_wait", default=None)


class Busy(Exception):
    """A unit of work that would not wait (`transaction(lock_wait=...)`) found a lock it
    needed held by another connection for longer: it wrote nothing."""


def _is_busy(error: OperationalError) -> bool:
    """SQLite's write lock held by another connection past the busy timeout, or
    PostgreSQL's `lock_timeout` passed (lock_not_available)."""
    found = error.orig
    if isinstance(found, sqlite3.OperationalError):
        return found.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return getattr(found, "sqlstate", None) == "55P03"


def writing() -> bool:
    """True inside `transaction()`: a use case's unit of work is under way (tests
    watch what units of work write: `tests/support/audited.py`)."""
    return _WRITING.get()


@contextmanager
def transaction(
    *, lock_wait: timedelta | None = None, repeatable: bool = False
) -> Iterator[Session]:
    """The unit of work: commit on success, roll back on any exception.

    With `lock_wait`, a unit of work that may as well be left undone (round 57: the
    console home's late-entry check, which a page's reading does without): it waits
    at most that long for a lock (SQLite's write lock at BEGIN, PostgreSQL's
    `lock_timeout` for any lock), else rolls back and raises `Busy`.

    `repeatable` (round 60): what the unit writes is the same however often it runs
    (an expired `Idempotency-Key` deleted, a mark set to a value it already has), so
    a `retrying` call may still run again after it committed. A unit that wrote
    nothing (a read in a transaction) never stops a retry (`_Attempt`)."""
    current = session()
    if _WRITING.get():  # inside another unit of work: it commits
        yield current
        return
    if current.in_transaction() and database().dialect == "sqlite":
        # End the request's read-only (deferred) transaction, keeping what it
        # loaded, so that the unit of work begins with the write lock.
        current.commit()
        _note_committed(repeatable=False)
    brief = None if lock_wait is None else int(lock_wait / timedelta(milliseconds=1))
    token, waits = _WRITING.set(True), _LOCK_WAIT_MS.set(brief)
    try:
        before = _bound_lock_wait(current, brief)
        yield current
        if before is not None:  # as it was, for a transaction this one is part of (tests)
            current.execute(select(func.set_config("lock_timeout", before, True)))
        current.commit()
        _note_committed(repeatable=repeatable)
    except OperationalError as error:
        current.rollback()
        _note_rolled_back()
        if brief is not None and _is_busy(error):
            raise Busy(str(error.orig)) from error
        raise
    except BaseException:
        current.rollback()
        _note_rolled_back()
        raise
    finally:
        _LOCK_WAIT_MS.reset(waits)
        _WRITING.reset(token)


def _bound_lock_wait(current: Session, brief: int | None) -> str | None:
    """On PostgreSQL, with `brief`: this transaction's lock waits bounded to `brief`
    milliseconds; the setting it had, to put back. SQLite's wait is its BEGIN's."""
    if brief is None or database().dialect != "postgresql":
        return None
    before = current.execute(
        select(
            func.current_setting("lock_timeout"),
            func.set_config("lock_timeout", f"{brief}ms", True),
        )
    ).one()[0]
    return str(before)


# --- a call run again after a deadlock or a serialization failure (round 59) -------

log = logging.getLogger(__name__)

# PostgreSQL's SQLSTATEs for a transaction it rolled back so that another could go on:
# deadlock_detected and serialization_failure. Its documentation's answer to both is
# to run the same work again, once the other has committed.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
# How many times `retrying` runs a call in all, and the wait before each further try:
# a random part (jitter, so that two steps that deadlocked do not meet again in step)
# of `RETRY_WAIT_SECONDS` times the number of tries made.
ATTEMPTS = 3
RETRY_WAIT_SECONDS = 0.05
# What a client refused after the last try is told to wait, in seconds (Retry-After).
RETRY_AFTER_SECONDS = 2

Result = TypeVar("Result")


class Contended(Exception):
    """A call that lost to another transaction and could not be run again: a deadlock or
    a serialization failure `ATTEMPTS` times (or once where running it again was not
    safe, `retrying`), or SQLite's write lock held by another connection past the busy
    timeout. The failed unit of work stored nothing. The edges answer 503 with
    Retry-After (`retry_after` seconds), never 500."""

    retry_after = RETRY_AFTER_SECONDS


def is_transient(error: BaseException) -> bool:
    """A deadlock or a serialization failure on PostgreSQL (`TRANSIENT_SQLSTATES`): the
    database rolled this transaction back for another's sake, and the same work may
    succeed run again."""
    found = getattr(error, "orig", None) if isinstance(error, DBAPIError) else None
    return getattr(found, "sqlstate", None) in TRANSIENT_SQLSTATES


def is_contention(error: BaseException) -> bool:
    """`is_transient`, or SQLite's "database is locked" (`SQLITE_BUSY`: another
    connection held the write lock past the busy timeout): a client may try again."""
    if is_transient(error):
        return True
    return (
        isinstance(error, OperationalError)
        and isinstance(error.orig, sqlite3.OperationalError)
        and _is_busy(error)
    )


# --- the database away (round 61, outage61) ------------------------------------------

# What a client refused while the database cannot be reached is told to wait, in
# seconds (Retry-After): a restart of PostgreSQL takes a few seconds.
UNAVAILABLE_RETRY_AFTER_SECONDS = 10
# PostgreSQL's SQLSTATEs of a server going away or not yet back: admin_shutdown (a
# fast or smart shutdown ended the session), crash_shutdown, cannot_connect_now (the
# server is starting up or shutting down); and class 08, connection_exception.
_AWAY_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def is_unavailable(error: BaseException) -> bool:
    """The database could not be reached, or the connection was lost under the
    request (a restart, a failover, the network): a client may try again once it is
    back. A connection refused or lost carries no SQLSTATE in psycopg; SQLAlchemy marks
    a lost one `connection_invalidated` (and has already thrown the pool's connections
    away, so the next checkout connects afresh). SQLite's errors are never this."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    found = error.orig
    if found is None:
        return False
    if getattr(found, "sqlstate", None):
        return driver_error_is_unavailable(found)
    # psycopg's own OperationalError with no SQLSTATE: the connection failed.
    return isinstance(error, OperationalError) and driver_error_is_unavailable(found)


def driver_error_is_unavailable(found: BaseException) -> bool:
    """`is_unavailable` for the driver's own error, as a raw connection raises it
    (`/readyz` probes on one, round 61 outage61b): a SQLSTATE of a server gone away,
    or psycopg's OperationalError with none (the connection refused, or lost under a
    statement: the server ended the session)."""
    if isinstance(found, sqlite3.Error):
        return False
    sqlstate = getattr(found, "sqlstate", None)
    if sqlstate:
        return bool(sqlstate.startswith("08") or sqlstate in _AWAY_SQLSTATES)
    return type(found).__module__.startswith("psycopg") and any(
        kind.__name__ == "OperationalError" for kind in type(found).__mro__
    )


class _Attempt:
    """What one try of a `retrying` call did that rules out running it again:
    `committed`, a unit of work of it that wrote something committed (`wrote`: a
    statement that changes rows ran since the last commit or rollback; round 60:
    any commit counted, so a read in a transaction of its own, an
    `Idempotency-Key` looked up before the work, stopped every retry after it);
    `outside`, what left the process."""

    __slots__ = ("committed", "number", "outside", "wrote")

    def __init__(self, number: int) -> None:
        self.number = number
        self.committed = False
        self.wrote = False
        self.outside: str | None = None


# The try of a `retrying` call under way in this context, if any.
_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("licensing_db_attempt", default=None)

# The first words of the statements that change no row: reads (a SELECT, its locks,
# `set_config`, an advisory lock), and the transaction's and savepoints' own. Any
# other statement counts as a write (`_note_write`), an unknown one included.
_WRITES_NOTHING = frozenset(
    {"SELECT", "SHOW", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET"}
)
_FIRST_WORD = re.compile(r"[\s(]*(\w+)")  # past a compound SELECT's parentheses
# A data-changing statement inside a `WITH` (not a row lock's `FOR [NO KEY] UPDATE`).
_CHANGING = re.compile(r"\b(INSERT|(?<!FOR )(?<!KEY )UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(
    _connection: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    """Inside a `retrying` call: note a statement that may change rows (an INSERT,
    UPDATE or DELETE, the ORM's flush or Core's, a text one; `WITH` naming one), so
    that its unit's commit stops a retry and a read's does not."""
    attempt = _ATTEMPT.get()
    if attempt is None or attempt.wrote:
        return
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        attempt.wrote = True
        return
    found = _FIRST_WORD.match(statement)
    first = found.group(1).upper() if found else ""
    if first == "WITH":
        attempt.wrote = _CHANGING.search(statement) is not None
    elif first not in _WRITES_NOTHING:
        attempt.wrote = True


def _note_committed(*, repeatable: bool) -> None:
    attempt = _ATTEMPT.get()
    if attempt is not None:
        if attempt.wrote and not repeatable:
            attempt.committed = True
        attempt.wrote = False


def _note_rolled_back() -> None:
    attempt = _ATTEMPT.get()
    if attempt is not None:
        attempt.wrote = False


def running_again() -> bool:
    """True while a `retrying` call runs again after a try it lost: what its first try
    counted (a request against its rate limit) is not counted again."""
    attempt = _ATTEMPT.get()
    return attempt is not None and attempt.number > 1


def went_outside(what: str) -> None:
    """Say that something is about to leave the process (`what`: a request to Stripe,
    an email handed to the SMTP server): the `retrying` call under way is then not
    run again after a deadlock, or what went out would go out twice."""
    attempt = _ATTEMPT.get()
    if attempt is not None and attempt.outside is None:
        attempt.outside = what


def _always() -> bool:
    return True


def _nothing() -> None:
    return None


def retrying(
    call: Callable[[], Result],
    *,
    may_run_again: Callable[[], bool] = _always,
    before_again: Callable[[], None] = _nothing,
) -> Result:
    """`call()`, run again when a unit of work in it fails with a deadlock or a
    serialization failure (`is_transient`; `transaction()` has rolled it back): at most
    `ATTEMPTS` times in all, after a short jittered wait, and only while nothing the
    call did can have been kept or seen outside it: no unit of work of the call
    committed (a second one failing after a first was stored), nothing went outside
    the process (`went_outside`: Stripe, SMTP), and `may_run_again()` says its input
    can be read again (a request's body read as a stream cannot). Otherwise, and
    after the last try, raises `Contended` from the database's error. Any other
    error is raised as it is, at once. `before_again()` runs before each try run
    again, once the failed one is rolled back: it puts back what the call keeps
    outside the database (round 59, retrycheck59: a request's cookie session, `g`).

    The edges run each request's view through it (`licensing.app.App`), so a step
    that loses a deadlock is the whole view run again: its reads, its unit of work and
    the page it draws from what that stored."""
    outer = _ATTEMPT.get()
    for number in range(1, ATTEMPTS + 1):
        attempt = _Attempt(number)
        token = _ATTEMPT.set(attempt)
        try:
            return call()
        except DBAPIError as error:
            if not is_transient(error):
                _note_done_before(error, attempt)
                raise
            why = _not_again(attempt, number, may_run_again)
            if why is not None:
                log.warning("lost to another transaction (%s); %s", error.orig, why)
                raise Contended(str(error.orig)) from error
            log.info(
                "lost to another transaction (%s); try %d of %d", error.orig, number + 1, ATTEMPTS
            )
        finally:
            _ATTEMPT.reset(token)
            # A try run again kept and sent nothing (`_not_again`): nothing to tell.
            _tell_outer(outer, attempt)
        _roll_back_what_failed()
        before_again()
        time.sleep(random.uniform(0, RETRY_WAIT_SECONDS * number))  # noqa: S311 (jitter, no secret)
    raise AssertionError("unreachable: the last try returns or raises")


# Where `retrying` notes, on a database error it raises as it is, what the call had
# done before it (`done_before`).
_DONE_BEFORE = "licensing_done_before"


def _note_done_before(error: DBAPIError, attempt: _Attempt) -> None:
    if attempt.committed or attempt.outside is not None:
        noted = getattr(error, _DONE_BEFORE, None) or {}
        setattr(
            error,
            _DONE_BEFORE,
            {
                "committed": attempt.committed or bool(noted.get("committed")),
                "outside": noted.get("outside") or attempt.outside,
            },
        )


def done_before(error: BaseException) -> bool:
    """Whether the request (the `retrying` call) that raised `error` had done part of
    its work before it (round 61, outage61b): a unit of work of it that wrote had
    committed, or something had left the process (Stripe asked). The database away
    then cannot be answered "nothing of it was saved": a card refund's key and pending
    refund were stored, and Stripe asked, before the database went away."""
    return getattr(error, _DONE_BEFORE, None) is not None


def _tell_outer(outer: _Attempt | None, attempt: _Attempt) -> None:
    """A `retrying` call inside another (a batch job's row, `retried_unit`, run from a
    request): what the inner try kept or sent out rules out running the outer again."""
    if outer is None:
        return
    outer.committed = outer.committed or attempt.committed
    outer.wrote = outer.wrote or attempt.wrote
    outer.outside = outer.outside or attempt.outside


def retried_unit(call: Callable[[], Result], *, keeping: Sequence[object] = ()) -> Result:
    """One unit of work (`call`, which opens its own `transaction()`) run again alone
    after a deadlock or a serialization failure, as `retrying` runs a view (round 60):
    a batch job's row or batch of rows (the first one lost stopped the whole run, the
    rows after it left to the next), and a request's unit that follows one which
    committed something a second try of the whole view must not do again (a passkey's
    challenge spent, a sign-in code accepted: the view answered 503). What the unit
    adds to outside the database (`keeping`: the run's report, a list of what it did)
    is put back as it was before a try run again, so a row lost once is counted once.
    Only for a unit whose effects are all in the database (emails are outbox rows):
    one that asks Stripe or an SMTP server is not run again (`went_outside`). Inside
    a `retrying` call, what the unit committed or sent out is told to it."""
    lists = [(each, list(each)) for each in keeping if isinstance(each, list)]
    objects = [(each, _attributes(vars(each))) for each in keeping if not isinstance(each, list)]

    def put_back() -> None:
        for found, items in lists:
            found[:] = items
        for each, attributes in objects:
            vars(each).update(_attributes(attributes))

    return retrying(call, before_again=put_back)


def _attributes(found: dict[str, Any]) -> dict[str, Any]:
    """An object's attributes, its lists, dicts and sets copied (their items, and any
    other value, as they are: the report a batch's tally names is kept itself)."""
    return {
        name: value.copy() if isinstance(value, (list, dict, set)) else value
        for name, value in found.items()
    }


def _not_again(attempt: _Attempt, number: int, may_run_again: Callable[[], bool]) -> str | None:
    """Why the call is not run again, or None when it may be."""
    if number >= ATTEMPTS:
        return f"not run again after {ATTEMPTS} tries"
    if attempt.committed:
        return "not run again: a unit of work of it had committed"
    if attempt.outside is not None:
        return f"not run again: it had reached {attempt.outside}"
    if not may_run_again():
        return "not run again: its input cannot be read again"
    return None


def _roll_back_what_failed() -> None:
    """A failure outside `transaction()` (a read) leaves the context's session in a
    failed transaction: rolled back before the next try (`transaction()` rolled back
    its own already)."""
    current = g.get("db_session") if has_app_context() else None
    if current is not None and current.in_transaction():
        current.rollback()


class UTCInstant(FunctionElement[datetime]):
    """The UTC instant `after` the midnight (UTC) that starts a DATE column's day, in
    SQL a `UTCDateTime` column compares with (round 50): `datetime(day, '+N seconds')`
    on SQLite (text as the column stores it), `(day::timestamp + interval) AT TIME ZONE
    'UTC'` on PostgreSQL. Whole seconds only."""

    type = DateTime(timezone=True)
    # Not cached: `seconds` is written into the SQL but is no part of a cache key, so a
    # second instant with other seconds would reuse the first one's compiled text.
    inherit_cache = False

    def __init__(self, day: Any, after: timedelta) -> None:
        if after % timedelta(seconds=1):
            raise ValueError("UTCInstant takes whole seconds")
        self.seconds = int(after.total_seconds())
        super().__init__(day)


@compiles(UTCInstant, "sqlite")
def _utc_instant_sqlite(element: UTCInstant, compiler: Any, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"datetime({day}, '{element.seconds:+d} seconds')"


@compiles(UTCInstant)  # and for str(statement), as PostgreSQL reads it
@compiles(UTCInstant, "postgresql")
def _utc_instant_postgresql(element: UTCInstant, compiler: Any, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"(CAST({day} AS TIMESTAMP) + INTERVAL '{element.seconds} seconds') AT TIME ZONE 'UTC'"


# The SQLite function `OfficeDay` calls (registered on each connection).
OFFICE_DAY = "licensing_office_day"


def _office_day_in_python(stamp: str | None) -> str | None:
    """`licensing.calendar.office_date` of a `UTCDateTime` as SQLite stores it (the
    UTC time without its zone), as the ISO text SQLite keeps a date in."""
    if stamp is None:
        return None
    moment = datetime.fromisoformat(stamp)
    return office_date(moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


class OfficeDay(FunctionElement[date]):
    """The office day (`licensing.calendar.office_date`, America/Chicago) of a UTC time
    stamp, in SQL (round 61, asof61: a card payment's day, Stripe's, beside an offline
    payment's `received_on`, so that one statement orders an invoice's money by the
    bank's days): `timezone(zone, stamp)` cast to a date on PostgreSQL; on SQLite,
    which keeps no time zones, a function the connection registers, Python's own."""

    type = Date()
    name = "office_day"
    inherit_cache = True


@compiles(OfficeDay, "sqlite")
def _office_day_sqlite(element: OfficeDay, compiler: Any, **kw: Any) -> str:
    return f"{OFFICE_DAY}({compiler.process(element.clauses, **kw)})"


@compiles(OfficeDay)  # and for str(statement), as PostgreSQL reads it
@compiles(OfficeDay, "postgresql")
def _office_day_postgresql(element: OfficeDay, compiler: Any, **kw: Any) -> str:
    stamp = compiler.process(element.clauses, **kw)
    return f"CAST(timezone('{OFFICE_TIMEZONE.key}', {stamp}) AS DATE)"


# Any select: a claim keeps the columns its statement selects.
Claimed = TypeVar("Claimed", bound="Select[*tuple[Any, ...]]")


def claim(statement: Claimed) -> Claimed:
    """A batch job's claim on the rows `statement` selects, held until the
    transaction ends: on PostgreSQL a row lock that other hosts skip (SKIP LOCKED),
    so each row is processed by one host; on SQLite the transaction's write lock
    (BEGIN IMMEDIATE) already makes hosts take turns.

    The lock is FOR NO KEY UPDATE: a claim changes a row's state, never its key, and
    FOR UPDATE would also make another host's foreign-key checks wait (a late fee's
    invoice INSERT takes FOR KEY SHARE on its organization), which deadlocked two
    hosts running the overdue job, one claiming the organization for its standing."""
    if is_postgresql():
        return statement.with_for_update(skip_locked=True, key_share=True)
    return statement


def still_selected(session: Session, statement: Select[Any], claimed: Sequence[Any]) -> list[Any]:
    """Of the rows `claim(statement)` returned, those `statement` still selects when
    read again now, in a statement of its own (on PostgreSQL; SQLite's hosts take
    turns with the write lock before reading anything).

    For a claim whose conditions read other tables, such as a once-only email's
    marker in the audit log (`NOT EXISTS ... 'reminder_sent'`): the claim's
    statement reads them in the snapshot taken when it began. Under READ COMMITTED,
    another host that sent the email and committed after that moment, but before
    this statement reached the row (SKIP LOCKED skips only a row still locked),
    leaves the row claimable although its marker is written, and the email went
    twice. A new statement sees every commit made before it, the marker included,
    and the row is still ours (locked), so nobody can write the marker between this
    look and our own. Conditions on the claimed row itself need no second look:
    PostgreSQL checks them again on the row's newest version when it locks it."""
    if not claimed or not is_postgresql():
        return list(claimed)
    entity = statement.column_descriptions[0]["entity"]
    ids = [row.id for row in claimed]
    still: set[Any] = set()
    # A bounded list of ids a statement (round 52: every claimed id in one IN, which
    # the driver refuses past 65,535 parameters: a claim of every due row, such as the
    # agreement-ending reminders', is as large as the rows due).
    for start in range(0, len(ids), STILL_SELECTED_IDS):
        named = ids[start : start + STILL_SELECTED_IDS]
        still.update(
            session.scalars(statement.with_only_columns(entity.id).where(entity.id.in_(named)))
        )
    return [row for row in claimed if row.id in still]


# The most ids one statement of `still_selected` names.
STILL_SELECTED_IDS = 1000


def count_rows(session: Session, statement: Statement) -> int:
    """How many rows `statement` selects, counted by the database (without its
    ORDER BY, which changes no count), reading only what the count depends on
    (`counted`)."""
    return int(session.scalar(count_of(statement)) or 0)


def count_of(statement: Statement) -> Select[int]:
    """The statement counting the rows `statement` selects, as `count_rows` runs it:
    for a list that keeps its count beside its rows (`paging.read_page(count=...)`)."""
    return select(func.count()).select_from(counted(statement).subquery())


def counted(statement: Statement) -> Statement:
    """`statement` without its ORDER BY, each ORM entity it selects (a mapped class
    or an alias of one) replaced by that entity's primary key: the same rows, as many,
    under every filter, join, DISTINCT, GROUP BY or LIMIT it has.

    Counted as it stands, the subquery named every column of an entity, the deferred
    ones too (an agreement's PDF) and its column properties (a user's correlated
    count of passkeys): SQLAlchemy renders them all in a subquery. SQLite and
    PostgreSQL flatten a simple subquery and read none of them, but one they cannot
    flatten (DISTINCT, GROUP BY, a LIMIT) would read them for every row (round 51:
    36-44 ms at 1,000 agreements on SQLite). A row of an entity is its key, so the
    key alone keeps every count: DISTINCT over the key keeps the rows DISTINCT over
    the entity kept. The other columns it selects stay as they are (a DISTINCT or a
    GROUP BY may depend on them)."""
    columns: list[Any] = []
    for description in statement.column_descriptions:
        entity, expression = description.get("entity"), description["expr"]
        if entity is not None and expression is entity:
            mapper = inspect(entity).mapper
            columns.extend(
                getattr(entity, mapper.get_property_by_column(key).key)
                for key in mapper.primary_key
            )
        else:
            columns.append(expression)
    return statement.order_by(None).with_only_columns(*columns, maintain_column_froms=True)


def one_page(
    session: Session, statement: Select[Any], *, page: int, per_page: int
) -> tuple[Sequence[Any], int]:
    """Page `page` (from 1) of what `statement` selects, in its order, and how many
    rows it selects in all."""
    total = count_rows(session, statement)
    window = statement.limit(per_page).offset((max(page, 1) - 1) * per_page)
    return session.scalars(window).all(), total


def is_postgresql() -> bool:
    return database().dialect == "postgresql"


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


# The longest text `contains_in_any_case` looks for, and the most letters beyond
# ASCII it folds (each a `replace()` in the statement): the bounds of its search.
SEARCH_TEXT_MAX = 254
FOLDED_LETTERS_MAX = 64


# The SQLite function `ReplaceEach` calls (registered on each connection).
REPLACE_EACH = "licensing_replace_each"
# The most (old, new) pairs one call of it is given: SQLite takes at most 127
# arguments in a call (SQLITE_MAX_FUNCTION_ARG), the text's and two a pair.
REPLACE_EACH_PAIRS = 60


def _replace_each_in_python(text: str | None, *pairs: str) -> str | None:
    if text is None:
        return None
    for old, new in zip(pairs[0::2], pairs[1::2], strict=True):
        text = text.replace(old, new)
    return text


class ReplaceEach(FunctionElement[str]):
    """`text` with each pair's old part replaced by its new, in turn: nested
    `replace()` calls on PostgreSQL; on SQLite one call (per `REPLACE_EACH_PAIRS`)
    of a function the connection registers (round 53: SQLite's parser refused about
    25 nested `replace()` calls, "parser stack overflow", a 500 for a search of as
    many letters beyond ASCII, where `contains_in_any_case` promised 64)."""

    type = String()
    name = "replace_each"
    inherit_cache = True

    def __init__(self, text: ColumnElement[str], pairs: Sequence[tuple[str, str]]) -> None:
        binds = [literal(part, String()) for pair in pairs for part in pair]
        super().__init__(text, *binds)


@compiles(ReplaceEach, "sqlite")
def _replace_each_sqlite(element: ReplaceEach, compiler: Any, **kw: Any) -> str:
    text, *parts = [str(compiler.process(clause, **kw)) for clause in element.clauses]
    step = 2 * REPLACE_EACH_PAIRS
    for start in range(0, len(parts), step):
        text = f"{REPLACE_EACH}({', '.join([text, *parts[start : start + step]])})"
    return text


@compiles(ReplaceEach)  # and for str(statement), as PostgreSQL reads it
@compiles(ReplaceEach, "postgresql")
def _replace_each_nested(element: ReplaceEach, compiler: Any, **kw: Any) -> str:
    text, *parts = [str(compiler.process(clause, **kw)) for clause in element.clauses]
    for old, new in zip(parts[0::2], parts[1::2], strict=True):
        text = f"replace({text}, {old}, {new})"
    return text


def contains_in_any_case(
    column: ColumnElement[str] | InstrumentedAttribute[str],
    text: str,
    *,
    stored: Callable[[str], str] = str,
) -> ColumnElement[bool]:
    """Rows whose `column` contains `text` in any case, for the columns that store no
    key of their own: the audit log's actor, the outbox's recipients (round 52), the
    applications' product names and the content a permission request asks for (round
    53; the names of organizations, people and requesters compare `name_key`s).

    Both databases' `lower()` folds ASCII letters alone, so the column is folded
    further in SQL for the letters `text` has beyond ASCII: each of its capitals is
    replaced by the small letter (`ReplaceEach`: `replace()` on PostgreSQL, one
    registered function on SQLite, whose parser refuses deep nesting), so
    "MüLLER", "MÜller" and "müller" are each found by any of them (round 52 looked
    for two spellings, all small and capitals beyond ASCII, and missed a mix). `text`
    is read in its composed form (NFC) and at most `SEARCH_TEXT_MAX` characters, and
    at most `FOLDED_LETTERS_MAX` distinct letters are folded, so the statement stays
    bounded. A capital whose small letter is not one character (İ) is not folded.
    `stored` writes text as the column stores it (the outbox's JSON escapes); `%` and
    `_` are letters."""
    term = unicodedata.normalize("NFC", text.strip()[:SEARCH_TEXT_MAX]).lower()

    def as_stored(letters: str) -> str:
        return stored(letters).translate(_ASCII_LOWER)

    lowered: ColumnElement[str] = func.lower(column)
    beyond_ascii = [letter for letter in dict.fromkeys(term) if not letter.isascii()]
    pairs: list[tuple[str, str]] = []
    # Each letter folded, in one of its cases, is in the column: a row without one is
    # passed over before the replacements (round 53: a search of 64 letters read
    # each text 128 times, about 8 s on PostgreSQL over 50,000 texts of 1,000
    # characters; now about twice, for a row missing its first letter).
    present: list[ColumnElement[bool]] = []
    for letter in beyond_ascii[:FOLDED_LETTERS_MAX]:
        spellings = [as_stored(letter)]
        for capital in dict.fromkeys((letter.upper(), letter.title())):
            if len(capital) == 1 and capital != letter and capital.lower() == letter:
                pairs.append((as_stored(capital), as_stored(letter)))
                spellings.append(as_stored(capital))
        present.append(or_(*(lowered.contains(one, autoescape=True) for one in spellings)))
    folded = ReplaceEach(lowered, pairs) if pairs else lowered
    return and_(*present, folded.contains(as_stored(term), autoescape=True))
