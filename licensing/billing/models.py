"""Invoices, their lines, credit notes, payments, Stripe customers and events.

Amounts are `Money` (exact decimals). An invoice's content is fixed once it is
`open`: the ORM refuses changes to those columns (see `_refuse_content_edits`),
so even code that bypasses the services cannot edit an issued invoice.
Bookkeeping columns (amounts paid and credited, reminders, late fees charged)
change as payments and credits arrive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import (
    Mapped,
    Session,
    mapped_column,
    query_expression,
    relationship,
    validates,
)

from licensing import references
from licensing.accounts.models import inserted_key, keep_key, keyed_names
from licensing.calendar import ISO_DAY, day_text, instant_text, moment_text, office_date
from licensing.db import Base, Money, UTCDateTime, utcnow
from licensing.errors import Conflict
from licensing.money import in_words
from licensing.records import Snapshotted, in_sql, one_of, refuse_changes
from licensing.statemachine import Hold

from .cards import card_label
from .states import (
    AGREEMENT,
    CANCELED,
    CARD,
    COLLECTIBLE,
    DISPUTE,
    DRAFT,
    FAILED,
    FLAGGED,
    INVOICE,
    INVOICE_SOURCES,
    LATE_FEE,
    LOST,
    NO_REMAINDER_WHY,
    OPEN,
    OPEN_ATTEMPT,
    PAID,
    PAYMENT,
    PAYMENT_METHODS,
    PENDING,
    REFUND,
    REFUND_COUNTED,
    REVERSED,
    ROYALTY_REPORT,
    STAFF_STEPS,
    SUCCEEDED,
    UNCOLLECTIBLE,
    dispute_hold,
)

DESCRIPTION_MAX = 500
# The longest word an invoice line's stored classification holds (vocabulary values are
# 22 characters at most; "unclassified" 12), with room to grow.
CLASSIFIED_MAX = 40
REFERENCE_MAX = 100
REASON_MAX = 2000
# The words a reversal's reason starts with when the payment was moved to the invoice
# it pays (round 68, `services.moves`), wherever the reason is shown (the invoice's
# pages, the statement, the payments export's `reversal_reason`).
MISAPPLIED = "Recorded against the wrong invoice"
# A staff step's reason missing, empty or blank, refused in these words by the service
# (`services._common._reason`), the pages' forms and the API's schemas alike (round 49:
# the API said "This field is required." for an empty one and this for a blank one).
REASON_REQUIRED = "Say why."
# A payment reversed without a reason: its own words (the reversal's step is the only
# one with a day beside the reason), said alike by the service, the page's form and the
# API's schema (round 50: the API said "This field is required." for an absent one).
REVERSAL_REASON_REQUIRED = "Say why the payment is reversed."
# An offline refund recorded as returned by the bank without a reason (round 55).
RETURN_REASON_REQUIRED = "Say why the bank returned the refund."
# A kept PDF's standing: its state, paid date and amounts (`documents.Standing`).
STANDING_MAX = 200


class _RefundedAgainst:
    """A record refunds are made against: a payment, or a credit note's refund due."""

    if TYPE_CHECKING:
        refunds: Mapped[list[Refund]]

    @property
    def amount_refunded(self) -> Decimal:
        """The refunds that count against what is owed back: sent, or pending at Stripe."""
        counted = (refund.amount for refund in self.refunds if refund.state in REFUND_COUNTED)
        return sum(counted, Decimal(0))


class NumberSequence(Base):
    """The last number issued in one series (INV or CN) and year: one row each,
    locked while a number is taken, so numbers have no gaps and no duplicates."""

    __tablename__ = "billing_number_sequences"

    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class StripeCustomer(Base):
    """The Stripe Customer of an organization, created once."""

    __tablename__ = "billing_stripe_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The sources that invoice once: an agreement up front, a royalty report when filed.
ONE_PER_SOURCE_WHERE = in_sql("source_type", (AGREEMENT, ROYALTY_REPORT))
# That condition as a statement's own, word for word: SQLite reads a partial index
# only for a statement whose WHERE has each term of the index's literally (an
# `source_type = ?` bound to one of the two does not do; round 52, `charged_page`).
ONE_PER_SOURCE = text(f"invoices.{ONE_PER_SOURCE_WHERE}")
# The late fees (round 55, operations_0006): the overdue run's sweep for late fees no
# email has named read every invoice (no index on the source) to find them, each run.
# The same condition word for word in the statements that read the partial index.
LATE_FEES_WHERE = f"source_type = '{LATE_FEE}'"
LATE_FEES = text(f"invoices.{LATE_FEES_WHERE}")


