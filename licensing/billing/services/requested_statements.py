"""A statement of account emailed on request (round 53): a licensee on the phone asks
billing staff for its statement of some days (this year so far, a quarter for its
auditors), and the clerk emails it to the organization's billing contact from the
statement's console page, through the outbox as the monthly statements go.

Before, the console sent again only a month's statement the monthly run had already
emailed; any other statement a clerk could download, not send.

Bounded, read from the audit log (each sending is an `organization.statement_emailed`
event on the organization, the index on the audit log's entity finds them), so the
bounds hold on every host and worker alike:

- the same statement (days and currency) to the same address at most once in
  `SAME_AGAIN_AFTER` (a second press, a page posted twice);
- at most `PER_DAY` statements on request to one organization in 24 hours (a
  licensee's inbox is not a clerk's scratch pad; the PDF can still be downloaded).

The organization's row is locked while the bounds are read and the sending recorded,
so two presses at once send once (round 56; the audit log's head is locked at commit,
round 58).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing.services.monthly_statements import (
    RESEND_INTERVAL,
    Period,
    address_refused,
    month_end_words,
    queue_statement,
)
from licensing.billing.services.statements import Asked, statement_for
from licensing.billing.statements import Statement
from licensing.calendar import days_text, instant_text
from licensing.db import utcnow
from licensing.errors import InvalidInput, NotFound, TooManyRequests
from licensing.money import format_amount

EMAILED = "organization.statement_emailed"
# The same statement to the same address again only after this (as a monthly
# statement's *Send again*).
SAME_AGAIN_AFTER = RESEND_INTERVAL
# Statements emailed on request to one organization in `DAY`.
PER_DAY = 10
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Emailed:
    """A statement emailed on request: what it said and to whom."""

    statement: Statement
    organization: str
    to: str

    @property
    def days(self) -> str:
        """Its days in words, for the page's confirmation (round 57)."""
        return f"{days_text(self.statement.start, self.statement.end)} ({self.statement.currency})"


def email_statement(
    organization_id: int, asked: Asked, *, actor: Actor, now: datetime | None = None
) -> Emailed:
    """Billing staff: email the organization's statement of the days and currency
    `asked` (checked as the page checks them: `InvalidInput` by field) to its billing
    contact, the PDF attached, audited as `organization.statement_emailed`.
    `TooManyRequests` past the bounds (the module's docstring), nothing sent."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        # FOR NO KEY UPDATE: two presses take turns, a row naming it (a royalty
        # amendment's credit notes, `test_emailed_statement_lock_order.py`) is not
        # held up. The audit log's head is locked at commit, last (round 58).
        organization = session.get(
            Organization, organization_id, with_for_update={"key_share": True}
        )
        if organization is None:
            raise NotFound(f"There is no organization {organization_id}.")
        statement = statement_for(session, organization, asked, now=now)
        address = organization.billing_email
        _within_bounds(session, organization, statement, address, now)
        days = calendar.days_text(statement.start, statement.end)
        at_end = f"as of {calendar.day_text(statement.end)}"
        try:
            message, sha256 = queue_statement(
                session,
                organization,
                statement,
                subject=f"Statement of account of {organization.legal_name}, {days} "
                f"({statement.currency}): " + month_end_words(statement, at_end),
                filename=statement.file_name(f"{statement.start}-{statement.end}"),
                now=now,
                period=Period(days, "those days", at_end, requested=True),
            )
        except InvalidInput as refused:  # an address stored before the profile checked it
            raise address_refused(organization, refused, "Not sent", "send it") from None
        audit.record_event(
            session,
            EMAILED,
            organization.id,
            after={
                "from": statement.start,
                "to_day": statement.end,
                "currency": statement.currency,
                "opening": format_amount(statement.opening, statement.currency),
                "closing": format_amount(statement.closing, statement.currency),
                "movements": len(statement.lines),
                "to": address,
                "outbox_message_id": message.id,
                "sha256": sha256,
            },
            actor=actor,
        )
        return Emailed(statement, organization.legal_name, address)


def _within_bounds(
    session: Session, organization: Organization, statement: Statement, address: str, now: datetime
) -> None:
    """Refuses (`TooManyRequests`, nothing sent) the same statement to the same
    address again within `SAME_AGAIN_AFTER`, and a statement past `PER_DAY` in 24
    hours to the organization; says from when it may go."""
    sent = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.after)
        .where(
            AuditEvent.entity_type == "organization",
            AuditEvent.entity_id == str(organization.id),
            AuditEvent.action == EMAILED,
            AuditEvent.occurred_at > now - DAY,
        )
        .order_by(AuditEvent.seq)
    ).all()
    same = {
        "from": statement.start.isoformat(),
        "to_day": statement.end.isoformat(),
        "currency": statement.currency,
        # One inbox however its address is capitalized (security53: the billing
        # contact rewritten in capitals was sent the same statement again at once).
        "to": address.casefold(),
    }
    days = f"{statement.start} to {statement.end} ({statement.currency})"
    for occurred_at, after in sent:
        given = json.loads(after or "{}")
        given["to"] = str(given.get("to") or "").casefold()
        if occurred_at > now - SAME_AGAIN_AFTER and all(given.get(k) == v for k, v in same.items()):
            again = occurred_at + SAME_AGAIN_AFTER
            raise TooManyRequests(
                f"Not sent: the statement of {days} went to {address} at "
                f"{instant_text(occurred_at)}, less than "
                f"{SAME_AGAIN_AFTER.seconds // 60} minutes ago; it can go to that address "
                f"again from {instant_text(again)}. Nothing was sent now.",
                limit=1,
                retry_after=_seconds(again - now),
            )
    if len(sent) >= PER_DAY:
        again = sent[-PER_DAY][0] + DAY
        raise TooManyRequests(
            f"Not sent: {PER_DAY} statements were emailed to {organization.legal_name} on "
            "request in the last 24 hours, the most the office sends one licensee in a "
            f"day; the next can go from {instant_text(again)}. Nothing was sent now. "
            "The statement's PDF can be downloaded from this page meanwhile.",
            limit=PER_DAY,
            retry_after=_seconds(again - now),
        )


def _seconds(wait: timedelta) -> int:
    return max(int(wait.total_seconds()) + 1, 1)
