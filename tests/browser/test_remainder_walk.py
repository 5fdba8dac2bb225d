"""Round 48 in Chromium, at 320 px, against the live server and localstripe: a flagged
card payment of 299.99 on a 300.00 invoice whose charge the bank disputed for 100.00
and won (Stripe's events signed and delivered to the webhook). Billing staff find it
from the console home, read why it is held, accept the remainder with the keyboard
alone and see the invoice's balance; the licensee's invoice page says what went back to
the card and what counts. Then a remainder more than the invoice owes (credited
meanwhile), accepted with the excess sent back offline, by keyboard too. axe on each
page, no sideways scroll (round 47 left the panel unwalked)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from tests.browser.conftest import flagged_on_live_server, sign_in, signed_in_tab
from tests.integration.billing.dispute_support import charge_of, dispute_in_part
from tests.integration.billing.stripe_support import stripe_config
from tests.support import factories
from tests.support.axe import FOCUSED, assert_accessible
from tests.support.servers import LiveServer, LocalStripe

FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _lost_in_part(
    live_server: LiveServer, localstripe: LocalStripe
) -> tuple[str, str, Invoice, Payment]:
    """The flagged payment, its dispute of 100.00 lost; billing staff's and the paying
    vendor's emails."""
    with live_server.app.app_context():
        webhook, vendor, invoice, payment = flagged_on_live_server(live_server, localstripe)
        charge = charge_of(localstripe, payment)
        dispute_in_part(webhook, payment, charge, "created", "needs_response", 10000)
        dispute_in_part(webhook, payment, charge, "closed", "lost", 10000)
        staff = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        return staff.email, vendor.email, invoice, payment


def _tab_to(page: Any, text: str) -> None:
    """Press Tab until the focused element's words start with `text`."""
    for _ in range(250):
        page.keyboard.press("Tab")
        if " ".join(page.evaluate(FOCUSED, None)["text"].split()).startswith(text):
            return
    raise AssertionError(f"Tab never reached {text!r}")


def _tab_to_id(page: Any, element_id: str) -> None:
    """Press Tab until the element with `element_id` has the focus (an empty field)."""
    for _ in range(250):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED, None)["id"] == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def _checked(page: Any) -> str:
    """The page fits 320 px and axe finds nothing serious: its main text, spaced."""
    page.wait_for_function(FITS)
    assert_accessible(page)
    return " ".join(page.inner_text("main").split())


def test_billing_staff_accept_a_remainder_from_the_console_home_by_keyboard_at_320_px(
    page: Any, browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    staff, payer, invoice, payment = _lost_in_part(live_server, localstripe)
    page.set_viewport_size({"width": 320, "height": 800})
    sign_in(page, staff)
    page.goto("/console/")
    _checked(page)
    # The console home counts it under the work waiting, and leads to the invoices page.
    _tab_to(page, "Card payments to check")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    listed = _checked(page)
    assert (
        "the bank's dispute of part of its charge was lost: the 199.99 USD left is to "
        "accept as the remainder"
    ) in listed
    _tab_to(page, payment.named(invoice.number, in_words=True))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/console/payments/{payment.id}")
    held = _checked(page)
    # Why it is held, and what accepting the remainder does.
    assert "Not offered: A payment that is flagged cannot be accepted: its charge was " in held
    assert "The 199.99 USD not disputed is still held: accept the remainder" in held
    assert (
        "What the lost dispute left: 199.99 USD of the 299.99 USD received is still held "
        "(the bank returned 100.00 USD to the cardholder). Accepting it counts 199.99 USD "
        f"against {invoice.number} and leaves 100.01 USD owed on it"
    ) in held

    # Sent without a reason: the browser keeps the form (the field is required) and
    # moves the focus to the reason, whose missing value it reports.
    _tab_to(page, "Accept the remainder, 199.99 USD")
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"() => document.activeElement.id === 'remainder-reason-{payment.id}'"
        " && document.activeElement.validity.valueMissing"
    )
    assert page.url.endswith(f"/console/payments/{payment.id}")
    page.keyboard.type("The bank kept its part; the rest is ours.")
    _tab_to(page, "Accept the remainder, 199.99 USD")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert (
        "What the lost dispute left of the flagged payment is accepted and applied; "
        f"100.01 USD stays owed on {invoice.number}"
    ) in " ".join(page.inner_text(".flashes").split())
    done = _checked(page)
    assert "and the remainder of 199.99 USD was accepted on " in done
    # The invoice's balance, from the payment's page's link to it.
    _tab_to(page, invoice.number)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    owed = _checked(page)
    assert "100.01 USD" in owed
    assert "Nothing taken off the invoice: only the 199.99 USD the dispute left was accepted" in (
        owed
    )
    with live_server.app.app_context():
        stored = db.session().get(Invoice, invoice.id)
        assert stored is not None
        assert stored.balance_due == Decimal("100.01")

    # The licensee, at 320 px too, reads what went back to the card and what counts.
    theirs = signed_in_tab(browser, live_server, payer, width=320)
    theirs.goto(f"/portal/invoices/{invoice.id}")
    said = _checked(theirs)
    assert (
        "Your card payment of 299.99 USD was disputed by your bank for 100.00 USD, which "
        "went back to the card on "
    ) in said
    assert "the 199.99 USD left counts against the invoice from " in said
    theirs.context.close()


