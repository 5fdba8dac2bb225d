"""Invoice, credit note and statement-of-account PDFs: pure renderers from plain
data to bytes.

Built on `licensing.pdf` (fonts, styles, "Page N of M"); deterministic, so the
same document data always gives the same bytes. `invoice_document()` and
`credit_note_document()` turn the records into the plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from licensing import notices
from licensing.billing.models import CreditNote, Invoice, number_year_words
from licensing.billing.states import MANUAL, PAID, VOID
from licensing.calendar import day_text, days_text, moment_text, office_date
from licensing.money import format_amount, format_grouped, in_words
from licensing.words import rules_described, working_in_words

# reportlab and `licensing.pdf` are imported by the functions that draw, not with the
# module: every billing service imports it for the documents' data, and reportlab with
# PIL is about 10 MB resident that a process which draws no PDF need not hold (round 50).
if TYPE_CHECKING:
    from reportlab.platypus import Flowable

    # The statement reads finance's ledger, which reads billing's queries.
    from licensing.billing.statements import Line, Statement


def copyright_notice(period_start: date) -> str:
    """The notice every billing document carries: CPT content is copyrighted, and the
    year is the one rule of `licensing.notices` (the release the billed period uses)."""
    return f"{notices.copyright_notice(period_start)} {notices.TRADEMARK_NOTICE}"


@dataclass(frozen=True)
class DocumentLine:
    description: str
    working: str
    amount: str
    # The description is our own words with names in them (every invoice but one
    # billing staff wrote): printed left to right whatever script a name is in.
    ours: bool = False


@dataclass(frozen=True, kw_only=True)
class BillingDocument:
    """What every billing document carries: its number, who issues it and to whom,
    its date and currency, and the copyright notices."""

    number: str
    issuer: tuple[str, ...]
    bill_to: tuple[str, ...]
    issue_date: date
    currency: str
    copyright_notice: str
    footer_notice: str


@dataclass(frozen=True, kw_only=True)
class InvoiceDocument(BillingDocument):
    state: str
    remit_to: tuple[str, ...]
    due_date: date
    payment_terms: str
    late_fee_terms: str
    reference: str
    memo: str
    lines: tuple[DocumentLine, ...]
    total: str
    paid: str
    credited: str
    balance_due: str
    paid_on: date | None
    # The refunds sent (round 53), counted back in the balance; empty when none.
    refunded: str = ""
    # Round 68: why an up-front invoice's number names its issue year, not its term's
    # (`number_year_words`); empty for every other invoice.
    number_year: str = ""


@dataclass(frozen=True, kw_only=True)
class CreditNoteDocument(BillingDocument):
    invoice_number: str
    reason: str
    amount: str
    applied_to_balance: str
    refund_due: str
    # How a refund due is paid back (empty when nothing is owed back).
    refund_note: str


# The invoice's totals row for the refunds sent, in the words of its page.
REFUNDS_SENT_ROW = "Refunds sent (added back to the balance)"


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split("|") if part.strip())


def _money(amount: Decimal, currency: str) -> str:
    return in_words(amount, currency)


@dataclass(frozen=True, kw_only=True)
class Standing:
    """What an invoice's PDF prints beside what was issued, which moves after issue:
    its state (the PAID and VOID stamps, *How to pay*), paid, credited, the refunds
    sent (round 53) and balance due, and the day it was paid. A PDF is kept once a
    standing (`pdfs`), so a renderer that prints more of the invoice's life must
    print it from here."""

    state: str
    currency: str
    paid: Decimal
    credited: Decimal
    balance_due: Decimal
    paid_on: date | None
    refunded: Decimal = Decimal(0)

    @property
    def key(self) -> str:
        """The kept PDF's `standing`, in plain figures that no change of wording
        moves ("paid 2027-02-01; paid 1200.00; credited 0.00; balance due 0.00"):
        reworded, the same standing would be drawn again with the new words."""
        paid_on = f" {self.paid_on.isoformat()}" if self.state == PAID and self.paid_on else ""
        figures = (format_amount(amount, self.currency) for amount in self.amounts)
        paid, credited, due = figures
        key = f"{self.state}{paid_on}; paid {paid}; credited {credited}; balance due {due}"
        if self.refunded > 0:  # the PDF prints them (round 53); a key without stays as kept
            key += f"; refunded {format_amount(self.refunded, self.currency)}"
        return key

    @property
    def amounts(self) -> tuple[Decimal, Decimal, Decimal]:
        return (self.paid, self.credited, self.balance_due)


def standing_of(invoice: Invoice) -> Standing:
    return Standing(
        state=invoice.state,
        currency=invoice.currency,
        paid=invoice.amount_paid,
        credited=invoice.amount_credited,
        balance_due=invoice.balance_due,
        refunded=invoice.amount_refunded,
        # The office's day it became paid, as the invoices export's `paid_date`: paid
        # at 21:30 in Chicago is stamped that day, not the next (UTC's).
        paid_on=office_date(invoice.paid_at) if invoice.paid_at else None,
    )


# A credit note prints only what was issued: one document.
CREDIT_NOTE_STANDING = "issued"


def invoice_document(
    invoice: Invoice,
    *,
    issuer: str,
    remit_to: str,
    period_start: date,
    rule_description: Callable[[str, str], str] = lambda version, rule: "",
) -> InvoiceDocument:
    """The invoice's plain data; `period_start` is the first day of what it bills
    (`queries.period_start`), which decides the copyright year.
    `rule_description(version, rule_id)` names a rule a royalty's working names by its
    description, as the invoice's pages do (round 42); without it, by its id."""
    assert invoice.number
    assert invoice.issue_date
    assert invoice.due_date
    currency = invoice.currency
    terms = (
        "Due on receipt"
        if invoice.payment_terms_days == 0
        else f"Net {invoice.payment_terms_days} days"
    )
    late = (
        f"Balances unpaid after the due date bear a late fee of "
        f"{invoice.late_fee_monthly_percent.normalize():f}% per month."
        if invoice.late_fee_monthly_percent > 0
        else "No late fee applies to this invoice."
    )
    standing = standing_of(invoice)
    return InvoiceDocument(
        number=invoice.number,
        state=standing.state,
        issuer=_split(issuer),
        remit_to=_split(remit_to),
        bill_to=tuple(invoice.bill_to_lines()),
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        payment_terms=terms,
        late_fee_terms=late,
        # What it bills, in the words of the invoice's pages and email.
        reference=invoice.source_in_words if invoice.source_reference else "",
        memo=invoice.memo or "",
        currency=currency,
        lines=tuple(
            # The working as the invoice's page reads it ("end users", "about 483.945205",
            # "Installed, hosted ... (rule distribution-software of rate card 2027.1)").
            DocumentLine(
                line.description,
                rules_described(working_in_words(line.working or ""), rule_description),
                format_grouped(line.amount, currency),
                ours=invoice.source_type != MANUAL,
            )
            for line in invoice.lines
        ),
        total=_money(invoice.total, currency),
        paid=_money(standing.paid, currency),
        credited=_money(standing.credited, currency),
        balance_due=_money(standing.balance_due, currency),
        paid_on=standing.paid_on,
        refunded=_money(standing.refunded, currency) if standing.refunded > 0 else "",
        number_year=number_year_words(invoice, period_start),
        copyright_notice=copyright_notice(period_start),
        footer_notice=notices.copyright_notice(period_start),
    )


