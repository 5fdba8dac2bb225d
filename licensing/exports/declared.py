"""A dataset declared as a table of fields: each column beside its SQL expression,
or alone where it is the dataset's record's own column of the same name.

From one table come the dataset's columns, the SELECT, the typed rows JSON
Lines and XLSX write (and CSV's reference writer), and the CSV the database
writes (`exports.sqlcsv`). A field the database cannot format (an office day
from a timestamp, a timestamp itself, normalised JSON) names a Python
`convert` of the values it selects; the database formats the runs of fields
between such fields, and Python writes those fields' cells the way
`formats.write_csv` does. Money is rounded to the row's currency either way.

    DECLARED = Declared(
        record=Invoice,
        table=(
            Field(INVOICE_ID, Invoice.id),  # a column named otherwise than what it reads
            Field.of(Organization, Column("legal_name", TEXT, "...")),  # a joined record's own
            Column("due_date", DATE, "The day payment is due."),  # Invoice.due_date
            Field(PAID_DATE, Invoice.paid_at, day_of),  # a Python convert
            ...
        ),
        source=lambda statement, given: issued_invoices(statement, given),
        order=(Invoice.issue_date, Invoice.id),
    )
    DATASET = DECLARED.dataset(name="invoices", ...)
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, literal, select

from licensing.db import Statement, count_rows
from licensing.exports import sqlcsv
from licensing.exports.base import DATETIME, MONEY, Column, Dataset, ExportContext, Row
from licensing.exports.filters import ExportFilter
from licensing.exports.queries import amount, each, each_batch


@dataclass(frozen=True)
class Field:
    """One column: the SQL expression it selects and, when the database cannot
    format it, `convert(value, *more)` giving its value in Python."""

    column: Column
    value: Any
    convert: Callable[..., Any] | None = None
    more: tuple[Any, ...] = ()

    @classmethod
    def of(cls, record: Any, column: Column) -> Field:
        """The column of the same name of another record the SELECT joins."""
        return cls(column, getattr(record, column.name))

    @property
    def inputs(self) -> tuple[Any, ...]:
        return (self.value, *self.more)

    @property
    def in_sql(self) -> bool:
        """Whether the database writes its CSV cell (timestamps stay in Python:
        SQLite keeps them as text that is not the ISO form the files carry)."""
        return self.convert is None and self.column.kind != DATETIME


@dataclass(frozen=True)
class Declared:
    """The table of fields, how a SELECT of them is joined and filtered
    (`source`), the export's order, and the field whose value is each row's
    currency. Most columns are the `record`'s own under the same name: in the
    table such a column stands alone, and a `Field` says where any other comes
    from."""

    record: Any
    table: tuple[Field | Column, ...]
    source: Callable[[Statement, ExportFilter], Statement]
    order: tuple[Any, ...]
    currency: str = "currency"

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        return tuple(
            entry if isinstance(entry, Field) else Field(entry, getattr(self.record, entry.name))
            for entry in self.table
        )

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(field.column for field in self.fields)

    def _currency(self) -> Field:
        return next(field for field in self.fields if field.column.name == self.currency)

    def statement(self, given: ExportFilter) -> Statement:
        return self.source(select(*_inputs(self.fields)), given)

    def _readers(self, fields: tuple[Field, ...], offset: int = 0) -> dict[int, Reader]:
        """How a result whose columns from `offset` on are `fields`' inputs gives
        each of those fields' typed value, by the field's index in `self.fields`."""
        starts: dict[int, int] = {}
        at = offset
        for field in fields:
            starts[id(field)] = at
            at += len(field.inputs)
        currency_at = starts.get(id(self._currency()))
        readers: dict[int, Reader] = {}
        for index, field in enumerate(self.fields):
            if id(field) in starts:
                readers[index] = _reader(field, starts[id(field)], currency_at)
        return readers

    def rows(self, context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
        readers = list(self._readers(self.fields).values())
        for result in each(context.session, self.statement(given).order_by(*self.order)):
            yield tuple(read(result) for read in readers)

    def count(self, context: ExportContext, given: ExportFilter) -> int:
        return count_rows(context.session, self.statement(given))

    def csv_lines(
        self, version: int, context: ExportContext, given: ExportFilter
    ) -> Generator[list[str], None, None]:
        """The CSV lines: each run of fields the database formats comes back as
        one text; Python writes the other fields' cells and joins the line."""
        dialect = sqlcsv.prepare(context.session)
        currency = self._currency().value
        texts: list[ColumnElement[str]] = []
        pieces: list[tuple[bool, int]] = []  # (the database's text?, its index)
        run: list[ColumnElement[str]] = [literal(str(version))]
        for index, field in enumerate(self.fields):
            if field.in_sql:
                run.append(sqlcsv.sql_cell(dialect, field.column.kind, field.value, currency))
                continue
            if run:
                pieces.append((True, len(texts)))
                texts.append(sqlcsv.joined(run))
                run = []
            pieces.append((False, index))
        if run:
            pieces.append((True, len(texts)))
            texts.append(sqlcsv.joined(run))
        # Python's fields read their own inputs (and the currency, for money).
        in_python = tuple(field for field in self.fields if not field.in_sql)
        if any(field.column.kind == MONEY for field in in_python):
            in_python = (*in_python, self._currency())
        readers = self._readers(in_python, offset=len(texts))
        kinds = [field.column.kind for field in self.fields]
        statement = self.source(select(*texts, *_inputs(in_python)), given)
        for batch in each_batch(context.session, statement.order_by(*self.order)):
            try:
                lines = [
                    ",".join(
                        result[at] if in_sql else sqlcsv.python_cell(kinds[at], readers[at](result))
                        for in_sql, at in pieces
                    )
                    for result in batch
                ]
            except TypeError:  # a NULL text: an unknown currency (see sqlcsv); free to catch
                if not any(text is None for result in batch for text in result[: len(texts)]):
                    raise
                sqlcsv.refuse_line(context.session, self.unknown_currencies(given))
            yield lines

    def unknown_currencies(self, given: ExportFilter) -> Statement:
        """(currency, the row's first field: its id) of the export's rows in a
        currency the service does not know, in the export's order (corruption:
        currencies are checked when stored)."""
        currency = self._currency().value
        first = self.fields[0]
        record = first.value.label(first.column.name)
        statement = select(currency, record).where(sqlcsv.unknown(currency))
        return self.source(statement, given).order_by(*self.order)

    def dataset(
        self,
        *,
        schema_version: int,
        chosen: Callable[[ExportFilter], Declared] | None = None,
        **described: Any,
    ) -> Dataset:
        """The `Dataset` these fields make (`described`: name, title, filters...).
        `chosen` gives, for a filter, the table to read instead (round 59: the
        invoices as of a day), with the same columns."""

        def pick(given: ExportFilter) -> Declared:
            picked = chosen(given) if chosen else self
            assert picked.columns == self.columns
            return picked

        def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
            return pick(given).rows(context, given)

        def count(context: ExportContext, given: ExportFilter) -> int:
            return pick(given).count(context, given)

        def csv_lines(
            context: ExportContext, given: ExportFilter
        ) -> Generator[list[str], None, None]:
            return pick(given).csv_lines(schema_version, context, given)

        def unknown_currencies(given: ExportFilter) -> Statement:
            return pick(given).unknown_currencies(given)

        return Dataset(
            schema_version=schema_version,
            columns=self.columns,
            rows=rows,
            count=count,
            currency_column=self.currency,
            csv_lines=csv_lines,
            unknown_currencies=unknown_currencies,
            **described,
        )


Reader = Callable[[Any], Any]


def _inputs(fields: tuple[Field, ...]) -> list[Any]:
    return [value for field in fields for value in field.inputs]


def _reader(field: Field, at: int, currency_at: int | None) -> Reader:
    """A field's typed value from a result holding its inputs from `at` on."""
    read: Reader = itemgetter(at)
    if field.convert is not None:
        convert, end = field.convert, at + len(field.inputs)

        def read(result: Any) -> Any:
            return convert(*result[at:end])

    if field.column.kind != MONEY:
        return read
    assert currency_at is not None, "money needs the row's currency"
    raw = read

    def read_money(result: Any) -> Any:
        return amount(raw(result), result[currency_at])

    return read_money