def test_a_remainder_more_than_the_invoice_owes_is_accepted_with_its_excess_by_keyboard(
    page: Any, browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Credited 150.00 meanwhile: 49.99 of the remainder is the licensee's. Staff choose
    how it went back and type its reference by keyboard; the invoice is paid, and the
    licensee reads what was sent back and what counts."""
    staff, payer, invoice, payment = _lost_in_part(live_server, localstripe)
    with live_server.app.app_context():
        services.issue_credit_note(
            invoice.id,
            amount=Decimal("150.00"),
            reason="Half the term unused.",
            actor=factories.billing_clerk(),
        )
    page.set_viewport_size({"width": 320, "height": 800})
    sign_in(page, staff)
    page.goto(f"/console/payments/{payment.id}")
    asked = _checked(page)
    assert (
        f"{invoice.number} now owes only 150.00 USD, so 49.99 USD of it is the licensee's"
    ) in asked
    _tab_to_id(page, f"remainder-reason-{payment.id}")
    page.keyboard.type("The bank kept its part; the credit covered the rest.")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == (
        f"remainder-excess_method-{payment.id}"
    )
    page.keyboard.press("ArrowDown")  # Wire transfer
    page.keyboard.press("Tab")
    page.keyboard.type("W-BACK-7")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED, None)["text"].startswith("Accept the remainder, 199.99 USD")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert (
        f"49.99 USD of it, more than {invoice.number} owed, is booked as given back offline "
        f"today, and the rest applied; {invoice.number} is paid."
    ) in " ".join(page.inner_text(".flashes").split())
    done = _checked(page)
    assert (
        f"150.00 USD of it counts against {invoice.number}, and the 49.99 USD more than it "
        "owed went back to the licensee offline on "
    ) in done
    theirs = signed_in_tab(browser, live_server, payer, width=320)
    theirs.goto(f"/portal/invoices/{invoice.id}")
    said = _checked(theirs)
    assert (
        "of the 199.99 USD left, 49.99 USD was more than the invoice owed and was sent back "
        "to you offline on "
    ) in said
    assert "and 150.00 USD counts against the invoice from " in said
    theirs.context.close()


def test_a_remainder_on_a_void_invoice_is_sent_back_whole_by_keyboard_from_its_page(
    page: Any, browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """Round 49: the invoice voided after the payment was flagged owes nothing, so all
    199.99 of the remainder goes back offline (round 48 refused it for good). From the
    void invoice's console page, by keyboard at 320 px: the hold says what accepting
    does (not "it counts"), staff accept with how it went back and its reference, and
    the disputes table says all of it went back; the licensee reads it too."""
    staff, payer, invoice, payment = _lost_in_part(live_server, localstripe)
    with live_server.app.app_context():
        services.void_invoice(
            invoice.id, reason="Issued to the wrong licensee.", actor=factories.billing_clerk()
        )
    page.set_viewport_size({"width": 320, "height": 800})
    sign_in(page, staff)
    # Round 50: the list of card payments to review says what accepting it does (it
    # said only "is to accept as the remainder"), and its link opens the payment.
    page.goto("/console/payments/to-review")
    assert (
        f"the 199.99 USD left is to accept as the remainder, but invoice {invoice.number} "
        "owes nothing now (void): accepting it sends all of it back to the licensee offline "
        "(wire, ACH or check), with the transfer's reference, and none of it counts"
    ) in _checked(page)
    named = payment.named(invoice.number, in_words=True)
    assert page.get_attribute(f"main a:text-is('{named}')", "href") == (
        f"/console/payments/{payment.id}"
    )
    page.goto(f"/console/invoices/{invoice.id}")
    asked = _checked(page)
    assert (
        "The 199.99 USD not disputed is still held, but its invoice owes nothing now: "
        "accepting the remainder sends all of it back to the licensee offline"
    ) in asked
    assert "accept the remainder, and it counts" not in asked
    assert f"{invoice.number} now owes nothing (void), so 199.99 USD of it is the licensee's" in (
        asked
    )
    _tab_to_id(page, f"remainder-reason-{payment.id}")
    page.keyboard.type("Issued in error; the bank kept its part, the rest goes back.")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # Wire transfer
    page.keyboard.press("Tab")
    page.keyboard.type("W-BACK-9")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED, None)["text"].startswith(
        "Accept the remainder, 199.99 USD, with 199.99 USD given back offline"
    )
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.split("?")[0].endswith(f"/console/invoices/{invoice.id}")
    assert (
        f"{invoice.number} owed none of it, so all 199.99 USD is booked as given back "
        "offline today; nothing was applied."
    ) in " ".join(page.inner_text(".flashes").split())
    done = _checked(page)
    assert (
        "Nothing taken off the invoice: the 199.99 USD the dispute left was accepted, and "
        "all of it, more than the invoice owed, went back to the licensee offline on "
    ) in done
    with live_server.app.app_context():
        stored = db.session().get(Invoice, invoice.id)
        assert stored is not None
        assert (stored.state, stored.amount_paid) == ("void", Decimal(0))
    theirs = signed_in_tab(browser, live_server, payer, width=320)
    theirs.goto(f"/portal/invoices/{invoice.id}")
    said = _checked(theirs)
    assert (
        "of the 199.99 USD left, 199.99 USD was more than the invoice owed and was sent back "
        "to you offline on "
    ) in said
    assert "none of it counts against the invoice" in said
    theirs.context.close()
