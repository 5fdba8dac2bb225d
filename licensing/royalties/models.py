"""Royalty reports, their rows as submitted, the royalty computed per line, and
the reminders sent.

A report is written once: its rows and lines never change. An amendment is a
new report that `amends` the old one, which is then `superseded` (kept,
read-only); at most one report of a period is current, which a partial unique
index enforces even against concurrent filings.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from licensing import references
from licensing.db import Base, Money, UTCDateTime, utcnow
from licensing.money import MAX_QUANTITY
from licensing.records import Referenced, StoredJson, one_of, refuse_changes

from .flags import in_words as warnings_in_words
from .states import CLEAR, REPORT_STATES, REVIEW_STATES, REVIEW_STEPS, SOURCES, SUBMITTED

# Field limits: the parser, the form and the API schema all read these.
CUSTOMER_ID_MAX = 100
CUSTOMER_NAME_MAX = 200
UNIT_MAX = 40
QUANTITY_MAX = MAX_QUANTITY  # the same bound as an application's estimated quantities
REVENUE_MAX_DIGITS = 12  # whole digits of one row's revenue
REVENUE_PLACES = 4  # decimal places kept (money columns hold four)
LINE_REVENUE_MAX = Decimal(10) ** 13  # a line's revenue in one report
REASON_MAX = 2000
REVIEW_NOTE_MAX = 2000


class RoyaltyReport(Referenced, Base):
    REFERENCE = references.ROYALTY_REPORT
    __tablename__ = "royalty_reports"
    __table_args__ = (
        one_of("state", REPORT_STATES),
        one_of("review_state", REVIEW_STATES),
        one_of("source", SOURCES),
        # One current report per period, whoever files at the same moment.
        Index(
            "uq_royalty_reports_current_period",
            "agreement_id",
            "period_start",
            unique=True,
            sqlite_where=text("state = 'submitted'"),
            postgresql_where=text("state = 'submitted'"),
        ),
        # A report is amended at most once: only the current report is amended, and
        # it is superseded as its amendment is stored (`services.amended_by`).
        Index("uq_royalty_reports_amends_id", "amends_id", unique=True),
        # The reports an organization is asked to correct, for the vendor dashboard
        # (royalties_0008): found from the reports, not by reading every period's.
        Index("ix_royalty_reports_organization_review", "organization_id", "review_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    period_index: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default=SUBMITTED, index=True)
    review_state: Mapped[str] = mapped_column(String(30), default=CLEAR, index=True)
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("royalty_reports.id"))
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))
    # SHA-256 of the bytes as uploaded (JSON or CSV), or of the form's rows.
    file_sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    total_due: Mapped[Decimal] = mapped_column(Money())
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    # Numbers of the credit notes issued for a negative total (JSON list).
    credit_notes_json: Mapped[str] = mapped_column(Text, default="[]")
    # Anomalies found on submission (JSON list of sentences).
    flags_json: Mapped[str] = mapped_column(Text, default="[]")
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_by: Mapped[str] = mapped_column(String(320))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The review's latest step (marked reviewed, or sent back for correction): a
    # summary kept for the queue, dashboard and period pages; every step, with its
    # own note, is a `RoyaltyReportReviewStep` (royalties_0004).
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(320))
    review_note: Mapped[str | None] = mapped_column(Text)
    # The latest request for a corrected report, kept when a later "Mark reviewed"
    # writes the fields above: the report's page shows both notes (royalties_0003).
    correction_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    correction_requested_by: Mapped[str | None] = mapped_column(String(320))
    correction_note: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[RoyaltyReportLine]] = relationship(
        back_populates="report", order_by="RoyaltyReportLine.line", viewonly=True
    )
    amends: Mapped[RoyaltyReport | None] = relationship(remote_side="RoyaltyReport.id")

    flags = StoredJson[list[str]]("flags_json", empty="[]")
    credit_notes = StoredJson[list[str]]("credit_notes_json", empty="[]")

    @property
    def warnings(self) -> list[str]:
        """The flags as today's warnings word them, whenever they were stored
        (`flags.in_words`): what pages and the API show."""
        return warnings_in_words(self.flags, self.currency)

    @property
    def amends_reference(self) -> str | None:
        """The reference of the report this one amends, read without loading it."""
        return None if self.amends_id is None else self.reference_of(self.amends_id)

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "period_start": self.period_start,
            "total_due": self.total_due,
            "rows": self.row_count,
            "file_sha256": self.file_sha256,
        }


class RoyaltyReportReviewStep(Base):
    """One step of a report's review (marked reviewed, or sent back for correction),
    as staff took it: when, who and the note. Appended by the review use case in the
    transaction of the step and its audit event, never changed or deleted: the
    report's fields above keep only the latest step, this keeps them all."""

    __tablename__ = "royalty_report_review_steps"
    __table_args__ = (one_of("step", REVIEW_STEPS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("royalty_reports.id"), index=True)
    # The review state the step led to (`reviewed`, `correction_requested`).
    step: Mapped[str] = mapped_column(String(30))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_by: Mapped[str] = mapped_column(String(320))
    # The staff member's account (round 58, accounts_0013), as the audit log keeps an
    # actor's: pages name the person by it, not by the address, which may change or
    # pass to someone else. None for steps taken before (named by the address) and for
    # the system. No foreign key, as `audit_events.actor_user_id` has none.
    taken_by_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class ReviewStepIsKept(RuntimeError):
    """A review step, once taken, is never changed or deleted: take another."""


refuse_changes(
    RoyaltyReportReviewStep,
    ReviewStepIsKept,
    lambda step: f"review step {step.id} of royalty report {step.report_id} is recorded",
)


class RoyaltyReportRow(Base):
    """One row as submitted: a customer's usage of a line's unit, or revenue."""

    __tablename__ = "royalty_report_rows"
    __table_args__ = (
        Index("ix_royalty_report_rows_usage", "report_id", "line", "unit", "customer_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("royalty_reports.id"))
    # JSON: the row's 0-based index; CSV: its line number in the file (header = 1).
    row_number: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str] = mapped_column(String(CUSTOMER_ID_MAX))
    # Trimmed and case-folded: how customers compare across rows and periods.
    customer_key: Mapped[str] = mapped_column(String(4 * CUSTOMER_ID_MAX))
    customer_name: Mapped[str] = mapped_column(String(CUSTOMER_NAME_MAX))
    country: Mapped[str] = mapped_column(String(2))
    unit: Mapped[str] = mapped_column(String(UNIT_MAX), default="")
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    revenue: Mapped[Decimal | None] = mapped_column(Money())


# The columns that store a line's computed royalty (`computation.LineRoyalty`) under
# its own names: filing writes them, reading a filed report reads them back. Its
# quantities and explanation are stored as JSON; `due` as well, for queries.
LINE_ROYALTY_COLUMNS = (
    "line",
    "revenue_to_date",
    "amount_to_date",
    "charged_before",
    "charged_to_date",
)


class RoyaltyReportLine(Base):
    """A reportable line's royalty as computed when the report was filed."""

    __tablename__ = "royalty_report_lines"
    __table_args__ = (UniqueConstraint("report_id", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("royalty_reports.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    # This report's own revenue on the line (summed into revenue to date).
    revenue_reported: Mapped[Decimal | None] = mapped_column(Money())
    quantities_json: Mapped[str] = mapped_column(Text)
    revenue_to_date: Mapped[Decimal | None] = mapped_column(Money())
    amount_to_date: Mapped[Decimal] = mapped_column(Money())
    charged_before: Mapped[Decimal] = mapped_column(Money())
    charged_to_date: Mapped[Decimal] = mapped_column(Money())
    due: Mapped[Decimal] = mapped_column(Money())
    explanation_json: Mapped[str] = mapped_column(Text)

    report: Mapped[RoyaltyReport] = relationship(back_populates="lines")

    quantities = StoredJson[dict[str, int]]("quantities_json")
    explanation = StoredJson[list[str]]("explanation_json")


class RoyaltyReminder(Base):
    """A reminder sent for a period's report, once per stage (before due, due,
    each fortnight overdue): the unique key makes reminder runs idempotent."""

    __tablename__ = "royalty_reminders"
    __table_args__ = (UniqueConstraint("agreement_id", "period_start", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReportingPeriod(Base):
    """One reporting period of an agreement that reports (a calendar quarter clipped
    to its term, `periods.reporting_periods`), stored when the agreement starts to
    report so that the staff queue, its filters and counts are SQL (docs/list-pages.md).

    Written in the transaction of the step that makes the agreement a reporting one
    (`schedule.record_periods`: acceptance, or expiry of one never accepted) and
    clipped to the termination's day by termination (`schedule.clip_periods`). An
    agreement's number and organization never change once issued: they are kept here
    for the queue's order and filters."""

    __tablename__ = "reporting_periods"
    __table_args__ = (
        UniqueConstraint("agreement_id", "period_start"),
        # The queue's order, the longest late first: read in index order, a page
        # stops after its rows (royalties_0007; by `due_on` before round 51).
        Index("ix_reporting_periods_late_order", "late_from", "agreement_number", "id"),
        # The vendor's list of periods (round 55, royalties_0011), read a part at a
        # time in these orders and stopped at the page's end (`queries._vendor_keys`):
        # the periods still to file, the longest late first; the filed ones, newest
        # first (walked backwards). They replace royalties_0008's
        # `ix_reporting_periods_organization_end`, which no statement read any more
        # once the open business and the reminders read `filed` (EXPLAIN at size on
        # both databases, round 55).
        Index(
            "ix_reporting_periods_organization_late_order",
            "organization_id",
            "filed",
            "late_from",
            "agreement_number",
            "id",
        ),
        Index(
            "ix_reporting_periods_organization_due_order",
            "organization_id",
            "filed",
            "due_on",
            "agreement_number",
            "id",
        ),
        # The queue's filter by start, and its choices: each start and its latest end
        # looked up one start at a time (royalties_0009, round 52).
        Index("ix_reporting_periods_start_end", "period_start", "period_end"),
        # The vendor dashboard's periods still to file, or not yet ended, with the keys
        # of their agreement and start (royalties_0010, round 53): read from the index
        # alone, a handful among an organization's tens of thousands filed.
        Index(
            "ix_reporting_periods_organization_unfiled",
            "organization_id",
            "filed",
            "period_end",
            "agreement_id",
            "period_start",
        ),
        CheckConstraint("late_from >= due_on", name="late_from_not_before_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    agreement_number: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    period_index: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # period_end + REPORT_DUE_DAYS: the contract's due date, shown as it is.
    due_on: Mapped[date] = mapped_column(Date)
    # The last day its report is on time (`lateness.late_from`): `due_on`, or the
    # office day its agreement was accepted when that came later (a back report).
    # Written with the period (an agreement reports from its acceptance, which never
    # changes after), so lateness in SQL reads no agreement row: on SQLite an
    # agreement's `activated_at` lies behind its stored PDF (royalties_0006). The
    # states' boundary, and the staff queue's order (royalties_0007).
    late_from: Mapped[date] = mapped_column(Date)
    # Whether the period has its current report (round 53, royalties_0010): set in the
    # transaction of the audited step that files it (`services.filing`; an amendment
    # keeps it set, a report is never withdrawn) and by every step that stores periods
    # again (`schedule.mark_filed`), so the dashboard reads the periods still to file
    # from an index instead of asking the reports of every period ended.
    filed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