class Invoice(Snapshotted, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        one_of("state", INVOICE.states),
        one_of("source_type", INVOICE_SOURCES),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("amount_paid >= 0 AND amount_credited >= 0", name="settled_not_negative"),
        CheckConstraint("state = 'draft' OR number IS NOT NULL", name="issued_has_number"),
        # A late fee says the month it charges through (operations_0005, round 54): the
        # code before it, still running until the reload after `db upgrade`, issued and
        # emailed late fees the new code, finding no `late_fee_emails` row for them,
        # emailed again; its INSERT, without the column, is refused, and its email with it.
        CheckConstraint(
            f"source_type <> '{LATE_FEE}' OR late_fee_through_month IS NOT NULL",
            name="late_fee_through_month",
        ),
        # An agreement's up-front invoice and a report's royalty invoice: at most one
        # each, held here as well as by the locks that decide to issue them, so a
        # second is refused when stored rather than found later (`upfront_invoice`).
        Index(
            "uq_invoices_one_per_source",
            "source_type",
            "source_id",
            unique=True,
            sqlite_where=text(ONE_PER_SOURCE_WHERE),
            postgresql_where=text(ONE_PER_SOURCE_WHERE),
        ),
        # The invoice lists' order, newest first (console, portal, API; billing_0020):
        # a page is read in the index's order and the read stops after it.
        Index("ix_invoices_created_order", "created_at", "id"),
        # The exports' order, by issue date (billing_0024, round 56): a month's invoices
        # and invoice lines read the month's rows only, in order (they read the table).
        Index("ix_invoices_issue_order", "issue_date", "id"),
        # The invoices finalized or voided since the last check for late entries
        # (billing_0026, round 56: `sent_statements.note_late_entries`).
        Index("ix_invoices_finalized_at", "finalized_at"),
        Index("ix_invoices_voided_at", "voided_at"),
        # An organization's invoices in the lists' order, with the state the lists
        # leave drafts out by (operations_0007, round 56): the vendor's invoices and
        # the API's read a page in it and count from it alone, where they sorted and
        # counted every invoice of the organization (page 1 too).
        Index(
            "ix_invoices_organization_created_order", "organization_id", "created_at", "id", "state"
        ),
        # The exports by paid date (billing_0025, round 56): a month's invoices paid read
        # those rows only, where they read the table (`exports.queries.issued_invoices`).
        Index("ix_invoices_paid_at", "paid_at"),
        # The currencies invoiced, one entry each (finance_0003, round 57: the Finance
        # page's filter read every invoice, `finance.queries.currencies`).
        Index("ix_invoices_currency_state", "currency", "state"),
        # Each organization's late fees in the order issued (operations_0006): the
        # overdue run finds those no email has named from the late fees alone, where
        # it read every invoice (`overdue._with_unnamed_late_fees`, round 55).
        Index(
            "ix_invoices_late_fees",
            "organization_id",
            "id",
            sqlite_where=text(LATE_FEES_WHERE),
            postgresql_where=text(LATE_FEES_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int | None] = mapped_column(Integer)
    source_reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX))
    # The invoice a late-fee invoice charges for.
    parent_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    late_fee_monthly_percent: Mapped[Decimal] = mapped_column(Money())
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    # The organization's name, address and billing contact when issued (JSON).
    bill_to: Mapped[str | None] = mapped_column(Text)
    memo: Mapped[str | None] = mapped_column(Text)
    total: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    amount_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    amount_credited: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    # Refunds sent (succeeded) on its credit notes: money back out to the licensee,
    # which the balance counts (round 53, billing_0021; `owed`).
    amount_refunded: Mapped[Decimal] = mapped_column(
        Money(), default=Decimal(0), server_default="0"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When it was last written off as uncollectible, and last reopened (a payment
    # that paid it reversed): stamped by the machine's steps, so a nightly pull
    # (`by=recorded`) reads them here rather than in the audit log (billing_0014).
    written_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # By the bank's days over every money event dated so far (round 62, asof62,
    # billing_0033): the first day of its last stretch owing nothing (None if it never
    # owed nothing) and of its last stretch owing (None if it never owed), as
    # `billing.queries.bank_days(None)` reads them; kept after every flush that moves
    # its money (`billing.bank_days.keep`). An invoice no money moved on after a day
    # had these on that day too: the invoices export as of a day reads them so.
    bank_paid_on: Mapped[date | None] = mapped_column(Date)
    bank_owing_since: Mapped[date | None] = mapped_column(Date)
    state_reason: Mapped[str | None] = mapped_column(Text)
    reminder_count: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    late_fee_months_charged: Mapped[int] = mapped_column(Integer, default=0)
    # A late fee's: the last month overdue it charges for (its parent's
    # `late_fee_months_charged` once it is issued); None for any other invoice. Those
    # before operations_0005 count their lines (one a month) from the parent's first.
    late_fee_through_month: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 of the issued content and of its amounts, sealed when issued.
    issued_sha256: Mapped[str | None] = mapped_column(String(64))
    amounts_sha256: Mapped[str | None] = mapped_column(String(64))
    # The seal of the issued document (see `licensing.audit.seals`).
    seal_key_id: Mapped[str | None] = mapped_column(String(16))
    seal: Mapped[str | None] = mapped_column(String(64))

    # The first day of the period it bills, read with the invoice by the statement
    # that loads it for its documents (`queries.invoice_for_pdf`); absent otherwise
    # (`queries.period_start` reads it then).
    billed_from: Mapped[date | None] = query_expression()
    # For an amendment's royalty invoice, the number of the invoice of the report it
    # amends (round 36), read with a list of invoices by `queries.amended_number()`;
    # absent otherwise (`queries.amended_invoice` reads it then).
    amends_invoice_number: Mapped[str | None] = query_expression()

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="invoice", order_by="Payment.id", viewonly=True
    )
    credit_notes: Mapped[list[CreditNote]] = relationship(
        back_populates="invoice", order_by="CreditNote.id", viewonly=True
    )

    # Columns that make up the issued document: frozen from `open` on, and sealed
    # (`billing.seals`; a column added here changes every issued invoice's seal).
    CONTENT: ClassVar[frozenset[str]] = frozenset(
        {
            "organization_id",
            "number",
            "currency",
            "source_type",
            "source_id",
            "source_reference",
            "parent_invoice_id",
            "payment_terms_days",
            "late_fee_monthly_percent",
            "issue_date",
            "due_date",
            "bill_to",
            "memo",
            "total",
        }
    )

    @property
    def owed(self) -> Decimal:
        """What the licensee owes on it, signed (round 53): its total less the money
        kept from them (payments, less those the bank returned, less the refunds sent
        back) and the credit notes. Below zero, the office owes the difference back.
        One rule for the balance, settling and reopening (`queries.owed_of` in SQL)."""
        return self.total - self.amount_paid - self.amount_credited + self.amount_refunded

    @property
    def balance_due(self) -> Decimal:
        if self.state not in (OPEN, UNCOLLECTIBLE):
            return Decimal(0)
        return max(self.owed, Decimal(0))

    @property
    def refund_due(self) -> Decimal:
        """What the credit notes on this invoice say is owed back to the licensee."""
        return sum((credit.refund_due for credit in self.credit_notes), Decimal(0))

    @property
    def refund_outstanding(self) -> Decimal:
        """Of the refund due, what is neither sent nor on its way."""
        return sum(self.refunds_outstanding().values(), Decimal(0))

    def refunds_outstanding(
        self, returned: Mapping[int, Decimal] | None = None
    ) -> dict[int, Decimal]:
        """Each credit note's refund outstanding, by its id (round 53). A note owes
        what its refund due leaves unsent and not on its way, but the invoice never
        owes back more than the money it kept beyond what it owes (`owed` below zero,
        less the refunds on their way): a payment the bank returned or a card payment
        disputed after the credit note leaves less, or nothing, to send back (the
        licensee never had that money in). What the invoice owes back goes to its
        notes in the order they were issued. SQL: `queries.refund_outstanding`.

        `returned` (round 55): as if that much of each credit note's refunds sent
        (by its id) came back, as a return's confirmation says what follows it."""
        back = returned or {}
        pending = sum(
            (
                refund.amount
                for credit in self.credit_notes
                for refund in credit.refunds
                if refund.state == PENDING
            ),
            Decimal(0),
        )
        owed = self.owed - sum(back.values(), Decimal(0))
        left = max(-owed - pending, Decimal(0))
        found = {}
        for credit in sorted(self.credit_notes, key=lambda each: each.id):
            unsent = credit.refund_due - credit.amount_refunded + back.get(credit.id, Decimal(0))
            own = max(unsent, Decimal(0))
            found[credit.id] = min(own, left)
            left -= found[credit.id]
        return found

    @property
    def is_issued(self) -> bool:
        return self.state != DRAFT

    @property
    def is_paid(self) -> bool:
        return self.state == PAID

    def days_overdue(self, today: date) -> int:
        if self.state not in (OPEN, UNCOLLECTIBLE) or self.due_date is None:
            return 0
        return max((today - self.due_date).days, 0)

    def bill_to_lines(self) -> list[str]:
        if not self.bill_to:
            return []
        lines: list[str] = json.loads(self.bill_to)["lines"]
        return lines

    @property
    def bill_to_name(self) -> str:
        return self.bill_to_lines()[0] if self.bill_to else ""

    @property
    def label(self) -> str:
        return self.number or f"Draft invoice {self.id}"

    @property
    def title(self) -> str:
        """The invoice named at the start of a sentence or a heading: "Invoice
        INV-2027-000001", or "Draft invoice 5" (never "Invoice Draft invoice 5")."""
        return f"Invoice {self.number}" if self.number else self.label

    @property
    def source_record(self) -> tuple[str, int] | None:
        """What this invoice bills, as the (entity type, id) pages link with
        `record_ref`: the agreement, the royalty report, or the overdue invoice a
        late fee charges for; None for a manual invoice."""
        entity_type = _SOURCE_RECORDS.get(self.source_type)
        if entity_type is None or self.source_id is None:
            return None
        return entity_type, self.source_id

    @property
    def licensee_state(self) -> str:
        """The state as the licensee reads it: a write-off (`uncollectible`) is
        the office's own word, and the invoice is still owed, so it reads `open`."""
        return OPEN if self.state == UNCOLLECTIBLE else self.state

    @property
    def source_words(self) -> str:
        """What this invoice bills, in words: "Royalty report RR-000007 (CPT-2027-000001,
        period from 2027-01-01)", "Agreement CPT-2027-000001", "Late fee INV-...";
        the royalty report's own reference is the one its pages are headed with."""
        return self._source(str)

    @property
    def source_in_words(self) -> str:
        """`source_words` as emails and PDFs say it, the period's first day in words
        ("period from January 1, 2027", round 56)."""
        return self._source(lambda start: day_text(date.fromisoformat(start)))

    @property
    def amends_report(self) -> str | None:
        """Round 67: the reference of the royalty report an amendment's invoice amends,
        as its memo names it (`amending_words`), with no statement: every list, the
        statement of account, the PDF and the email say it beside the report it bills
        (the invoice's page alone said so, under the amended invoice, when there was one)."""
        if self.source_type != ROYALTY_REPORT:
            return None
        found = _AMENDING_REPORT.search(self.memo or "")
        return found.group(1) if found else None

    @property
    def amended_report(self) -> AmendedReport | None:
        """Round 68: the royalty report an amendment's invoice amends, as the API names
        it (`amends_report`), read from the memo (`amends_report`) and the invoice's
        source (the amended report is of the same agreement and period), with no
        statement; None for every other invoice."""
        reference = self.amends_report
        if reference is None:
            return None
        _agreement, _, start = (self.source_reference or "").partition(" ")
        return AmendedReport(
            int(reference.rpartition("-")[2]),
            reference,
            date.fromisoformat(start) if ISO_DAY.fullmatch(start) else None,
        )

    @property
    def numbered_in_another_year(self) -> bool:
        """Round 68: an up-front invoice issued in another year than its agreement's term
        starts (the agreement's number is of its term's first year), read with no
        statement: `number_year_words` then says why its number names its issue year."""
        if self.source_type != AGREEMENT or self.issue_date is None:
            return False
        found = _NUMBER_YEAR.search(self.source_reference or "")
        return found is not None and int(found.group(1)) != self.issue_date.year

    def _source(self, day: Callable[[str], str]) -> str:
        if self.source_type == ROYALTY_REPORT and self.source_id is not None:
            agreement, _, start = (self.source_reference or "").partition(" ")
            report = references.ROYALTY_REPORT(self.source_id)
            said = day(start) if ISO_DAY.fullmatch(start) else start
            amends = f" amending {amended}" if (amended := self.amends_report) else ""
            return f"Royalty report {report}{amends} ({agreement}, period from {said})"
        kind = self.source_type.replace("_", " ").capitalize()
        return f"{kind} {self.source_reference or ''}".strip()

    SNAPSHOT = ("state", "number", "total", "amount_paid", "amount_credited")
    AMOUNTS = ("total", "amount_paid", "amount_credited")


# An amendment's royalty invoice's memo names the report it amends in these words
# (royalties' settlement writes them with `amending_words`); `Invoice.amends_report`
# reads it back.
_AMENDING = ", amending report "
_AMENDING_REPORT = re.compile(re.escape(_AMENDING) + r"(RR-\d{6,})\b")


# The year in an agreement's number (`CPT-2027-000001`: its term's first year).
_NUMBER_YEAR = re.compile(r"^[A-Z]+-(\d{4})-\d+$")


def number_year_words(invoice: Invoice, billed_from: date | None) -> str:
    """Round 68: why an up-front invoice's number names another year than the term it
    bills (`INV-2026-...` for a term from January 1, 2027: every invoice is numbered in
    the year it is issued, from one gapless series a year), as its page and PDF say it
    beside its issue date; "" for every other invoice. `billed_from`: the first day it
    bills (`queries.period_start`)."""
    if invoice.source_type != AGREEMENT or invoice.issue_date is None or billed_from is None:
        return ""
    issued = invoice.issue_date.year
    if billed_from.year == issued:
        return ""
    return (
        f"numbered by its year of issue, {issued}, as every invoice is; the term it bills "
        f"starts on {day_text(billed_from)}"
    )


@dataclass(frozen=True)
class AmendedReport:
    """The report an amendment's invoice amends: its id (`/royalty-reports/{id}`), its
    reference (`RR-000002`) and its period's first day (the invoice's own period)."""

    id: int
    reference: str
    period_start: date | None


def amending_words(reference: str) -> str:
    """What an amendment's invoice memo says of the report it amends (`reference`)."""
    return f"{_AMENDING}{reference}"


# An invoice's source type -> the entity type of the record it bills.
_SOURCE_RECORDS = {AGREEMENT: "agreement", ROYALTY_REPORT: "royalty_report", LATE_FEE: "invoice"}


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX))
    # How the amount was reached (the quote's working), shown on the PDF.
    working: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money())
    # The Finance page's kind and classification of the line (round 61, classified61;
    # billing_0032): written when the invoice is issued
    # (`finance.classification.store_classification`), NULL on a draft's lines. `kind`
    # is `fee`, `royalty` or `other`; each axis a value of its vocabulary or
    # `unclassified`. The lists and exports choosing lines by classification read them.
    kind: Mapped[str | None] = mapped_column(String(CLASSIFIED_MAX))
    use: Mapped[str | None] = mapped_column(String(CLASSIFIED_MAX))
    product_type: Mapped[str | None] = mapped_column(String(CLASSIFIED_MAX))
    user_type: Mapped[str | None] = mapped_column(String(CLASSIFIED_MAX))
    organization_type: Mapped[str | None] = mapped_column(String(CLASSIFIED_MAX))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class CreditNote(_RefundedAgainst, Base):
    """A correction to an issued invoice: reduces what is owed, or records a
    refund due when the invoice was already paid."""

    __tablename__ = "credit_notes"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    # Of `amount`, what reduced the balance due; the rest is a refund owed.
    applied_to_balance: Mapped[Decimal] = mapped_column(Money())
    refund_due: Mapped[Decimal] = mapped_column(Money())
    reason: Mapped[str] = mapped_column(Text)
    # `name_key(reason)` (round 58, finance_0004): what the credit-notes list's search
    # compares, so "émile" finds "Émile" on both databases (SQLite's LIKE folds ASCII
    # letters only); kept in step on every write of the reason (`_keep_keys`; a Core
    # insert through its default), as an organization's name's key is.
    reason_key: Mapped[str] = mapped_column(Text, default=inserted_key("reason"))
    # Indexed (billing_0016): the monthly statement run finds the month's credit notes.
    issue_date: Mapped[date] = mapped_column(Date, index=True)
    # Indexed (billing_0020): the invoices' nightly pull finds the day's credit notes.
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    issued_by: Mapped[str] = mapped_column(String(254))
    # The account that issued it (round 58, agreements_0011), as an application's
    # decision keeps its taker's: pages name the person by it, so an address changed
    # or given to someone else since names who issued. None before, and for the
    # system. No foreign key, as `audit_events.actor_user_id` has none (issuing takes
    # no key share of the account); not sealed: the seal keeps the address, as issued.
    issued_by_id: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 of the issued content and of its amounts, sealed when issued.
    issued_sha256: Mapped[str | None] = mapped_column(String(64))
    amounts_sha256: Mapped[str | None] = mapped_column(String(64))
    # The seal of the issued document (see `licensing.audit.seals`).
    seal_key_id: Mapped[str | None] = mapped_column(String(16))
    seal: Mapped[str | None] = mapped_column(String(64))

    _keep_keys = validates("reason")(keep_key)
    keyed_names("credit_notes", "reason")

    invoice: Mapped[Invoice] = relationship(back_populates="credit_notes")
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="credit_note", order_by="Refund.id", viewonly=True
    )

    @property
    def refund_outstanding(self) -> Decimal:
        """What is still to send back on it (`Invoice.refunds_outstanding`)."""
        return self.invoice.refunds_outstanding().get(self.id, Decimal(0))