def credit_note_document(
    credit: CreditNote, *, issuer: str, period_start: date
) -> CreditNoteDocument:
    """The credit note's plain data; `period_start` is its invoice's."""
    currency = credit.currency
    return CreditNoteDocument(
        number=credit.number,
        invoice_number=credit.invoice.number or "",
        issuer=_split(issuer),
        bill_to=tuple(credit.invoice.bill_to_lines()),
        issue_date=credit.issue_date,
        currency=currency,
        reason=credit.reason,
        amount=_money(credit.amount, currency),
        applied_to_balance=_money(credit.applied_to_balance, currency),
        refund_due=_money(credit.refund_due, currency),
        refund_note=(
            f"The licensing office owes you {_money(credit.refund_due, currency)} under this "
            "credit note. It is refunded to the card that paid the invoice, or else by "
            "transfer or check; the invoice's page lists each refund as it is sent."
            if credit.refund_due > 0
            else ""
        ),
        copyright_notice=copyright_notice(period_start),
        footer_notice=notices.copyright_notice(period_start),
    )


def _address_block(title: str, lines: tuple[str, ...]) -> list[Flowable]:
    from licensing import pdf

    return [pdf.markup(f"<b>{pdf.text(title)}</b>", "Small"), *[pdf.para(line) for line in lines]]


