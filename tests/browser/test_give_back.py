"""Round 37: *Give it back to the card*, in Chromium against the live server and
localstripe, with the keyboard alone: billing staff open a flagged card payment's
page, meet the reason's message, read the confirmation (how much, to whose card,
the invoice unchanged, who is emailed), confirm, and read the payment given back
(the form's page tests are tests/integration/billing/test_payment_given_back.py).
Round 38: the confirmation's question takes the focus, so Tab goes to its buttons;
the page's *Received* says what Stripe did with the money. Round 42: a give-back
whose Stripe answer is lost reads "being given back" until reconcile answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.errors import ExternalServiceError
from tests.browser.conftest import flagged_on_live_server, sign_in
from tests.integration.billing.dispute_support import charge_of, dispute_event
from tests.integration.billing.refund_support import LostAnswer, stripe_through
from tests.integration.billing.stripe_support import (
    deliver_event,
    stripe_config,
)
from tests.support import factories, settings
from tests.support.axe import FOCUSED, assert_accessible
from tests.support.billing import logged
from tests.support.servers import LiveServer, LocalStripe


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _flagged(
    live_server: LiveServer, localstripe: LocalStripe
) -> tuple[str, User, Invoice, Payment]:
    """A vendor's 300.00 invoice paid by card by a colleague of the billing contact,
    flagged for 299.99 received; staff with the billing role (their email)."""
    with live_server.app.app_context():
        _webhook, vendor, invoice, payment = flagged_on_live_server(live_server, localstripe)
        staff = factories.make_staff(db.session(), roles=("billing",))
        db.session().refresh(vendor)
        return staff.email, vendor, invoice, payment


def _tab_to(page: Any, text: str) -> None:
    """Press Tab until the focused element's words start with `text`."""
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED, None)["text"].startswith(text):
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_billing_staff_give_a_flagged_payment_back_to_the_card_with_the_keyboard(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    staff, payer, invoice, payment = _flagged(live_server, localstripe)
    with live_server.app.app_context():
        organization = db.session().get(Organization, invoice.organization_id)
        assert organization is not None
        contact = f"{organization.billing_contact_name} ({organization.billing_email})"
        whose = f"{payer.full_name} of {organization.legal_name}"
    url = f"/console/payments/{payment.id}"
    sign_in(page, staff)
    page.goto(url)
    panel = page.get_by_role("region", name="Give it back to the card")
    # Its field is named for what it asks: the credit note's panel has a *Reason*.
    reason = page.get_by_label("Why give it back")
    assert panel.get_by_label("Reason").count() == 0
    assert "The invoice is unchanged: the payment never counted." in panel.inner_text()
    assert_accessible(page)

    # No reason: the page again, the focus on its errors, and from there on the field.
    _tab_to(page, "Give it back")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.classList.contains('error-summary')")
    summary = page.evaluate("() => document.activeElement.innerText")
    assert "Why give it back: Say why." in summary
    assert_accessible(page)
    page.keyboard.press("Tab")  # the summary's link to the reason
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.getAttribute('aria-invalid') === 'true'")
    assert reason.get_attribute("aria-invalid") == "true"
    page.keyboard.type("The licensee paid twice; not ours to keep.")

    # The confirmation says how much goes back, to whom, the invoice unchanged, who is told.
    _tab_to(page, "Give it back")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    question = page.get_by_role("heading", name=f"Give back 299.99 USD to {whose}?")
    question.wait_for()
    # Round 38: the question takes the focus (as an error summary does), so the first
    # Tab reaches its button, not the header's links.
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    assert page.evaluate(FOCUSED, None)["text"] == f"Give back 299.99 USD to {whose}?"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED, None)["text"] == "Give it back"
    main = page.inner_text("main")
    assert "Visa ending 4242" in main
    assert f"{invoice.number} is unchanged: the payment never counted" in main
    assert "300.00 USD stays due on it" in main
    # Who is emailed, named: "and the payer" named nobody.
    assert (
        f"The billing contact, {contact}, and the payer, {payer.full_name} ({payer.email}), "
        "are emailed why."
    ) in main
    assert "The licensee paid twice; not ours to keep." in main
    assert_accessible(page)
    assert page.url.endswith(f"{url}/give-back")

    # Confirmed (the focus still on the button): the payment's page again, given back,
    # nothing left to give back, and what became of the money said.
    assert page.evaluate(FOCUSED, None)["text"] == "Give it back"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    flash = page.inner_text(".flashes")
    assert f"given back to the card through Stripe; {invoice.label} is unchanged" in flash
    assert page.url.endswith(url)
    assert page.get_by_role("region", name="Give it back to the card").count() == 0
    assert "given back" in page.inner_text("main").lower()
    assert "299.99 USD taken by Stripe on " in page.inner_text("main")
    assert "given back to the card on " in page.inner_text("main")
    assert_accessible(page)
    with live_server.app.app_context():
        stored = db.session().get(Payment, payment.id)
        assert stored is not None
        assert stored.state == "given_back"


