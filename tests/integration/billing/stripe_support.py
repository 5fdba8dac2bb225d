"""Talking to localstripe the way Stripe.js and Stripe itself do: tokenizing a
card in the page, and delivering its real events, signed, to the webhook."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Payment, StripeEvent
from licensing.billing.states import PENDING
from licensing.billing.stripe_gateway import StripeGateway
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import InvalidInput
from tests.support import settings
from tests.support.console_lists import words
from tests.support.servers import LocalStripe

WEBHOOK_SECRET = "whsec_test_licensing"
PUBLISHABLE_KEY = "pk_test_licensing"
SECRET_KEY = "sk_test_licensing"
DECLINED_CARD = "4000000000000341"  # attaches, then is declined when charged


def stripe_config(localstripe: LocalStripe) -> dict[str, Any]:
    return {
        "stripe_secret_key": SECRET_KEY,
        "stripe_publishable_key": PUBLISHABLE_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": localstripe.url,
        "stripe_js_url": localstripe.js_url,
    }


def _call(
    localstripe: LocalStripe, method: str, path: str, data: dict[str, str] | None = None
) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        f"{localstripe.url}{path}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def card_token(localstripe: LocalStripe, number: str = "4242424242424242") -> str:
    """What Stripe.js `createToken(card)` does in the page."""
    token = _call(
        localstripe,
        "POST",
        "/v1/tokens",
        {
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
            "key": PUBLISHABLE_KEY,
        },
    )
    return str(token["id"])


@dataclass
class _EventsRead:
    """The events read so far from one localstripe, by the id of the object each is
    about, and the last one's id, where the next read starts."""

    about: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    ids: set[str] = dataclasses.field(default_factory=set)
    last: str = ""


_EVENTS_READ: weakref.WeakKeyDictionary[LocalStripe, _EventsRead] = weakref.WeakKeyDictionary()


def events_for(
    localstripe: LocalStripe, object_id: str, event_type: str | None = None
) -> list[dict[str, Any]]:
    """The events localstripe recorded about `object_id` (as its webhooks send them),
    oldest first.

    Round 65: read once each. localstripe keeps every event of the session (one server
    a worker) and lists them oldest first, 100 a page; each call paged through all of
    them again, from the session's first, so a card payment's `succeeded_event` late in
    a worker's session read thousands (seconds a test). Now the events read are kept
    for the server's life (an event is never changed once recorded) and each call reads
    only those recorded since the last it read; a copy of each is returned, as each
    call parsed its own before."""
    read = _EVENTS_READ.setdefault(localstripe, _EventsRead())
    for _page in range(10_000):  # bounded: localstripe pages 100 events at a time
        query = {"limit": "100", **({"starting_after": read.last} if read.last else {})}
        page = _call(localstripe, "GET", f"/v1/events?{urllib.parse.urlencode(query)}")
        for event in page["data"]:
            if event["id"] not in read.ids:  # a `starting_after` localstripe lost lists all
                read.ids.add(event["id"])
                about = event["data"]["object"].get("id")
                read.about.setdefault(about, []).append(event)
        if page["data"]:
            read.last = page["data"][-1]["id"]
        if not page.get("has_more") or not page["data"]:
            break
    return [
        copy.deepcopy(event)
        for event in read.about.get(object_id, [])
        if event_type is None or event["type"] == event_type
    ]


