"""An export: checked up front, then streamed as bytes and audited.

`prepare()` reads the dataset, format and filter and refuses bad input before
a byte is sent; `check_records()` refuses rows the service would never have
stored (a currency it does not know), naming the first. `stream()` yields the
file's bytes from a session of its own that reads one snapshot
(`licensing.streaming.reading_session(snapshot=True)`: REPEATABLE READ on
PostgreSQL, so a credit note committed midway cannot make the file disagree
with itself) and, when the stream ends (finished, failed or closed midway by
the client), records the export in the audit log with its filter, row count,
byte count and the SHA-256 of the bytes sent, in a transaction of its own.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select

from licensing import db
from licensing.accounts.queries import user_by_email
from licensing.accounts.services import principal_for
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.exports import base, filters
from licensing.exports.base import Dataset, ExportContext, Row
from licensing.exports.formats import FORMATS, Format, Header, write_csv_lines
from licensing.exports.ledger import Ledger
from licensing.money import MoneyError
from licensing.streaming import reading_session


@dataclass(frozen=True)
class ExportRequest:
    dataset: Dataset
    filter: filters.ExportFilter
    format: Format

    def filename(self, moment: datetime) -> str:
        return f"{self.dataset.name}-{moment:%Y%m%d-%H%M%S}.{self.format.extension}"


def prepare(
    dataset_name: str,
    format_name: str,
    given: Mapping[str, Any],
    *,
    today: date | None = None,
    words: filters.Wording = filters.API_WORDS,
) -> ExportRequest:
    """The export asked for, or NotFound (no such dataset) or InvalidInput naming
    every problem of its format and filter, in `words` (the API's by default)."""
    dataset = base.get(dataset_name)
    if dataset is None:
        raise NotFound(
            f"There is no {dataset_name!r} export; there are: "
            f"{', '.join(words.dataset(name) for name in base.all_datasets())}."
        )
    chosen = FORMATS.get((format_name or "csv").lower())
    problems: dict[str, list[str]] = {}
    if chosen is None:
        problems["format"] = [words.one_of("format", tuple(FORMATS))]
    try:
        export_filter = filters.parse(
            dataset, given, today=today or office_date(utcnow()), words=words
        )
    except InvalidInput as error:
        problems.update(error.errors)
    if problems:
        raise InvalidInput("The export's filter has problems.", problems)
    assert chosen is not None
    return ExportRequest(dataset, export_filter, chosen)


class CorruptRecords(Conflict):
    """The export's rows hold what the service never stores (a currency it does
    not know): the database was changed behind it. Nothing is exported."""

    title = "Records the service cannot export"


_CORRUPT = (
    "Currencies are checked when they are stored, so the record was changed in "
    "the database; correct it and export again."
)


def check_records(request: ExportRequest) -> None:
    """Refuse, before a byte is written, an export whose rows hold a currency the
    service does not know, naming the first such record (where the dataset can
    find them in the database; the others stop at that row: see `stream`)."""
    find = request.dataset.unknown_currencies
    if find is None:
        return
    with reading_session() as session:
        found = session.execute(find(request.filter).limit(1)).first()
    if found is not None:
        currency, record = found
        raise CorruptRecords(
            f"The {request.dataset.name} export was not started: {found._fields[1]} {record} "
            f"has amounts in {currency!r}, a currency the service does not know. {_CORRUPT}"
        )


@dataclass
class Tally:
    """What has been sent so far."""

    rows: int = 0
    bytes: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    complete: bool = False
    failure: str | None = None  # why the stream stopped, when it was refused midway

    def add(self, chunk: builtins.bytes) -> None:  # the field `bytes` shadows the type
        self.bytes += len(chunk)
        self.digest.update(chunk)


def _counted(rows: Iterable[Row], tally: Tally, on_row: Callable[[], None] | None) -> Iterator[Row]:
    for row in rows:
        tally.rows += 1
        if on_row is not None:
            on_row()
        yield row


def _counted_lines(
    batches: Iterable[list[str]], tally: Tally, on_row: Callable[[], None] | None
) -> Iterator[list[str]]:
    for lines in batches:
        tally.rows += len(lines)
        if on_row is not None:
            for _line in lines:
                on_row()
        yield lines


def _chunks(
    request: ExportRequest,
    context: ExportContext,
    header: Header,
    tally: Tally,
    on_row: Callable[[], None] | None,
) -> tuple[Generator[bytes, None, None], Generator[Any, None, None]]:
    """The file's chunks and the generator of rows (or CSV lines) they come from."""
    dataset = request.dataset
    # Round 62 (lines62): lines chosen by the Finance page's classification too (they
    # came as rows, written by Python, from round 60).
    if request.format.name == "csv" and dataset.csv_lines is not None:
        lines = dataset.csv_lines(context, request.filter)
        return write_csv_lines(header, _counted_lines(lines, tally, on_row)), lines
    rows = dataset.rows(context, request.filter)
    return request.format.write(header, _counted(rows, tally, on_row)), rows


def stream(
    request: ExportRequest,
    *,
    gl_accounts: Mapping[str, str],
    note: str | None = None,
    on_row: Callable[[], None] | None = None,
    tally: Tally | None = None,
    requester: Actor | None = None,
) -> Generator[bytes, None, None]:
    """The export's bytes, chunk by chunk, each invoice line under its account in
    `gl_accounts` (the setting EXPORT_GL_ACCOUNTS); audited when the stream ends
    however, as `requester`'s (the request's caller, or the system, unless given)."""
    tally = tally if tally is not None else Tally()
    header = Header(request.dataset, utcnow(), request.filter.describe())
    try:
        with reading_session(snapshot=True) as session:
            context = ExportContext(session, Ledger(session, gl_accounts))
            chunks, rows = _chunks(request, context, header, tally, on_row)
            try:
                for chunk in chunks:
                    tally.add(chunk)
                    yield chunk
            except MoneyError as error:  # met midway (`check_records` did not look)
                tally.failure = (
                    f"The {request.dataset.name} export stopped after {tally.rows} rows: "
                    f"{error}. {_CORRUPT}"
                )
                raise CorruptRecords(tally.failure) from error
            finally:
                # Stopped midway: close the writer, then the rows (which closes
                # their server-side cursor), before the session itself closes.
                chunks.close()
                rows.close()
        tally.complete = True
    finally:
        record_export(request, tally, note=note, requester=requester)


# Who may read exports: the routes' declaration (`access.staff("billing")`), which
# admins pass too.
READING_ROLE = "billing"


def requester_named(email: str) -> Actor:
    """The staff member an operator runs an export for (`licensing exports --for`):
    the export is recorded as theirs, so it is in their list of downloads. Only
    someone who may export themselves: an active billing staff member or an admin."""
    with reading_session() as session:
        user = user_by_email(session, email)
        actor = Actor.of(principal_for(user)) if user is not None and user.is_active else None
    if actor is None or not actor.has_role(READING_ROLE):
        raise InvalidInput.for_field(
            "for",
            f"{email} is not an active billing staff member or admin, who alone may read exports.",
        )
    return actor


def count(request: ExportRequest, *, gl_accounts: Mapping[str, str]) -> int | None:
    """How many rows the export will have, when the dataset can say cheaply."""
    with reading_session(snapshot=True) as session:
        context = ExportContext(session, Ledger(session, gl_accounts))
        return request.dataset.count(context, request.filter)


# The audit actions of an export, complete or cut off (`record_export`).
DOWNLOADED = "export.downloaded"
INTERRUPTED = "export.interrupted"


def recorded_exports(actor: Actor, dataset: str | None = None) -> Select[AuditEvent]:
    """The exports `actor` made, newest first, as the audit log recorded them (with
    each file's rows, bytes and SHA-256), so whoever downloaded a file can check
    it; an admin reads everyone's, the command line's included."""
    # By entity first: `ix_audit_events_entity` finds the exports' events, where the
    # action alone would read the whole (ever-growing) log to count a page's total.
    statement = select(AuditEvent).where(
        AuditEvent.entity_type == "export",
        AuditEvent.action.in_((DOWNLOADED, INTERRUPTED)),
    )
    if not actor.has_role("admin"):  # no user, no exports of its own
        statement = statement.where(AuditEvent.actor_user_id == (actor.user_id or 0))
    if dataset is not None:
        statement = statement.where(AuditEvent.entity_id == dataset)
    return statement.order_by(AuditEvent.seq.desc())


def record_export(
    request: ExportRequest,
    tally: Tally,
    *,
    note: str | None = None,
    requester: Actor | None = None,
) -> None:
    """The audit event of one export, in a transaction of its own (the stream's
    session only reads, and may be gone), as `requester`'s when given."""
    session = db.database().sessionmaker()
    try:
        audit.record(
            session,
            action=DOWNLOADED if tally.complete else INTERRUPTED,
            entity_type="export",
            entity_id=request.dataset.name,
            before=None,
            after={
                "dataset": request.dataset.name,
                "schema_version": request.dataset.schema_version,
                "format": request.format.name,
                "filter": request.filter.describe(),
                "rows": tally.rows,
                "bytes": tally.bytes,
                "sha256": tally.digest.hexdigest(),
                "complete": tally.complete,
            },
            note=note
            if tally.complete
            else tally.failure or "The stream ended before the last row was sent.",
            actor=requester.name if requester else None,
            actor_user_id=requester.user_id if requester else None,
        )
        session.commit()
    finally:
        session.close()
