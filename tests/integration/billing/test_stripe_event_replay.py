"""Round 58 (replay58): an event stored `failed` after Stripe stopped sending it (three
days) stayed counted on the console's home for good: billing staff could neither apply
it again nor say they had looked at it. From the event's own page they now apply it
again, fetched from Stripe (`GET /v1/events/{id}`) and applied as a delivery is, or mark
it looked at with a note; both confirmed first, both the state machine's steps,
audited. Against localstripe, which keeps the events it sends, never a mock."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import Invoice, Payment, StripeEvent
from licensing.billing.services import LOOKED_AT_NOTE_REQUIRED
from tests.support.console_lists import words
from tests.support.servers import LocalStripe

from .stripe_support import card_attempt, deliver_event, stored_event, stripe_config

LIST = "/console/stripe-events"
FAILED_ON_HOME = "Stripe events that failed (not applied)"


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _steps(stored: StripeEvent) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "stripe_event")
            .where(AuditEvent.entity_id == str(stored.id))
            .order_by(AuditEvent.seq)
        )
    )


def _failed_on_home(staff: FlaskClient) -> int:
    """The home's count of failed Stripe events (0 when its row says none)."""
    home = words(staff.get("/console/").get_data(as_text=True))
    found = re.search(re.escape(FAILED_ON_HOME) + r"\D*(\d+)", home)
    assert found is not None, home[:3000]
    return int(found.group(1))


