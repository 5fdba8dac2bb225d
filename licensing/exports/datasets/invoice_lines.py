"""invoice_lines: every line of every issued invoice, with its kind, use and
general-ledger account (see `licensing.exports.ledger`)."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import Any

from sqlalchemy import CTE, ColumnElement, String, Subquery, case, cast, func, literal, select, true

from licensing.accounts.models import Organization
from licensing.billing.models import Invoice, InvoiceLine
from licensing.billing.states import AGREEMENT, ROYALTY_REPORT, VOID
from licensing.db import Statement, count_rows
from licensing.exports import sqlcsv
from licensing.exports.base import INTEGER, MONEY, TEXT, Column, Dataset, ExportContext, Row
from licensing.exports.columns import (
    CURRENCY,
    INVOICE_ID,
    INVOICE_ISSUE_DATE,
    INVOICE_NUMBER,
    LICENSEE,
)
from licensing.exports.datasets.invoices import STATES
from licensing.exports.filters import ISSUED, PAID, ExportFilter
from licensing.exports.ledger import KIND_BY_SOURCE
from licensing.exports.queries import (
    amount,
    each_batch,
    issued_invoices,
    licensee,
    text_batches,
)
from licensing.finance.lines import classified_where, kind_where

DATASET_VERSION = 1
COLUMNS = (
    INVOICE_ID,
    INVOICE_NUMBER,
    Column("line_position", INTEGER, "The line's number on the invoice, from 1."),
    *LICENSEE,
    Column("invoice_state", TEXT, "The invoice's state."),
    CURRENCY,
    INVOICE_ISSUE_DATE,
    Column("kind", TEXT, "fee (up front, from an agreement), royalty, late_fee or manual."),
    Column("use", TEXT, "The licensed use the line charges for; empty when it has none."),
    Column("gl_account", TEXT, "General-ledger revenue account (EXPORT_GL_ACCOUNTS)."),
    Column("description", TEXT, "The line as printed on the invoice."),
    Column("amount", MONEY, "The line's amount."),
)


def issued_lines(given: ExportFilter) -> Statement:
    """The lines of the filter's issued invoices (the licensee joined)."""
    return issued_invoices(
        select(
            Invoice.id,
            Invoice.number,
            InvoiceLine.position,
            *licensee(Invoice),
            Invoice.state,
            Invoice.currency,
            Invoice.issue_date,
            Invoice.source_type,
            Invoice.source_id,
            InvoiceLine.description,
            InvoiceLine.amount,
        ).join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id),
        given,
    )


def ordered(statement: Statement) -> Statement:
    """The export's order: invoice by invoice, each in line order."""
    return statement.order_by(Invoice.issue_date, Invoice.id, InvoiceLine.position)


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    if given.classified:
        yield from _classified_rows(context, given)
        return
    # Its own loop, not `Declared`: the largest export (bench/exports.py times
    # it), so results are unpacked, many times faster than by attribute, and a
    # line's use is found here, row by row (each batch's agreements read at once).
    ledger = context.ledger
    classify = ledger.classify
    for batch in each_batch(context.session, ordered(issued_lines(given))):
        ledger.remember_agreements(
            {row[9] for row in batch if row[8] == AGREEMENT and row[9] is not None}
        )
        ledger.remember_reports(
            {row[9] for row in batch if row[8] == ROYALTY_REPORT and row[9] is not None}
        )
        for (
            invoice_id,
            number,
            position,
            organization_id,
            legal_name,
            state,
            currency,
            issue_date,
            source_type,
            source_id,
            description,
            line_amount,
        ) in batch:
            kind, use, account = classify(source_type, source_id, position)
            if given.use and use != given.use:
                continue
            yield (
                invoice_id,
                number,
                position,
                organization_id,
                legal_name,
                state,
                currency,
                issue_date,
                kind,
                use,
                account,
                description,
                amount(line_amount, currency),
            )


def _classified_rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    """Round 60 (linesfig60): the lines the Finance page's invoice lines list keeps for
    the same filter: of invoices not void, of the kind asked (`finance.lines.KINDS`),
    classified as the page classifies them (use included), in the export's order and
    columns. Round 61 (classified61): chosen by the classification each line keeps from
    the day it was issued (`finance.lines.classified_where`), in SQL, not line by line."""
    ledger = context.ledger
    for batch in each_batch(context.session, ordered(classified_lines(given))):
        ledger.remember_agreements(
            {row[9] for row in batch if row[8] == AGREEMENT and row[9] is not None}
        )
        ledger.remember_reports(
            {row[9] for row in batch if row[8] == ROYALTY_REPORT and row[9] is not None}
        )
        for row in batch:
            kind, use, account = ledger.classify(row[8], row[9], row[2])
            yield (*row[:8], kind, use, account, row[10], amount(row[11], row[6]))


