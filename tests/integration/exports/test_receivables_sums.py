"""Round 51: the receivables export's per-invoice sums beyond SQLite's integers. One
invoice's payments received and returned are not bounded by its total: an offline
payment that did not clear is reversed and the invoice paid again, so ten wires of
the largest amount returned on one invoice add up to 999,999,999,999,999.90 received,
beyond what SQLite's SUM of the scaled integers holds (about 9.2e14: "integer
overflow"). They are summed with `db.money_sum`, exact on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.billing import services
from tests.support.factories import billing_clerk
from tests.support.monthly_statements import IN_JANUARY, RUN, invoice, organization

LARGEST = Decimal("99999999999999.99")


def test_an_invoice_paid_and_returned_ten_times_at_the_largest_is_exported_exactly(
    client: FlaskClient, signed_in: Any, billing_staff: Any
) -> None:
    owing = organization("Vastmoor Holdings")
    issued = invoice(owing.id, str(LARGEST), IN_JANUARY)
    for day in range(16, 26):
        now = datetime(2027, 1, day, 18, 0, tzinfo=UTC)
        with time_machine.travel(now, tick=False):
            payment = services.record_offline_payment(
                issued.id,
                method="wire",
                amount=LARGEST,
                reference=f"W-{day}",
                received_on=now.date(),
                now=now,
                actor=billing_clerk(),
            )
            services.reverse_offline_payment(
                payment.id,
                reason="Did not clear",
                returned_on=now.date(),
                standing_days=30,
                now=now,
                actor=billing_clerk(),
            )
    # The eleventh clears, but for a cent and its fraction.
    now = datetime(2027, 1, 27, 18, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        services.record_offline_payment(
            issued.id,
            method="wire",
            amount=LARGEST - Decimal("0.01"),
            reference="W-27",
            received_on=date(2027, 1, 27),
            now=now,
            actor=billing_clerk(),
        )
    with time_machine.travel(RUN, tick=False):
        signed_in(client, billing_staff)
        exported = client.get("/console/exports?dataset=receivables&format=csv&as_of=2027-01-31")
    assert exported.status_code == 200  # a 500 on SQLite: "integer overflow"
    header, *rows = [line.split(",") for line in exported.get_data(as_text=True).splitlines()]
    (row,) = rows
    read = dict(zip(header, row, strict=True))
    assert (read["total"], read["paid_to_date"], read["balance"]) == (
        "99999999999999.99",
        "99999999999999.98",
        "0.01",
    )
