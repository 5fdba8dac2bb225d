"""Round 53: `licensing invoices reopen-owed` reopens the invoices left `paid` before
billing_0021 though they are owed: a card payment disputed for no more than a refund
already sent back took the money off `amount_paid` while the balance (which left the
refunds sent out) still read 0.00, so the invoice stayed paid. The migration counts
the refund but cannot step the invoice's machine."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from click.testing import Result
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import Invoice
from tests.support.billing import credited, paid_offline, refunded_offline


def _run(app: Flask, *arguments: str) -> Result:
    result = app.test_cli_runner().invoke(args=["invoices", "reopen-owed", *arguments])
    db.session().rollback()  # read what the command committed
    return result


def _paid_before_billing_0021(invoice: Invoice) -> None:
    """250.00 paid, a 50.00 credit note refunded in full, then 50.00 of the payment
    taken back as the old code booked it: off `amount_paid`, the invoice left paid
    (its old balance, 250.00 - 200.00 - 50.00, was 0.00)."""
    paid_offline(invoice.id, "250.00", "WIRE-1")
    refunded_offline(credited(invoice.id, "50.00", "Overbilled").id, "50.00", "WIRE-BACK-1")
    stored = db.session().get(Invoice, invoice.id)
    assert stored is not None
    db.session().refresh(stored)
    stored.amount_paid -= Decimal("50.00")
    db.session().commit()


def _state(invoice_id: int) -> str:
    invoice = db.session().get(Invoice, invoice_id)
    assert invoice is not None
    db.session().refresh(invoice)
    return invoice.state


def _reopenings(invoice_id: int) -> list[str | None]:
    return list(
        db.session().scalars(
            select(AuditEvent.note).where(
                AuditEvent.action == "invoice.reopened", AuditEvent.entity_id == str(invoice_id)
            )
        )
    )


def test_the_dry_run_lists_a_paid_invoice_that_is_owed_and_changes_nothing(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    owed = invoice_for(vendor, ("250.00",))
    _paid_before_billing_0021(owed)
    settled = invoice_for(vendor, ("100.00",))
    paid_offline(settled.id, "100.00", "WIRE-2")
    result = _run(app)
    assert result.exit_code == 0, result.output
    assert f"{owed.number}: paid, yet owes 50.00 USD: would be reopened" in result.output
    assert settled.number not in result.output
    assert "run again with --apply" in result.output
    assert _state(owed.id) == "paid"
    assert _reopenings(owed.id) == []


def test_apply_reopens_each_through_the_machine_audited_and_a_second_run_finds_none(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    owed = invoice_for(vendor, ("250.00",))
    _paid_before_billing_0021(owed)
    result = _run(app, "--apply")
    assert result.exit_code == 0, result.output
    assert f"{owed.number}: paid, yet owes 50.00 USD: reopened" in result.output
    assert _state(owed.id) == "open"
    notes = _reopenings(owed.id)
    assert len(notes) == 1
    assert "licensing invoices reopen-owed" in (notes[0] or "")
    again = _run(app, "--apply")
    assert again.exit_code == 0, again.output
    assert "No paid invoice is owed: nothing to reopen." in again.output
    assert len(_reopenings(owed.id)) == 1
