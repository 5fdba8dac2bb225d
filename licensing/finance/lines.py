"""The invoice lines behind *License revenue by classification* (round 60, linesfig60).

The Finance page's revenue tables sum invoice lines, which no console list showed:
"which lines make March's 4,800.00 of distribution royalties?" meant the invoice
lines export and a spreadsheet. The console's *Invoice lines* list reads the same
rows the page sums (`queries.issued_lines`, `queries.royalty_credits`), classifies
them with the same classifiers (`classification.classify`) and keeps those the
link's filter names, so its sum is the page's figure to the cent:

- the lines of the invoices issued on the days (not draft, not void), of a kind:
  `fee` (up front, an agreement's invoice), `royalty` (a royalty report's),
  `license` (both: the page's *Total invoiced*) or `other` (late fees, manual);
- the royalty credit notes issued on the days, each split over its invoice's lines
  as the page splits it, a part a row, counted against the line it reverses
  (negative), unless the link keeps only the lines invoiced (`shown=invoiced`) or
  only the credit notes (`shown=credited`);
- of a value of each classification axis (`use`, `product_type`, `user_type`,
  `organization_type`; `unclassified` for a line no quote classifies).

The classification is found line by line in Python (it lives where each amount was
priced). Round 61 (lines61): until then every list was chosen and paged in Python, so
a page of 50 read and classified every line of the months asked (a year at 30,000
invoices: seconds; BENCHMARKS.md). What SQL can decide (the days, currency, kind and
lines or credit notes) is now paged in the database: `keys` selects the rows' sort
keys in the list's order, the database returns a page of them, only its rows are
classified and split (`page_entries`), and `summed` adds up the figure in SQL (a
royalty credit note's parts add up to the note, so the credit notes' amounts are its
parts' sum). Round 61 (classified61): a line keeps its kind and classification from
the day its invoice is issued (`classification.store_classification`, billing_0032),
so a classification asked (`values`, every link from a cell of the page's tables) is
chosen, paged and summed by the database too (`classified_where`); only the royalty
credit notes with a line of it are split in Python to add up their parts. `entries`,
the whole list classified in Python, is what the tests compare the database's with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    false,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from licensing.accounts.models import Organization
from licensing.billing.models import CreditNote, Invoice, InvoiceLine
from licensing.db import Statement, money_sum
from licensing.finance import queries
from licensing.finance.classification import (
    AXES,
    FEE,
    KIND_OF_SOURCE,
    OTHER,
    ROYALTY,
    UNCLASSIFIED,
    Classification,
    classify,
    kind_of,
)
from licensing.pricing.vocabulary import AXES as VOCABULARY

LICENSE = "license"
# Each kind as the list's choice says it.
KINDS = {
    FEE: "Up-front fees",
    ROYALTY: "Royalties",
    LICENSE: "Up-front fees and royalties (license revenue)",
    OTHER: "Other invoices (late fees, manual)",
}
INVOICED, CREDITED = "invoiced", "credited"
SHOWN = {
    INVOICED: "Lines invoiced only",
    CREDITED: "Royalty credit notes only",
}
# The values each axis's filter takes: the vocabulary's, and the lines no quote classifies.
AXIS_VALUES: Mapping[str, tuple[str, ...]] = {
    axis: (*VOCABULARY[axis], UNCLASSIFIED) for axis in AXES
}


def kind_keeps(kind: str | None, line_kind: str) -> bool:
    """Whether the list's `kind` (None: any) keeps a line of `line_kind`."""
    if kind is None:
        return True
    if kind == LICENSE:
        return line_kind in (FEE, ROYALTY)
    return kind == line_kind


@dataclass(frozen=True)
class LineFilter:
    """The days (issued), currency, kind, lines or credit notes and classification."""

    start: date | None = None
    end: date | None = None
    currency: str | None = None
    kind: str | None = None
    shown: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)

    def keeps(self, line_kind: str, classification: Classification) -> bool:
        return kind_keeps(self.kind, line_kind) and all(
            classification.value(axis) == value for axis, value in self.values.items()
        )


@dataclass(frozen=True)
class Entry:
    """A row of the list: an invoice line issued on the days (its amount), or a royalty
    credit note's part on a line (`credit_note_id`; its amount negative)."""

    invoice_line_id: int
    invoice_id: int
    position: int
    currency: str
    day: date
    kind: str
    classification: Classification
    amount: Decimal
    credit_note_id: int | None = None


