"""A payment's console page acts (round 26): it offers billing staff what the
payment's state allows, with the invoice page's forms, and returns to the payment;
what its state refuses is said instead of offered. CSRF on, as in production."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice, Payment, Refund
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.support.billing import credited, paid_offline, reversed_offline
from tests.support.factories import DEFAULT_PASSWORD, billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, dispute_event, paid_with_charge
from .refund_support import deliver
from .stripe_support import (
    declined_card_payment,
    flagged_card_payment,
    stripe_config,
)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return {**stripe_config(localstripe), "overrides": {}}  # CSRF on


def _token(page: str, name: str = "csrf_token") -> str:
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]+)"', page)
    assert found, f"no {name} on the page"
    return found.group(1)


def _signed_in(client: FlaskClient, user: User) -> FlaskClient:
    token = _token(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def _words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _refund_fields(page: str, credit_id: int, **values: str) -> dict[str, str]:
    prefix = f"refund-{credit_id}-"
    fields = {"csrf_token": _token(page, f"{prefix}csrf_token"), **values}
    return {prefix + name: value for name, value in fields.items()}


def _reversal_fields(page: str, payment: Payment) -> dict[str, str]:
    """The payment's page's *Reverse payment* form, filled in for a bounced check."""
    prefix = f"reverse-{payment.id}-"
    return {
        f"{prefix}csrf_token": _token(page, f"{prefix}csrf_token"),
        f"{prefix}reason": "Check returned unpaid.",
        f"{prefix}returned_on": str(payment.paid_date),
        "from_payment": str(payment.id),
    }


def _credit_from(
    staff: FlaskClient, page: str, invoice: Invoice, payment: Payment, amount: str
) -> Any:
    """Issue a credit note on `invoice` with the form of `payment`'s page, and confirm
    it (round 53; its confirmation carries a signed value of what it showed since
    round 54, `confirmation`)."""
    url = f"/console/invoices/{invoice.id}/credit-notes"
    fields = {
        "csrf_token": _token(page),
        "amount": amount,
        "reason": "Overbilled",
        "from_payment": str(payment.id),
    }
    asked = staff.post(url, data=fields).get_data(as_text=True)
    shown = re.search(r'name="confirmation" value="([^"]*)"', asked)
    assert shown, asked
    return staff.post(url, data={**fields, "confirmation": shown.group(1), "confirmed": "yes"})


def _accept_from(staff: FlaskClient, page: str, payment: Payment, reason: str) -> Any:
    """Accept the flagged `payment` with the *Accept* form of its page."""
    return staff.post(
        f"/console/payments/{payment.id}/accept",
        data={
            "accept-csrf_token": _token(page, "accept-csrf_token"),
            "accept-reason": reason,
            "from_payment": str(payment.id),
        },
    )


def test_billing_staff_refund_part_of_a_card_payment_from_its_page_and_come_back_to_it(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, _charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    staff = _signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    page = staff.get(url).get_data(as_text=True)
    assert "Act on this payment" in page
    assert f"Nothing is owed back on {invoice.number} now." in _words(page)

    # A credit note first (a refund pays what a credit note owes), from this page.
    credited = _credit_from(staff, page, invoice, payment, "60.00")
    assert credited.status_code == 302
    assert credited.headers["Location"].endswith(url)
    (credit,) = invoice.credit_notes
    page = staff.get(url).get_data(as_text=True)
    assert f"Refund credit note {credit.number}" in page
    assert '<option selected value="card">' in page
    assert "refunded on this payment's charge: at most 250.00 USD is left of it" in _words(page)

    refund_url = f"/console/credit-notes/{credit.id}/refunds"
    fields = _refund_fields(page, credit.id, method="card", amount="60.00")
    forged = staff.post(refund_url, data={**fields, f"refund-{credit.id}-csrf_token": ""})
    assert forged.status_code == 400
    bad = staff.post(
        refund_url,
        data={**fields, f"refund-{credit.id}-amount": "sixty", "from_payment": str(payment.id)},
    )
    assert bad.status_code == 422
    said = _words(bad.get_data(as_text=True))
    assert payment.named(invoice.number, in_words=True) in said  # the payment's page again
    assert "Give an amount such as 1250.00" in said
    assert db.session().scalars(db.select(Refund)).all() == []

    # Round 54: a card refund is confirmed first, naming the card, Stripe asked nothing.
    asked = staff.post(refund_url, data={**fields, "from_payment": str(payment.id)})
    assert asked.status_code == 200
    shown = asked.get_data(as_text=True)
    assert f"Refund 60.00 USD to {payment.card_label}?" in _words(shown)
    # "Do not refund" goes back to this page, to its button (round 61).
    assert f'href="{url}#refund-credit-note-{credit.id}"' in shown
    assert db.session().scalars(db.select(Refund)).all() == []
    signed = re.search(r'name="confirmation" value="([^"]*)"', shown)
    assert signed
    done = staff.post(
        refund_url,
        data={
            **fields,
            "from_payment": str(payment.id),
            "confirmation": signed.group(1),
            "confirmed": "yes",
        },
    )
    assert done.status_code == 302
    assert done.headers["Location"].endswith(url)
    (refund,) = db.session().scalars(db.select(Refund)).all()
    assert (refund.payment_id, refund.amount, refund.state) == (
        payment.id,
        Decimal("60.00"),
        "succeeded",
    )
    db.session().expire_all()  # the tests' one session kept the payment's refunds as first read
    after = _words(staff.get(url).get_data(as_text=True))
    assert "Amount 250.00 USD ; 60.00 USD refunded" in after
    assert f"Refund credit note {credit.number}" not in after  # nothing left owed back


def test_a_charged_back_payment_says_why_it_is_not_refunded_to_the_card_and_refuses_with_409(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    # Round 53: a credit of 150.00, so that with 100.00 withdrawn the office still holds
    # 50.00 beyond what the invoice owes (250.00 - 100.00 kept - 150.00 credited): a
    # credit of 40.00 left the invoice owed 60.00 and nothing to send back.
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("150.00"), reason="Overbilled", actor=billing_clerk()
    )
    withdrawn = dispute_event(
        "charge.dispute.funds_withdrawn", payment, charge, amount=10000, moved=(WITHDRAWN,)
    )
    deliver(client, withdrawn)
    staff = _signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    page = staff.get(url).get_data(as_text=True)
    said = _words(page)
    assert (
        f"Not refunded to the card: The {payment.named(invoice.number, in_sentence=True)} was "
        "disputed by the cardholder's bank for 100.00 USD of its 250.00 USD"
    ) in said
    assert 'value="card"' not in page  # not offered
    assert '<option selected value="wire">' in page  # the offline refund is

    # A card refund posted anyway (a page drawn before the dispute) is refused: 409.
    refused = staff.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={
            **_refund_fields(page, credit.id, method="card", amount="40.00"),
            "from_payment": str(payment.id),
        },
    )
    assert refused.status_code == 409
    words = _words(refused.get_data(as_text=True))
    assert payment.named(invoice.number, in_words=True) in words
    assert "Record a refund sent offline (wire, ACH or check) for it instead." in words
    assert db.session().scalars(db.select(Refund)).all() == []


def test_an_offline_payment_is_reversed_from_its_page_after_confirming(
    app: Any,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = services.record_offline_payment(
        invoice.id,
        method="check",
        amount=Decimal("1000.00"),
        reference="CHK 7781",
        actor=billing_clerk(),
    )
    other = invoice_for(vendor, ("500.00",))
    elsewhere = services.record_offline_payment(
        other.id, method="wire", amount=Decimal("500.00"), reference="W 1", actor=billing_clerk()
    )
    url = f"/console/payments/{payment.id}"
    licensing = _signed_in(app.test_client(), licensing_staff).get(url).get_data(as_text=True)
    assert "Act on this payment" not in licensing
    assert "Reverse payment" not in licensing

    staff = _signed_in(app.test_client(), billing_staff)
    page = staff.get(url).get_data(as_text=True)
    assert "Reverse payment CHK 7781" in page
    assert "Not refunded to the card" not in page
    prefix = f"reverse-{payment.id}-"
    fields = _reversal_fields(page, payment)
    reversal = f"/console/payments/{payment.id}/reversal"
    empty = staff.post(reversal, data={**fields, f"{prefix}reason": ""})
    assert empty.status_code == 422
    assert "Say why the payment is reversed." in empty.get_data(as_text=True)  # round 50
    assert payment.named(invoice.number, in_words=True) in _words(empty.get_data(as_text=True))

    asked = staff.post(reversal, data=fields)
    assert asked.status_code == 200
    # "Keep the payment" leads back here, to its button (round 61).
    assert f'href="{url}#reverse-payment-{payment.id}"' in asked.get_data(as_text=True)

    done = staff.post(reversal, data={**fields, "confirmed": "yes"})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(url)
    db.session().refresh(payment)
    assert payment.state == "reversed"
    after = staff.get(url).get_data(as_text=True)
    assert "Check returned unpaid." in after
    assert "Reverse payment CHK 7781" not in after

    # A payment of another invoice named as the page to return to is ignored.
    page = staff.get(f"/console/payments/{elsewhere.id}").get_data(as_text=True)
    credited = _credit_from(staff, page, invoice, elsewhere, "10.00")
    assert credited.status_code == 302
    assert credited.headers["Location"].endswith(f"/console/invoices/{invoice.id}")


def test_a_flagged_card_payment_is_accepted_from_its_page(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    staff = _signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    page = staff.get(url).get_data(as_text=True)
    said = _words(page)
    assert f"Flagged {payment.named(in_sentence=True, in_words=True)}" in said
    assert f"Not refunded to the card: The {payment.named(in_sentence=True)} is flagged" in said
    # Round 29: the cent that stays owed is said before accepting, not met in reminders.
    assert f"Accepting it leaves 0.01 USD owed on {payment.invoice.number}" in said
    accepted = _accept_from(
        staff, page, payment, "The licensee's bank took a cent in fees; accepted."
    )
    assert accepted.status_code == 302
    assert accepted.headers["Location"].endswith(url)
    db.session().refresh(payment)
    assert payment.state == "succeeded"
    after = _words(staff.get(url).get_data(as_text=True))
    assert f"Flagged {payment.named(in_sentence=True)}" not in after
    # Round 30: and after accepting, the cent is said again, with the step's result.
    assert (
        "The flagged payment is accepted and applied; 0.01 USD stays owed on "
        f"{payment.invoice.number}, chased like any balance." in after
    )


def test_accepting_a_flagged_payment_that_the_rules_refuse_is_a_409_page_saying_why(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 27: a refused accept was flashed over a redirect (a 302 for a step the
    rules refuse); it is the page again with the rule's words and 409, from the
    payment's page and the invoice's alike, and a missing reason is 422 beside it.
    Round 58: the page no longer offers that accept, and says why."""
    # More than is owed: the payment cannot be applied as received.
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=30001
    )
    staff = _signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    page = staff.get(url).get_data(as_text=True)
    # Round 58: the page offers no *Accept* the step refuses, but says why (as the
    # API's `allowed_actions` lists only `give_back`); a page opened before the
    # balance changed may still post one.
    assert f'action="/console/payments/{payment.id}/accept"' not in page
    assert (
        f"Not offered: 300.01 USD cannot be applied to {invoice.number} (balance due "
        "300.00 USD); give it back to the card instead." in _words(page)
    )
    fields = {
        "accept-csrf_token": _token(page, "give_back-csrf_token"),
        "accept-reason": "The licensee asked us to keep the extra cent.",
    }
    accept = f"/console/payments/{payment.id}/accept"

    from_payment = staff.post(accept, data={**fields, "from_payment": str(payment.id)})
    said = _words(from_payment.get_data(as_text=True))
    assert from_payment.status_code == 409
    assert payment.named(invoice.number, in_words=True) in said  # the payment's page
    assert "Not accepted" in said
    assert "cannot be applied to" in said
    assert "give it back to the card instead" in said

    from_invoice = staff.post(accept, data=fields)
    assert from_invoice.status_code == 409
    invoice_said = _words(from_invoice.get_data(as_text=True))
    assert "Not accepted" in invoice_said
    assert "give it back to the card instead" in invoice_said

    no_reason = staff.post(
        accept, data={**fields, "accept-reason": "", "from_payment": str(payment.id)}
    )
    assert no_reason.status_code == 422
    assert f'href="#accept-reason-{payment.id}"' in no_reason.get_data(as_text=True)
    db.session().refresh(payment)
    assert payment.state == "flagged"


