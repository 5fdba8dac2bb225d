"""The scheduled expiry run: lapse returned applications past their 5 business
days, close reconsideration windows past 14 days, expire agreements past their term."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.actors import Actor
from licensing.agreements.models import (
    Agreement,
    Application,
)
from licensing.agreements.services._common import (
    _deadline,
    _now,
    _tell_vendor,
    _vendor_notice,
)
from licensing.agreements.states import (
    AGREEMENT,
    AGREEMENT_LIVE,
    APPLICATION,
    REJECTED,
    RETURNED,
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


def expire(*, now: datetime | None = None) -> ExpiryReport:
    """Lapse returned applications past their 5 business days, close reconsideration
        windows past 14 days, expire agreements past their term. Idempotent; safe on
        several hosts at once (each row is claimed with `db.claim`, and the claim
    re-checks that it is still due)."""
    moment = _now(now)
    today = calendar.office_date(moment)
    report = ExpiryReport()
    with db.transaction() as session:
        for application in session.scalars(
            db.claim(
                select(Application).where(
                    Application.state == RETURNED, Application.resubmit_by < moment
                )
            ),
        ):
            APPLICATION.apply(session, application, "lapse", actor=Actor.SYSTEM, at=moment)
            report.lapsed.append(application.reference)
        for application in session.scalars(
            db.claim(
                select(Application).where(
                    Application.state == REJECTED,
                    Application.reconsider_by < moment,
                    Application.reconsideration_requested_at.is_(None),
                    Application.reconsideration_closed_at.is_(None),
                )
            ),
        ):
            application.reconsideration_closed_at = moment
            audit.record_event(
                session,
                "application.reconsideration_window_closed",
                application.id,
                actor=Actor.SYSTEM,
                before={"reconsideration_closed_at": None},
                after={"reconsideration_closed_at": moment},
            )
            report.windows_closed.append(application.reference)
        for agreement in session.scalars(
            db.claim(
                select(Agreement).where(
                    Agreement.state.in_(AGREEMENT_LIVE), Agreement.term_end < today
                )
            ),
        ):
            AGREEMENT.apply(session, agreement, "expire", actor=Actor.SYSTEM, at=moment)
            report.expired.append(agreement.number)
    return report


@_vendor_notice("lapse", "lapsed")
def _tell_lapsed(application: Application, note: str | None) -> str:
    return (
        f"The application was not resubmitted by {_deadline(application.resubmit_by)}, so "
        "it has lapsed. Start a new application when you are ready."
    )


@AGREEMENT.on("expire")
def _tell_expired(session: Session, agreement: Agreement, actor: Actor, note: str | None) -> None:
    _tell_vendor(
        session,
        agreement,
        "expired",
        f"The term ended on {agreement.term_end.isoformat()}. Renew it from the "
        "agreement's page to keep using CPT content.",
    )
