"""Round 60 (names60): the API and the exports gave who moved money as the bare address
recorded (`reversed_by`, `revoked_by`, `returned_by`; the payments', refunds' and credit
notes' `recorded_by`, `returned_by`, `issued_by`, `report_filed_by`), where the console
names people "Name (address)". Each now gives the person's name beside the address:
API fields `..._name` and export columns `..._name` added at the end (finance systems read
the columns by position; the addresses are unchanged). The name is found as the console
finds it: by the account the record kept, else (a row from before) by the address; empty
for the system."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.exports.datasets import credit_notes, payments, refunds
from tests.support.exports import both, exporter
from tests.support.factories import bearer
from tests.support.named_people import address_passed_on, staff_named

TODAY = office_date(utcnow()).isoformat()


def _rows(export: Callable[..., bytes]) -> tuple[list[str], dict[str, dict[str, str]]]:
    text = export("csv").decode("utf-8")
    header = next(csv.reader(io.StringIO(text)))
    rows = list(csv.DictReader(io.StringIO(text)))
    return header, {row[header[1]]: row for row in rows}  # by id (after schema_version)


def test_the_api_names_who_reversed_a_payment_withdrew_links_and_recorded_a_return(
    client: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    clerk, recording = staff_named("Tomasz Wren", ("billing",))
    invoice = invoice_for(vendor, ("500.00",))
    payment = services.record_offline_payment(
        invoice.id, method="check", amount=Decimal("500.00"), reference="CHK-1", actor=recording
    )
    headers = bearer(clerk)

    reversal = client.post(
        f"/api/v1/payments/{payment.id}/reversal",
        json={"reason": "The cheque bounced.", "returned_on": TODAY},
        headers=headers,
    )
    assert reversal.status_code == 201, reversal.get_json()
    assert {k: reversal.get_json()[k] for k in ("reversed_by", "reversed_by_name")} == {
        "reversed_by": clerk.email,
        "reversed_by_name": "Tomasz Wren",
    }
    withdrawal = client.post(
        f"/api/v1/invoices/{invoice.id}/link-withdrawals",
        json={"reason": "Forwarded to the wrong person"},
        headers=headers,
    )
    assert withdrawal.status_code == 201, withdrawal.get_json()
    assert {k: withdrawal.get_json()[k] for k in ("revoked_by", "revoked_by_name")} == {
        "revoked_by": clerk.email,
        "revoked_by_name": "Tomasz Wren",
    }
    # The OpenAPI document describes each name beside its address.
    spec = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for schema, field in (
        ("StaffReversal", "reversed_by_name"),
        ("LinkWithdrawal", "revoked_by_name"),
        ("StaffRefund", "returned_by_name"),
    ):
        assert spec[schema]["properties"][field]["type"] == "string", (schema, field)


def test_the_exports_add_each_persons_name_at_the_end_found_as_the_console_finds_it(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    recorder, recording = staff_named("Tomasz Wren", ("billing",))
    reverser, reversing = staff_named("Aiko Brandt", ("billing",))
    issuer, issuing = staff_named("Credit Office", ("billing",))
    returner, returning = staff_named("Marisol Quintero", ("billing",))
    bounced = invoice_for(vendor, ("500.00",))
    cheque = services.record_offline_payment(
        bounced.id, method="check", amount=Decimal("500.00"), reference="CHK-1", actor=recording
    )
    services.reverse_offline_payment(
        cheque.id,
        reason="The cheque bounced.",
        returned_on=office_date(utcnow()),
        standing_days=30,
        actor=reversing,
    )
    credited = invoice_for(vendor, ("300.00",))
    wire = services.record_offline_payment(
        credited.id, method="wire", amount=Decimal("300.00"), reference="W-1", actor=recording
    )
    credit = services.issue_credit_note(
        credited.id, amount=Decimal("100.00"), reason="Seat removed", actor=issuing
    )
    refund = services.record_offline_refund(
        credit.id, method="wire", amount=Decimal("100.00"), reference="R-1", actor=recording
    )
    services.return_offline_refund(
        refund.id, reason="Account closed", returned_on=office_date(utcnow()), actor=returning
    )
    # Whoever holds their addresses now, the rows name who acted, by the account kept.
    recorded = {person.id: person.email for person in (recorder, reverser, issuer, returner)}
    for person in (recorder, reverser, issuer, returner):
        address_passed_on(person, f"Newcomer {person.id}")
    recorder_at, reverser_at = recorded[recorder.id], recorded[reverser.id]

    header, paid = _rows(exporter(client, billing_staff, "payments"))
    assert header[-2:] == ["recorded_by_name", "reversed_by_name"]
    assert header[-3] == "reinstates_payment_id"  # every column before keeps its place
    assert {
        (row["recorded_by"], row["recorded_by_name"], row["reversed_by"], row["reversed_by_name"])
        for row in paid.values()
    } == {
        (recorder_at, "Tomasz Wren", reverser_at, "Aiko Brandt"),
        (recorder_at, "Tomasz Wren", "", ""),
    }
    header, sent = _rows(exporter(client, billing_staff, "refunds"))
    assert header[-3:] == ["payment_id", "recorded_by_name", "returned_by_name"]
    row = sent[str(refund.id)]
    assert (row["recorded_by_name"], row["returned_by"], row["returned_by_name"]) == (
        "Tomasz Wren",
        recorded[returner.id],
        "Marisol Quintero",
    )
    header, notes = _rows(exporter(client, billing_staff, "credit_notes"))
    assert header[-3:] == ["report_filed_by", "issued_by_name", "report_filed_by_name"]
    row = notes[str(credit.id)]
    assert (row["issued_by"], row["issued_by_name"], row["report_filed_by_name"]) == (
        recorded[issuer.id],
        "Credit Office",
        "",
    )

    # A row from before the account was kept is named by whoever holds the address
    # now, as the console names it; the system by no one.
    session = db.session()
    session.execute(update(Payment).where(Payment.id == wire.id).values(recorded_by_id=None))
    session.execute(
        update(Payment)
        .where(Payment.id == cheque.id)
        .values(recorded_by="system", recorded_by_id=None)
    )
    session.commit()
    _header, paid = _rows(exporter(client, billing_staff, "payments"))
    named = {
        row["reference"]: (row["recorded_by"], row["recorded_by_name"]) for row in paid.values()
    }
    assert named == {
        "W-1": (recorder_at, f"Newcomer {recorder.id}"),
        "CHK-1": ("system", ""),
    }
    # The database's CSV and the Python writer's agree on every new column.
    for dataset in (payments.DATASET, refunds.DATASET, credit_notes.DATASET):
        by_database, by_python = both(dataset=dataset)
        assert by_database == by_python, dataset.name