def test_accepting_a_payment_no_longer_flagged_is_a_409_naming_its_state(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Two of billing staff accept the same flagged payment: the second is told, with
    409, that the state machine allows nothing of the kind now."""
    _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    staff = _signed_in(app.test_client(), billing_staff)
    page = staff.get(f"/console/payments/{payment.id}").get_data(as_text=True)
    fields = {
        "accept-csrf_token": _token(page, "accept-csrf_token"),
        "accept-reason": "A cent in fees.",
        "from_payment": str(payment.id),
    }
    accept = f"/console/payments/{payment.id}/accept"
    assert staff.post(accept, data=fields).status_code == 302
    again = staff.post(accept, data=fields)
    said = _words(again.get_data(as_text=True))
    assert again.status_code == 409, said[-1500:]
    assert "Not accepted" in said
    assert "cannot" in said
    assert 'name="accept-reason"' not in again.get_data(as_text=True)  # nothing to accept now


def test_reversing_a_payment_reversed_meanwhile_says_so_without_offering_the_form_again(
    app: Any, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 28: two clerks on the same bounced check; the second one's *Reverse
    payment* was refused (409) with the reversal form offered again under "Please
    correct the following", though nothing could be corrected: the payment was
    reversed. The panel now says "Not reversed" with the rule's words, and no form."""
    payment = paid_offline(invoice_for(vendor, ("1000.00",)).id, "1000.00", "CHK 7781", "check")
    page = (
        _signed_in(staff := app.test_client(), billing_staff)
        .get(f"/console/payments/{payment.id}")
        .get_data(as_text=True)
    )
    fields = {**_reversal_fields(page, payment), "confirmed": "yes"}
    reversed_offline(
        payment.id, "Returned by the bank.", returned_on=payment.paid_date, now=utcnow()
    )

    late = staff.post(f"/console/payments/{payment.id}/reversal", data=fields)

    assert late.status_code == 409
    said = _words(late.get_data(as_text=True))
    assert "Not reversed A payment that is reversed cannot be reversed" in said
    assert "Please correct the following" not in said
    assert f'action="/console/payments/{payment.id}/reversal"' not in late.get_data(as_text=True)


def test_the_email_about_a_flagged_card_payment_leads_to_the_payments_page_where_it_is_accepted(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 28: the email said "Review it in the console" and linked the invoice's
    page; since round 26 the payment's own page has *Accept* and says why it was
    flagged, so the email leads there."""
    _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    (told,) = db.session().scalars(
        db.select(OutboxMessage).where(OutboxMessage.template == "payment_flagged")
    )
    assert f"Review and accept it: http://testserver/console/payments/{payment.id}\n" in (
        told.body_text
    )
    staff = _signed_in(app.test_client(), billing_staff)
    assert "Accept 299.99 USD and apply it" in _words(
        staff.get(f"/console/payments/{payment.id}").get_data(as_text=True)
    )


def test_a_payment_that_never_counted_offers_no_credit_note_and_says_why(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 38: a credit note credits the invoice, and its refund pays back money that
    counted. A flagged card payment, or a declined attempt, never paid the invoice: its
    page offered *Issue a credit note* ("credit what is to be given back, then refund it
    on this page"), which would credit the invoice for money it did not pay. It says
    why not and leads to the invoice's page; accepted, the payment counts and offers it."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    staff = _signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    page = staff.get(url).get_data(as_text=True)
    said = _words(page)
    assert "Issue a credit note" not in said
    assert (
        f"No credit note from this payment's page: it never counted against {invoice.number}, "
        f"so a credit note here would credit {invoice.number} for money this payment did not "
        f"pay. Credit notes of {invoice.number} are issued on its page"
    ) in said
    assert f'href="/console/invoices/{invoice.id}#credit-heading"' in page

    other = invoice_for(vendor, ("120.00",))
    declined = declined_card_payment(other, vendor, localstripe)
    said = _words(staff.get(f"/console/payments/{declined.id}").get_data(as_text=True))
    assert "Issue a credit note" not in said
    assert f"it never counted against {other.number}" in said

    accepted = _accept_from(staff, page, payment, "Fees; accepted.")
    assert accepted.status_code == 302
    said = _words(staff.get(url).get_data(as_text=True))
    assert "Issue a credit note" in said
    assert "No credit note from this payment's page" not in said


def test_a_payment_that_never_counted_leaves_the_credit_notes_refunds_to_the_invoices_page(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 39: a flagged payment's page offered the *Refund* form of its invoice's
    credit notes, as if this payment's money were what is refunded; a payment that
    never counted says where those refunds are recorded instead, linking the
    invoice's page, which keeps the form, as does a payment that counted."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    wire = paid_offline(invoice.id, "300.00", "W-39")
    credit = credited(invoice.id, "40.00", "Overbilled")
    staff = _signed_in(app.test_client(), billing_staff)
    page = staff.get(f"/console/payments/{payment.id}").get_data(as_text=True)
    said = _words(page)
    assert f"Refund credit note {credit.number}" not in said
    assert f'name="refund-{credit.id}-csrf_token"' not in page
    assert (
        f"Refunds owed on {invoice.number}'s credit notes ( {credit.number} : 40.00 USD) are "
        "recorded on its page"
    ) in said
    # The credit note's number opens its page (round 56).
    assert f'<a href="/console/credit-notes/{credit.id}">{credit.number}</a>:' in page
    assert "not this payment's: a credit note's refund pays back money that counted" in said
    assert f'href="/console/invoices/{invoice.id}#refund-heading-{credit.id}"' in page

    invoice_page = staff.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    assert f'id="refund-heading-{credit.id}"' in invoice_page
    # The wire that counted keeps the form on its page.
    counted = _words(staff.get(f"/console/payments/{wire.id}").get_data(as_text=True))
    assert f"Refund credit note {credit.number}" in counted
    assert "Refunds owed on" not in counted