def _parties(left: tuple[str, list[Flowable]], right: tuple[str, list[Flowable]]) -> Flowable:
    from licensing import pdf

    width = pdf.CONTENT_WIDTH / 2
    return pdf.table([[left[1], right[1]]], [width, width], header=False)


def _build(doc: BillingDocument, kind: str, story: list[Flowable]) -> bytes:
    """The PDF of `story`, each page headed with the document's kind and number and
    its issuer, and footed with its notice."""
    from licensing import pdf

    furniture = pdf.PageFurniture(
        reference=f"{kind} {doc.number}",
        issuer=doc.issuer[0] if doc.issuer else "CPT Licensing Office",
        footer_note=doc.footer_notice,
    )
    return pdf.build(story, furniture, title=f"{kind} {doc.number}", subject=kind)


def render_invoice_pdf(doc: InvoiceDocument) -> bytes:
    from reportlab.lib.units import inch
    from reportlab.platypus import Spacer

    from licensing import pdf

    story: list[Flowable] = [pdf.para("Invoice", "Title"), pdf.para(doc.number, "Subtitle")]
    if doc.state == PAID:
        paid_on = f" on {day_text(doc.paid_on)}" if doc.paid_on else ""
        story.append(pdf.markup(f'<font color="#1d7a3a">PAID</font>{pdf.text(paid_on)}', "Stamp"))
        story.append(pdf.para("Paid in full. Thank you.", "Subtitle"))
    elif doc.state == VOID:
        story.append(pdf.markup('<font color="#a12622">VOID</font>', "Stamp"))
    story.append(Spacer(1, 0.1 * inch))
    story.append(
        _parties(
            ("From", _address_block("From", doc.issuer)),
            ("Bill to", _address_block("Bill to", doc.bill_to)),
        )
    )
    story.append(Spacer(1, 0.1 * inch))
    facts = [
        ["Invoice number", doc.number],
        [
            "Issue date",
            day_text(doc.issue_date) + (f" ({doc.number_year})" if doc.number_year else ""),
        ],
        ["Due date", day_text(doc.due_date)],
        ["Terms", doc.payment_terms],
    ]
    if doc.reference:
        facts.append(["For", doc.reference])
    story.append(pdf.table(facts, [1.8 * inch, pdf.CONTENT_WIDTH - 1.8 * inch], header=False))
    if doc.memo:
        story.append(Spacer(1, 0.08 * inch))
        story.append(pdf.para(doc.memo, "Small"))
    story.append(pdf.para("Charges", "Heading"))
    rows: list[list[object]] = [["#", "Description and working", f"Amount ({doc.currency})"]]
    for index, line in enumerate(doc.lines, start=1):
        # "{product}: {use} ...": a Hebrew product first would make our words right to
        # left (round 56); a line billing staff wrote takes its own direction.
        description = pdf.left_to_right(line.description) if line.ours else line.description
        cell: list[Flowable] = [pdf.para(description, "Cell")]
        if line.working:
            cell.append(pdf.para(line.working, "Small"))
        rows.append([str(index), cell, line.amount])
    totals: list[list[object]] = [
        ["", "Total", doc.total],
        ["", "Paid", doc.paid],
        ["", "Credited", doc.credited],
    ]
    if doc.refunded:  # as the invoice's page has it (round 53): only when refunds were sent
        totals.append(["", REFUNDS_SENT_ROW, doc.refunded])
    totals.append(["", "Balance due", doc.balance_due])
    rows.extend(totals)
    story.append(
        pdf.table(
            rows,
            [0.35 * inch, pdf.CONTENT_WIDTH - 1.95 * inch, 1.6 * inch],
            right_columns=(2,),
            total_rows=len(totals),
        )
    )
    closing: list[Flowable] = []
    if doc.state == PAID:
        closing.append(pdf.para("How to pay", "Heading"))
        closing.append(pdf.para("Nothing is due on this invoice."))
    elif doc.remit_to:
        closing.append(pdf.para("How to pay", "Heading"))
        closing.extend(pdf.para(line) for line in doc.remit_to)
    else:
        # No payment instructions (BILLING_REMIT_TO set empty): no heading over the
        # late-fee line alone (round 55), the line a little below the totals.
        closing.append(Spacer(1, 0.15 * inch))
    closing.append(pdf.para(doc.late_fee_terms, "Small"))
    closing.append(Spacer(1, 0.15 * inch))
    closing.append(pdf.para(doc.copyright_notice, "Small"))
    # On one page, with the last line and the totals (round 62: lines that ran just
    # past a page left the notice alone on the second, or parted the totals).
    story.append(pdf.Closing(closing, rows=len(totals) + 1))
    return _build(doc, "Invoice", story)


