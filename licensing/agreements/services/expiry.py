"""The scheduled expiry run: lapse returned applications past their 5 business
days, close reconsideration windows past 14 days, expire agreements past their term."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.agreements.models import (
    Agreement,
    AgreementNumberSequence,
    Application,
)
from licensing.agreements.services._common import (
    _agreement_step,
    _now,
    _tell_licensee,
    _tell_vendor,
    _transition,
)
from licensing.audit import services as audit


@dataclass
class ExpiryReport:
    lapsed: list[str] = field(default_factory=list)
    windows_closed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.lapsed)} applications lapsed, {len(self.windows_closed)} reconsideration "
            f"windows closed, {len(self.expired)} agreements expired"
        )


def _write_lock_first(session: Session) -> None:
    """SQLite: take the database's write lock before reading what to change.

    There, FOR UPDATE does not exist and a reader that later writes after another
    run committed fails; a write that matches nothing takes the lock up front, so
    a second run waits for the first and then finds nothing left to do.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(AgreementNumberSequence)
            .where(false())
            .values(last=AgreementNumberSequence.last)
            .execution_options(synchronize_session=False)
        )


def _claim(session: Session, statement: Any) -> list[Any]:
    """Rows to process, locked; rows another host holds are skipped (PostgreSQL)."""
    return list(session.scalars(statement.with_for_update(skip_locked=True)))


def expire(*, now: datetime | None = None) -> ExpiryReport:
    """Lapse returned applications past their 5 business days, close reconsideration
    windows past 14 days, expire agreements past their term. Idempotent; safe on
    several hosts at once (each row is claimed under a lock and re-checked)."""
    moment = _now(now)
    today = calendar.office_date(moment)
    report = ExpiryReport()
    with db.transaction() as session:
        _write_lock_first(session)
        for application in _claim(
            session,
            select(Application).where(
                Application.state == "returned", Application.resubmit_by < moment
            ),
        ):
            _transition(session, application, "lapse", moment)
            report.lapsed.append(application.reference)
            _tell_vendor(
                session,
                application,
                "lapsed",
                f"The application was not resubmitted by "
                f"{calendar.deadline_text(application.resubmit_by)}, so "
                "it has lapsed. Start a new application when you are ready.",
            )
        for application in _claim(
            session,
            select(Application).where(
                Application.state == "rejected",
                Application.reconsider_by < moment,
                Application.reconsideration_requested_at.is_(None),
                Application.reconsideration_closed_at.is_(None),
            ),
        ):
            application.reconsideration_closed_at = moment
            audit.record(
                session,
                action="application.reconsideration_window_closed",
                entity_type="application",
                entity_id=application.id,
                before={"reconsideration_closed_at": None},
                after={"reconsideration_closed_at": moment},
            )
            report.windows_closed.append(application.reference)
        for agreement in _claim(
            session,
            select(Agreement).where(
                Agreement.state.in_(("issued", "active")), Agreement.term_end < today
            ),
        ):
            agreement.ended_at = moment
            _agreement_step(session, agreement, "expire")
            report.expired.append(agreement.number)
            _tell_licensee(
                session,
                agreement,
                "expired",
                f"The term ended on {agreement.term_end.isoformat()}. Renew it from the "
                "agreement's page to keep using CPT content.",
            )
    return report
