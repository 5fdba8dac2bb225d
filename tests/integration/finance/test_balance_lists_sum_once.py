"""Round 59 (financelists59): the console's invoice list narrowed to one of the Finance
page's balances on a day (*Owing at the end of*, *Owed a refund at the end of*, a row of
the aging) summed the ledger's events in three statements a request: to count its rows,
for its page and for its totals. At 100,000 invoices that was about 0.7-0.9 s on SQLite
(`bench/invoice_balances.py`), nearly all of it the three sums. The totals count the
rows now (a currency each), so the page is not counted again: two statements sum the
ledger, and the list's count, pages and totals are what they were."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from tests.support import copies, factories
from tests.support.billing import credited, paid_offline
from tests.support.statements import sent_by

from .conftest import at, issue

SignIn = Callable[..., FlaskClient]
# A statement summing the ledger names the balances' subquery
# (`finance.queries.balances_on`).
LEDGER = "owed_then"
# 52 invoices owing: a second page of two rows.
OWING = 52


def _ledger() -> None:
    """USD, 2027: 52 invoices of 100.00 issued 10 January, unpaid (one issued, the rest
    its copies); one of 500.00 issued 12 January, paid in full 20 January and credited
    200.00 on 1 February (owed back)."""
    session = db.session()
    organization = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    first = issue(organization, "100.00", date(2027, 1, 10))
    for n in range(2, OWING + 1):
        copies.copy_invoice(first.id, number=f"INV-2027-{900000 + n}")
    paid = issue(organization, "500.00", date(2027, 1, 12))
    paid_offline(paid.id, "500.00", "W-1", received_on=date(2027, 1, 20), now=at(date(2027, 1, 20)))
    credited(paid.id, "200.00", "Seats removed", now=at(date(2027, 2, 1)))


def _words(markup: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", markup).split())


def test_a_list_narrowed_to_a_balance_on_a_day_sums_the_ledger_twice_and_counts_its_rows(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    _ledger()
    with time_machine.travel(datetime(2027, 3, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        views = {
            # (query, the sentence's count and amount, rows on the page)
            "owing_on=2027-02-28&currency=USD": ("52 invoices listed owed 5,200.00", 50),
            "owing_on=2027-02-28&currency=USD&page=2": ("52 invoices listed owed 5,200.00", 2),
            "owing_on=2027-02-28&aging=1_30&currency=USD": ("52 invoices listed owed 5,200.00", 50),
            "owing_on=2027-02-28&aging=current&currency=USD": None,
            "owed_back_on=2027-02-28&currency=USD": ("1 invoice listed was owed back 200.00", 1),
            "owing_on=2027-02-28": ("52 invoices listed owed 5,200.00", 50),  # any currency
        }
        for query, expected in views.items():
            url = f"/console/invoices?{query}"
            assert staff.get(url).status_code == 200  # warm: what is kept per process
            with sent_by(app) as statements:
                answer = staff.get(url)
            assert answer.status_code == 200, query
            markup = answer.get_data(as_text=True)
            summing = [statement for statement in statements if LEDGER in statement]
            # The totals, and the page: the rows are not counted by a third sum.
            assert len(summing) == 2, (query, len(summing))
            if expected is None:
                assert "No invoice matches." in markup, query
                continue
            sentence, shown = expected
            body = markup.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
            rows = body.count("</tr>")
            assert sentence in _words(markup), (query, _words(markup)[:2000])
            assert rows == shown, (query, rows)
            # The pager counts every row listed, not only the page's.
            if shown == 50:
                assert "Next" in markup, query
            if "page=2" in query:
                assert "Previous" in markup
                assert f"{OWING}" in _words(markup)
        # The figure each list totals, summed the page's way.
        assert Decimal("100.00") * OWING == Decimal("5200.00")