def render_credit_note_pdf(doc: CreditNoteDocument) -> bytes:
    from reportlab.lib.units import inch
    from reportlab.platypus import Spacer

    from licensing import pdf

    story: list[Flowable] = [
        pdf.para("Credit note", "Title"),
        pdf.para(f"{doc.number}, against invoice {doc.invoice_number}", "Subtitle"),
        Spacer(1, 0.1 * inch),
        _parties(
            ("From", _address_block("From", doc.issuer)),
            ("Credit to", _address_block("Credit to", doc.bill_to)),
        ),
        Spacer(1, 0.1 * inch),
        pdf.table(
            [
                ["Credit note number", doc.number],
                ["Issue date", day_text(doc.issue_date)],
                ["Invoice", doc.invoice_number],
                ["Reason", doc.reason],
            ],
            [1.8 * inch, pdf.CONTENT_WIDTH - 1.8 * inch],
            header=False,
        ),
        pdf.para("Amounts", "Heading"),
        pdf.table(
            [
                ["", f"Amount ({doc.currency})"],
                ["Credit", doc.amount],
                ["Applied to the invoice's balance", doc.applied_to_balance],
                ["Refund due to you", doc.refund_due],
            ],
            [pdf.CONTENT_WIDTH - 1.8 * inch, 1.8 * inch],
            right_columns=(1,),
        ),
        *([Spacer(1, 0.1 * inch), pdf.para(doc.refund_note)] if doc.refund_note else []),
        Spacer(1, 0.15 * inch),
        pdf.para(doc.copyright_notice, "Small"),
    ]
    return _build(doc, "Credit note", story)


# --- the statement of account ------------------------------------------------------

STATEMENT_LEAVES_OUT = (
    "Not in this statement: royalties for periods not yet reported or not yet invoiced, "
    "late fees not yet charged, card payments still being processed or under review, "
    "and draft invoices. A credit note's refund due is listed with the credit note and "
    "lowers the balance only by what its invoice still owed; the refund, when sent, "
    "changes no balance. A payment the bank returned (a bounced payment, or one your "
    "bank's dispute withdrew) is owed again from the day it was returned."
)
_STATEMENT_COLUMNS = (0.95, 1.25, 0.0, 0.9, 0.9, 0.95)  # inches; 0: the rest