def classified_lines(given: ExportFilter) -> Statement:
    """The lines of `given`'s Finance page kind and classification, of invoices not void."""
    return issued_lines(given).where(
        Invoice.state != VOID,
        *kind_where(given.kind),
        *classified_where(given.classification()),
    )


def count(context: ExportContext, given: ExportFilter) -> int | None:
    """The ledger's use is found line by line, not in SQL: no count when the filter
    names one (unless it is the Finance page's, stored on the line: round 61)."""
    if given.classified:
        return count_rows(context.session, classified_lines(given))
    if given.use:
        return None
    return count_rows(context.session, issued_lines(given))


# Lines whose use (and so account) only the ledger knows: the rest have none.
_USED_BY = (AGREEMENT, ROYALTY_REPORT)
# Distinct (source, line) cells remembered at once: bounded, like the ledger's.
_MIDDLES_LIMIT = 20000


def _kind_cells(context: ExportContext) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """The kind's cell, and ",,account," of a line without a use (the kind's own
    account): both known before the query runs, one constant per source type."""
    kind = case(
        *(
            (Invoice.source_type == source, literal(sqlcsv.constant_cell(kind)))
            for source, kind in KIND_BY_SOURCE.items()
        ),
        else_=literal(sqlcsv.constant_cell(context.ledger.kind(""))),
    )

    def unused_cells(kind: str) -> str:
        return f",,{sqlcsv.constant_cell(context.ledger.account(kind, None))},"

    unused = case(
        *(
            (Invoice.source_type == source, literal(unused_cells(kind)))
            for source, kind in KIND_BY_SOURCE.items()
            if source not in _USED_BY
        ),
        else_=literal(unused_cells(context.ledger.kind(""))),
    )
    return kind, unused


def _heads(dialect: str, invoice_cells: Statement) -> CTE | Subquery:
    """The invoices' cells as a table computed once, not once per line.

    On PostgreSQL an ordered subquery (OFFSET 0 keeps the planner from
    merging it into the outer SELECT): the planner then walks the invoices in
    the export's order and takes each one's lines by index, sorting only each
    invoice's few lines rather than every line (an external sort of the whole
    export: a sixth of its server time at 200,000 lines). PostgreSQL 15 does
    not carry a CTE's order outside it. On SQLite the same subquery measured
    half again slower than the materialized CTE, which stays."""
    if dialect == sqlcsv.SQLITE:
        return invoice_cells.cte("invoice_cells").prefix_with("MATERIALIZED")
    return invoice_cells.order_by(Invoice.issue_date, Invoice.id).offset(0).subquery("heads")


def _csv_statement(context: ExportContext, given: ExportFilter) -> Statement:
    """Each line as CSV text (`exports.sqlcsv`), in the export's order: (the whole
    line, None, None) when it has no use, else (the cells before `use`, its
    ledger key "source_type:source_id:position", the cells after `gl_account`).

    An invoice's own cells are formatted once per invoice, in a materialized
    CTE, rather than once per line (the text cells were most of the database's
    work); its lines add their position, description and amount."""
    dialect = sqlcsv.prepare(context.session)
    kind, unused = _kind_cells(context)
    used = Invoice.source_type.in_(_USED_BY)
    invoice_cells = issued_invoices(
        select(
            Invoice.id,
            Invoice.issue_date,
            sqlcsv.currency_digits(Invoice.currency).label("digits"),
            used.label("used"),
            (
                Invoice.source_type + ":" + func.coalesce(cast(Invoice.source_id, String()), "")
            ).label("source"),
            sqlcsv.joined(
                [
                    literal(str(DATASET_VERSION)),
                    sqlcsv.integer_cell(Invoice.id),
                    sqlcsv.text_cell(dialect, Invoice.number),
                    literal(""),  # the line's position follows
                ]
            ).label("before"),
            sqlcsv.joined(
                [
                    literal(""),  # after the line's position
                    sqlcsv.integer_cell(Invoice.organization_id),
                    sqlcsv.text_cell(dialect, Organization.legal_name),
                    sqlcsv.text_cell(dialect, Invoice.state),
                    sqlcsv.text_cell(dialect, Invoice.currency),
                    sqlcsv.date_cell(dialect, Invoice.issue_date),
                    kind,
                ]
            ).label("after"),
            unused.label("unused"),
        ),
        given,
    )
    if given.classified:
        # Round 62 (lines62): the Finance page's lines (`_classified`), in SQL too:
        # its invoices here, its lines' stored classification below.
        invoice_cells = invoice_cells.where(Invoice.state != VOID, *kind_where(given.kind))
    elif given.use:  # a line without a use never has the one asked for
        invoice_cells = invoice_cells.where(used)
    heads = _heads(dialect, invoice_cells)
    position = sqlcsv.integer_cell(InvoiceLine.position)
    head = heads.c.before + position + heads.c.after
    tail = sqlcsv.joined(
        [
            sqlcsv.text_cell(dialect, InvoiceLine.description),
            sqlcsv.money_cell_in_digits(dialect, InvoiceLine.amount, heads.c.digits),
        ]
    )
    is_used = heads.c.used == true()
    return (
        select(
            case((is_used, head), else_=head + heads.c.unused + tail),
            case((is_used, heads.c.source + ":" + position)),
            case((is_used, "," + tail)),
        )
        .select_from(heads)
        .join(InvoiceLine, InvoiceLine.invoice_id == heads.c.id)
        .where(*(classified_where(given.classification()) if given.classified else []))
        .order_by(heads.c.issue_date, heads.c.id, InvoiceLine.position)
    )


