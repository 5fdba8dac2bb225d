"""`StateMachine.apply`: one call steps the state, stamps the time, writes the audit
event with the actor, and runs the hooks declared for the action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing import links
from licensing.billing.models import Invoice
from licensing.errors import IllegalTransition
from licensing.statemachine import StateMachine


@dataclass
class Ticket:
    id: int
    state: str = "open"
    closed_at: datetime | None = None


def machine() -> StateMachine:
    return StateMachine(
        "support ticket",
        {("open", "close"): "closed", ("closed", "reopen"): "open"},
        ("open", "closed"),
        events={"close": "closed"},
        stamps={"close": "closed_at"},
    )


def test_apply_steps_stamps_audits_and_notifies(app: Any) -> None:
    tickets = machine()
    heard: list[tuple[str, str | None]] = []
    tickets.on("close")(lambda session, record, actor, note: heard.append((actor.name, note)))
    ticket = Ticket(id=7)
    moment = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    actor = Actor.by_link("pat@licensing-office.example")
    session = db.session()
    tickets.apply(
        session, ticket, "close", actor=actor, note="done", changes={"by": "pat"}, at=moment
    )
    assert ticket.state == "closed"
    assert ticket.closed_at == moment
    assert heard == [("pat@licensing-office.example", "done")]
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event is not None
    assert event.action == "support_ticket.closed"
    assert event.entity_type == "support_ticket"
    assert event.entity_id == "7"
    assert event.actor == "pat@licensing-office.example"
    assert '"state":"open"' in (event.before or "")
    assert '"by":"pat"' in (event.after or "")


def test_an_illegal_step_changes_nothing_and_writes_nothing(app: Any) -> None:
    tickets = machine()
    ticket = Ticket(id=8, state="closed")
    session = db.session()
    before = len(session.scalars(select(AuditEvent)).all())
    with pytest.raises(IllegalTransition, match="it can only take the step 'reopen'"):
        tickets.apply(session, ticket, "close", actor=Actor.SYSTEM)
    assert ticket.state == "closed"
    assert len(session.scalars(select(AuditEvent)).all()) == before


def test_hooks_are_declared_only_for_known_actions() -> None:
    with pytest.raises(ValueError, match="no actions"):
        machine().on("archive")


def test_a_step_and_a_use_cases_own_event_name_the_invoice_link_payer_alike(app: Any) -> None:
    payer = Actor.of(links.payer(Invoice(organization_id=7), "billing@northwind.example"))
    session = db.session()
    machine().apply(session, Ticket(id=9), "close", actor=payer)
    audit.record_event(session, "support_ticket.noted", 9, after={"seen": True}, actor=payer)
    stepped, noted = session.scalars(
        select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(2)
    ).all()[::-1]
    assert (stepped.action, noted.action) == ("support_ticket.closed", "support_ticket.noted")
    assert (stepped.actor, stepped.actor_user_id) == ("billing@northwind.example", None)
    assert (noted.actor, noted.actor_user_id) == (stepped.actor, stepped.actor_user_id)
