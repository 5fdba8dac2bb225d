"""Reconsideration of a rejection: the vendor asks once within 14 days; staff
grant it (back to review) or deny it (final)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.actors import Actor
from licensing.agreements.models import (
    Application,
)
from licensing.agreements.services._common import (
    _now,
    _owned,
    _reason,
    _ReasonedStep,
    _require_vendor,
    _tell_staff,
    _vendor_notice,
)
from licensing.agreements.states import APPLICATION
from licensing.errors import Conflict


def request_reconsideration(
    application_id: int, reason: str, actor: Actor, *, now: datetime | None = None
) -> Application:
    """The vendor asks staff to reconsider a rejection: once, within 14 days."""
    _require_vendor(actor)
    moment = _now(now)
    text = _reason(reason)
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        APPLICATION.step(application.state, "request_reconsideration")
        if application.reconsideration_requested_at is not None:
            raise Conflict(
                f"Reconsideration of {application.reference} was already requested and decided; "
                "it can be asked for once."
            )
        if application.reconsider_by is None:
            raise Conflict(f"The rejection of {application.reference} is final.")
        if application.reconsideration_closed_at is not None:
            # Closed by the expiry run: its clock decides, not the request's.
            raise Conflict(
                f"The 14 days to ask for reconsideration of {application.reference} ended "
                f"{calendar.when_text(application.reconsider_by)} and the window was closed; "
                "the rejection is final.",
                instants={"deadline": application.reconsider_by},
            )
        if moment > application.reconsider_by:
            raise Conflict(
                f"The 14 days to ask for reconsideration of {application.reference} ended "
                f"{calendar.when_text(application.reconsider_by)}; the rejection is final.",
                instants={"deadline": application.reconsider_by},
            )
        application.reconsideration_reason = text
        application.reconsideration_requested_at = moment
        # The clock restarts at the request; a wait given back before the rejection
        # belonged to the review it ended (`queries.review_clock_from`, round 38).
        application.review_clock_from = None
        APPLICATION.apply(
            session, application, "request_reconsideration", actor=actor, note=text, at=moment
        )
        return application


@APPLICATION.on("request_reconsideration")
def _tell_reconsideration_requested(
    session: Session, application: Application, actor: Actor, note: str | None
) -> None:
    _tell_staff(session, application, "reconsideration requested", f"The vendor asks: {note}")


def grant_reconsideration(
    application_id: int,
    actor: Actor,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> Application:
    """Staff reopen a rejected application: it goes back to review."""

    def reopen(application: Application, _text: str | None, _actor: Actor, _at: datetime) -> None:
        application.decision_reason = None
        application.decided_at = None
        application.decided_by = None
        application.decided_by_id = None

    step = _ReasonedStep(Application, "grant_reconsideration", reopen, reason_required=False)
    return step.take(application_id, actor, reason, now)


@_vendor_notice("grant_reconsideration", "reconsideration granted")
def _tell_granted(application: Application, note: str | None) -> str:
    return "The licensing office will review your application again." + (f" {note}" if note else "")


def deny_reconsideration(
    application_id: int, reason: str, actor: Actor, *, now: datetime | None = None
) -> Application:
    """Staff confirm the rejection; it is final. The rejection's reason stays; the
    denial's is kept beside it."""

    def confirm(application: Application, text: str | None, actor: Actor, at: datetime) -> None:
        application.reconsideration_denial_reason = text
        application.decided_at = at
        application.decided_by = actor.name
        application.decided_by_id = actor.user_id

    step = _ReasonedStep(Application, "deny_reconsideration", confirm)
    return step.take(application_id, actor, reason, now)


@_vendor_notice("deny_reconsideration", "reconsideration denied")
def _tell_denied(application: Application, note: str | None) -> str:
    return f"The rejection stands and is final: {note}"