def _statement_widths() -> list[float]:
    from reportlab.lib.units import inch

    from licensing import pdf

    fixed = sum(_STATEMENT_COLUMNS) * inch
    return [(width * inch) or (pdf.CONTENT_WIDTH - fixed) for width in _STATEMENT_COLUMNS]


def _statement_row(line: Line, currency: str) -> list[str]:
    movement = line.movement
    description = movement.description
    if line.differs:
        description += f" (changes the balance by {format_grouped(line.change, currency)})"
    charge = format_grouped(movement.amount, currency) if movement.amount > 0 else ""
    credit = format_grouped(-movement.amount, currency) if movement.amount < 0 else ""
    return [
        movement.day.isoformat(),
        movement.document,
        description,
        charge,
        credit,
        format_grouped(line.balance, currency),
    ]


def render_statement_pdf(statement: Statement, *, issuer: str) -> bytes:
    """The statement of account: who issues it and to whom, the period, the opening
    and closing balances, every movement with the balance after it (the table splits
    over pages, its header repeated), when it was made and what it leaves out."""
    from reportlab.lib.units import inch
    from reportlab.platypus import Spacer

    from licensing import pdf

    currency = statement.currency
    # Days in words (round 56); the movements' Date column keeps YYYY-MM-DD, a ledger's
    # column that sorts and aligns, as the statement's page and export have it.
    period = days_text(statement.start, statement.end)
    as_of = moment_text(statement.as_of)  # the office's time, its zone named
    opening = f"Opening balance on {day_text(statement.start)}"
    closing = f"Closing balance on {day_text(statement.end)}"
    header = ["Date", "Document", "Movement", "Charges", "Credits", "Balance"]
    # In the ledger, the first and last days in its Date column, as its movements'.
    first, last = statement.start.isoformat(), statement.end.isoformat()
    rows = [
        header,
        [first, "", "Opening balance", "", "", format_grouped(statement.opening, currency)],
    ]
    rows += [_statement_row(line, currency) for line in statement.lines]
    rows.append([last, "", "Closing balance", "", "", format_grouped(statement.closing, currency)])
    organization = pdf.isolated(statement.organization)  # in its own direction in our words
    story: list[Flowable] = [
        pdf.para("Statement of account", "Title"),
        pdf.para(f"{organization}, {period} ({currency})", "Subtitle"),
        Spacer(1, 0.1 * inch),
        _parties(
            ("From", _address_block("From", _split(issuer))),
            ("To", _address_block("To", (statement.organization, *statement.address))),
        ),
        Spacer(1, 0.1 * inch),
        pdf.table(
            [
                ["Period", period],
                ["Currency", currency],
                [opening, in_words(statement.opening, currency)],
                [closing, in_words(statement.closing, currency)],
                ["As of", as_of],
            ],
            [2.6 * inch, pdf.CONTENT_WIDTH - 2.6 * inch],
            header=False,
        ),
        pdf.para("Movements", "Heading"),
    ]
    story.append(pdf.table(rows, _statement_widths(), right_columns=(3, 4, 5), total_rows=1))
    if not statement.lines:
        story.append(pdf.para(f"Nothing moved from {period}."))
    story += [Spacer(1, 0.15 * inch), pdf.para(STATEMENT_LEAVES_OUT, "Small")]
    reference = f"Statement of account {statement.organization} {period}"
    furniture = pdf.PageFurniture(
        reference=f"Statement of account {organization} {period}",
        issuer=_split(issuer)[0] if issuer else "CPT Licensing Office",
        footer_note=f"{organization}: statement {period}, {currency}, as of "
        f"{day_text(office_date(statement.as_of))}",
    )
    return pdf.build(story, furniture, title=reference, subject="Statement of account")
