"""credit_note_lines: what each credit note reverses, line by line.

A credit note has one amount. We split it over the lines of the invoice it
credits in proportion to their amounts (cumulatively rounded, so the parts add
up to the credit note exactly), and each part reverses its line's
general-ledger account. Proportional rather than line by line because the
credit note does not say which line it corrects, and proportional is the
reading that leaves every account's share of the invoice unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from licensing.billing.models import CreditNote, Invoice, InvoiceLine
from licensing.db import Statement
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT, Column, Dataset, ExportContext, Row
from licensing.exports.columns import CREDIT_NOTE_NUMBER, CREDITED_INVOICE, CURRENCY, LICENSEE
from licensing.exports.datasets.credit_notes import credit_notes_matching
from licensing.exports.filters import CLASSIFYING, ISSUED, ExportFilter
from licensing.exports.queries import amount, each_batch, licensee, places
from licensing.finance.classification import AXES, FEE, OTHER, ROYALTY, Classification
from licensing.finance.lines import classified_where, kind_keeps
from licensing.money import proportional

COLUMNS = (
    CREDIT_NOTE_NUMBER,
    CREDITED_INVOICE,
    Column("line_position", INTEGER, "The invoice line this part reverses."),
    *LICENSEE,
    CURRENCY,
    Column("issue_date", DATE, "The credit note's issue date."),
    Column("kind", TEXT, "The reversed line's kind."),
    Column("use", TEXT, "The reversed line's use; empty when it has none."),
    Column("gl_account", TEXT, "The reversed line's general-ledger account."),
    Column("description", TEXT, "The reversed line's description."),
    Column("amount", MONEY, "This part of the credit (positive: it reverses the line)."),
)


@dataclass(frozen=True)
class CreditPart:
    """One invoice line's share of a credit note."""

    credit: Any  # the credit note's row
    position: int
    description: str
    source_type: str
    source_id: int | None
    issue_date: date  # the invoice's
    line_amount: Decimal
    amount: Decimal
    line_id: int | None = None  # the invoice line's id (round 61)


def credited_lines(given: ExportFilter) -> Statement:
    """The filter's credit notes, each beside the lines of the invoice it credits."""
    return credit_notes_matching(
        select(
            CreditNote.id,
            CreditNote.number,
            Invoice.number.label("invoice_number"),
            Invoice.state.label("invoice_state"),
            *licensee(CreditNote),
            CreditNote.currency,
            CreditNote.issue_date,
            CreditNote.amount,
            Invoice.source_type,
            Invoice.source_id,
            Invoice.issue_date.label("invoice_issue_date"),
            InvoiceLine.position,
            InvoiceLine.description,
            InvoiceLine.amount.label("line_amount"),
            # Round 61 (lines61): the line, and (classified61) its kind and
            # classification as stored when its invoice was issued.
            InvoiceLine.id.label("line_id"),
            InvoiceLine.kind.label("line_kind"),
            *(getattr(InvoiceLine, axis).label(f"line_{axis}") for axis in AXES),
        )
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id),
        given,
    ).order_by(CreditNote.issue_date, CreditNote.id, InvoiceLine.position)


def credit_parts(
    context: ExportContext,
    statement: Statement,
    before: Callable[[Sequence[Any]], None] | None = None,
    *,
    zeros: bool = False,
) -> Iterator[CreditPart]:
    """Each credit note's parts, line by line (`statement` as `credited_lines`
    builds it); `before(batch)`, if given, sees each batch of the credited lines
    before its parts are made (to read what the batch needs at once). A part of 0.00
    (a line of 0.00, or a credit too small to reach every line) only with `zeros`:
    the export writes it, as the invoice lines list shows it (round 62, lines62); the
    revenue schedule recognizes nothing of it."""
    results = _results(context, statement, before)
    for _credit_id, group in itertools.groupby(results, key=lambda r: r.id):
        lines = list(group)  # one invoice's lines: a handful
        credit = lines[0]
        shares = proportional(
            credit.amount, [line.line_amount for line in lines], places(credit.currency)
        )
        for line, share in zip(lines, shares, strict=True):
            if share or zeros:
                yield CreditPart(
                    credit,
                    line.position,
                    line.description,
                    line.source_type,
                    line.source_id,
                    line.invoice_issue_date,
                    line.line_amount,
                    share,
                    line.line_id,
                )


