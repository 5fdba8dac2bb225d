"""Round 59 (balanceplan59): on PostgreSQL with statistics, the console's invoice list
narrowed to a balance on a day (the Finance page's *Outstanding*, *Refunds owed* and
aging links) ran for 40 s to many minutes at 100,000 invoices. The balances' statement
(`finance.queries._owed_at_ends`) joined its events back to the invoices' CTE for
their period of issue; PostgreSQL knows nothing of a CTE's ids, so it estimated that
join at 24,000,000 rows (about 50,000 real), and with LIMIT 50 it walked
`ix_invoices_created_order` backwards in a nested loop, testing every invoice against
every balance row. Each event now carries its period of issue from the join that chose
it, and the balances are summed once (a materialized CTE, with each invoice's
`created_at`) before the list orders them by that copy and takes its page.

The plan is priced on rows of the test's own, ANALYZEd in its transaction (plans58's
way, `plans.analyzed`): 2,000 invoices owing on the day, each paid a part before it
and a part after. EXPLAINed as PostgreSQL would run it (no plan settings): no walk of
the invoices' order index, no join filter, and the balances estimated at most the
2,001 rows the page is taken from (on the base, 20 times them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice, Payment
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.plans import analyzed, copied, sent_with_values, subtree

from .conftest import at, issue

# The invoice copied, and its copies: all owing on DAY.
OWING = 2001
DAY = date(2027, 2, 28)
# Payments of 1.00 each invoice received before DAY: events enough that the base's
# estimate of the events joined back to the invoices dwarfed the invoices.
PAYMENTS_BEFORE = 10


def _ledger() -> None:
    """USD: an invoice of 100.00 issued 10 January 2027, paid 1.00 on each of 1-10
    February and 40.00 on 10 March (after DAY), and 2,000 copies of it and of its
    payments, each copy issued a minute before the last."""
    session = db.session()
    organization = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    first = issue(organization, "100.00", date(2027, 1, 10))
    paid_before = [
        paid_offline(
            first.id, "1.00", f"W-{day}", received_on=date(2027, 2, day), now=at(date(2027, 2, day))
        )
        for day in range(1, PAYMENTS_BEFORE + 1)
    ]
    after = paid_offline(
        first.id, "40.00", "W-2", received_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    )
    copied(
        Invoice.__table__,
        first.id,
        OWING - 1,
        lambda n: {
            "number": f"INV-2027-{800000 + n}",
            "created_at": first.created_at - timedelta(minutes=n + 1),
        },
    )
    copies = session.scalars(
        select(Invoice.id).where(Invoice.id != first.id).order_by(Invoice.id)
    ).all()
    for payment in (*paid_before, after):
        copied(
            Payment.__table__,
            payment.id,
            OWING - 1,
            lambda n, reference=payment.reference: {
                "invoice_id": copies[n],
                "reference": f"{reference}-{n}",
            },
        )
    analyzed("invoices", "payments", "payment_reversals", "credit_notes", "refunds")


def _explained(sql: str, values: object) -> list[str]:
    """PostgreSQL's EXPLAIN of the statement as it would run it (no plan settings)."""
    connection = db.session().connection()
    return [str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {sql}", values)]


def _estimated(line: str) -> int:
    found = re.search(r"rows=(\d+)", line)
    assert found is not None, line
    return int(found.group(1))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # PostgreSQL's plan
@pytest.mark.parametrize(
    ("query", "under_at_most"),
    [
        ("owing_on=2027-02-28&currency=USD&page=2", 10),
        # The aging row's dates are guessed too: under by up to 50 times.
        ("owing_on=2027-02-28&aging=1_30", 50),
    ],
)
def test_a_list_of_a_balance_on_a_day_sums_the_balances_once_with_no_walk_of_the_order_index(
    app: Flask,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    query: str,
    under_at_most: int,
) -> None:
    _ledger()
    with time_machine.travel(datetime(2027, 3, 15, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        with sent_with_values(app.extensions["licensing.db"].engine) as caught:
            answer = staff.get(f"/console/invoices?{query}")
    assert answer.status_code == 200
    assert f"{OWING:,} invoices listed owed {OWING * 90:,}.00" in " ".join(
        re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True)).split()
    )
    (page,) = [(sql, values) for sql, values in caught if "owed_then" in sql and "LIMIT" in sql]
    lines = _explained(*page)
    plan = "\n".join(lines)

    # The base's shape: Limit over a Nested Loop walking the invoices' order index
    # backwards, its Join Filter testing each against a Materialize of the balances.
    assert "ix_invoices_created_order" not in plan, plan
    tested_one_by_one = [line for line in lines if "Join Filter: (invoices.id = " in line]
    assert tested_one_by_one == [], plan
    # The balances summed once, never estimated above the rows they are (the base's
    # estimate, the events joined back to the invoices, was many times them: the
    # walk's bet that the page fills early). PostgreSQL still guesses a grouping of
    # a union at a tenth of its rows and `owed > 0` at a third: under, never over.
    balances = _estimated(subtree(lines, "CTE balances")[1])
    assert OWING / under_at_most <= balances <= OWING, plan
