"""Round 44: a flagged card payment whose charge the licensee's bank disputes is
neither accepted nor given back while the dispute is open (the payment state
machine's 409, saying why and what follows), on the API, the services and the
console's payment and invoice pages; once the dispute closes, what is allowed
follows its outcome: won, as before it was disputed; lost, neither, for good.
Stripe's `charge.dispute.*` events delivered signed to the webhook, after a real
localstripe card payment."""

from __future__ import annotations

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
from licensing.billing import links, services
from licensing.billing.models import Invoice, Payment, PaymentDispute
from licensing.calendar import office_date
from licensing.errors import IllegalTransition
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.servers import LocalStripe

from .dispute_support import (
    REINSTATED,
    WITHDRAWN,
    charge_of,
    deliver_dispute,
    staff_step,
)
from .stripe_support import _call, flagged_card_payment, stripe_config

OPEN_WHY = (
    "its charge is disputed (opened 2027-03-02, Stripe dispute du_1Harborlight): the "
    "cardholder's bank contests the money, so it is neither counted nor given back while "
    "the dispute is open. Wait for the dispute's outcome, then accept it or give it back "
    "if the dispute is won; if it is lost, the bank has returned the money to the "
    "cardholder and there is nothing to accept or give back."
)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _dispute(client: FlaskClient, payment: Payment, charge: str, kind: str, status: str) -> None:
    moved = (WITHDRAWN, REINSTATED) if status == "won" else (WITHDRAWN,)
    deliver_dispute(client, payment, charge, kind, status, amount=29999, moved=moved)


def _post(client: FlaskClient, staff: User, payment: Payment, step: str) -> Any:
    return staff_step(client, staff, payment, step, "Short by a cent; fine.")


def _refunds_at_stripe(localstripe: LocalStripe, payment: Payment) -> list[Any]:
    found = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    return list(found["data"])


def _audited(action: str) -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _state(payment: Payment) -> str:
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    return stored.state


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_flagged_payment_whose_charge_is_disputed_waits_for_the_outcome_then_follows_it(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    outcome: str,
) -> None:
    """A payment flagged for 299.99 of 300.00 whose charge the bank disputes: staff's
    email advised against accepting it, but the accept went through and counted
    299.99 the cardholder was contesting; a give-back asked Stripe, which refuses to
    refund a disputed charge. Both are the state machine's 409 while the dispute is
    open, saying why and what follows; won, both are allowed again; lost, neither."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    charge = charge_of(localstripe, payment)
    _dispute(client, payment, charge, "created", "needs_response")
    for step, words in (("accept", "be accepted"), ("give-back", "be given back")):
        refused = _post(client, billing_staff, payment, step)
        assert refused.status_code == 409, refused.get_data(as_text=True)
        problem = refused.get_json()
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert problem["detail"] == f"A payment that is flagged cannot {words}: {OPEN_WHY}"
    with pytest.raises(IllegalTransition, match="its charge is disputed"):
        services.accept_flagged_payment(payment.id, note="Fees.", actor=factories.billing_clerk())
    assert _state(payment) == "flagged"
    assert not _audited("payment.accepted")
    assert not _audited("payment.give_back_asked")
    assert not _refunds_at_stripe(localstripe, payment)
    # The console's payment page says it and offers neither button.
    staff = signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    page = staff.get(url)
    said = text_of(page)
    assert f"Not offered: A payment that is flagged cannot be accepted: {OPEN_WHY}" in said
    assert f"Not offered: A payment that is flagged cannot be given back: {OPEN_WHY}" in said
    # Its card refund's refusal read the dispute as one "in part" (300.00 asked, 299.99
    # disputed): "so the 0.01 USD not disputed cannot go back to the card".
    assert "not disputed" not in said
    assert f"The {payment.named(in_sentence=True)} is flagged: only a card payment that" in said
    # Stripe withdrew it at its balance, but from no money the invoice counted.
    assert "Nothing taken off the invoice: the payment never counted" in said
    assert "Not withdrawn" not in said
    html = page.get_data(as_text=True)
    assert f'action="/console/payments/{payment.id}/accept' not in html
    assert f'action="/console/payments/{payment.id}/give-back' not in html
    # ...nor the invoice's page, where flagged payments are accepted too.
    invoice_page = staff.get(f"/console/invoices/{invoice.id}")
    assert f'action="/console/payments/{payment.id}/accept' not in invoice_page.get_data(
        as_text=True
    )
    assert "its charge is disputed (opened 2027-03-02" in text_of(invoice_page)
    # A form posted anyway (a page open from before the dispute) is refused, saying why.
    posted = staff.post(
        f"/console/payments/{payment.id}/accept",
        data={"accept-reason": "Fees.", "from_payment": str(payment.id)},
    )
    assert posted.status_code == 409
    assert OPEN_WHY in text_of(posted)
    asked = staff.post(f"/console/payments/{payment.id}/give-back", data={"give_back-reason": "x"})
    assert asked.status_code == 409
    assert OPEN_WHY in text_of(asked)
    assert _state(payment) == "flagged"

    _dispute(client, payment, charge, "closed", outcome)
    db.session().expire_all()
    dispute = db.session().scalars(select(PaymentDispute)).one()
    assert dispute.state == outcome
    # The dispute's opening and close are audited (round 25), with the payment's state.
    [opened] = _audited("dispute.opened")
    assert opened.after_data is not None
    assert opened.after_data["payment_state"] == "flagged"
    assert len(_audited(f"dispute.{outcome}")) == 1
    [closed] = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "dispute_closed")
    )
    if outcome == "won":
        assert "accept it or give it back from its payment page" in closed.body_text
        assert "Not offered" not in text_of(staff.get(url))
        accepted = _post(client, billing_staff, payment, "accept")
        assert accepted.status_code == 200, accepted.get_data(as_text=True)
        assert _state(payment) == "succeeded"
        read = client.get(
            f"/api/v1/invoices/{invoice.id}", headers=bearer(billing_staff)
        ).get_json()
        assert (read["amount_paid"], read["balance_due"]) == ("299.99", "0.01")
        return
    assert "can no longer be accepted" in closed.body_text
    assert dispute.closed_at is not None
    lost_why = (
        f"its charge was disputed and the dispute lost (closed "
        f"{office_date(dispute.closed_at).isoformat()}, Stripe dispute du_1Harborlight): the "
        "bank returned the money to the cardholder, so accepting it would count money not "
        "held, and there is none left to give back."
    )
    for step, words in (("accept", "be accepted"), ("give-back", "be given back")):
        refused = _post(client, billing_staff, payment, step)
        assert refused.status_code == 409
        assert refused.get_json()["detail"].startswith(
            f"A payment that is flagged cannot {words}: {lost_why}"
        )
    lost_page = text_of(staff.get(url))
    assert f"Not offered: A payment that is flagged cannot be accepted: {lost_why}" in lost_page
    # Its *Received* row said "it counts against INV-... only if accepted".
    assert "the bank's dispute of its charge was lost on " in lost_page
    assert "only if accepted" not in lost_page
    assert _state(payment) == "flagged"
    assert not _refunds_at_stripe(localstripe, payment)
    read = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(billing_staff)).get_json()
    assert (read["amount_paid"], read["balance_due"]) == ("0.00", "300.00")


def _home_row(page: str, title: str) -> str:
    """The console home's *Work waiting* row whose link starts with `title`, as text."""
    [row] = [r for r in page.split("<tr") if f">{title}" in r]
    return " ".join(re.sub(r"<[^>]+>", " ", row.split("</tr>")[0].split(">", 1)[1]).split())


