"""Refunds the office owes licensees and has not sent, on the console home and the
credit notes list (round 68, journeyF68): a credit note beyond what its invoice owed
waited on billing staff, and no queue said so."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support.billing import credited, paid_offline, refunded_offline

QUEUE = "Refunds owed to licensees, still to send"


def _queue_row(home: str) -> str:
    start = home.rindex("<tr", 0, home.index(QUEUE))
    return home[start : home.index("</tr>", start)]


def test_a_refund_owed_waits_on_the_console_home_until_it_is_sent(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    paid = invoice_for(vendor, ("1000.00",))
    paid_offline(paid.id, "1000.00", "W-PAID")
    owing = invoice_for(vendor, ("500.00",))
    # Off the balance due: nothing to send back.
    credited(owing.id, "200.00", "Seats never used")
    # Beyond what the paid invoice owes: 300.00 owed back.
    beyond = credited(paid.id, "300.00", "Billed at the wrong tier")
    signed_in(client, billing_staff)

    home = client.get("/console/").get_data(as_text=True)
    row = _queue_row(home)
    assert '<td class="num">1</td>' in row
    assert "1 to send" in row
    assert "/console/credit-notes?to_send=1" in row

    listed = client.get("/console/credit-notes?to_send=1")
    assert listed.status_code == 200
    text = listed.get_data(as_text=True)
    assert beyond.number in text
    assert "300.00 USD</span> still to send" in text
    assert "Seats never used" not in text
    assert 'id="to_send" name="to_send" value="1" checked' in text

    refunded_offline(beyond.id, "300.00", "RF-1")
    after = _queue_row(client.get("/console/").get_data(as_text=True))
    assert '<td class="num">0</td>' in after
    assert "1 to send" not in after
    emptied = client.get("/console/credit-notes?to_send=1").get_data(as_text=True)
    assert beyond.number not in emptied


def test_the_list_refuses_a_to_send_value_it_does_not_offer_beside_the_field(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    signed_in(client, billing_staff)
    refused = client.get("/console/credit-notes?to_send=maybe")
    assert refused.status_code == 422
    assert 'id="to_send-error"' in refused.get_data(as_text=True)
