"""Round 58 (stripeevents58) in Chromium: a billing clerk sees on the console's home
that a Stripe event failed, opens the list of Stripe's events from there, reads what
was done with it, narrows the list to the events applied and opens the card payment
one touched. Stripe's deliveries are signed and posted to the live app's webhook
(the payment made through localstripe)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from licensing import db
from licensing.billing import services
from tests.browser.conftest import one_line, signed_in_tab
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.billing.refund_support import paid_by_card
from tests.integration.billing.stripe_support import (
    deliver_event,
    pay_by_card,
    signature_of,
    stripe_config,
    succeeded_event,
)
from tests.support import factories, settings
from tests.support.axe import assert_accessible
from tests.support.navigation import follow
from tests.support.servers import LiveServer, LocalStripe


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_clerk_finds_a_failed_stripe_event_from_the_home_and_the_payment_an_event_applied_to(
    browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("250.00",)))
        assert invoice is not None
        webhook = live_server.app.test_client()  # Stripe's deliveries, signed
        payment = paid_by_card(webhook, vendor, localstripe, invoice)
        payment_id, number = payment.id, invoice.number
        broken = {
            "id": "evt_broken_intent",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_broken", "amount": 100, "currency": "usd"}},
        }
        assert deliver_event(webhook, broken).status_code == 400
        clerk = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        clerk_email = clerk.email
    tab = signed_in_tab(browser, live_server, clerk_email)
    tab.goto("/console/")
    tab.get_by_role("link", name="Stripe events that failed (not applied)").click()
    tab.wait_for_url("**/console/stripe-events?kind=failed")
    tab.locator("#stripe-events-list").wait_for()
    rows = [one_line(row) for row in tab.locator("#stripe-events-list tbody tr").all_inner_texts()]
    assert len(rows) == 1
    assert "evt_broken_intent" in rows[0]
    assert "Failed: not applied, Stripe sends it again" in rows[0]
    assert "Failed: the event is not what its type says" in rows[0]
    assert "None of this service's records" in rows[0]
    assert_accessible(tab)
    # Narrowed to the events applied instead.
    tab.get_by_label("What was done").select_option(label="Applied")
    tab.get_by_role("button", name="Filter").click()
    tab.wait_for_url("**/console/stripe-events?*kind=applied*")
    tab.wait_for_function(
        "() => !document.querySelector('#stripe-events-list').innerText.includes('evt_broken')"
    )
    rows = [one_line(row) for row in tab.locator("#stripe-events-list tbody tr").all_inner_texts()]
    assert len(rows) == 1
    assert f"Applied: card payment of {number} (Visa ending 4242)" in rows[0]
    # The payment's link (round 58, replay58: the event's id links its own page first).
    tab.locator("#stripe-events-list a[href*='/console/payments/']").first.click()
    tab.wait_for_url(f"**/console/payments/{payment_id}")
    tab.locator("#stripe-events").wait_for()
    assert_accessible(tab)


def test_a_clerk_applies_one_failed_event_again_and_marks_another_looked_at_with_a_note(
    browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 58 (replay58): two events Stripe stopped sending, failed for good until now.
    The clerk opens the first from the list, applies it again (fetched from localstripe,
    which keeps the events it sent) after its confirmation, and marks the second looked
    at with a note, after its own; the home counts none, the list shows the note."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("180.00",)))
        assert invoice is not None
        webhook = live_server.app.test_client()  # Stripe's deliveries, signed
        payment = pay_by_card(invoice, vendor, localstripe)
        real = succeeded_event(localstripe, payment)
        broken = copy.deepcopy(real)
        del broken["data"]["object"]["status"]
        assert deliver_event(webhook, broken).status_code == 400
        stranger = {
            "id": "evt_not_stripes_any_more",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_gone", "amount": 100, "currency": "usd"}},
        }
        assert deliver_event(webhook, stranger).status_code == 400
        clerk = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        clerk_email, number = clerk.email, invoice.number
    tab = signed_in_tab(browser, live_server, clerk_email)
    tab.goto("/console/stripe-events?kind=failed")
    tab.locator("#stripe-events-list").wait_for()
    tab.get_by_role("link", name=real["id"]).click()
    tab.wait_for_url("**/console/stripe-events/*")
    tab.get_by_role("heading", name="Apply it again").wait_for()
    assert_accessible(tab)
    tab.get_by_role("button", name="Apply again").click()
    tab.get_by_role("heading", name=f"Apply Stripe's event {real['id']} again?").wait_for()
    # Loaded: a `count()` of nothing on a page half drawn would prove nothing.
    follow(tab, "button", "Apply it again")
    tab.get_by_text("Applied again: Applied: card payment of").wait_for()
    facts = one_line(tab.locator("#stripe-event-facts").inner_text())
    assert f"Applied Applied: card payment of {number}" in facts
    assert tab.get_by_role("button", name="Apply again").count() == 0

    tab.goto("/console/stripe-events?kind=failed")
    tab.locator("#stripe-events-list").wait_for()
    tab.get_by_role("link", name=stranger["id"]).click()
    tab.get_by_role("heading", name="Mark it looked at").wait_for()
    note = "Not ours: a sandbox intent, checked in Stripe's dashboard"
    tab.get_by_label("What was done instead").fill(note)
    tab.get_by_role("button", name="Mark looked at").click()
    tab.get_by_role("heading", name=f"Mark Stripe's event {stranger['id']} looked at?").wait_for()
    assert_accessible(tab)
    tab.get_by_role("button", name="Mark it looked at").click()
    tab.locator("#stripe-event-looked-at").wait_for()
    assert note in tab.locator("#stripe-event-looked-at").inner_text()
    tab.goto("/console/stripe-events?kind=looked_at")
    tab.locator("#stripe-events-list").wait_for()
    row = one_line(tab.locator("#stripe-events-list tbody tr").first.inner_text())
    assert f"Looked at: {note}" in row
    tab.goto("/console/")
    tab.get_by_role("heading", name="Work waiting on the office").wait_for()
    failed = tab.get_by_role("link", name="Stripe events that failed (not applied)")
    row = one_line(tab.locator("tr", has=failed).inner_text())
    assert row.endswith("0 none —"), row


def test_a_clerk_finds_a_payments_events_by_the_charge_id_a_licensee_gave(
    browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 59 (stripeevents59): a licensee's bank statement names the charge; the clerk
    pastes it, with a stray space, into *Stripe id* and finds that payment's events
    alone; a delivery Stripe signed that was no event is counted below the list."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        webhook = live_server.app.test_client()  # Stripe's deliveries, signed
        paid = []
        for amount in ("140.00", "160.00"):
            invoice = send_activation(activated(vendor.organization_id or 0, (amount,)))
            assert invoice is not None
            paid.append(paid_by_card(webhook, vendor, localstripe, invoice))
        db.session().refresh(paid[0])
        charge, number = paid[0].stripe_charge_id, paid[0].invoice.number
        assert charge
        body = b"not an event at all"
        unread = webhook.post("/webhooks/stripe", data=body, headers=signature_of(body))
        assert unread.status_code == 400
        clerk = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        clerk_email = clerk.email
    tab = signed_in_tab(browser, live_server, clerk_email)
    tab.goto("/console/stripe-events")
    tab.locator("#stripe-events-list").wait_for()
    assert tab.locator("#stripe-events-list tbody tr").count() == 2
    assert "1 delivery signed by Stripe could not be read" in one_line(
        tab.locator("#unreadable-count").inner_text()
    )
    assert "not an event at all" in tab.locator("#unreadable-deliveries").inner_text()
    tab.get_by_label("Stripe id").fill(f" {charge} ")
    tab.get_by_role("button", name="Filter").click()
    tab.wait_for_url(f"**/console/stripe-events?q=*{charge}*")
    tab.get_by_role("table", name=f"Stripe's events about {charge}, newest first").wait_for()
    rows = [one_line(row) for row in tab.locator("#stripe-events-list tbody tr").all_inner_texts()]
    assert len(rows) == 1
    assert f"Applied: card payment of {number}" in rows[0]
    assert tab.get_by_label("Stripe id").input_value() == charge
    assert_accessible(tab)
    # Part of an id finds nothing, and the page says the id is matched whole.
    tab.get_by_label("Stripe id").fill(charge[:-3])
    follow(tab, "button", "Filter")
    tab.get_by_text("The id is matched whole").wait_for()
    assert tab.locator("#stripe-events-list").count() == 0


def test_a_clerk_pages_the_deliveries_not_read_and_marks_a_body_looked_at_with_a_note(
    browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 60 (stripe60): from the count below *Stripe's events* to the list of the
    deliveries not read, narrowed to those not looked at; one body (delivered twice)
    marked looked at with a note, after the confirmation; both its deliveries then say
    so, and the count on *Stripe's events* is the other body's alone."""
    with live_server.app.app_context():
        webhook = live_server.app.test_client()  # Stripe's deliveries, signed
        for body in (b"a proxy cut this body", b"not an event either", b"a proxy cut this body"):
            unread = webhook.post("/webhooks/stripe", data=body, headers=signature_of(body))
            assert unread.status_code == 400
        clerk = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        clerk_email = clerk.email
    tab = signed_in_tab(browser, live_server, clerk_email)
    tab.goto("/console/stripe-events")
    tab.locator("#unreadable-not-looked-at").wait_for()
    assert "3 deliveries are not looked at" in one_line(
        tab.locator("#unreadable-not-looked-at").inner_text()
    )
    tab.get_by_role("link", name="List those not looked at").click()
    tab.wait_for_url("**/console/stripe-events/unreadable?state=not_looked_at")
    tab.locator("#unreadable-list").wait_for()
    assert tab.locator("#unreadable-list tbody tr").count() == 3
    assert_accessible(tab)
    newest_of_the_body = tab.locator("#unreadable-list tbody tr").first
    newest_of_the_body.get_by_text("Mark it looked at").click()
    note = "Our staging proxy cut the body; mended, and Stripe's resend was read."
    newest_of_the_body.get_by_label("What was done about it").fill(note)
    newest_of_the_body.get_by_role("button", name="Mark looked at").click()
    tab.get_by_role("button", name="Mark it looked at").wait_for()
    assert_accessible(tab)
    # The list loaded whole before its rows are read (`all_inner_texts` does not wait).
    follow(tab, "button", "Mark it looked at")
    tab.get_by_text("Marked looked at: every delivery of the body").wait_for()
    # Back to the list as it was narrowed (round 60, pagesfix60: page 1, unfiltered):
    # the other body alone is not looked at.
    assert tab.url.endswith("/console/stripe-events/unreadable?state=not_looked_at")
    narrowed = tab.locator("#unreadable-list tbody tr").all_inner_texts()
    assert len(narrowed) == 1
    assert "not an event either" in narrowed[0]
    tab.goto("/console/stripe-events/unreadable")
    tab.locator("#unreadable-list").wait_for()
    rows = [one_line(row) for row in tab.locator("#unreadable-list tbody tr").all_inner_texts()]
    assert [f"Looked at: {note}" in row for row in rows] == [True, False, True]
    assert "1 delivery is not looked at" in one_line(
        tab.locator("#not-looked-at-count").inner_text()
    )
    tab.goto("/console/stripe-events")
    tab.locator("#unreadable-not-looked-at").wait_for()
    assert "1 delivery is not looked at" in one_line(
        tab.locator("#unreadable-not-looked-at").inner_text()
    )