class _MoneyMoved(Snapshotted):
    """Money moved for an invoice, either way (a payment received, a refund sent):
    by card through Stripe, or offline (wire, ACH, check) recorded by billing staff."""

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # What was asked of Stripe (card) or moved (offline).
    amount: Mapped[Decimal] = mapped_column(Money())
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(254))
    # The account that recorded it (round 59, billing_0029), as a credit note keeps its
    # issuer's: pages name the person by it, so an address changed or given to someone
    # else since names who recorded. None before, and for the system and a payer by an
    # invoice link (no account). No foreign key, as `audit_events.actor_user_id`.
    recorded_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    AMOUNTS = ("amount",)

    @staticmethod
    def checks(states: tuple[str, ...]) -> tuple[CheckConstraint, ...]:
        """The table's CHECKs on what every movement of money holds."""
        return (
            one_of("state", states),
            one_of("method", PAYMENT_METHODS),
            CheckConstraint("amount > 0", name="amount_positive"),
        )


# The open card attempt of an invoice: a PaymentIntent that may still take money.
OPEN_ATTEMPT_WHERE = f"method = '{CARD}' AND {in_sql('state', OPEN_ATTEMPT)}"


class Payment(_MoneyMoved, _RefundedAgainst, Base):
    """Money received (or being received) against an invoice: by card through
    Stripe, or offline (wire, ACH, check) recorded by billing staff."""

    __tablename__ = "payments"
    __table_args__ = (
        *_MoneyMoved.checks(PAYMENT.states),
        # At most one card payment in flight per invoice, whatever the code does.
        Index(
            "uq_payments_open_card_attempt",
            "invoice_id",
            unique=True,
            sqlite_where=text(OPEN_ATTEMPT_WHERE),
            postgresql_where=text(OPEN_ATTEMPT_WHERE),
        ),
        # The monthly statement run finds the month's payments by these (billing_0016;
        # refunds' `settled_at` has an index of its own since billing_0022).
        Index("ix_payments_settled_at", "settled_at"),
        # The check for late entries reads the payments recorded since its last
        # (billing_0026, round 56: `sent_statements.note_late_entries`).
        Index("ix_payments_created_at", "created_at"),
    )

    # What Stripe reported as received, when it differs from `amount` (flagged).
    amount_received: Mapped[Decimal | None] = mapped_column(Money())
    received_on: Mapped[date | None] = mapped_column(Date, index=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The charge that took the money (card), as Stripe reported it: a dispute names
    # the charge, and on older API versions only the charge.
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The card Stripe charged (its brand as Stripe names it, e.g. `visa`, and
    # last four digits), stored when Stripe reports the outcome.
    card_brand: Mapped[str | None] = mapped_column(String(30))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    # When the bank declined the card: the attempt reads "declined" whether it
    # is still `failed` or was `canceled` when the next card was tried.
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the payment machine last moved it (declined, flagged, accepted,
    # cancelled, settled, reversed...): a nightly pull sees the change (billing_0014).
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The vendor user paying by card (who started the attempt: its card is theirs),
    # so the confirmation reaches them too; None for an offline payment and for the
    # billing contact paying by an invoice's link (who is sent it anyway).
    paid_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    invoice: Mapped[Invoice] = relationship(back_populates="payments")
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", order_by="Refund.id", viewonly=True
    )
    reversal: Mapped[PaymentReversal | None] = relationship(
        back_populates="payment", viewonly=True, foreign_keys="PaymentReversal.payment_id"
    )
    disputes: Mapped[list[PaymentDispute]] = relationship(
        primaryjoin="Payment.id == PaymentDispute.payment_id",
        order_by="PaymentDispute.id",
        viewonly=True,
    )

    @property
    def dispute(self) -> PaymentDispute | None:
        """The bank's latest dispute of this payment (Stripe allows one a charge)."""
        return self.disputes[-1] if self.disputes else None

    @property
    def dispute_hold(self) -> Hold | None:
        """What the bank's dispute of its charge holds back (round 44): while one is
        open, accepting or giving back a flagged payment is refused, and for good once
        one is lost (`states.dispute_hold`); a dispute won holds nothing. Round 47: a
        dispute lost of part of it leaves its remainder to accept (`remainder`)."""
        dispute = self.holding_dispute
        if dispute is None:
            return None
        remainder = self.remainder
        # Round 49: what accepting it does when its invoice owes less than it, or nothing.
        owed = self.invoice.balance_due if remainder is not None else None
        excess = self.remainder_excess(owed) if owed is not None else None
        return dispute_hold(
            dispute.state,
            stripe_dispute_id=dispute.stripe_dispute_id,
            opened_on=office_date(dispute.disputed_at),
            closed_on=office_date(dispute.closed_at) if dispute.closed_at else None,
            remainder=in_words(remainder, self.currency) if remainder is not None else None,
            disputed=(
                f"{in_words(dispute.amount, dispute.currency)} of the "
                f"{in_words(self.amount_received or Decimal(0), self.currency)} received"
            ),
            in_part=self._disputed_in_part(dispute),
            owed=in_words(owed, self.currency) if excess is not None and owed else None,
            excess=in_words(excess, self.currency) if excess is not None else None,
        )

    def _disputed_in_part(self, dispute: PaymentDispute) -> bool:
        """Whether `dispute` is of part of what this payment received (round 47)."""
        received = self.amount_received or Decimal(0)
        return dispute.currency.upper() == self.currency.upper() and dispute.amount < received

    @property
    def holding_dispute(self) -> PaymentDispute | None:
        """The dispute of its charge that holds its steps back (`dispute_hold`): the
        open one, else the latest lost; None when none is open or lost."""
        held = [d for d in self.disputes if d.state == OPEN] or [
            d for d in self.disputes if d.state == LOST
        ]
        return held[-1] if held else None

    @property
    def remainder(self) -> Decimal | None:
        """Round 47: what a lost dispute of part of a flagged card payment's charge left
        with the office (received, less what the bank returned to the cardholder), which
        billing staff may accept (`accept_remainder`); None when no dispute of part of
        it was lost (none, open or won, of all it received, or in another currency)."""
        dispute = self.holding_dispute
        if dispute is None or dispute.state != LOST or self.state != FLAGGED:
            return None
        if not self._disputed_in_part(dispute):
            return None
        return (self.amount_received or Decimal(0)) - dispute.amount

    @property
    def remainder_accepted(self) -> bool:
        """Round 47: a flagged card payment whose remainder after a lost dispute of part
        of its charge was accepted: it counts for that remainder (`amount`), less than
        it received. (A payment that counted and then lost a dispute is `reversed`, by
        the dispute's withdrawal.) Round 48: `reversed` too when the part of it its
        invoice did not owe went back offline (`excess_given_back`). Its columns first:
        only a card payment counting less than it received can be one, so a page
        listing payments loads no payment's disputes to ask (the link page's fixed
        statements)."""
        if (
            self.state not in (SUCCEEDED, REVERSED)
            or self.method != CARD
            or self.amount_received is None
            or self.amount >= self.amount_received
        ):
            return False
        dispute = self.holding_dispute
        return (
            dispute is not None
            and dispute.state == LOST
            and dispute.reversal_id is None
            and (self.state == SUCCEEDED or self.excess_given_back is not None)
        )

    @property
    def excess_given_back(self) -> PaymentReversal | None:
        """Round 48: the reversal booking the part of an accepted remainder that its
        invoice did not owe, sent back to the licensee offline (reversed in the accept's
        transaction): a card payment's reversal no dispute made. None otherwise."""
        reversal = self.reversal
        if reversal is None or self.method != CARD or self.withdrawn_by is not None:
            return None
        return reversal

    @property
    def remainder_over_owed(self) -> Decimal | None:
        """Round 48: `remainder_excess` of its invoice's balance now (the API's); the
        invoice is read only for a payment with a remainder."""
        if self.remainder is None:
            return None
        return self.remainder_excess(self.invoice.balance_due)

    def remainder_excess(self, balance_due: Decimal) -> Decimal | None:
        """Round 48: of its remainder, what exceeds `balance_due` (its invoice's: paid
        or credited meanwhile), to go back offline when the remainder is accepted;
        None when there is no remainder or the invoice owes all of it."""
        remainder = self.remainder
        if remainder is None or remainder <= balance_due:
            return None
        return remainder - balance_due

    def refusal(self, action: str) -> str | None:
        """Why `action` would be refused (None: it is allowed): its state, or the
        dispute of its charge (`dispute_hold`). A page says it instead of a button.
        Round 47: accepting a remainder no lost dispute left is refused too."""
        refused = PAYMENT.refusal(self.state, action, hold=self.dispute_hold)
        if refused is None and action == "accept_remainder" and self.remainder is None:
            return (
                f"A payment that is {PAYMENT.state_text(self.state)} cannot "
                f"{PAYMENT.steps[action]}: {NO_REMAINDER_WHY}"
            )
        if refused is None and action == "accept":
            return self.unapplicable()
        return refused

    def unapplicable(self) -> str | None:
        """Why what Stripe took cannot be accepted against its invoice now (None: it
        can): more than it owes, or an invoice owing nothing. Round 58: the console
        offered *Accept* for it, and the accept refused it."""
        invoice = self.invoice
        received = self.amount_received or Decimal(0)
        if invoice.state in COLLECTIBLE and 0 < received <= invoice.balance_due:
            return None
        return (
            f"{in_words(received, self.currency)} cannot be applied to {invoice.label} "
            f"(balance due {in_words(invoice.balance_due, invoice.currency)}); "
            "give it back to the card instead."
        )

    @property
    def held(self) -> list[dict[str, str]]:
        """Round 47: the staff steps its state allows that the bank's dispute of its
        charge holds back, each with why (the API's `held`); empty when none is."""
        hold = self.dispute_hold
        if hold is None:
            return []
        return [
            {"step": step, "why": hold.why}
            for step in STAFF_STEPS
            if PAYMENT.can(self.state, step) and hold.holds(step)
        ]

    @property
    def withdrawn_by(self) -> PaymentDispute | None:
        """The dispute whose withdrawal is this payment's reversal (a card payment the
        bank disputed, wholly or in part), None for a bounced offline payment."""
        if self.reversal is None:
            return None
        return next((d for d in self.disputes if d.reversal_id == self.reversal.id), None)

    @property
    def reversible(self) -> bool:
        """Billing staff may reverse it: an offline payment that counted."""
        return self.method != CARD and PAYMENT.can(self.state, "reverse")

    @property
    def declined(self) -> bool:
        """A card decline: the attempt failed, or was closed after failing."""
        return self.declined_at is not None and self.state in (FAILED, CANCELED)

    @property
    def outcome(self) -> str:
        """The state as people read it: `declined` for a card decline, else the state."""
        return "declined" if self.declined else self.state

    @property
    def paid_date(self) -> date | None:
        """The day the money came, as the Finance page and the payments export
        count it: the day received (offline), else the office day Stripe settled it."""
        if self.received_on is not None:
            return self.received_on
        return office_date(self.settled_at) if self.settled_at is not None else None

    @property
    def card_label(self) -> str | None:
        """The card as people name it (`Visa ending 4242`), when Stripe said which."""
        if self.card_brand is None or self.card_last4 is None:
            return None
        return card_label(self.card_brand, self.card_last4)

    def named(
        self,
        invoice_number: str | None = None,
        *,
        in_sentence: bool = False,
        in_words: bool = False,
    ) -> str:
        """The payment as the console and the emails name it (`payment_name`)."""
        return payment_name(
            self.method,
            invoice_number,
            in_sentence=in_sentence,
            in_words=in_words,
            card=self.card_label,
            reference=self.reference,
            received_on=self.received_on,
            created_at=self.created_at,
        )

    # What the audit log records of a new payment (with the invoice's number, and an
    # offline payment's bank reference, which `record_offline_payment` adds).
    SNAPSHOT = ("method", "amount", "state")


def payment_name(
    method: str,
    invoice_number: str | None,
    *,
    in_sentence: bool = False,
    in_words: bool = False,
    card: str | None,
    reference: str | None,
    received_on: date | None,
    created_at: datetime | None,
) -> str:
    """A payment named as its reader knows it, never by its row id (round 55, as the
    emails name it): "Card payment of INV-2027-000012 (Visa ending 4242), started
    2026-12-05 23:38:07 (US Central time)", "Wire payment of INV-2027-000012 (W-IN-1),
    received 2027-03-10". Without the invoice's number when the sentence names it;
    `in_sentence`: "card payment ...", for the middle of one. A card payment's start
    is to the second (round 56): two tries on one card in one minute read alike.
    `in_words` (round 57): its day and moment in words, as a page's heading and
    sentences say them ("received March 10, 2027"); the audit log, the tables and the
    services' messages keep the name above."""
    words = "ACH" if method == "ach" else method if in_sentence else method.capitalize()
    said = f"{words} payment" + (f" of {invoice_number}" if invoice_number else "")
    if method == CARD:
        said += f" ({card})" if card else ""
        moment = moment_text if in_words else instant_text
        return said + (f", started {moment(created_at, seconds=True)}" if created_at else "")
    said += f" ({reference})" if reference else ""
    day = day_text(received_on) if in_words and received_on else received_on
    return said + (f", received {day}" if received_on else "")


def refund_name(
    method: str,
    amount: Decimal,
    currency: str,
    credit_note_number: str | None,
    *,
    in_sentence: bool = False,
    sent: date | None,
    asked: date | None,
) -> str:
    """A refund named as the invoice's and the refunds list's pages name it (round 57,
    names57: audit notes and the audit log said "card refund 5", "Card refund 3 of
    CN-..."): by method, amount, credit note and day, "Card refund of 60.00 USD of
    CN-2027-000003, sent 2027-03-01"; one not sent yet by the day it was asked of
    Stripe (a card's) or recorded (an offline one's). `in_sentence`: "card refund ..."."""
    words = "ACH" if method == "ach" else method if in_sentence else method.capitalize()
    said = f"{words} refund of {in_words(amount, currency)}"
    said += f" of {credit_note_number}" if credit_note_number else ""
    if sent is not None:
        return f"{said}, sent {sent.isoformat()}"
    if asked is not None:
        return f"{said}, {'asked of Stripe' if method == CARD else 'recorded'} {asked.isoformat()}"
    return said


def returned_day(returned_on: date | None, returned_at: datetime | None) -> date | None:
    """The day a refund sent came back: `returned_on` (the bank's day staff gave for an
    offline refund, round 55; Stripe's day for a card refund, round 56), else the
    office day of `returned_at` (the `failed_at` of a card refund returned before round
    56: `billing.queries.refund_returned_at`), else None."""
    if returned_on is not None:
        return returned_on
    return office_date(returned_at) if returned_at is not None else None


class Refund(_MoneyMoved, Base):
    """Money sent back against a credit note's refund due: to the card through
    Stripe (a Refund on the payment's PaymentIntent), or offline (wire, ACH,
    check) recorded by billing staff."""

    __tablename__ = "refunds"
    __table_args__ = (
        *_MoneyMoved.checks(REFUND.states),
        CheckConstraint(f"method != '{CARD}' OR payment_id IS NOT NULL", name="card_has_payment"),
        # The nightly pulls (`refunds` and `invoices` by `recorded`) find the day's
        # refunds recorded, sent or failed by these (billing_0022, round 54).
        Index("ix_refunds_created_at", "created_at"),
        Index("ix_refunds_settled_at", "settled_at"),
        Index("ix_refunds_failed_at", "failed_at"),
    )

    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"), index=True)
    # The card payment refunded (card refunds only).
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    sent_on: Mapped[date | None] = mapped_column(Date)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # When it failed (Stripe's refund.failed, even after it succeeded; billing_0014),
    # or when billing staff recorded an offline refund's return (round 55).
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An offline refund the bank returned (billing_0023, round 55): the day it came
    # back, as the bank statement shows it (every dated sum counts the return on it),
    # why, and who recorded it. A card refund the card's bank returned has the day too,
    # Stripe's (round 56: its event's `created`, never after it was applied), but no
    # reason or recorder (its note says Stripe's reason). NULL for every other refund.
    returned_on: Mapped[date | None] = mapped_column(Date)
    return_reason: Mapped[str | None] = mapped_column(Text)
    returned_by: Mapped[str | None] = mapped_column(String(254))
    # The account that recorded the return (round 60, billing_0031: the returns before
    # it backfilled by their address where one account has it), as
    # `Payment.recorded_by_id`; None for a card refund's return (Stripe's).
    returned_by_id: Mapped[int | None] = mapped_column(Integer)

    credit_note: Mapped[CreditNote] = relationship(back_populates="refunds")
    payment: Mapped[Payment | None] = relationship(back_populates="refunds")

    # What the audit log records of a new refund (with the credit note's number).
    @property
    def sent_date(self) -> date | None:
        """The day the money went back, as the Finance page and the refunds export
        count it: `sent_on`, the day sent (offline) or Stripe's day (card: the office
        day of the event saying it succeeded, round 56, or of the moment Stripe's
        answer was applied), else the office day it was confirmed here."""
        if self.sent_on is not None:
            return self.sent_on
        return office_date(self.settled_at) if self.settled_at is not None else None

    def named(self, credit_note_number: str | None = None, *, in_sentence: bool = False) -> str:
        """The refund as the pages name it (`refund_name`), never by its row id."""
        number = credit_note_number or (self.credit_note.number if self.credit_note else None)
        return refund_name(
            self.method,
            self.amount,
            self.currency,
            number,
            in_sentence=in_sentence,
            sent=self.sent_date,
            asked=office_date(self.created_at) if self.created_at else None,
        )

    @property
    def returned_date(self) -> date | None:
        """The day the bank returned it, for a refund sent and then failed (round 54,
        `billing.queries.refund_returned_between`): an offline refund's `returned_on`
        (round 55), else the office day of its `failed_at`, else of the moment it was
        confirmed sent (a failure older than `failed_at`)."""
        if self.state != FAILED or self.settled_at is None:
            return None
        return returned_day(self.returned_on, self.failed_at or self.settled_at)

    @property
    def list_state(self) -> str:
        """Where it stands, as the console's refunds list says it (round 56,
        `queries.REFUND_LIST_STATES`): `pending`, `sent`, `returned` (sent, then
        returned by the bank) or `failed` (never sent)."""
        if self.state == FAILED:
            return "returned" if self.settled_at is not None else "failed"
        return "sent" if self.state == SUCCEEDED else "pending"

    @property
    def returnable(self) -> bool:
        """Whether billing staff may record its return by the bank: an offline refund
        that was sent and stands (round 55; a card refund's return is Stripe's)."""
        return self.method != CARD and REFUND.can(self.state, "mark_returned")

    SNAPSHOT = ("method", "amount", "state", "reference", "payment_id")


class PaymentReversal(Base):
    """An offline payment that did not stand (a bounced cheque, a transfer recorded
    against the wrong invoice): a new record referencing the payment, which moves to
    `reversed`; nothing of the payment is deleted or edited. Its amount is the
    payment's, taken back off the invoice's amount paid."""

    __tablename__ = "payment_reversals"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # One reversal a payment, whatever the code does.
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    reason: Mapped[str] = mapped_column(Text)
    # The day the bank returned the money (or said it never came).
    returned_on: Mapped[date] = mapped_column(Date)
    reversed_by: Mapped[str] = mapped_column(String(254))
    # The account that reversed it (round 59, billing_0029; None before, and for the
    # system: a dispute's withdrawal), as `Payment.recorded_by_id`.
    reversed_by_id: Mapped[int | None] = mapped_column(Integer)
    # Indexed (billing_0020): the invoices' nightly pull finds the day's reversals.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    # The payment this one became on the right invoice, when it was recorded against
    # the wrong one and moved (round 68, `services.moves`; billing_0034).
    moved_to_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))

    payment: Mapped[Payment] = relationship(back_populates="reversal", foreign_keys=[payment_id])

    @property
    def misapplied(self) -> bool:
        """Taken off an invoice it was recorded against by mistake and moved to the
        right one (`moved_to_id`), on the day it was received: the bank returned
        nothing. Known by the record, not by its reason's words, which a clerk may
        type for a returned payment too."""
        return self.moved_to_id is not None