def _results(
    context: ExportContext, statement: Statement, before: Callable[[Sequence[Any]], None] | None
) -> Iterator[Any]:
    for batch in each_batch(context.session, statement):
        if before is not None:
            before(batch)
        yield from batch


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    ledger = context.ledger
    classify = ledger.classify
    before: Callable[[Sequence[Any]], None] = ledger.remember_sources
    keeps = None
    if given.classified:
        keeps, classify_batch = _classified(context, given)

        def before(batch: Sequence[Any]) -> None:
            ledger.remember_sources(batch)
            classify_batch(batch)

    # Each batch's agreements and royalty reports read at once, not part by part.
    statement = credited_lines(given)
    if given.classified:
        statement = with_a_line_kept(statement, given)
    # Every part, 0.00 included (round 62, lines62): one row a line of the credited
    # invoice, as the console's invoice lines list shows a credit note.
    for part in credit_parts(context, statement, before, zeros=True):
        if keeps is not None and not keeps(part):
            continue
        credit = part.credit
        kind, use, account = classify(part.source_type, part.source_id, part.position)
        if given.use and use != given.use and keeps is None:
            continue
        yield (
            credit.number,
            credit.invoice_number,
            part.position,
            credit.organization_id,
            credit.legal_name,
            credit.currency,
            credit.issue_date,
            kind,
            use,
            account,
            part.description,
            amount(part.amount, credit.currency),
        )


def _classified(
    context: ExportContext, given: ExportFilter
) -> tuple[Callable[[CreditPart], bool], Callable[[Sequence[Any]], None]]:
    """Round 61 (lines61): whether a part reverses a line the Finance page's invoice
    lines list keeps for the same filter: of the kind asked (`finance.lines.KINDS`:
    `royalty` is the page's *Royalty credit notes*) and classified as the page
    classifies the line (`use` included), so the `invoice_lines` export less this one,
    with one filter, is the page's net; and what reads each batch's credited lines'
    classification. Round 61 (classified61): the classification each line keeps from
    the day its invoice was issued, read with the line, none found in Python."""
    values = given.classification()
    found: dict[int, Classification] = {}

    def classify_batch(batch: Sequence[Any]) -> None:
        found.update(
            (
                row.line_id,
                Classification(
                    row.line_use,
                    row.line_product_type,
                    row.line_user_type,
                    row.line_organization_type,
                ),
            )
            for row in batch
            if row.line_kind is not None and kind_keeps(given.kind, row.line_kind)
        )

    def keeps(part: CreditPart) -> bool:
        classification = found.get(part.line_id or 0)
        return classification is not None and all(
            classification.value(axis) == value for axis, value in values.items()
        )

    return keeps, classify_batch


def with_a_line_kept(statement: Statement, given: ExportFilter) -> Statement:
    """Only the credit notes of an invoice with a line `given` keeps (classified61): the
    others' parts are all left out, so they are neither read nor split."""
    kept = aliased(InvoiceLine)
    kinds = [kind for kind in (FEE, ROYALTY, OTHER) if kind_keeps(given.kind, kind)]
    return statement.where(
        select(kept.id)
        .where(
            kept.invoice_id == CreditNote.invoice_id,
            kept.kind.in_(kinds),
            *classified_where(given.classification(), kept),
        )
        .exists()
    )


DATASET = Dataset(
    name="credit_note_lines",
    title="Credit note lines",
    description=(
        "Each credit note split over its invoice's lines in proportion to their "
        "amounts; each part reverses that line's general-ledger account."
    ),
    schema_version=1,
    columns=COLUMNS,
    rows=rows,
    date_bases=(ISSUED,),
    # Round 61 (lines61): and the Finance page's kind and classification, as
    # `invoice_lines` takes them (its royalty credit notes, `kind=royalty`).
    filters=frozenset({"organization", "currency", "use", *CLASSIFYING}),
    order=50,
)
