"""A wire billing staff record, taken through the service the console's form calls
(`licensing.billing.views.record_payment`), for a walk whose point is elsewhere.

`tests.browser.conftest.wired` records one on the console page, in a browser of the
clerk's own: a context, a sign-in and three pages each, some 2 to 3 s on a loaded
machine. A walk about a vendor's year took that four times over for what the page
does not show it (round 65); the console's form itself is walked by
`tests/browser/test_billing_journey.py::test_billing_staff_record_an_offline_wire_payment`."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.mail import services as mail
from tests.support.servers import LiveServer
from tests.support.settings import delivery


def wired_by_service(live_server: LiveServer, clerk: str, number: str, amount: str) -> None:
    """Billing staff (`clerk`, an email) record a wire of `amount` for invoice `number`
    as the console's form sends it (no day received, the reference `FEDWIRE <number>`,
    a repeated reference asked about), and its emails are sent as the request's were."""
    with live_server.app.app_context():
        session = db.session()
        invoice = session.scalars(select(Invoice).where(Invoice.number == number)).one()
        user = session.scalars(select(User).where(User.email == clerk)).one()
        payment = billing.record_offline_payment(
            invoice.id,
            method="wire",
            amount=Decimal(amount),
            reference=f"FEDWIRE {number}",
            repeated_reference="ask",
            actor=Actor.of(accounts.principal_for(user)),
        )
        assert payment.state == "succeeded", payment.state
        mail.deliver_due(delivery())
