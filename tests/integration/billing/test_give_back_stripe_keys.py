"""Round 47: the Stripe idempotency key a give-back's retry is sent with. A retry
after Stripe refused the give-back asked Stripe again with the same key
(`give-back-<id>`), so a real Stripe, which keeps an answer for a key 24 hours, would
replay the refusal; it now asks with the next attempt's key (`give-back-<id>-2`). A
retry after a lost answer (reconcile found no refund: the request never reached
Stripe) keeps the key, so that Stripe, had it made the Refund after all, replays it.

The keys are read from the gateway's own HTTP requests: the app talks to localstripe
through a recording proxy on loopback, which answers a refund with Stripe's refusal
(`charge_disputed`, 400) or drops the connection when told to, and forwards
everything else."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Payment
from licensing.db import utcnow
from tests.support import settings
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .stripe_support import stripe_config

# What Stripe answers a refund of a charge it will not refund (its error object).
REFUSAL = (
    b'{"error": {"type": "invalid_request_error", "code": "charge_disputed", '
    b'"message": "Charge has been charged back; cannot issue a refund."}}'
)


class RecordingProxy:
    """A loopback HTTP proxy in front of localstripe: records each `POST /v1/refunds`
    request's `Idempotency-Key`, and answers the next ones as `then` says ("refuse":
    Stripe's 400; "drop": the connection closed unanswered), else forwards."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.refund_keys: list[str] = []
        self.then: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and self.path.startswith("/v1/refunds"):
                    proxy.refund_keys.append(self.headers.get("Idempotency-Key", ""))
                    if proxy.then:
                        what = proxy.then.pop(0)
                        if what == "drop":
                            self.close_connection = True
                            return
                        self.send_response(400)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(REFUSAL)))
                        self.end_headers()
                        self.wfile.write(REFUSAL)
                        return
                forwarded = urllib.request.Request(  # noqa: S310 - loopback test server
                    f"{proxy.upstream}{self.path}",
                    data=body,
                    method=self.command,
                    headers={
                        name: value
                        for name, value in self.headers.items()
                        if name.lower() not in ("host", "content-length", "connection")
                    },
                )
                try:
                    with urllib.request.urlopen(forwarded, timeout=30) as answer:  # noqa: S310
                        status, payload, kind = answer.status, answer.read(), answer.headers
                except urllib.error.HTTPError as refused:
                    status, payload, kind = refused.code, refused.read(), refused.headers
                self.send_response(status)
                self.send_header("Content-Type", kind.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def proxy(localstripe: LocalStripe) -> Iterator[RecordingProxy]:
    recording = RecordingProxy(localstripe.url)
    recording.thread.start()
    yield recording
    recording.server.shutdown()
    recording.server.server_close()


@pytest.fixture
def config_changes(localstripe: LocalStripe, proxy: RecordingProxy) -> dict[str, Any]:
    return {**stripe_config(localstripe), "stripe_api_base": proxy.url}


def _give_back(client: FlaskClient, staff: User, payment: Payment, key: str) -> TestResponse:
    return client.post(
        f"/api/v1/payments/{payment.id}/give-back",
        json={"reason": "Not ours."},
        headers={**bearer(staff), "Idempotency-Key": key},
    )


def _state(payment_id: int) -> str:
    db.session().expire_all()
    payment = db.session().get(Payment, payment_id)
    assert payment is not None
    return payment.state


def test_a_give_back_retried_after_stripe_refused_asks_with_the_next_attempts_key(
    client: FlaskClient, billing_staff: User, flagged: Payment, proxy: RecordingProxy
) -> None:
    """Refused, then retried with the API's same `Idempotency-Key` (freed by the
    refusal, round 45): before round 47 the gateway sent `give-back-<id>` both times,
    and a real Stripe would have answered the retry with its saved refusal."""
    proxy.then = ["refuse"]
    refused = _give_back(client, billing_staff, flagged, "finance-run-7")
    assert refused.status_code == 502, refused.get_data(as_text=True)
    assert "charge_disputed" in refused.get_data(as_text=True) or (
        "charged back" in refused.get_data(as_text=True)
    )
    assert _state(flagged.id) == "flagged"
    retried = _give_back(client, billing_staff, flagged, "finance-run-7")
    assert retried.status_code == 200, retried.get_data(as_text=True)
    assert retried.get_json()["state"] == "given_back"
    assert proxy.refund_keys == [f"give-back-{flagged.id}", f"give-back-{flagged.id}-2"]


def test_a_give_back_retried_after_its_answer_was_lost_keeps_its_key(
    client: FlaskClient, billing_staff: User, flagged: Payment, proxy: RecordingProxy
) -> None:
    """The request never reached Stripe (the connection dropped, each of the client
    library's own retries too): reconcile finds no refund and flags it again; the
    give-back asked anew sends the same key, so that a Refund Stripe made from it
    after all would be replayed, never made twice."""
    proxy.then = ["drop"] * 3  # the request and the client library's two retries
    lost = _give_back(client, billing_staff, flagged, "finance-run-8")
    assert lost.status_code == 502, lost.get_data(as_text=True)
    assert _state(flagged.id) == "giving_back"
    report = services.reconcile_giving_back(
        now=utcnow() + timedelta(minutes=10), gateway=settings.gateway()
    )
    assert report.applied == 1
    assert _state(flagged.id) == "flagged"
    again = _give_back(client, billing_staff, flagged, "finance-run-9")
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json()["state"] == "given_back"
    assert set(proxy.refund_keys) == {f"give-back-{flagged.id}"}
    assert len(proxy.refund_keys) == 4  # three dropped, the retry forwarded