@dataclass(frozen=True)
class Totals:
    """What the rows of one currency add up to: the lines invoiced, the royalty credit
    notes (a positive amount, as the page shows it) and the sum (invoiced less credited)."""

    currency: str
    count: int
    invoiced: Decimal
    credited: Decimal

    @property
    def net(self) -> Decimal:
        return self.invoiced - self.credited

    def figure(self, shown: str | None) -> Decimal:
        """The Finance page's figure these rows make: the credit notes' amount when
        only they are listed (the page shows *Royalty credit notes* positive), else
        the lines invoiced less the credit notes."""
        return self.credited if shown == CREDITED else self.net


def entries(session: Session, given: LineFilter) -> list[Entry]:
    """Every row `given` keeps, newest first (by the day issued; an invoice's lines in
    their order, a credit note's parts after its invoice's lines of the same day)."""
    lines = []
    if given.shown != CREDITED:
        sources = None
        if given.kind is not None and given.kind != OTHER:
            sources = [
                source for source, kind in KIND_OF_SOURCE.items() if kind_keeps(given.kind, kind)
            ]
        lines = queries.issued_lines(
            session, given.currency, given.start, given.end, sources=sources
        )
    credits: list[queries.CreditPart] = []
    if given.shown != INVOICED and kind_keeps(given.kind, ROYALTY):
        credits = queries.royalty_credits(session, given.currency, given.start, given.end)
    classified = classify(session, [*(line for line, _, _ in lines), *(c.line for c in credits)])
    found: list[Entry] = []
    for line, currency, day in lines:
        kind = kind_of(line.source_type)
        classification = classified[line.invoice_line_id]
        if given.keeps(kind, classification):
            found.append(
                Entry(
                    line.invoice_line_id,
                    line.invoice_id,
                    line.position,
                    currency,
                    day,
                    kind,
                    classification,
                    line.amount,
                )
            )
    for part in credits:
        classification = classified[part.line.invoice_line_id]
        if given.keeps(ROYALTY, classification):
            found.append(
                Entry(
                    part.line.invoice_line_id,
                    part.line.invoice_id,
                    part.line.position,
                    part.currency,
                    part.issue_date,
                    ROYALTY,
                    classification,
                    -part.amount,
                    part.credit_note_id,
                )
            )
    found.sort(
        key=lambda entry: (
            -entry.day.toordinal(),
            -entry.invoice_id,
            entry.credit_note_id or 0,
            entry.position,
        )
    )
    return found


def totals(found: Sequence[Entry]) -> list[Totals]:
    """The rows' sums, a currency each (amounts in different currencies never added)."""
    by_currency: dict[str, list[Entry]] = {}
    for entry in found:
        by_currency.setdefault(entry.currency, []).append(entry)
    zero = Decimal(0)
    return [
        Totals(
            currency,
            len(rows),
            sum((row.amount for row in rows if row.credit_note_id is None), zero),
            -sum((row.amount for row in rows if row.credit_note_id is not None), zero),
        )
        for currency, rows in sorted(by_currency.items())
    ]


@dataclass(frozen=True)
class Shown:
    """What a page of rows shows beside each entry: its invoice's number, licensee and
    the line's description, and a credit note's number."""

    invoices: dict[int, Any]
    descriptions: dict[int, str]
    credit_notes: dict[int, str]


def shown(session: Session, page: Sequence[Entry]) -> Shown:
    """The page's invoices, lines and credit notes, read in three statements at most."""
    invoice_ids = {entry.invoice_id for entry in page}
    line_ids = {entry.invoice_line_id for entry in page}
    credit_ids = {entry.credit_note_id for entry in page if entry.credit_note_id is not None}
    invoices = {}
    if invoice_ids:
        invoices = {
            row.id: row
            for row in session.execute(
                select(Invoice.id, Invoice.number, Invoice.organization_id)
                .add_columns(Organization.legal_name)
                .join(Organization, Organization.id == Invoice.organization_id)
                .where(Invoice.id.in_(invoice_ids))
            )
        }
    descriptions: dict[int, str] = {}
    if line_ids:
        statement = select(InvoiceLine.id, InvoiceLine.description)
        descriptions = dict(session.execute(statement.where(InvoiceLine.id.in_(line_ids))).all())
    credit_notes: dict[int, str] = {}
    if credit_ids:
        numbers = select(CreditNote.id, CreditNote.number).where(CreditNote.id.in_(credit_ids))
        credit_notes = {credit_id: number or "" for credit_id, number in session.execute(numbers)}
    return Shown(invoices, descriptions, credit_notes)


