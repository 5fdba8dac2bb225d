"""File formats: CSV, JSON Lines and XLSX, written as a stream of byte chunks.

Every format carries the dataset's `schema_version`: CSV as its first column,
JSON Lines in a header record (the first line), XLSX on an `about` sheet. Money
is the decimal text with the currency's digits (a number formatted with those
digits in XLSX), dates are ISO 8601, timestamps ISO 8601 in UTC.

Text cells that a spreadsheet would run as a formula (starting with = + - @,
a tab or a carriage return) are prefixed with an apostrophe in CSV and XLSX.
Only text columns are: a money column's `-120.00` is a number, never a formula.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from licensing import calendar
from licensing.exports.base import DATE, DATETIME, MONEY, TEXT, Dataset, Row

CHUNK = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Header:
    """What every file says about itself."""

    dataset: Dataset
    generated_at: datetime
    filter: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.name,
            "schema_version": self.dataset.schema_version,
            # The one spelling of an instant the API and the logs use (round 47).
            "generated_at": calendar.instant_iso(self.generated_at),
            "filter": self.filter,
        }


def formula_safe(text: str) -> str:
    """A cell a spreadsheet shows as text and never evaluates."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def value_text(kind: str, value: Any) -> str:
    """A value as the text CSV and JSON Lines carry."""
    if value is None:
        return ""
    if kind == MONEY:
        return f"{value:f}"
    if kind == DATETIME:
        return calendar.instant_iso(value)
    if kind == DATE:
        return str(value.isoformat())
    return str(value)


def _csv_money(value: Decimal) -> str:
    return f"{value:f}"


def _csv_date(value: date) -> str:
    return value.isoformat()


def _csv_datetime(value: datetime) -> str:
    return calendar.instant_iso(value)


# How money, dates and timestamps become CSV cells (what `value_text` gives). Text cells
# are made formula-safe in the loop itself; integers are left to the csv module,
# which writes them, and None, as `value_text` does.
_CSV_CELLS: dict[str, Callable[[Any], str]] = {
    MONEY: _csv_money,
    DATE: _csv_date,
    DATETIME: _csv_datetime,
}
# Rows handed to the csv module at once.
_CSV_BATCH = 500


def write_csv(header: Header, rows: Iterable[Row]) -> Generator[bytes, None, None]:
    """Each column converted by a function chosen up front for its kind, and rows
    written in batches: dispatching every cell on its kind was most of an export's
    time (profiled at 100,000 invoice lines)."""
    columns = header.dataset.columns
    texts = [index for index, column in enumerate(columns, start=1) if column.kind == TEXT]
    converters = [
        (index, _CSV_CELLS[column.kind])
        for index, column in enumerate(columns, start=1)
        if column.kind in _CSV_CELLS
    ]
    width = len(columns) + 1
    version = str(header.dataset.schema_version)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["schema_version", *header.dataset.column_names])
    batch: list[list[Any]] = []
    for row in rows:
        cells = [version, *row]
        if len(cells) != width:
            raise ValueError(f"a row of {len(row)} values for {width - 1} columns")
        for index in texts:
            value = cells[index]
            if value is None:
                continue
            if value.__class__ is not str:
                value = cells[index] = str(value)
            if value.startswith(FORMULA_STARTS):
                cells[index] = "'" + value
        for index, convert in converters:
            value = cells[index]
            if value is not None:
                cells[index] = convert(value)
        batch.append(cells)
        if len(batch) >= _CSV_BATCH:
            writer.writerows(batch)
            batch.clear()
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue().encode("utf-8")


def write_csv_lines(header: Header, batches: Iterable[list[str]]) -> Generator[bytes, None, None]:
    """The CSV file from lines the database formatted (`Dataset.csv_lines`): the
    same header and line ends as `write_csv`; Python only joins the lines."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(
        ["schema_version", *header.dataset.column_names]
    )
    pending = [buffer.getvalue()]
    size = len(pending[0])
    for lines in batches:
        if not lines:
            continue
        text = "\r\n".join(lines) + "\r\n"
        pending.append(text)
        size += len(text)
        if size >= CHUNK:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    yield "".join(pending).encode("utf-8")


def _json_value(kind: str, value: Any) -> Any:
    if value is None or kind not in (MONEY, DATE, DATETIME):
        return value
    return value_text(kind, value)


def write_jsonl(header: Header, rows: Iterable[Row]) -> Generator[bytes, None, None]:
    columns = header.dataset.columns
    first = {
        **header.as_dict(),
        "columns": [{"name": column.name, "type": column.kind} for column in columns],
    }
    lines = [json.dumps(first, ensure_ascii=False)]
    size = len(lines[0])
    for row in rows:
        record = {
            column.name: _json_value(column.kind, value)
            for column, value in zip(columns, row, strict=True)
        }
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        lines.append(line)
        size += len(line)
        if size >= CHUNK:
            yield ("\n".join(lines) + "\n").encode("utf-8")
            lines, size = [], 0
    if lines:
        yield ("\n".join(lines) + "\n").encode("utf-8")


def write_xlsx(header: Header, rows: Iterable[Row]) -> Generator[bytes, None, None]:
    """openpyxl in write-only mode keeps each row on disk as it is appended, so
    memory stays flat; the file can only be sent once the workbook is saved."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(header.dataset.name[:31])
    sheet.append(header.dataset.column_names)
    formats: dict[int, str] = {}

    def money(value: Decimal) -> WriteOnlyCell:
        exponent = value.as_tuple().exponent
        digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if digits not in formats:
            formats[digits] = "0." + "0" * digits if digits else "0"
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = formats[digits]
        return cell

    def text(value: str) -> str:
        return formula_safe(ILLEGAL_CHARACTERS_RE.sub("", value))

    def day(value: date) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell

    converters: dict[str, Callable[[Any], Any]] = {
        MONEY: money,
        TEXT: text,
        DATE: day,
        DATETIME: calendar.instant_iso,
    }
    kinds = [column.kind for column in header.dataset.columns]
    for row in rows:
        sheet.append(
            [
                None if value is None else converters.get(kind, _same)(value)
                for kind, value in zip(kinds, row, strict=True)
            ]
        )
    about = workbook.create_sheet("about")
    for key, value in header.as_dict().items():
        about.append([key, text(json.dumps(value) if isinstance(value, dict) else str(value))])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK):
            yield chunk


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    extension: str
    write: Callable[[Header, Iterable[Row]], Generator[bytes, None, None]]


FORMATS: dict[str, Format] = {
    "csv": Format("csv", "text/csv; charset=utf-8", "csv", write_csv),
    "jsonl": Format("jsonl", "application/x-ndjson; charset=utf-8", "jsonl", write_jsonl),
    "xlsx": Format(
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        write_xlsx,
    ),
}
