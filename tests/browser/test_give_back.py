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

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing.models import Invoice, Payment
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.billing.refund_support import LostAnswer, stripe_through
from tests.integration.billing.stripe_support import flagged_card_payment, stripe_config
from tests.support import factories
from tests.support.axe import FOCUSED, assert_accessible
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
        contact = factories.make_vendor(db.session())
        organization = db.session().get(Organization, contact.organization_id)
        vendor = factories.make_vendor(db.session(), organization, role="billing")

        def invoice_for(owner: Any, amounts: tuple[str, ...]) -> Invoice:
            invoice = send_activation(activated(owner.organization_id or 0, amounts))
            assert invoice is not None
            return invoice

        webhook = live_server.app.test_client()  # Stripe's deliveries, signed
        invoice, payment = flagged_card_payment(
            webhook, vendor, localstripe, invoice_for, received=29999
        )
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
    assert f"payment {payment.id}: given back: payment {payment.id}" in result.output
    page.goto(url)
    main = page.inner_text("main")
    assert "given back to the card on " in main
    assert f"it never counted against {invoice.number}" in main
    assert_accessible(page)