def _review_list(page: str) -> str:
    """The invoices page's *Card payments to review*, as text ("" when absent)."""
    if 'id="flagged-heading"' not in page:
        return ""
    section = page.split('id="flagged-heading"', 1)[1].split("</section>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", section).split())


def test_a_disputed_flagged_payment_is_not_work_to_check_and_a_lost_one_leaves_the_list(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """The console home's *Card payments to check* counted a flagged payment whose
    charge is disputed, sending staff to a page that now refuses both its steps (the
    dispute is counted in *Disputed card payments to answer in Stripe*); once the
    dispute was lost it would have been counted for good, with nothing left to do.
    The invoices page's list says why an open one waits, and drops a lost one."""
    _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    staff = signed_in(app.test_client(), billing_staff)
    before = staff.get("/console/").get_data(as_text=True)
    assert "(amount did not match) 1 1 flagged" in _home_row(before, "Card payments to check")
    charge = charge_of(localstripe, payment)
    _dispute(client, payment, charge, "created", "needs_response")
    home = staff.get("/console/").get_data(as_text=True)
    assert "(amount did not match) 0 none" in _home_row(home, "Card payments to check")
    assert " 1 " in _home_row(home, "Disputed card payments to answer in Stripe")
    listed = _review_list(staff.get("/console/invoices").get_data(as_text=True))
    named = payment.named(payment.invoice.number, in_words=True)
    assert f"{named} : received 299.99 USD, asked 300.00 USD; its charge is " in listed
    assert "neither accepted nor given back until the dispute's outcome" in listed
    _dispute(client, payment, charge, "closed", "lost")
    home = staff.get("/console/").get_data(as_text=True)
    assert "(amount did not match) 0 none" in _home_row(home, "Card payments to check")
    assert named not in _review_list(staff.get("/console/invoices").get_data(as_text=True))


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_the_licensee_is_not_offered_a_card_payment_the_pay_page_refuses_while_disputed(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    outcome: str,
) -> None:
    """The licensee's invoice page offered *Pay 300.00 USD by card* while their bank
    disputed their flagged card payment, and the pay page then refused it ("... is not
    asked to be paid while your bank's dispute of its card payment is open"), the page
    saying nothing of the dispute. It says it and offers no payment until the close."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    licensee = signed_in(app.test_client(), vendor)
    url = f"/portal/invoices/{invoice.id}"
    assert "Pay 300.00 USD by card" in text_of(licensee.get(url))
    charge = charge_of(localstripe, payment)
    _dispute(client, payment, charge, "created", "needs_response")
    page = text_of(licensee.get(url))
    assert "Pay 300.00 USD by card" not in page
    assert "Your bank disputed the card payment" in page
    assert (
        "The bank that issued the card disputed your card payment of 299.99 USD (product not "
        "received). It never counted against this invoice"
    ) in page
    refused = licensee.get(f"/portal/invoices/{invoice.id}/pay")
    assert refused.status_code == 302  # as before: the pay page takes none meanwhile
    # The emailed link's page (no account) says the same.
    by_link = text_of(client.get(f"/invoice-links/{invoice.id}/{links.token(invoice)}"))
    assert "Your bank disputed the card payment" in by_link
    assert "Pay 300.00 USD by card" not in by_link
    _dispute(client, payment, charge, "closed", outcome)
    after = text_of(licensee.get(url))
    assert "Pay 300.00 USD by card" in after
    assert "Your bank disputed the card payment" not in after
    if outcome == "lost":  # it said "being checked ... the money goes back to your card"
        assert "Your card payment of 299.99 USD was disputed by your bank, which decided " in after
        assert "It never counted against the invoice." in after
        assert "is being checked" not in after
        assert "being checked" not in after  # its badge: disputed
        assert "disputed" in after
