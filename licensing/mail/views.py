"""The staff console's outbox: every email, its state and attempts (admins).

Without `SMTP_URL` this is where queued mail can be read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from licensing import access, arguments, db
from licensing.access import Principal
from licensing.actors import current_actor
from licensing.config import current_config
from licensing.errors import Conflict
from licensing.mail import queries, services
from licensing.mail.models import OutboxMessage
from licensing.mail.smtp import Delivery
from licensing.mail.states import FAILED, OUTBOX, QUEUED
from licensing.web import health
from licensing.web.console import QueueSummary, queue_summary
from licensing.web.errors import said_to_the_reader
from licensing.web.paging import numbered, page_count, requested_page

bp = Blueprint("mail_console", __name__, url_prefix="/console")

PER_PAGE = 50
# The outbox's filters' labels: its form draws them from here, and a refusal names
# the field by them (`arguments`).
OUTBOX_FILTERS = {"to": "Recipient", "state": "State"}


@bp.route("/outbox")
@access.staff("admin")
def outbox() -> tuple[str, int]:
    state = request.args.get("state") if request.args.get("state") in OUTBOX.states else None
    recipient = (request.args.get("to") or "").strip()[:254] or None
    page = requested_page()
    session = db.session()
    # A filter given twice is refused beside its field, nothing listed (`arguments`).
    repeated = arguments.repeated(request.args, labels=OUTBOX_FILTERS)
    # A state no message has listed every message unsaid.
    refused = repeated or arguments.unknown_choice(
        request.args, "state", {value: value for value in OUTBOX.states}, OUTBOX_FILTERS["state"]
    )
    found, total = (
        ([], 0)
        if refused
        else queries.messages(
            session, state=state, recipient=recipient, page=page, per_page=PER_PAGE
        )
    )
    if (
        page > (last := page_count(total, PER_PAGE)) and not refused
    ):  # a stale link: the last page, as lists do
        page = last
        found, total = queries.messages(
            session, state=state, recipient=recipient, page=page, per_page=PER_PAGE
        )
    return render_template(
        "console/outbox.html",
        messages=found,
        **numbered(page, total, PER_PAGE),
        counts=queries.counts(session),
        states=OUTBOX.states,
        state=state,
        recipient=recipient or "",
        smtp_configured=bool(current_config().smtp_url),
        max_attempts=services.MAX_ATTEMPTS,
        filter_errors=refused,
        filter_labels=OUTBOX_FILTERS,
    ), (400 if repeated else 422 if refused else 200)


@bp.route("/outbox/<int:message_id>")
@access.staff("admin")
def outbox_message(message_id: int) -> str:
    return render_template(
        "console/outbox_message.html",
        message=queries.get_message(db.session(), message_id),
        max_attempts=services.MAX_ATTEMPTS,
    )


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@access.staff("admin")
def retry(message_id: int) -> Response:
    try:
        services.retry_message(message_id, actor=current_actor())
    except Conflict as error:
        flash(said_to_the_reader(error), "error")
    else:
        flash("The message is queued again.", "success")
    return redirect(url_for("mail_console.outbox_message", message_id=message_id))


@bp.route("/outbox/send", methods=["POST"])
@access.staff("admin")
def send_now() -> Response:
    """Deliver what is due now, rather than waiting for `licensing outbox send`."""
    report = services.deliver_due(Delivery.from_config(current_config()))
    flash(str(report), "error" if report.failed or report.skipped else "success")
    return redirect(url_for("mail_console.outbox"))


@queue_summary
def _outbox_queue(session: Session, principal: Principal, now: datetime) -> Iterable[QueueSummary]:
    queued, failed, oldest = session.execute(
        select(
            func.count().filter(OutboxMessage.state == QUEUED),
            func.count().filter(OutboxMessage.state == FAILED),
            func.min(OutboxMessage.created_at).filter(OutboxMessage.state == QUEUED),
        )
    ).one()
    yield QueueSummary(
        "Email waiting to be sent",
        count=queued,
        endpoint="mail_console.outbox",
        attention=failed,
        attention_label="failed",
        oldest=oldest,
    )


# Mail due this long and still queued has no sender: the worker (or cron's
# `licensing outbox send`) sends due mail every minute.
OUTBOX_STUCK_AFTER = queries.BEHIND_AFTER


@health.readiness_note
def outbox_readiness() -> dict[str, str]:
    """`outbox: ok`, or `stuck` with what to look at. The instance still takes
    traffic (200): requests are served and mail waits; the operator's alert
    reads this field (docs/operations.md, "What to alert on")."""
    now = db.utcnow()
    session = db.session()
    waiting, oldest = queries.overdue(session, now, OUTBOX_STUCK_AFTER)
    if not waiting or oldest is None:
        # Round 61 (outage61): mail the sender tries and the SMTP server does not take
        # is never long overdue (each failure moves it ahead by its backoff), so with
        # the server down for hours this said `ok`.
        count, minutes = queries.behind(session, now)
        if count:
            return {
                "status": "degraded",
                "outbox": "behind",
                "outbox_detail": queries.behind_words(count, minutes),
            }
        return {"outbox": "ok"}
    minutes = int((now - oldest).total_seconds() // 60)
    detail = (
        f"{waiting} email(s) due and unsent, the oldest for {minutes} minutes: is "
        "`licensing worker` (or cron's `licensing outbox send`) running?"
    )
    current_app.logger.warning("readiness check: outbox stuck: %s", detail)
    return {"outbox": "stuck", "outbox_detail": detail}
