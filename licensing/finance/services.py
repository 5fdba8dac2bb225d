"""Finance use cases: the monthly revenue report, built and queued to an inbox.

`monthly_report()` gathers the month's figures (read only); `send_monthly_report()`
renders the PDF and queues it through the email outbox in its own transaction,
with an audit record of who it went to and the PDF's SHA-256.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.calendar import month_text, office_date
from licensing.db import utcnow
from licensing.finance import documents, queries
from licensing.finance.documents import AmountRow, LicenseeRow, MonthlyReport, TrendRow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage

TREND_MONTHS = 12
# Months the service reasons about: far enough either way for any ledger, and
# clear of the calendar's ends (year 1 and 9999), where month arithmetic fails.
FIRST_YEAR, LAST_YEAR = 1900, 9998
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def parse_month(text: str) -> date:
    """`2027-03` -> 2027-03-01; ValueError for anything else (or out of range)."""
    # ASCII digits only: str.isdigit() is true for "²" (int() refuses it) and for
    # Arabic-Indic digits (int() reads "٢٠٢٧-٠٣" as March 2027, a month nobody typed).
    if not _MONTH.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a month as YYYY-MM")
    year, _, month = text.strip().partition("-")
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise ValueError(f"{text!r} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return date(int(year), int(month), 1)


@dataclass(frozen=True)
class ReportOf:
    """Which monthly report: the figures of `month` (its first day) in `currency`,
    under the name of the office that issues invoices (the first line of
    `billing_issuer`, the setting BILLING_ISSUER), generated `now`."""

    month: date
    billing_issuer: str
    currency: str = "USD"
    now: datetime | None = None


def monthly_report(session: Session, asked: ReportOf) -> MonthlyReport:
    """The month's figures, with the twelve months to it."""
    month, currency = asked.month, asked.currency
    moment = asked.now or utcnow()
    this_month = queries.Filters(month, month, currency=currency, top=10)
    twelve = queries.Filters(queries.add_months(month, 1 - TREND_MONTHS), month, currency=currency)
    # The twelve months' payments, read once: the month's are its top licensees'.
    collected = queries.collections(session, currency, twelve.start, twelve.end)
    trend = queries.cash_flow(session, twelve, collected=collected)
    figures = trend[-1]
    revenue = queries.revenue(session, this_month)
    # The invoices owing at the month's end, read once for its aging and top licensees
    # (round 53: each figure read the receivables again).
    owed = queries.owed_on(session, currency, this_month.end)
    issuer = asked.billing_issuer.split("|")[0].strip()
    voided_count, voided = queries.voided(session, currency, this_month.start, this_month.end)
    return MonthlyReport(
        month=f"{month:%Y-%m}",
        currency=currency,
        issuer=issuer,
        generated_on=office_date(moment),
        invoiced=figures.invoiced,
        collected=figures.collected,
        credited=figures.credited,
        refunded=figures.refunded,
        reversed=figures.reversed,
        outstanding_at_start=trend[-2].outstanding,  # the previous month's end
        outstanding=figures.outstanding,
        refunds_owed_at_start=trend[-2].refunds_owed,
        refunds_owed=figures.refunds_owed,
        trend=tuple(
            TrendRow(
                row.period.key,
                row.invoiced,
                row.collected,
                row.outstanding,
                credited=row.credited,
                refunded=row.refunded,
                reversed=row.reversed,
                refunds_owed=row.refunds_owed,
            )
            for row in trend
        ),
        revenue_by_use=tuple(AmountRow(row.value, row.total) for row in revenue.by_axis["use"]),
        revenue_other=revenue.other,
        royalty=revenue.royalty,
        royalty_credited=revenue.royalty_credited,
        aging=tuple(
            AmountRow(row.label, row.amount, row.invoices)
            for row in queries.aging(session, currency, this_month.end, owed=owed)
        ),
        top_licensees=tuple(
            LicenseeRow(row.name, row.invoiced, row.collected, row.outstanding)
            for row in queries.top_licensees(
                session,
                this_month,
                owed=owed,
                collected=[each for each in collected if each.received_on >= this_month.start],
            )
        ),
        voided=voided,
        voided_count=voided_count,
    )


def report_filename(report: MonthlyReport) -> str:
    return f"revenue-report-{report.month}-{report.currency}.pdf"


def send_monthly_report(asked: ReportOf, to: str, *, actor: Actor) -> OutboxMessage:
    """Queue the month's report PDF to `to` (the manager's inbox) via the outbox."""
    with db.transaction() as session:
        report = monthly_report(session, asked)
        content = documents.render_monthly_report_pdf(report)
        # The month in words ("March 2027"), as statements name theirs (round 55: the
        # subject said "report 2027-03", and its figures went without their currency).
        month = month_text(date.fromisoformat(f"{report.month}-01"))
        message = mail.enqueue(
            session,
            to=to,
            subject=f"Monthly revenue report for {month} ({report.currency})",
            template="finance_monthly_report",
            context={"report": report, "month": month},
            attachments=[mail.Attachment(report_filename(report), "application/pdf", content)],
        )
        audit.record(
            session,
            action="finance.report_queued",
            entity_type="outbox_message",
            entity_id=message.id,
            before=None,
            after={
                "month": report.month,
                "currency": report.currency,
                "to": message.to,
                "sha256": hashlib.sha256(content).hexdigest(),
            },
            actor=actor.name,
            actor_user_id=actor.user_id,
        )
        return message
