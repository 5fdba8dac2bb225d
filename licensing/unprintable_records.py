"""`licensing records unprintable`: the stored text a document would print as empty
boxes (round 55).

Since round 55 the forms, the API and publishing refuse a character no document's
font draws (`licensing.printable`), but text stored before is not checked again: an
organization named in Ethiopic still prints boxes in its next invoice. This lists
such text, so the office can ask for it to be written again: the organizations'
profiles, users' names, applications' uses, permission requests' printed fields and
the published rate cards' words, each record's organization, the field and the
characters. Read only; rows are read in batches of `BATCH` by id (never all at
once), and a run stops after `--limit` findings, saying where the next run starts
(`--after KIND:ID`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from licensing import db, printable, terminal
from licensing.accounts.models import Organization, User
from licensing.agreements.models import Application, ApplicationUse
from licensing.options import whole_number_option
from licensing.permissions.commands import TEXT_FIELDS
from licensing.permissions.models import PermissionRequest
from licensing.pricing import RateCardInvalid, parse_rate_card
from licensing.ratecards.models import RateCardRecord

BATCH = 500  # rows read at a time
LIMIT_MAX = 10_000  # findings a run lists at most


@dataclass(frozen=True)
class Finding:
    """One field of one record holding characters no document's font draws."""

    kind: str
    record_id: int
    organization_id: int | None
    field: str
    characters: str

    def line(self) -> str:
        named = ", ".join(printable.named(character) for character in self.characters)
        organization = "-" if self.organization_id is None else str(self.organization_id)
        parts = (self.kind, str(self.record_id), organization, self.field, named)
        return "\t".join(terminal.shown(part) for part in parts)  # a field obeys nothing


@dataclass(frozen=True)
class _Source:
    """A kind of record: the select of its id, its organization's id and its printed
    fields, and how a row's fields are read (`texts`: name and text)."""

    kind: str
    model: Any
    columns: Callable[[], Sequence[Any]]
    joined: Callable[[Select[Any]], Select[Any]] = lambda query: query

    def texts(self, row: Sequence[Any]) -> Iterator[tuple[str, str]]:
        names = [column.key for column in self.columns()]
        return ((name, value) for name, value in zip(names, row[2:], strict=True) if value)


def _fields(model: Any, names: Sequence[str]) -> list[InstrumentedAttribute[Any]]:
    return [getattr(model, name) for name in names]


# The permission request's fields its letters print (the requester's email apart).
_REQUEST_FIELDS = (
    *(name for name in TEXT_FIELDS if name != "requester_email"),
    "permitted_use",
    "denial_reason",
    "reconsideration_denial_reason",
)
_SOURCES = (
    _Source(
        "organization",
        Organization,
        lambda: _fields(Organization, Organization.PROFILE_FIELDS),
    ),
    _Source("user", User, lambda: [User.full_name]),
    _Source(
        "application_use",
        ApplicationUse,
        lambda: _fields(
            ApplicationUse, ("product_name", "description", "territories", "languages")
        ),
        lambda query: query.join(Application, Application.id == ApplicationUse.application_id),
    ),
    _Source(
        "permission_request", PermissionRequest, lambda: _fields(PermissionRequest, _REQUEST_FIELDS)
    ),
)
KINDS = (*(source.kind for source in _SOURCES), "rate_card")


def _organization_column(source: _Source) -> Any:
    if source.model is ApplicationUse:
        return Application.organization_id
    if source.model is Organization:
        return Organization.id
    return source.model.organization_id


def _rows(source: _Source, after: int) -> Iterator[Sequence[Any]]:
    """The source's rows past id `after`, by id, `BATCH` at a time."""
    while True:
        query = source.joined(
            select(source.model.id, _organization_column(source), *source.columns())
        )
        batch = db.session().execute(
            query.where(source.model.id > after).order_by(source.model.id).limit(BATCH)
        )
        rows = list(batch)
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def _characters(text: str) -> str | None:
    return printable.unprintable(text) or None


def _card_findings(after: int) -> Iterator[Finding]:
    """The published cards' words no font draws, by the path of each in the card."""
    while True:
        query = select(RateCardRecord.id, RateCardRecord.document).where(RateCardRecord.id > after)
        rows = list(db.session().execute(query.order_by(RateCardRecord.id).limit(BATCH)))
        for record_id, document in rows:
            try:
                parse_rate_card(json.loads(document), text_problem=_characters)
            except RateCardInvalid as found:
                for problem in found.problems:
                    if printable.unprintable(problem.message) == problem.message:
                        # The characters, as `_characters` gave them (not another problem).
                        yield Finding("rate_card", record_id, None, problem.path, problem.message)
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def findings(after_kind: str = KINDS[0], after_id: int = 0) -> Iterator[Finding]:
    """Every finding from record `after_id` of `after_kind` on, kind by kind (in
    `KINDS`' order), each kind by id."""
    start = KINDS.index(after_kind)
    for source in _SOURCES[start:]:
        past = after_id if source.kind == after_kind else 0
        for row in _rows(source, past):
            for name, text in source.texts(row):
                if characters := printable.unprintable(str(text)):
                    yield Finding(source.kind, row[0], row[1], name, characters)
    yield from _card_findings(after_id if after_kind == "rate_card" else 0)


def _cursor(value: str | None) -> tuple[str, int]:
    if value is None:
        return KINDS[0], 0
    kind, _, number = value.partition(":")
    if kind not in KINDS or not number.isdigit():
        raise click.BadParameter(
            f"KIND:ID, KIND one of {', '.join(KINDS)} (as a run's last line gives it)",
            param_hint="--after",
        )
    return kind, int(number)


@click.command("unprintable")
@click.option("--after", metavar="KIND:ID", help="Start after this record (a run's last line).")
@whole_number_option("--limit", at_least=1, default=100, help="Records listed at most.")
@with_appcontext
def unprintable_command(after: str | None, limit: int) -> None:
    """List stored text a document would print as empty boxes.

    A tab-separated line for each field: the kind of record, its id, its
    organization's id, the field, the characters. Read only. Text stored before
    round 55 was not checked against the documents' fonts.
    """
    kind, record_id = _cursor(after)
    limit = min(limit, LIMIT_MAX)
    click.echo("kind\trecord\torganization\tfield\tcharacters")
    records = 0
    last: tuple[str, int] | None = None
    for finding in findings(kind, record_id):
        record = (finding.kind, finding.record_id)
        if record != last:
            if records == limit and last is not None:
                click.echo(f"More: licensing records unprintable --after {last[0]}:{last[1]}")
                return
            records += 1
            last = record
        click.echo(finding.line())
    click.echo(f"{records} found." if records else "None found: every stored text prints.")