class PaymentDispute(Base):
    """The licensee's bank disputed a card payment (a chargeback), as Stripe's
    `charge.dispute.*` webhooks tell it. The money it moves is booked with records
    of its own, never by editing the payment: Stripe's withdrawal is the payment's
    `PaymentReversal` (`reversal_id`, on `withdrawn_on`), and a dispute won brings
    the money back as a new payment (`reinstatement_id`, received `reinstated_on`)."""

    __tablename__ = "payment_disputes"
    __table_args__ = (
        one_of("state", DISPUTE.states),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=OPEN, index=True)
    # Stripe's own words for where it stands (`needs_response`, `under_review`, ...).
    status: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(60))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    # The last moment to send evidence in Stripe's dashboard.
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # When this service recorded it (the webhook processed, or matched later).
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the bank's dispute reached Stripe (the Dispute's `created`): what dates it
    # (`billing.queries.disputed_on`), however late the webhook was applied. Disputes
    # recorded before round 25 have their `opened_at` (migration `billing_0011`).
    disputed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    reversal_id: Mapped[int | None] = mapped_column(ForeignKey("payment_reversals.id"), unique=True)
    reinstated_on: Mapped[date | None] = mapped_column(Date)
    reinstatement_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), unique=True)
    # A dispute lost: the day its invoice's balance is chased again from (the
    # close plus the invoice's payment terms).
    owed_again_on: Mapped[date | None] = mapped_column(Date)

    payment: Mapped[Payment] = relationship(foreign_keys=[payment_id], viewonly=True)
    invoice: Mapped[Invoice] = relationship(viewonly=True)

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def time_left(self, now: datetime) -> str | None:
        """How long is left to send evidence, in words ("3 days 4 hours left",
        "due 2 days ago"), or None when Stripe gave no due date."""
        if self.evidence_due_by is None:
            return None
        left = self.evidence_due_by - now
        past = left.total_seconds() < 0
        span = -left if past else left
        days, hours = span.days, span.seconds // 3600
        said = f"{days} day{'s' if days != 1 else ''}" if days else ""
        if days < 3:
            said = f"{said} {hours} hour{'s' if hours != 1 else ''}".strip()
        return f"due {said} ago" if past else f"{said} left"