def signed(
    event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The event as localstripe and Stripe deliver it: raw JSON with `Stripe-Signature`."""
    payload = json.dumps(event, indent=2, sort_keys=True).encode()
    return payload, signature_of(payload, secret, at)


def signature_of(
    payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> dict[str, str]:
    """The headers Stripe sends with `payload` (any bytes, JSON or not), signed."""
    timestamp = at or int(time.time())
    digest = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return {
        "Stripe-Signature": f"t={timestamp},v1={digest}",
        "Content-Type": "application/json",
    }


def pay_by_card(
    invoice: Invoice, vendor: User, localstripe: LocalStripe, number: str = "4242424242424242"
) -> Payment:
    """`invoice` paid by `vendor` with a card (`number`) through localstripe: the
    payment, as stored once the intent is made."""
    attempt = services.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe, number),
        principal=accounts.principal_for(vendor),
        gateway=settings.gateway(),
    )
    payment = db.session().get(Payment, attempt.payment_id)
    assert payment is not None
    db.session().refresh(payment)
    return payment


@dataclass(frozen=True)
class CardAttempt:
    """An invoice a vendor paid by card through localstripe, and Stripe's
    `payment_intent.succeeded` for it, not delivered yet (the Stripe events' tests)."""

    invoice: Invoice
    payment: Payment
    succeeded: dict[str, Any]


def card_attempt(
    invoice_for: Callable[..., Invoice], vendor: User, localstripe: LocalStripe, amount: str
) -> CardAttempt:
    """A new invoice of `amount` for `vendor`, paid by card: the attempt and its event."""
    invoice = invoice_for(vendor, (amount,))
    payment = pay_by_card(invoice, vendor, localstripe)
    return CardAttempt(invoice, payment, succeeded_event(localstripe, payment))


STRIPE_EVENTS = "/console/stripe-events"


def listed_events(client: FlaskClient, query: str = "") -> dict[str, str]:
    """The console's list of Stripe's events (`query` its filters, "?kind=failed"), which
    must answer 200: its rows by event id, each row's words, its links kept as `[href]`."""
    answer = client.get(f"{STRIPE_EVENTS}{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    page = answer.get_data(as_text=True)
    if 'id="stripe-events-list"' not in page:
        return {}
    table = page[page.index('id="stripe-events-list"') :]
    table = table[: table.index("</table>")]
    found: dict[str, str] = {}
    for row in table.split("<tr id=")[1:]:
        linked = re.sub(r'<a href="([^"]+)">', r" [\1] ", row.replace("</a>", ""))
        said_in_row = words(linked)
        event_id = re.search(r"\bevt_\S+", said_in_row)
        assert event_id is not None, said_in_row
        found[event_id.group(0)] = said_in_row
    return found


def unreachable() -> StripeGateway:
    """The real adapter, pointed at a port nothing listens on: Stripe cannot be asked."""
    return StripeGateway(
        dataclasses.replace(current_config(), stripe_api_base="http://127.0.0.1:9")
    )


class CountingIntents:
    """Localstripe's gateway, counting the PaymentIntents it is asked about (round 61;
    round 65 shares it: the PaymentIntents Stripe did not know)."""

    def __init__(self, gateway: payment_gateway.PaymentGateway) -> None:
        self.gateway = gateway
        self.asked: list[str] = []

    def retrieve_payment_intent(self, intent_id: str) -> payment_gateway.IntentStatus:
        self.asked.append(intent_id)
        return self.gateway.retrieve_payment_intent(intent_id)

    def list_refunds(self, intent_id: str) -> list[payment_gateway.RefundStatus]:
        self.asked.append(intent_id)
        return self.gateway.list_refunds(intent_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gateway, name)


def put_pending(payment: Payment, intent: str | None = None, hours: int = 3) -> Payment:
    """`payment` put back as a card attempt still pending `hours` after it began, its
    webhook never come; `intent`, another PaymentIntent for it."""
    payment.state = PENDING
    payment.created_at = utcnow() - timedelta(hours=hours)
    if intent is not None:
        payment.stripe_payment_intent_id = intent
    payment.stripe_charge_id = None
    db.session().commit()
    return payment


def another_account(server: LocalStripe) -> StripeGateway:
    """The real adapter with another Stripe account's keys (round 65): `server`, a
    localstripe of its own, knows none of the PaymentIntents the test's localstripe
    made, and refuses each as Stripe does (its 404, "No such payment_intent")."""
    return StripeGateway(
        dataclasses.replace(
            current_config(),
            stripe_api_base=server.url,
            stripe_secret_key="sk_test_another_account",
        )
    )


def stored_event(event_id: str) -> StripeEvent:
    """The Stripe event stored as `event_id`, read afresh."""
    db.session().expire_all()
    return db.session().scalars(select(StripeEvent).where(StripeEvent.event_id == event_id)).one()


def succeeded_event(localstripe: LocalStripe, payment: Payment) -> dict[str, Any]:
    """Stripe's one `payment_intent.succeeded` event for `payment`."""
    assert payment.stripe_payment_intent_id
    found = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    assert len(found) == 1
    return found[0]


def deliver_event(client: FlaskClient, event: dict[str, Any], **kwargs: Any) -> Any:
    """`event` posted, signed, to the webhook as Stripe delivers it: the response.
    Delivered once the money it says moved has moved (round 55, statements55: a
    dispute's withdrawal and reinstatement are booked on Stripe's day, never after
    now; the disputes' tests run before their days, `before_the_disputes`)."""
    moved = [
        transaction["created"]
        for transaction in (event.get("data", {}).get("object", {}) or {}).get(
            "balance_transactions", []
        )
        or []
        if isinstance(transaction, dict) and isinstance(transaction.get("created"), int)
    ]
    latest = datetime.fromtimestamp(max(moved), UTC) + timedelta(minutes=1) if moved else None
    if latest is None or latest <= datetime.now(UTC):
        return deliver_now(client, event, **kwargs)
    with time_machine.travel(latest, tick=True):
        return deliver_now(client, event, **kwargs)


def deliver_now(client: FlaskClient, event: dict[str, Any], **kwargs: Any) -> Any:
    """`event` posted, signed, to the webhook now, whatever days it names (a Stripe
    whose clock is ahead of ours): the response."""
    payload, headers = signed(event, **kwargs)
    return client.post("/webhooks/stripe", data=payload, headers=headers)


def charge_refunded_event(localstripe: LocalStripe, payment: Payment) -> dict[str, Any]:
    """`charge.refunded` as Stripe sends it (localstripe keeps the charge but
    sends no such event): the refunded charge, with its refunds."""
    intent = _call(localstripe, "GET", f"/v1/payment_intents/{payment.stripe_payment_intent_id}")
    charge = _call(localstripe, "GET", f"/v1/charges/{intent['latest_charge']['id']}")
    return {
        "id": f"evt_refunded_{charge['id']}",
        "object": "event",
        "type": "charge.refunded",
        "created": charge["created"],
        "data": {"object": charge},
    }


def refund_failed_event(
    localstripe: LocalStripe,
    refund_id: str,
    *,
    kind: str = "refund.failed",
    failure_reason: str = "expired_or_canceled_card",
    created: datetime | None = None,
) -> dict[str, Any]:
    """Stripe's `refund.failed` (or `refund.updated`, failed) for a refund it had
    reported succeeded: the card's bank returned it. localstripe's refunds succeed,
    and it sends no such event. Made `created` (when the refund failed at Stripe),
    by default now (the test's clock): since round 56 the return is dated by it."""
    at_stripe = _call(localstripe, "GET", f"/v1/refunds/{refund_id}")
    made = created or datetime.now(UTC)
    return {
        "id": f"evt_{kind}_{refund_id}",
        "object": "event",
        "type": kind,
        "created": int(made.timestamp()),
        "data": {"object": {**at_stripe, "status": "failed", "failure_reason": failure_reason}},
    }


def refund_updated_event(
    localstripe: LocalStripe, refund_id: str, *, created: datetime
) -> dict[str, Any]:
    """Stripe's `refund.updated` saying a refund succeeded, made `created` (when the
    refund was sent at Stripe): localstripe's refunds succeed at once and it sends no
    such event. Since round 56 (refundlist56) the refund is dated sent by it."""
    at_stripe = _call(localstripe, "GET", f"/v1/refunds/{refund_id}")
    return {
        "id": f"evt_refund.updated_{refund_id}",
        "object": "event",
        "type": "refund.updated",
        "created": int(created.timestamp()),
        "data": {"object": {**at_stripe, "status": "succeeded"}},
    }


def flagged_card_payment(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    *,
    received: int,
    currency: str | None = None,
) -> tuple[Invoice, Payment]:
    """A 300.00 invoice paid by card whose charge received `received` cents (of
    `currency`, when Stripe took another than the invoice's: round 49), so the
    payment is flagged for billing staff."""
    invoice = invoice_for(vendor, ("300.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    event = copy.deepcopy(succeeded_event(localstripe, payment))
    event["data"]["object"]["amount_received"] = received
    if currency is not None:
        event["data"]["object"].update(currency=currency, amount=received)
    assert deliver_event(client, event).get_json()["outcome"].startswith("flagged")
    return invoice, payment


def declined_card_payment(invoice: Invoice, vendor: User, localstripe: LocalStripe) -> Payment:
    """`invoice` paid by `vendor` with a card the bank declines: the attempt, `failed`."""
    with pytest.raises(InvalidInput):
        services.start_card_payment(
            invoice.id,
            card_token=card_token(localstripe, DECLINED_CARD),
            principal=accounts.principal_for(vendor),
            gateway=settings.gateway(),
        )
    return db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()


class StripeLine:
    """A line to localstripe on a loopback port of its own, whose answers can be lost
    (round 61): while `answering` is false, every request still reaches localstripe
    (Stripe does what it was asked) but nothing comes back, as a Stripe that accepts
    connections and never answers, or an answer lost on the way. Bytes, not HTTP: the
    service's client talks to it as to Stripe."""

    def __init__(self, localstripe: LocalStripe) -> None:
        self.upstream = localstripe.port
        self.answering = True
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._open += [client, upstream]
            threading.Thread(target=self._copy, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._copy, args=(upstream, client, False), daemon=True).start()

    def _copy(self, source: socket.socket, target: socket.socket, asking: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            if asking or self.answering:
                with contextlib.suppress(OSError):
                    target.sendall(data)

    def close(self) -> None:
        self._listener.close()
        for each in self._open:
            with contextlib.suppress(OSError):
                each.close()