def test_a_failed_event_is_fetched_from_stripe_and_applied_again_once_confirmed(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    paid = card_attempt(invoice_for, vendor, localstripe, "200.00")
    invoice, payment = paid.invoice, paid.payment
    real = paid.succeeded  # the event as localstripe keeps it
    # Its delivery arrived broken (no status): a 400, stored failed, nothing applied;
    # say Stripe's three days of retries went by.
    broken = copy.deepcopy(real)
    del broken["data"]["object"]["status"]
    assert deliver_event(client, broken).status_code == 400
    stored = stored_event(real["id"])
    assert (stored.kind, stored.deliveries) == ("failed", 1)
    staff = signed_in(app.test_client(), billing_staff)
    assert _failed_on_home(staff) == 1
    page = f"{LIST}/{stored.id}"
    shown = words(staff.get(page).get_data(as_text=True))
    assert "Failed: not applied, Stripe sends it again" in shown
    assert "Apply again" in shown
    assert "Mark looked at" in shown
    # The list links the event's page.
    assert f'href="{page}"' in staff.get(f"{LIST}?kind=failed").get_data(as_text=True)

    # First the confirmation: nothing fetched, nothing changed.
    asked = staff.post(f"{page}/apply-again")
    assert asked.status_code == 200
    told = words(asked.get_data(as_text=True))
    assert f"Apply Stripe's event {real['id']} again?" in told
    assert "fetched from Stripe as it keeps it and applied as Stripe's delivery" in told
    assert stored_event(real["id"]).kind == "failed"
    assert _steps(stored) == []

    done = staff.post(f"{page}/apply-again", data={"confirmed": "yes"}, follow_redirects=True)
    assert done.status_code == 200
    told = words(done.get_data(as_text=True))
    assert f"Applied again: Applied: card payment of {invoice.number}" in told
    stored = stored_event(real["id"])
    assert (stored.kind, stored.deliveries) == ("applied", 2)
    assert stored.outcome.startswith("applied: ")
    paid = db.session().get(Payment, payment.id)
    assert paid is not None
    assert paid.state == "succeeded"
    assert db.session().get(Invoice, invoice.id).state == "paid"  # type: ignore[union-attr]
    (step,) = _steps(stored)
    assert step.action == "stripe_event.applied_again"
    assert (step.before_data, step.after_data["kind"]) == ({"kind": "failed"}, "applied")
    assert step.after_data["deliveries"] == 2
    assert step.actor == billing_staff.email
    assert step.note == "fetched from Stripe and applied again from the console"
    assert _failed_on_home(staff) == 0
    assert "Apply again" not in words(staff.get(page).get_data(as_text=True))

    # Once applied, a second press is refused saying so, before Stripe is asked.
    again = staff.post(f"{page}/apply-again", data={"confirmed": "yes"})
    assert again.status_code == 409
    assert (
        "A Stripe event that is applied cannot be applied again: no further step is possible."
        in words(again.get_data(as_text=True))
    )
    assert stored_event(real["id"]).deliveries == 2
    # Stripe's own delivery after it: a replay, counted, applied once.
    assert deliver_event(client, real).get_json()["duplicate"] is True
    assert stored_event(real["id"]).deliveries == 3
    assert len(_steps(stored)) == 1


def test_an_event_stripe_cannot_give_stays_failed_and_is_marked_looked_at_with_a_note(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    billing_staff: User,
) -> None:
    """An event Stripe does not have (gone after 30 days; here never Stripe's) cannot be
    applied again: the page says why (422, as Stripe's refusals on pages), nothing
    changed. Marked looked at with a note, it leaves the home's count and the list
    shows the note."""
    event = {
        "id": "evt_gone_from_stripe",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_gone", "amount": 100, "currency": "usd"}},
    }
    assert deliver_event(client, event).status_code == 400
    stored = stored_event(event["id"])
    staff = signed_in(app.test_client(), billing_staff)
    page = f"{LIST}/{stored.id}"

    refused = staff.post(f"{page}/apply-again", data={"confirmed": "yes"})
    assert refused.status_code == 422  # the pages answer Stripe's refusal 422
    told = words(refused.get_data(as_text=True))
    assert "Not applied again" in told
    assert "Stripe did not give event evt_gone_from_stripe: Stripe refused the request" in told
    assert "Nothing was changed: mark it looked at, saying what was done instead." in told
    assert (stored_event(event["id"]).kind, stored_event(event["id"]).deliveries) == ("failed", 1)
    assert _steps(stored) == []

    # A note is required, told beside its field.
    blank = staff.post(f"{page}/looked-at", data={"looked_at-note": "  ", "confirmed": "yes"})
    assert blank.status_code == 422
    assert LOOKED_AT_NOTE_REQUIRED in words(blank.get_data(as_text=True))
    assert stored_event(event["id"]).kind == "failed"

    note = "Not ours: a test intent from the sandbox; checked in Stripe's dashboard."
    asked = staff.post(f"{page}/looked-at", data={"looked_at-note": note})
    assert asked.status_code == 200
    told = words(asked.get_data(as_text=True))
    assert "Mark Stripe's event evt_gone_from_stripe looked at?" in told
    assert f"Note kept with it and recorded in the audit log: {note}" in told
    assert stored_event(event["id"]).kind == "failed"

    done = staff.post(
        f"{page}/looked-at",
        data={"looked_at-note": note, "confirmed": "yes"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert "Marked looked at: evt_gone_from_stripe is no longer counted as failed." in words(
        done.get_data(as_text=True)
    )
    stored = stored_event(event["id"])
    assert (stored.kind, stored.looked_at_note, stored.looked_at_by) == (
        "looked_at",
        note,
        billing_staff.email,
    )
    assert stored.looked_at_at is not None
    (step,) = _steps(stored)
    assert step.action == "stripe_event.marked_looked_at"
    assert (step.before_data, step.after_data) == ({"kind": "failed"}, {"kind": "looked_at"})
    assert step.note == note
    assert _failed_on_home(staff) == 0
    assert words(staff.get(f"{LIST}?kind=failed").get_data(as_text=True)).count("evt_") == 0
    listed = words(staff.get(f"{LIST}?kind=looked_at").get_data(as_text=True))
    assert "Failed, looked at by billing staff" in listed
    # Round 59: who marked it named as pages name people, "Name (address)".
    assert f"Looked at: {note} ({billing_staff.full_name} ({billing_staff.email})," in listed

    # Looked at once: a second mark is refused saying what is left.
    again = staff.post(f"{page}/looked-at", data={"looked_at-note": "again", "confirmed": "yes"})
    assert again.status_code == 409
    assert (
        "A Stripe event that is marked looked at cannot be marked looked at: it can only be "
        "applied again." in words(again.get_data(as_text=True))
    )
    # Delivered again, as broken as before: refused as before, and still looked at (a
    # delivery fails an event back only while it is failed).
    assert deliver_event(client, event).status_code == 400
    stored = stored_event(event["id"])
    assert (stored.kind, stored.looked_at_note) == ("looked_at", note)


def test_an_event_looked_at_can_still_be_applied_again_and_its_note_is_kept(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    real = card_attempt(invoice_for, vendor, localstripe, "120.00").succeeded
    broken = copy.deepcopy(real)
    del broken["data"]["object"]["amount"]
    assert deliver_event(client, broken).status_code == 400
    stored = stored_event(real["id"])
    staff = signed_in(app.test_client(), billing_staff)
    page = f"{LIST}/{stored.id}"
    note = "Asked Stripe to resend it"
    marked = staff.post(f"{page}/looked-at", data={"looked_at-note": note, "confirmed": "yes"})
    assert marked.status_code == 302
    done = staff.post(f"{page}/apply-again", data={"confirmed": "yes"})
    assert done.status_code == 302
    stored = stored_event(real["id"])
    assert (stored.kind, stored.looked_at_note) == ("applied", note)
    assert [step.action for step in _steps(stored)] == [
        "stripe_event.marked_looked_at",
        "stripe_event.applied_again",
    ]
    assert _steps(stored)[1].before_data == {"kind": "looked_at"}
