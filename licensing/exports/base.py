"""What a dataset is: its versioned columns, the filters it accepts, its rows.

A dataset module in `licensing.exports.datasets` defines its `Dataset` as
`DATASET`; every module there is one (`all_datasets()`). Rows are tuples in
column order holding typed values (`Decimal` money already at the currency's
digits, `date`, `datetime`, `int`, `str` or None); the formats turn them into
text.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from licensing.db import Statement
    from licensing.exports.filters import ExportFilter
    from licensing.exports.ledger import Ledger

TEXT = "text"
INTEGER = "integer"
MONEY = "money"
DATE = "date"
DATETIME = "datetime"
KINDS = (TEXT, INTEGER, MONEY, DATE, DATETIME)

# How many rows a database round trip fetches from the server-side cursor.
BATCH = 1000

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    description: str

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind


@dataclass(frozen=True)
class ExportContext:
    """What rows need besides the filter: the session to read from and the
    ledger that names accounts and uses."""

    session: Session
    ledger: Ledger


RowsFunction = Callable[[ExportContext, "ExportFilter"], Generator[Row, None, None]]
CountFunction = Callable[[ExportContext, "ExportFilter"], int | None]
# Batches of finished CSV lines (without line ends), the schema_version column
# first: what `formats.write_csv` would write for the same rows, byte for byte.
CsvLinesFunction = Callable[[ExportContext, "ExportFilter"], Generator[list[str], None, None]]
# (currency, the record's reference) of the rows in a currency the service does not
# know, in the export's order: corruption, refused before a byte is sent.
UnknownCurrenciesFunction = Callable[["ExportFilter"], "Statement"]


@dataclass(frozen=True)
class Dataset:
    """One export. Within a `schema_version` columns are only ever added (at the
    end), never renamed, removed or reordered; anything else is a new version.

    `date_bases` are the dates a from/to range may apply to, the first being the
    default (empty: the dataset takes no range). `filters` names the other
    filters it accepts, among `organization`, `state`, `currency`, `use`, `as_of`;
    `states` is the vocabulary of its `state` filter.
    """

    name: str
    title: str
    description: str
    schema_version: int
    columns: tuple[Column, ...]
    rows: RowsFunction
    count: CountFunction = lambda _context, _filter: None
    date_bases: tuple[str, ...] = ()
    filters: frozenset[str] = frozenset()
    states: tuple[str, ...] = ()
    # The column that carries each row's currency (money columns are in it).
    currency_column: str = "currency"
    # Where the dataset comes in lists (the page, the reference).
    order: int = 100
    # The CSV written by the database (`exports.sqlcsv`), for a large dataset
    # whose columns SQL can format; None: `formats.write_csv` writes `rows`.
    csv_lines: CsvLinesFunction | None = None
    # Where the database can find them cheaply; None: the rows raise MoneyError
    # when they meet one (`queries.amount`), midway through the file.
    unknown_currencies: UnknownCurrenciesFunction | None = None
    # Whether an `as_of` not given is today (receivables), or means the records as
    # they stand (round 59: the invoices as of a day only when one is given).
    as_of_today: bool = True

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


@cache
def _discovered() -> tuple[Dataset, ...]:
    """The `DATASET` of every module in `licensing.exports.datasets`."""
    from licensing.exports import datasets

    found: dict[str, Dataset] = {}
    for module in pkgutil.iter_modules(datasets.__path__):
        dataset: Dataset = importlib.import_module(f"{datasets.__name__}.{module.name}").DATASET
        if dataset.name in found:
            raise ValueError(f"two datasets named {dataset.name!r}")
        found[dataset.name] = dataset
    return tuple(sorted(found.values(), key=lambda dataset: dataset.order))


def all_datasets() -> dict[str, Dataset]:
    """Every dataset, by name, in the order the reference lists them."""
    return {dataset.name: dataset for dataset in _discovered()}


def get(name: str) -> Dataset | None:
    return all_datasets().get(name)
