"""Round 55: the overdue run asks, every run, which organizations have late fees no
email has named (`overdue._with_unnamed_late_fees`, round 54), and naming them counts
an organization's (`_unnamed`). With no index on an invoice's source both read every
invoice to find the late fees (30 ms on SQLite at 30,000 invoices with 2,000 late
fees); `ix_invoices_late_fees` (operations_0006) holds the late fees alone, by
organization and id. Each statement EXPLAINed with its own values on both backends
(`tests/support/plans.py`: on PostgreSQL sequential scans priced out).

Round 58: on PostgreSQL each plan is priced on rows that decide it (`_crowd`: 2,000
invoices that are not late fees beside a few that are, ANALYZEd in the test's
transaction). On an empty table the plan was priced on whatever statistics earlier
tests left: a count ANALYZE writes in place outlives the test's rollback, and with
another test's rolled-back late fees still filling the index's pages it chose
`pk_invoices` (CI, under -n 2)."""

from __future__ import annotations

import sys
from decimal import Decimal

from flask import Flask
from sqlalchemy import func, insert, select

from licensing import db
from licensing.actors import Actor
from licensing.billing.models import Invoice
from licensing.billing.services.invoices import Charge, create_invoice
from licensing.billing.states import LATE_FEE, MANUAL
from tests.support import factories
from tests.support.plans import analyzed, plan_of, sent

overdue = sys.modules["licensing.billing.services.overdue"]
# Invoices that are not late fees: enough that, analyzed, reading every invoice (by
# its primary key) is priced as at size, beside the few late fees the index holds.
OTHERS = 2000
LATE = 5


def _crowd() -> int:
    """An organization with `OTHERS` manual invoices and `LATE` late fees, another
    with `LATE` late fees, and the invoices analyzed (`analyzed`, PostgreSQL only):
    the first organization's id."""
    organizations = [factories.make_organization(db.session()).id for _ in range(2)]
    parent = create_invoice(
        db.session(),
        organization_id=organizations[0],
        currency="USD",
        charges=[Charge("Licence", Decimal("100.00"), "1 x 100.00")],
        source_type=MANUAL,
        payment_terms_days=30,
        late_fee_monthly_percent=Decimal(0),
        finalize=False,
        email=False,
        actor=Actor.SYSTEM,
    )
    invoices = Invoice.__table__
    first = dict(
        db.session().execute(select(invoices).where(invoices.c.id == parent.id)).one()._mapping
    )
    del first["id"]
    late_fee = {
        "source_type": LATE_FEE,
        "source_id": parent.id,
        "parent_invoice_id": parent.id,
        "late_fee_through_month": 1,
    }
    rows = [first] * OTHERS + [
        first | late_fee | {"organization_id": organization}
        for organization in organizations
        for _ in range(LATE)
    ]
    db.session().execute(insert(invoices), rows)
    analyzed("invoices", "late_fee_emails")
    return organizations[0]


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
    _crowd()
    _reads_the_late_fees_alone(
        plan_of(*sent(overdue._with_unnamed_late_fees(), containing="late_fee"))
    )


def test_counting_an_organizations_unnamed_late_fees_reads_its_own_from_the_index(
    app: Flask,
) -> None:
    organization_id = _crowd()
    counted = select(func.count(), func.max(Invoice.id)).where(
        Invoice.organization_id == organization_id, overdue._unnamed(organization_id)
    )
    _reads_the_late_fees_alone(plan_of(*sent(counted, containing="late_fee")))
