"""Royalty reports: licensees report usage each period; the royalty follows
(docs/royalty-reports.md).

`init_app(app)` registers the overdue-report check that holds an organization's
standing at `pending_payment`, the vendor dashboard's due reports, the staff
console's queue, the classifier of royalty invoice lines for finance, the
usage last reported, which renewals propose, what an agreement's page says is
charged to date (`agreement_to_date`), the royalty invoices an agreement's
charged to date counts (`charged`), and the storing of an agreement's reporting
periods when it starts to report (`schedule`);
blueprints are listed in `licensing.app`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import services as accounts
from licensing.agreements import queries as agreement_queries
from licensing.agreements import reported_usage
from licensing.agreements.models import Agreement
from licensing.config import current_config
from licensing.finance import classification as finance_classification
from licensing.finance import queries as finance_queries
from licensing.royalties import charged, queries, schedule, services, views
from licensing.royalties.classification import classify_royalty_lines
from licensing.royalties.models import RoyaltyReport
from licensing.royalties.services.reminders import unfiled_reports
from licensing.royalties.services.renewal_usage import last_reported_usage_of
from licensing.royalties.services.term_to_date import ChargedToDate, charged_to_date


def overdue_reports(session: Session, organization_id: int, today: date) -> list[str]:
    """Reports unfiled longer than the standing threshold after their due date: the
    edge between accounts' standing rule and this use case, so it reads the
    threshold (OVERDUE_STANDING_DAYS) from the running app's settings."""
    days = current_config().overdue_standing_days
    return services.overdue_reports(session, organization_id, today, days)


def _agreement_to_date(agreement: Agreement) -> ChargedToDate | None:
    """The page's *Charged to date*: what the invoices charged less what was credited,
    as the agreements lists and the API say, beside what the reported usage comes to
    (the page showed the latter alone, so a credit note made the two disagree)."""
    session = db.session()
    to_date = charged_to_date(session, agreement)
    if to_date is None:
        return None
    net = agreement_queries.get_agreement_charged(session, agreement.id).charged_to_date
    return replace(to_date, invoiced_net=net)


def _review_queue_health(session: Session, now: datetime) -> finance_queries.QueueHealth:
    """The flagged reports' queue health against ROYALTY_REVIEW_SLA_DAYS (round 53)."""
    target = current_config().royalty_review_sla_days
    return queries.review_queue_health(session, now, target_days=target)


def _reports_of(session: Session, agreement_id: int) -> list[tuple[str, int]]:
    """An agreement's royalty reports (every one filed, amended or superseded), as the
    audit trail names them."""
    return [
        ("royalty_report", report_id)
        for report_id in session.scalars(
            select(RoyaltyReport.id)
            .where(RoyaltyReport.agreement_id == agreement_id)
            .order_by(RoyaltyReport.id)
        )
    ]


def init_app(app: Flask) -> None:
    accounts.register_overdue_check("royalty_reports", overdue_reports)
    accounts.register_open_business("royalty_reports", unfiled_reports)
    finance_classification.register_classifier("royalty_report", classify_royalty_lines)
    finance_queries.register_queue("royalty_reports", queries.report_queue_health)
    finance_queries.register_queue("royalty_review", _review_queue_health)
    views.register_dashboard_items()
    schedule.register()
    reported_usage.register(last_reported_usage_of)
    agreement_queries.charged_under(charged.royalty_invoices)
    # Round 66: an agreement's page reads its reports' events in its history.
    agreement_queries.in_trail(_reports_of)
    # The agreement's page says what its usage-based lines are charged so far.
    app.jinja_env.globals["agreement_to_date"] = _agreement_to_date
