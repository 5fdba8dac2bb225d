"""Stored reporting periods and terminations, for the royalty tests that compare
what an agreement's steps store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.royalties.models import ReportingPeriod

Stored = list[tuple[int, date, date, date]]


def stored(agreement: Agreement) -> Stored:
    """The agreement's stored periods: (index, start, end, due date), oldest first."""
    found = db.session().execute(
        select(
            ReportingPeriod.period_index,
            ReportingPeriod.period_start,
            ReportingPeriod.period_end,
            ReportingPeriod.due_on,
        )
        .where(ReportingPeriod.agreement_id == agreement.id)
        .order_by(ReportingPeriod.period_start)
    )
    return [(r.period_index, r.period_start, r.period_end, r.due_on) for r in found]


def terminate(licensing_staff: Any, agreement: Agreement, at: datetime) -> None:
    """`licensing_staff` terminates the agreement at `at`, the vendor having stopped
    selling its product."""
    staff = Actor.of(accounts.principal_for(licensing_staff))
    agreements.terminate(agreement.id, "The vendor stopped selling it", staff, now=at)