# --- paged in the database (round 61, lines61) -------------------------------------------


def kind_where(kind: str | None) -> list[ColumnElement[bool]]:
    """The invoices whose lines the list's `kind` keeps, by their source."""
    if kind is None:
        return []
    if kind == OTHER:
        return [Invoice.source_type.not_in(list(KIND_OF_SOURCE))]
    sources = [source for source, of in KIND_OF_SOURCE.items() if kind_keeps(kind, of)]
    return [Invoice.source_type.in_(sources)]


def classified_where(
    values: Mapping[str, str], line: Any = InvoiceLine
) -> list[ColumnElement[bool]]:
    """The lines (`line`: `InvoiceLine` or an alias of it) of the classification asked
    (`values`, by axis), by the columns each keeps from the day its invoice was issued
    (round 61, classified61: billing_0032)."""
    return [getattr(line, axis) == value for axis, value in sorted(values.items())]


def _lines_where(given: LineFilter) -> list[ColumnElement[bool]]:
    """The lines invoiced `given` keeps (as `queries.issued_lines` chooses them)."""
    return [
        *queries.issued_where(given.currency, given.start, given.end),
        *kind_where(given.kind),
        *classified_where(given.values),
    ]


def _credits_where(given: LineFilter) -> list[ColumnElement[bool]]:
    """The royalty credit notes `given` keeps (as `queries.royalty_credits` chooses)."""
    return queries.royalty_credits_where(given.currency, given.start, given.end)


def _shows_lines(given: LineFilter) -> bool:
    return given.shown != CREDITED


def shows_credits(given: LineFilter) -> bool:
    """Whether the list shows royalty credit notes: not only the lines invoiced, of
    a kind royalties are of (any, `royalty` or `license`)."""
    return given.shown != INVOICED and kind_keeps(given.kind, ROYALTY)


def _key_columns(day: Any, credit_note_id: Any, currency: Any) -> list[Any]:
    """`keys`' columns, of a line invoiced (the invoice's day and currency, no credit
    note: 0) or of a credit note's part (the credit note's), the line joined."""
    return [
        day.label("day"),
        Invoice.id.label("invoice_id"),
        credit_note_id.label("credit_note_id"),
        InvoiceLine.position.label("position"),
        InvoiceLine.id.label("line_id"),
        currency.label("currency"),
        Invoice.source_type.label("source_type"),
        Invoice.source_id.label("source_id"),
        InvoiceLine.amount.label("amount"),
        *(getattr(InvoiceLine, axis).label(axis) for axis in AXES),
    ]


def keys(given: LineFilter) -> Select[Any]:
    """Each row's key in the list's order (as `entries` sorts them: newest first, an
    invoice's lines in their order, a credit note's parts after its invoice's lines of
    the same day): (day, invoice id, credit note id or 0, position, line id, currency,
    source type, source id, the line's amount, its four axes as stored). The database
    pages it: a classification asked too (round 61, classified61), by the lines' columns."""
    parts: list[Statement] = []  # the lines' and the credit notes' selects, one shape
    if _shows_lines(given) or not shows_credits(given):
        parts.append(
            select(*_key_columns(Invoice.issue_date, literal(0), Invoice.currency))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            # Only credit notes, of a kind that has none: no row.
            .where(*(_lines_where(given) if _shows_lines(given) else [false()]))
        )
    if shows_credits(given):
        parts.append(
            select(*_key_columns(CreditNote.issue_date, CreditNote.id, CreditNote.currency))
            .join(Invoice, Invoice.id == CreditNote.invoice_id)
            .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
            .where(*_credits_where(given), *classified_where(given.values))
        )
    chosen: Statement | CompoundSelect[Any] = union_all(*parts) if len(parts) > 1 else parts[0]
    rows = chosen.subquery("rows")
    return select(rows).order_by(
        rows.c.day.desc(),
        rows.c.invoice_id.desc(),
        rows.c.credit_note_id,
        rows.c.position,
    )


