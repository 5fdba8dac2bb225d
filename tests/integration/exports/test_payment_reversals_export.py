"""A reversed offline payment in the payments export and on the Finance page:
finance reconciles the page's collected figures to the export's succeeded and
reversed rows by paid day, and its reversed figures to the reversed rows by
`reversed_on`, to the cent, and reads when and why each was reversed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.finance import queries
from licensing.finance.queries import Filters
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import paid_offline, reversed_offline

from .conftest import total

FEBRUARY = {"from": "2027-02-01", "to": "2027-02-28"}
MARCH = {"from": "2027-03-01", "to": "2027-03-31"}


def _bounced_then_paid_by_wire() -> int:
    """INV 1000.00 issued 2027-01-10; check of 1000.00 received 02-05, returned by
    the bank 02-20 and reversed; a wire of 1000.00 received 03-03. Another invoice's
    400.00 wire on 02-10 stands."""
    organization = factories.make_organization(db.session())
    invoice = issue(organization.id, "1000.00", date(2027, 1, 10))
    other = issue(organization.id, "400.00", date(2027, 1, 10))
    check = paid_offline(
        invoice.id,
        "1000.00",
        "CHK 4410",
        method="check",
        received_on=date(2027, 2, 5),
        now=at(date(2027, 2, 5)),
    )
    paid_offline(
        other.id, "400.00", "WIRE-2", received_on=date(2027, 2, 10), now=at(date(2027, 2, 10))
    )
    reversed_offline(
        check.id,
        "Check returned: account closed.",
        returned_on=date(2027, 2, 20),
        now=at(date(2027, 2, 21)),
    )
    paid_offline(
        invoice.id, "1000.00", "WIRE-9", received_on=date(2027, 3, 3), now=at(date(2027, 3, 3))
    )
    return check.id


def test_a_reversed_payment_is_in_the_export_with_its_reversal_and_counted_when_returned(
    app: Any, export_json: Callable[..., list[dict[str, Any]]]
) -> None:
    check_id = _bounced_then_paid_by_wire()
    february = export_json("payments", **FEBRUARY)
    reversed_rows = [row for row in february if row["state"] == "reversed"]
    assert [(row["payment_id"], row["amount"], row["paid_date"]) for row in reversed_rows] == [
        (check_id, "1000.00", "2027-02-05")
    ]
    assert reversed_rows[0]["reversed_on"] == "2027-02-20"
    assert reversed_rows[0]["reversal_reason"] == "Check returned: account closed."
    assert reversed_rows[0]["reversed_by"].endswith("@licensing-office.example")
    assert all(row["reversed_on"] is None for row in february if row["state"] != "reversed")

    figures = queries.cash_flow(
        db.session(), Filters(date(2027, 2, 1), date(2027, 3, 1), currency="USD")
    )
    collected = {row.period.key: row.collected for row in figures}
    reversed_ = {row.period.key: row.reversed for row in figures}
    outstanding = {row.period.key: row.outstanding for row in figures}
    # The check came on 02-05 and went back on 02-20: both are February's.
    assert collected == {"2027-02": Decimal("1400.00"), "2027-03": Decimal("1000.00")}
    assert reversed_ == {"2027-02": Decimal("1000.00"), "2027-03": Decimal("0")}
    assert outstanding == {"2027-02": Decimal("1000.00"), "2027-03": Decimal("0")}
    everything = export_json("payments")
    for key, days in (("2027-02", FEBRUARY), ("2027-03", MARCH)):
        rows = export_json("payments", **days)
        received = [row for row in rows if row["state"] in ("succeeded", "reversed")]
        assert total(received) == collected[key]
        returned = [
            row
            for row in everything
            if row["reversed_on"] and days["from"] <= row["reversed_on"] <= days["to"]
        ]
        assert total(returned) == reversed_[key]


def test_the_csv_export_writes_the_reversal_columns_at_the_end(
    app: Any, client: FlaskClient, billing_staff: User
) -> None:
    check_id = _bounced_then_paid_by_wire()
    response = client.get(
        "/api/v1/exports/payments",
        query_string={"format": "csv", **FEBRUARY},
        headers=factories.bearer(billing_staff),
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    # Round 24 added the dispute's three columns after them, at the end; round 60 the
    # names of who recorded and reversed it after those.
    assert header[-9:-5] == ["settled_at", "reversed_on", "reversal_reason", "reversed_by"]
    by_id = {row["payment_id"]: row for row in rows}
    assert by_id[str(check_id)]["state"] == "reversed"
    assert by_id[str(check_id)]["reversed_on"] == "2027-02-20"
    assert by_id[str(check_id)]["reversal_reason"] == "Check returned: account closed."