def csv_lines(context: ExportContext, given: ExportFilter) -> Generator[list[str], None, None]:
    """The CSV lines, formatted by the database; Python adds the use and account
    of lines the ledger classifies (once per source and line number). Round 62
    (lines62): the Finance page's classification too (`given.classified`), chosen by
    the statement from what each line keeps, its `use` the page's, not the ledger's."""
    middles: dict[str, str | None] = {}
    by_ledger_use = given.use if not given.classified else None

    def middle(key: str) -> str | None:
        """ ",use,account," for a ledger key; None when the filter's use drops it."""
        source_type, source_id, position = key.split(":")
        _kind, use, account = context.ledger.classify(
            source_type, int(source_id) if source_id else None, int(position)
        )
        if len(middles) >= _MIDDLES_LIMIT:
            middles.clear()
        found = middles[key] = (
            None
            if by_ledger_use and use != by_ledger_use
            else f",{sqlcsv.constant_cell(use)},{sqlcsv.constant_cell(account)}"
        )
        return found

    missing = object()
    for batch in text_batches(context.session, _csv_statement(context, given)):
        # The agreements and reports of the batch's lines not classified yet, read at once.
        context.ledger.remember_agreements(_sources_of(batch, middles, _AGREEMENT_KEY))
        context.ledger.remember_reports(_sources_of(batch, middles, _REPORT_KEY))
        lines = []
        for line, key, tail in batch:
            if key is None:
                if line is None:  # its amount's currency is unknown (sqlcsv)
                    sqlcsv.refuse_line(context.session, unknown_currencies(given))
                lines.append(line)
                continue
            cells = middles.get(key, missing)
            if cells is missing:
                cells = middle(key)
            if cells is not None:
                if tail is None:  # its amount's currency is unknown (sqlcsv)
                    sqlcsv.refuse_line(context.session, unknown_currencies(given))
                lines.append(line + cells + tail)
        yield lines


_AGREEMENT_KEY = AGREEMENT + ":"
_REPORT_KEY = ROYALTY_REPORT + ":"


def _sources_of(
    batch: Sequence[tuple[Any, ...]], known: Mapping[str, object], prefix: str
) -> set[int]:
    """The agreements (`prefix` "agreement:") or royalty reports ("royalty_report:")
    whose invoices' lines in `batch` have ledger keys ("agreement:ID:position") not
    in `known`."""
    found: set[int] = set()
    for _line, key, _tail in batch:
        if key is not None and key.startswith(prefix) and key not in known:
            source_id = key.split(":", 2)[1]
            if source_id:  # the invoice names its agreement or report (`source_id`)
                found.add(int(source_id))
    return found


def unknown_currencies(given: ExportFilter) -> Statement:
    """(currency, invoice number) of the export's invoices in a currency the service
    does not know, in its order (corruption: currencies are checked when stored).
    Read from the invoices, not their lines: a check before every export that
    scanned each line would cost a second pass over the largest one."""
    has_lines = select(InvoiceLine.id).where(InvoiceLine.invoice_id == Invoice.id).exists()
    unknown = select(Invoice.currency, Invoice.number.label("invoice_number")).where(
        sqlcsv.unknown(Invoice.currency), has_lines
    )
    return issued_invoices(unknown, given).order_by(Invoice.issue_date, Invoice.id)


DATASET = Dataset(
    name="invoice_lines",
    title="Invoice lines",
    description="Every line of every issued invoice, with its general-ledger account.",
    schema_version=DATASET_VERSION,
    columns=COLUMNS,
    rows=rows,
    count=count,
    date_bases=(ISSUED, PAID),
    # Round 60 (linesfig60): and the Finance page's kind and classification.
    filters=frozenset(
        {
            "organization",
            "state",
            "currency",
            "use",
            "kind",
            "product_type",
            "user_type",
            "organization_type",
        }
    ),
    states=STATES,
    order=20,
    csv_lines=csv_lines,
    unknown_currencies=unknown_currencies,
)