def page_entries(session: Session, page: Sequence[Any]) -> list[Entry]:
    """The page's rows (`keys`' rows) as the list shows them: each line's classification
    as it was stored when issued (round 61, classified61; round 61's lines61 classified
    the page's lines in Python), its credit notes split over their invoices' lines
    (`queries.royalty_credits`), in the page's order."""
    credit_ids = {row.credit_note_id for row in page if row.credit_note_id}
    shares = (
        {
            (part.credit_note_id, part.line.invoice_line_id): part.amount
            for part in queries.royalty_credits(session, None, None, None, ids=credit_ids)
        }
        if credit_ids
        else {}
    )
    return [
        Entry(
            row.line_id,
            row.invoice_id,
            row.position,
            row.currency,
            row.day,
            kind_of(row.source_type) if not row.credit_note_id else ROYALTY,
            Classification(row.use, row.product_type, row.user_type, row.organization_type),
            -shares[row.credit_note_id, row.line_id] if row.credit_note_id else row.amount,
            row.credit_note_id or None,
        )
        for row in page
    ]


def summed(session: Session, given: LineFilter) -> list[Totals]:
    """`totals` of every row `given` keeps, added up by the database, a currency each:
    the lines invoiced and their count; the royalty credit notes' amounts (the parts of
    each add up to it: cumulative rounding) and their parts' count (a part a line of
    the credited invoice). With a classification asked (round 61, classified61) the
    lines by their stored columns, and the credit notes' parts on the lines of that
    classification: only the credit notes with such a line are split, in Python."""
    zero = Decimal(0)
    found: dict[str, list[Any]] = {}
    if _shows_lines(given):
        for currency, count, invoiced in session.execute(
            select(Invoice.currency, func.count(InvoiceLine.id), money_sum(InvoiceLine.amount))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(*_lines_where(given))
            .group_by(Invoice.currency)
        ):
            found[currency] = [count, invoiced or zero, zero]
    if shows_credits(given) and given.values:
        for currency, count, credited in _credited_parts(session, given):
            each = found.setdefault(currency, [0, zero, zero])
            each[0] += count
            each[2] = credited
    elif shows_credits(given):
        parts = (
            select(func.count(InvoiceLine.id))
            .where(InvoiceLine.invoice_id == CreditNote.invoice_id)
            .scalar_subquery()
        )
        for currency, count, credited in session.execute(
            select(CreditNote.currency, func.sum(parts), money_sum(CreditNote.amount))
            .join(Invoice, Invoice.id == CreditNote.invoice_id)
            .where(*_credits_where(given), _has_lines())
            .group_by(CreditNote.currency)
        ):
            each = found.setdefault(currency, [0, zero, zero])
            each[0] += int(count or 0)
            each[2] = credited or zero
    return [
        Totals(currency, count, invoiced, credited)
        for currency, (count, invoiced, credited) in sorted(found.items())
        if count
    ]


def _credited_parts(session: Session, given: LineFilter) -> list[tuple[str, int, Decimal]]:
    """By currency, the count and sum of the royalty credit notes' parts on the lines of
    the classification `given` asks: the credit notes with such a line split over their
    invoices' lines as the page splits them (`queries.royalty_credits`)."""
    chosen = session.execute(
        select(CreditNote.id, InvoiceLine.id)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(*_credits_where(given), *classified_where(given.values))
    ).all()
    if not chosen:
        return []
    kept = {(credit_id, line_id) for credit_id, line_id in chosen}
    by_currency: dict[str, list[Any]] = {}
    for part in queries.royalty_credits(
        session, None, None, None, ids={credit_id for credit_id, _ in chosen}
    ):
        if (part.credit_note_id, part.line.invoice_line_id) in kept:
            each = by_currency.setdefault(part.currency, [0, Decimal(0)])
            each[0] += 1
            each[1] += part.amount
    return [(currency, count, credited) for currency, (count, credited) in by_currency.items()]


def _has_lines() -> ColumnElement[bool]:
    """A credited invoice with lines (a credit note is split over them; the list shows
    none of one without)."""
    return select(InvoiceLine.id).where(InvoiceLine.invoice_id == CreditNote.invoice_id).exists()
