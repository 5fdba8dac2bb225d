"""revenue_recognition: when each invoice line's revenue is earned, month by month.

- Up-front fees of an agreement (kind `fee`): straight-line by days over the
  agreement's term (`licensing.exports.recognition`); term months before the
  invoice's month are caught up in it.
- Royalties: in the period they report, straight-line by days over the
  report's period (a quarter), whenever the report was filed.
- Late fees and manual charges, and fee lines whose agreement cannot be found:
  in the invoice's issue month.
- Credit notes reverse their invoice lines' revenue proportionally (as in
  `credit_note_lines`), on the same schedule, negative, never before the credit
  note's own month.
- Void invoices (issued in error) and their credit notes recognize nothing.

Summed over all periods, the amounts equal the non-void invoices' totals less
their credit notes, to the cent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, or_

from licensing.billing.models import CreditNote, Invoice
from licensing.billing.states import AGREEMENT, ROYALTY_REPORT, VOID
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT, Column, Dataset, ExportContext, Row
from licensing.exports.columns import CURRENCY, LICENSEE, one_of
from licensing.exports.datasets.credit_note_lines import credit_parts, credited_lines
from licensing.exports.datasets.invoice_lines import issued_lines, ordered
from licensing.exports.filters import ISSUED, PERIOD, RECORDED, ExportFilter
from licensing.exports.ledger import FEE, KIND_BY_SOURCE, Ledger
from licensing.exports.queries import amount, each_batch, places
from licensing.exports.recognition import Slice, month_end, point_in_time, straight_line

STRAIGHT_LINE = "straight_line_days"
POINT_IN_TIME = "point_in_time"

COLUMNS = (
    Column("document_type", TEXT, "invoice or credit_note."),
    Column("document_number", TEXT, "INV-... or CN-..."),
    Column("invoice_number", TEXT, "The invoice the line belongs to."),
    Column("line_position", INTEGER, "The invoice line, from 1."),
    *LICENSEE,
    CURRENCY,
    Column("kind", TEXT, one_of(KIND_BY_SOURCE.values())),
    Column("use", TEXT, "The line's use; empty when it has none."),
    Column("gl_account", TEXT, "The line's general-ledger account."),
    Column("basis", TEXT, one_of((STRAIGHT_LINE, POINT_IN_TIME))),
    Column("period", TEXT, "The month the amount is recognized in, YYYY-MM."),
    Column("service_from", DATE, "First service day this amount is for."),
    Column("service_to", DATE, "Last service day this amount is for."),
    Column("days", INTEGER, "Service days this amount is for (straight-line only)."),
    Column("amount", MONEY, "Revenue recognized (negative for a credit note)."),
)


def _schedule(
    ledger: Ledger,
    source_type: str,
    source_id: int | None,
    line_amount: Decimal,
    currency: str,
    document_date: date,
    *,
    reversal: bool = False,
) -> tuple[str, list[Slice]]:
    facts = ledger.agreement(source_type, source_id)
    if ledger.kind(source_type) == FEE and facts is not None:
        slices = straight_line(
            line_amount,
            facts.start,
            facts.end,
            places=places(currency),
            document_date=document_date,
        )
        return STRAIGHT_LINE, slices
    royalty = ledger.royalty(source_type, source_id)
    if royalty is not None:
        slices = straight_line(
            line_amount,
            royalty.start,
            royalty.end,
            places=places(currency),
            # Earned in the period, not when filed; a credit note still reverses
            # nothing before its own month.
            document_date=document_date if reversal else royalty.start,
        )
        return STRAIGHT_LINE, slices
    return POINT_IN_TIME, point_in_time(line_amount, document_date)


def _in_range(piece: Slice, given: ExportFilter) -> bool:
    if given.date_basis == RECORDED:  # every month of the documents issued on the days
        return True
    if given.date_to and piece.period > given.date_to:
        return False
    return not (given.date_from and month_end(piece.period) < given.date_from)


def _may_fall_in_range(day: Any, given: ExportFilter) -> list[ColumnElement[bool]]:
    """By period, the documents that can have a month in the range (round 55): only
    an agreement's up-front fees and royalties are spread over months; every other
    line (a manual charge, a late fee) is recognized in its document's month (`day`'s),
    so one dated before the range's first month has none in it. At 30,000 manual
    invoices an export of one month scheduled every one of them to keep 800."""
    if given.date_basis == RECORDED or given.date_from is None:
        return []
    first_month = given.date_from.replace(day=1)
    return [or_(Invoice.source_type.in_((AGREEMENT, ROYALTY_REPORT)), day >= first_month)]


def _invoice_lines(context: ExportContext, given: ExportFilter) -> Iterator[Any]:
    """The issued invoices' lines, as `invoice_lines` reads them, but void ones,
    each batch's agreements and royalty reports read at once."""
    if given.date_basis == RECORDED:
        # A nightly pull: the invoices issued on the days (an invoice is issued the
        # office day it is written), with all their months, whichever they are.
        issued = dataclasses.replace(given, date_basis=ISSUED)
        statement = ordered(issued_lines(issued)).where(Invoice.state != VOID)
    else:
        statement = ordered(issued_lines(given)).where(
            Invoice.state != VOID, *_may_fall_in_range(Invoice.issue_date, given)
        )
        if given.date_to:  # nothing is recognized before its invoice is issued
            statement = statement.where(Invoice.issue_date <= given.date_to)
    for batch in each_batch(context.session, statement):
        context.ledger.remember_sources(batch)
        yield from batch


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    ledger = context.ledger

    def emit(
        document: tuple[str, str, str, int],
        who: Any,
        source: tuple[str, int | None],
        schedule: tuple[str, list[Slice]],
    ) -> Iterator[Row]:
        kind, use, account = ledger.classify(source[0], source[1], document[3])
        if given.use and use != given.use:
            return
        basis, slices = schedule
        for piece in slices:
            if _in_range(piece, given):
                yield (
                    *document,
                    who.organization_id,
                    who.legal_name,
                    who.currency,
                    kind,
                    use,
                    account,
                    basis,
                    f"{piece.period:%Y-%m}",
                    piece.service_from,
                    piece.service_to,
                    piece.days,
                    amount(piece.amount, who.currency),
                )

    for line in _invoice_lines(context, given):
        schedule = _schedule(
            ledger, line.source_type, line.source_id, line.amount, line.currency, line.issue_date
        )
        document = ("invoice", line.number, line.number, line.position)
        yield from emit(document, line, (line.source_type, line.source_id), schedule)

    # By period, every credit note up to the range's end (one reverses months before
    # its own); by recorded, those issued on the days (a credit note is issued the
    # office day it is written), with all their months.
    on_days = given if given.date_basis == RECORDED else dataclasses.replace(given, date_from=None)
    credits = credited_lines(dataclasses.replace(on_days, use=None)).where(
        Invoice.state != VOID, *_may_fall_in_range(CreditNote.issue_date, given)
    )
    for part in credit_parts(context, credits, ledger.remember_sources):
        credit = part.credit
        schedule = _schedule(
            ledger,
            part.source_type,
            part.source_id,
            -part.amount,
            credit.currency,
            credit.issue_date,
            reversal=True,
        )
        document = ("credit_note", credit.number, credit.invoice_number, part.position)
        yield from emit(document, credit, (part.source_type, part.source_id), schedule)


DATASET = Dataset(
    name="revenue_recognition",
    title="Revenue recognition schedule",
    description=(
        "Each invoice line's revenue by the month it is earned: fees straight-line "
        "by days over the agreement's term, everything else when invoiced; credit "
        "notes reverse it."
    ),
    schema_version=1,
    columns=COLUMNS,
    rows=rows,
    date_bases=(PERIOD, RECORDED),
    filters=frozenset({"organization", "currency", "use"}),
    order=80,
)