class UnmatchedDispute(Base):
    """A dispute Stripe told of whose card payment this service could not find
    because Stripe could not be asked: the event names only a charge that no
    payment kept (paid before payments kept their charge), and Stripe was
    unreachable or not configured. Kept, with the latest Dispute object Stripe
    sent, so billing staff see it and `licensing payments match-disputes` asks
    again. `matched_at` says when it stopped waiting: matched to its payment
    (`dispute_id`), or dropped, Stripe having named a charge or PaymentIntent that
    is no payment of this service (no `dispute_id`; `why` says so). A dispute Stripe
    places elsewhere when first told of it is never kept: the same Stripe account
    may take payments for other products, and their disputes are not the office's."""

    __tablename__ = "unmatched_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Indexed (round 59, billing_0030): *Stripe's events* searched by a charge reads
    # its disputes not matched, as `PaymentDispute.stripe_charge_id` is read.
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    # Why it is not matched, in words for billing staff.
    why: Mapped[str] = mapped_column(String(300))
    # The latest event about it: its type and its Dispute object (JSON), applied
    # as Stripe sent it once the payment is found.
    event_type: Mapped[str] = mapped_column(String(100))
    dispute_object: Mapped[str] = mapped_column(Text)
    # When Stripe made that event: an older one arriving later does not replace it.
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("payment_disputes.id"))

    @property
    def dispute_data(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.dispute_object)
        return found