def test_a_clerk_marks_a_payment_intent_stripe_does_not_know_looked_at_with_a_note(
    browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 61 (payments61): a card payment's PaymentIntent localstripe never made,
    reported once by `payments fill-charge-ids`, is listed below *Stripe's events*; a
    billing clerk marks it looked at with a note, after the confirmation, and the list
    says none is left. The section and the confirmation axe clean."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("90.00",)))
        assert invoice is not None
        payment = pay_by_card(invoice, vendor, localstripe)
        payment.stripe_payment_intent_id = "pi_another_accounts_intent"
        payment.stripe_charge_id = None
        db.session().commit()
        assert len(services.fill_charge_ids(settings.gateway()).unknown) == 1
        clerk = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        clerk_email = clerk.email
    tab = signed_in_tab(browser, live_server, clerk_email)
    tab.goto("/console/stripe-events")
    tab.locator("#unknown-intents").wait_for()
    assert "1 PaymentIntent named by card payments is not known to Stripe" in one_line(
        tab.locator("#unknown-intents-count").inner_text()
    )
    row = tab.locator("#unknown-intents tbody tr").first
    assert "pi_another_accounts_intent" in one_line(row.inner_text())
    assert "payments fill-charge-ids" in one_line(row.inner_text())
    assert_accessible(tab)
    # Round 65 (ops65): the form that withdraws the reports, opened, axe clean too.
    tab.get_by_text("Ask Stripe again about them").click()
    tab.get_by_label("Why they are withdrawn").wait_for()
    assert_accessible(tab)
    row.get_by_text("Mark it looked at").click()
    row.get_by_label("What was done about it").fill("Made with the old test keys: checked.")
    row.get_by_role("button", name="Mark looked at").click()
    tab.get_by_role("button", name="Mark it looked at").wait_for()
    assert_accessible(tab)
    tab.get_by_role("button", name="Mark it looked at").click()
    tab.get_by_text("Marked looked at: the PaymentIntent").wait_for()
    assert "None: Stripe knows the PaymentIntent" in one_line(
        tab.locator("#unknown-intents-count").inner_text()
    )