def test_a_give_back_whose_answer_is_lost_reads_being_given_back_until_reconcile_answers(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 42: Stripe refunds the card but its answer is lost on the way. The page
    says Stripe has not answered (not "Not given back"), the payment is being given
    back, with neither *Accept* nor *Give it back*; `payments reconcile` brings
    Stripe's answer in, and the page then reads it given back."""
    staff, _payer, invoice, payment = _flagged(live_server, localstripe)
    url = f"/console/payments/{payment.id}"
    sign_in(page, staff)
    page.goto(url)
    page.get_by_label("Why give it back").fill("The licensee paid twice; not ours to keep.")
    panel = page.get_by_role("region", name="Give it back to the card")
    with page.expect_navigation():
        panel.get_by_role("button", name="Give it back").click()
    with live_server.app.app_context(), stripe_through(LostAnswer), page.expect_navigation():
        page.get_by_role("button", name="Give it back").click()
    page.wait_for_function("() => document.activeElement.classList.contains('error-summary')")
    summary = page.evaluate("() => document.activeElement.innerText")
    assert "Stripe has not answered yet" in summary
    assert "Not given back" not in summary
    main = page.inner_text("main")
    assert "Being given back" in main or "being given back" in main
    assert "held for review, and being given back to the card: Stripe was asked on " in main
    assert "cannot be accepted until Stripe answers" in main
    assert page.get_by_role("button", name="Accept").count() == 0
    assert page.get_by_label("Why give it back").count() == 0
    assert_accessible(page)

    later = datetime.now(UTC) + timedelta(minutes=10)
    with live_server.app.app_context():
        result = live_server.app.test_cli_runner().invoke(
            args=["payments", "reconcile", "--now", later.isoformat()]
        )
        assert f"{logged(payment)}: given back\n" in result.output
    page.goto(url)
    main = page.inner_text("main")
    assert "given back to the card on " in main
    assert f"it never counted against {invoice.number}" in main
    assert_accessible(page)


def _being_given_back(live_server: LiveServer, payment: Payment) -> None:
    """Billing staff give `payment` back and Stripe's answer is lost on the way (Stripe
    refunded the card): the payment is `giving_back` until reconcile asks Stripe."""
    with live_server.app.app_context():
        with pytest.raises(ExternalServiceError):
            services.give_back_flagged_payment(
                payment.id,
                note="The licensee paid twice; not ours to keep.",
                actor=factories.billing_clerk(),
                gateway=LostAnswer(settings.gateway()),
            )
        stored = db.session().get(Payment, payment.id)
        assert stored is not None
        assert stored.state == "giving_back"


def test_the_licensee_reads_a_payment_being_given_back_and_pays_the_invoice_once(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 44: the licensee's invoice page while their 299.99 is being given back
    (round 42 tested it with the test client only): what the state means, that it
    never counted, and the invoice's 300.00 still owed, payable by card without
    paying twice (the money on its way back is not counted, and a flagged payment is
    never accepted for more than the invoice owes)."""
    _staff, payer, invoice, payment = _flagged(live_server, localstripe)
    _being_given_back(live_server, payment)
    sign_in(page, payer.email)
    page.goto(f"/portal/invoices/{invoice.id}")
    main = " ".join(page.inner_text("main").split())
    assert "Your card payment of 299.99 USD is being given back to your card" in main
    assert "It never counted against the invoice." in main
    row = page.locator("#payments-heading + * tr, #payments-heading ~ table tr").filter(
        has_text="299.99"
    )
    assert "being given back" in " ".join(row.first.inner_text().split()).lower()
    pay = page.get_by_role("link", name="Pay 300.00 USD by card")
    assert pay.count() == 1
    said = " ".join(page.locator("#being-given-back").inner_text().split())
    assert (
        "The 299.99 USD on its way back to your card is not counted: 300.00 USD is still "
        "owed on the invoice, and paying it now pays it once."
    ) in said
    assert_accessible(page)
    with page.expect_navigation():
        pay.click()
    assert "Balance due: 300.00 USD" in page.inner_text("main")


def _home_row(page: Any, title: str) -> Any:
    return page.locator("main table tbody tr").filter(has_text=title)


def test_the_console_home_shows_a_payment_being_given_back_highlighted_after_a_day(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 44: the console home's *Card payments being given back* row (round 43,
    test client only) in Chromium: it appears once the answer is lost, not
    highlighted; a day later (the server's clock moved) it is, "1 waiting over a
    day"; its link leads to the payment, whose page says it is being given back."""
    staff, _payer, _invoice, payment = _flagged(live_server, localstripe)
    sign_in(page, staff)
    page.goto("/console/")
    assert _home_row(page, "Card payments being given back").count() == 0 or (
        "none" in _home_row(page, "Card payments being given back").inner_text()
    )
    _being_given_back(live_server, payment)
    page.goto("/console/")
    row = _home_row(page, "Card payments being given back (waiting on Stripe)")
    assert row.count() == 1
    words = " ".join(row.inner_text().split())
    assert "Nothing to do until Stripe answers" in words
    assert "none" in words
    assert "overdue" not in (row.get_attribute("class") or "")
    assert_accessible(page)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1, hours=1)):
        page.goto("/console/")
        if "/sign-in" in page.url:
            sign_in(page, staff)
            page.goto("/console/")
        row = _home_row(page, "Card payments being given back (waiting on Stripe)")
        assert "1 waiting over a day" in " ".join(row.inner_text().split())
        assert "overdue" in (row.get_attribute("class") or "")
        assert_accessible(page)
        with page.expect_navigation():
            row.get_by_role("link", name="Card payments being given back").click()
        assert page.url.endswith(f"/console/payments/{payment.id}")
        main = page.inner_text("main")
        assert "being given back to the card: Stripe was asked on " in main
        assert page.get_by_role("button", name="Accept").count() == 0


def test_a_flagged_payment_whose_charge_is_disputed_offers_neither_step_and_says_why(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 44: the console's payment page of a flagged payment whose charge the
    bank disputes (delivered signed to the webhook) says why it is neither accepted
    nor given back, where *Accept* and *Give it back* were."""
    staff, _payer, _invoice, payment = _flagged(live_server, localstripe)
    with live_server.app.app_context():
        webhook = live_server.app.test_client()
        charge = charge_of(localstripe, payment)
        event = dispute_event("charge.dispute.created", payment, charge, amount=29999)
        assert deliver_event(webhook, event).status_code == 200
    sign_in(page, staff)
    page.goto(f"/console/payments/{payment.id}")
    actions = " ".join(page.inner_text("main").split())
    assert "Not offered: A payment that is flagged cannot be accepted: its charge is disputed" in (
        actions
    )
    assert "Not offered: A payment that is flagged cannot be given back: its charge is " in actions
    assert "Wait for the dispute's outcome" in actions
    assert page.get_by_role("button", name="Accept").count() == 0
    assert page.get_by_role("button", name="Give it back").count() == 0
    assert page.get_by_label("Why give it back").count() == 0
    assert_accessible(page)
