"""Round 55: the overdue run asks, every run, which organizations have late fees no
email has named (`overdue._with_unnamed_late_fees`, round 54), and naming them counts
an organization's (`_unnamed`). With no index on an invoice's source both read every
invoice to find the late fees (30 ms on SQLite at 30,000 invoices with 2,000 late
fees); `ix_invoices_late_fees` (operations_0006) holds the late fees alone, by
organization and id. Each statement EXPLAINed with its own values on both backends
(`tests/support/plans.py`: on PostgreSQL sequential scans priced out)."""

from __future__ import annotations

import sys

from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.billing.models import Invoice
from tests.support.plans import plan_of, sent

overdue = sys.modules["licensing.billing.services.overdue"]


def _reads_the_late_fees_alone(lines: list[str]) -> None:
    plan = "\n".join(lines)
    assert "ix_invoices_late_fees" in plan, plan
    if db.session().connection().dialect.name == "sqlite":
        assert [line for line in lines if line.strip() == "SCAN invoices"] == [], plan
        assert "ix_invoices_organization_id" not in plan, plan
    else:
        assert "Seq Scan on invoices" not in plan, plan


def test_the_sweep_for_unnamed_late_fees_reads_the_late_fees_index_not_every_invoice(
    app: Flask,
) -> None:
    _reads_the_late_fees_alone(
        plan_of(*sent(overdue._with_unnamed_late_fees(), containing="late_fee"))
    )


def test_counting_an_organizations_unnamed_late_fees_reads_its_own_from_the_index(
    app: Flask,
) -> None:
    counted = select(func.count(), func.max(Invoice.id)).where(
        Invoice.organization_id == 1, overdue._unnamed(1)
    )
    _reads_the_late_fees_alone(plan_of(*sent(counted, containing="late_fee")))