class InvoiceLinkRevocation(Base):
    """Billing staff withdrew every link to an invoice sent so far (a forwarded email,
    a wrong recipient). A link's secret covers how many times (`billing/links.py`), so
    the links sent before stop working; the billing contact is sent a new one. A record
    of its own: the invoice is not edited."""

    __tablename__ = "invoice_link_revocations"
    __table_args__ = (UniqueConstraint("invoice_id", "generation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    # 1 for the first withdrawal: the links made after it are generation 1.
    generation: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    revoked_by: Mapped[str] = mapped_column(String(254))
    # The account that withdrew them (round 59, billing_0029; None before, and for the
    # system), as `Payment.recorded_by_id`.
    revoked_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeptPdf(Base):
    """The bytes of an invoice's or credit note's PDF the first time it was drawn
    (round 44), served for every download and attachment after: a later renderer's
    words never reach a document already drawn. Written once (the ORM refuses an
    update or delete, as it does an agreement's acceptance: `records.refuse_changes`).

    One row a document. A credit note has one (`standing` "issued": it prints only
    what was issued). An invoice prints, beside what was issued, its standing: the
    PAID or VOID stamp, paid, credited and balance due (`documents.Standing`);
    each standing it is drawn in is a document of its own, the first one (drawn when
    it is finalized, for the billing contact's email) its issued document, which the
    later ones name in `issued_id`. A standing met again (an invoice paid, reopened by
    a bounced cheque, paid again) is served the bytes first drawn in it."""

    __tablename__ = "kept_pdfs"
    __table_args__ = (
        CheckConstraint(
            "(invoice_id IS NULL AND credit_note_id IS NOT NULL) "
            "OR (invoice_id IS NOT NULL AND credit_note_id IS NULL)",
            name="one_document",
        ),
        # The arbiters of ON CONFLICT DO NOTHING: concurrent first draws store one row.
        UniqueConstraint("invoice_id", "standing"),
        UniqueConstraint("credit_note_id", "standing"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"))
    standing: Mapped[str] = mapped_column(String(STANDING_MAX))
    # The invoice's first document (its issued one), for a later standing's.
    issued_id: Mapped[int | None] = mapped_column(ForeignKey("kept_pdfs.id"))
    # Read only by the statements that serve, attach or check it (`pdfs.kept`,
    # `kept_bytes`, the seals' rows), never with the row: reading it on a row loaded
    # without it raises (round 51).
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    sha256: Mapped[str] = mapped_column(String(64))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Round 47 (`billing_0019`): an HMAC under the audit key over what the row is of
    # and `sha256` (`audit.seals.seal_kept`), written with the row, so `audit verify`
    # catches bytes and digest rewritten together. None on a row kept before, until
    # `licensing audit seal-unsealed` seals it.
    seal_key_id: Mapped[str | None] = mapped_column(String(16))
    seal: Mapped[str | None] = mapped_column(String(64))


class KeptPdfIsImmutable(RuntimeError):
    """A document's kept bytes never change and are never deleted."""


refuse_changes(
    KeptPdf,
    KeptPdfIsImmutable,
    lambda kept: (
        f"the PDF kept for {'invoice' if kept.invoice_id else 'credit note'} "
        f"{kept.invoice_id or kept.credit_note_id} ({kept.standing}) was served"
    ),
)


# The statements sent a check marked (`SentStatement.late_entry_at`'s partial index).
MARKED_WHERE = "late_entry_at IS NOT NULL"


class SentStatement(Base):
    """A month's statement of account emailed to an organization's billing contact
    (`services.send_monthly_statements`). Inserted in the transaction that queues the
    email, under one row per organization, currency and month: of two runs (or two
    hosts) at once, the second waits for the first and then fails on the constraint,
    so each statement goes once. `opening` and `closing` are the figures first sent,
    `last_opening`, `last_closing` and `last_sent_to` those last emailed and to whom (a
    re-send by hand carries the statement as it reads now, to today's billing contact,
    and counts in `resends`); `closes_on`, the month's last
    day, lets a query find the entries dated into the month after it was emailed."""

    __tablename__ = "sent_statements"
    __table_args__ = (
        UniqueConstraint("organization_id", "currency", "month"),
        CheckConstraint("resends >= 0", name="resends_not_negative"),
        Index(
            "ix_sent_statements_late_entry_at",
            "late_entry_at",
            sqlite_where=text(MARKED_WHERE),
            postgresql_where=text(MARKED_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # The month's first day (indexed, billing_0016: the run looks up the month's).
    month: Mapped[date] = mapped_column(Date, index=True)
    opening: Mapped[Decimal] = mapped_column(Money())
    closing: Mapped[Decimal] = mapped_column(Money())
    last_opening: Mapped[Decimal] = mapped_column(Money())
    last_closing: Mapped[Decimal] = mapped_column(Money())
    closes_on: Mapped[date] = mapped_column(Date)
    sent_to: Mapped[str] = mapped_column(String(254))
    # The billing contact it was last emailed to (a re-send goes to today's contact).
    last_sent_to: Mapped[str] = mapped_column(String(254))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    resent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Round 56 (billing_0026): when a check (`sent_statements.note_late_entries`) found
    # an entry recorded after it was last emailed and dated on or before `closes_on`;
    # cleared when it is sent again. Only the statements so marked are read again to
    # see whether they changed (an index of the marked alone: they are few, the sent
    # many, and a check's `late_entry_at IS NULL` must not pick it over the
    # organization's).
    late_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def last_sent_at(self) -> datetime:
        """When it was last emailed: re-sent, or first sent."""
        return self.resent_at or self.sent_at


class LateEntryCheck(Base):
    """The last check for entries dated into a month already emailed (round 56,
    billing_0026): one row, `checked_at` the moment it looked. The next looks only at
    entries recorded since a day before it (`sent_statements.CHECK_OVERLAP`), rather
    than at every statement sent."""

    __tablename__ = "late_entry_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LateFeeEmail(Base):
    """The late-fee email an organization was sent on an office day (round 53): one a
    day at most, under the unique constraint, however many runs, reruns and hosts
    issue its late fees that day (round 52's email was sent once by each run that
    finished the fees, so a run stopped by an error and rerun the same day sent two).
    `through_invoice_id` is the last late-fee invoice it named: the next email names
    the organization's late fees after it. The rows operations_0004 wrote for the late
    fees issued before it (the old code's emails) name none (`named` None), so the
    upgrade day's rerun does not name them again."""

    __tablename__ = "late_fee_emails"
    __table_args__ = (UniqueConstraint("organization_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    day: Mapped[date] = mapped_column(Date)
    through_invoice_id: Mapped[int] = mapped_column(Integer)
    named: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)


# What the webhook did with a Stripe event, by kind (round 58, stripeevents58): the
# words the console's list of every event offers and its rows say. `failed`: it was
# not applied (Stripe sends it again, and the next delivery is applied afresh).
STRIPE_EVENT_KINDS = {
    "applied": "Applied",
    "no_change": "Nothing to change",
    "ignored": "Ignored: not this service's, or a type it does not handle",
    "not_matched": "Dispute not matched to a payment: kept for billing staff",
    "failed": "Failed: not applied, Stripe sends it again",
    # Round 58 (replay58): billing staff looked at one that failed, and said what they did.
    "looked_at": "Failed, looked at by billing staff",
}


def stripe_event_kind(outcome: str) -> str:
    """An outcome's kind, read from its leading words as the webhook writes them
    ("ignored: ...", "not matched: ...", "no change: ...", "failed: ..."; anything
    else did something: "applied: ...", "declined: ...", "refund failed: ...", "dispute
    du_... recorded"). Migration billing_0027 read the stored outcomes the same way."""
    for prefix, kind in (
        ("ignored", "ignored"),
        ("not matched", "not_matched"),
        ("no change", "no_change"),
        ("failed:", "failed"),
    ):
        if outcome.startswith(prefix):
            return kind
    return "applied" if outcome.strip() else "no_change"


# The audit log's action for a signed Stripe delivery the service could not read (no
# event id, type or object; not JSON): stored as no event, recorded there instead,
# its record the body's SHA-256 (round 59, stripeevents59; `services.webhooks`).
UNREADABLE_ACTION = "stripe_delivery.unreadable"
# Billing staff marked such a body looked at, with a note (round 60, stripe60;
# `states.STRIPE_DELIVERY`): the same record (the body's SHA-256).
UNREADABLE_LOOKED_AT_ACTION = "stripe_delivery.marked_looked_at"
# A PaymentIntent a card payment names that Stripe does not know (round 61, payments61):
# reported once, by the job that asked (`payments reconcile`, `payments fill-charge-ids`),
# its record the PaymentIntent's id (its first 64 characters, the audit log's record
# id); not asked about again while the payment names it. Billing staff mark it looked
# at with a note (`states.STRIPE_INTENT`), as a delivery not read.
UNKNOWN_INTENT_RECORD = "stripe_payment_intent"
UNKNOWN_INTENT_ACTION = "stripe_payment_intent.unknown"
UNKNOWN_INTENT_LOOKED_AT_ACTION = "stripe_payment_intent.marked_looked_at"
# Round 65 (ops65): a report not looked at withdrawn (billing staff, or an operator's
# `licensing payments withdraw-unknown-intents`), with who and why, once the Stripe keys
# are put right: the jobs ask Stripe about the PaymentIntent again.
UNKNOWN_INTENT_WITHDRAWN_ACTION = "stripe_payment_intent.withdrawn"


class StripeEvent(Base):
    """Every Stripe event received, once: the unique id makes replays no-ops (each
    counted in `deliveries`, round 58); one that failed is applied again when Stripe
    sends it again."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        one_of("kind", STRIPE_EVENT_KINDS),
        # The console's list of every event, newest first, by kind or not (round 58).
        Index("ix_stripe_events_received_order", "received_at", "id"),
        Index("ix_stripe_events_kind_received", "kind", "received_at"),
    )

    # An outcome is stored whole (round 58: it was cut at 200 characters, so a long
    # "flagged: ..." reason read cut off); one longer than this, which no outcome the
    # webhook writes comes near, ends in "…".
    OUTCOME_MAX = 2000

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # The Stripe id of the event's object (pi_, re_, ch_, du_...; round 58): a refund
    # event's refund is linked by it. None for events stored before round 58.
    # Indexed (round 59, billing_0030): the console finds an event by its object's id.
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    outcome: Mapped[str] = mapped_column(String(OUTCOME_MAX))
    kind: Mapped[str] = mapped_column(String(20), default="applied")
    # How many times Stripe delivered it (a replay is acknowledged and counted), and
    # when it last did (round 58).
    deliveries: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Round 58 (replay58): a failed event billing staff marked looked at: their note
    # (what they did instead, required), who and when. Kept when it is applied again.
    LOOKED_AT_NOTE_MAX = 1000
    looked_at_note: Mapped[str | None] = mapped_column(String(LOOKED_AT_NOTE_MAX))
    looked_at_by: Mapped[str | None] = mapped_column(String(255))
    # The account that marked it (round 59, billing_0029; None before), as
    # `Payment.recorded_by_id`.
    looked_at_by_id: Mapped[int | None] = mapped_column(Integer)
    looked_at_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def said(self, outcome: str) -> None:
        """Store `outcome` (whole, up to `OUTCOME_MAX`) and its kind."""
        self.tell(outcome)
        self.kind = stripe_event_kind(outcome)

    def tell(self, outcome: str) -> None:
        """Store `outcome` alone (whole, up to `OUTCOME_MAX`): its kind is the step's that
        the state machine takes (`STRIPE_EVENT`, an event applied again from the console)."""
        if len(outcome) > self.OUTCOME_MAX:
            outcome = outcome[: self.OUTCOME_MAX - 1] + "…"
        self.outcome = outcome


def _refuse_content_edits(session: Session, _context: Any, _instances: Any) -> None:
    """An issued invoice's document never changes, whoever tries."""
    for record in session.dirty:
        if isinstance(record, Invoice):
            state = inspect(record)
            history = state.attrs.state.history
            was = history.deleted[0] if history.deleted else record.state
            if was == DRAFT:
                continue
            changed = {name for name in Invoice.CONTENT if state.attrs[name].history.has_changes()}
            if changed:
                raise Conflict(
                    f"Invoice {record.number} is issued and cannot be changed "
                    f"({', '.join(sorted(changed))}); issue a credit note instead."
                )
        elif (
            isinstance(record, InvoiceLine)
            and record.invoice is not None
            and record.invoice.state != DRAFT
        ):
            raise Conflict("The lines of an issued invoice cannot be changed.")


event.listen(Session, "before_flush", _refuse_content_edits)


class IdempotentRequest(Base):
    """A money-moving API request made with an `Idempotency-Key`, and its answer.

    Written in the transaction that moved the money, so a retry either finds it
    (and is answered from it) or finds that nothing happened. Unique per caller
    and key: of two simultaneous requests with one key, one inserts and the other
    waits for it and then fails on the constraint (`licensing.billing.idempotency`).
    """

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("user_id", "key_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 (hex) of the key, and of the method, path and body it was sent with.
    key_hash: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
