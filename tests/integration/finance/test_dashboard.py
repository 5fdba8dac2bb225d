"""The Finance page's figures equal the history's facts added up by hand, and
only billing staff and admins see money (licensing staff see queue health)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from licensing import db
from licensing.finance import queries
from licensing.finance.queries import Filters
from tests.integration.finance.conftest import RANGE, History, balance_on

ZERO = Decimal(0)
MONTHS = [(date(2027, 1, 1), date(2027, 1, 31)), (date(2027, 2, 1), date(2027, 2, 28))]
MONTHS.append((date(2027, 3, 1), date(2027, 3, 31)))


def _in(day: date, start: date, end: date) -> bool:
    return start <= day <= end


def test_invoiced_collected_credited_and_outstanding_by_month_add_up_from_the_facts(
    history: History,
) -> None:
    figures = queries.cash_flow(
        db.session(), Filters(date(2027, 1, 1), date(2027, 3, 1), currency="USD")
    )
    assert [row.period.key for row in figures] == ["2027-01", "2027-02", "2027-03"]
    for row, (start, end) in zip(figures, MONTHS, strict=True):
        assert row.invoiced == sum(
            (total for _k, day, _d, total in history.invoices if _in(day, start, end)), ZERO
        )
        assert row.collected == sum(
            (amount for _k, _i, day, amount in history.payments if _in(day, start, end)), ZERO
        )
        assert row.credited == sum(
            (amount for _i, day, amount in history.credits if _in(day, start, end)), ZERO
        )
        assert row.outstanding == sum(
            (balance_on(history, i, end) for i in range(len(history.invoices))), ZERO
        )
    # The same history, read by eye: void and EUR invoices count nowhere.
    assert [row.invoiced for row in figures] == [
        Decimal("1000.00"),
        Decimal("2500.00"),
        Decimal("750.50"),
    ]
    assert [row.outstanding for row in figures] == [
        Decimal("1000.00"),
        Decimal("3100.00"),
        Decimal("1250.50"),
    ]


def test_a_quarter_is_the_sum_of_its_months_and_ends_with_the_last_months_balance(
    history: History,
) -> None:
    session = db.session()
    months = queries.cash_flow(session, Filters(date(2027, 1, 1), date(2027, 3, 1)))
    (quarter,) = queries.cash_flow(
        session, Filters(date(2027, 2, 1), date(2027, 3, 1), granularity="quarter")
    )
    assert quarter.period.key == "2027-Q1"
    assert quarter.invoiced == sum((m.invoiced for m in months), ZERO)
    assert quarter.collected == sum((m.collected for m in months), ZERO)
    assert quarter.credited == sum((m.credited for m in months), ZERO)
    assert quarter.outstanding == months[-1].outstanding


def test_another_currency_is_never_added_to_dollars(history: History) -> None:
    (euros,) = queries.cash_flow(
        db.session(), Filters(date(2027, 2, 1), date(2027, 2, 1), currency="EUR")
    )
    assert (euros.invoiced, euros.outstanding) == (Decimal("999.00"), Decimal("999.00"))


@pytest.mark.parametrize("as_of", [date(2027, 3, 1), date(2027, 4, 20), date(2027, 7, 1)])
def test_receivables_aging_buckets_each_balance_by_days_past_due(
    history: History, as_of: date
) -> None:
    expected: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    for index, (_key, _issued, due, _total) in enumerate(history.invoices):
        owed = balance_on(history, index, as_of)
        if owed <= 0:
            continue
        late = (as_of - due).days
        bucket = (
            "current"
            if late <= 0
            else "1_30"
            if late <= 30
            else "31_60"
            if late <= 60
            else "61_90"
            if late <= 90
            else "over_90"
        )
        expected[bucket] = expected.get(bucket, ZERO) + owed
        counts[bucket] = counts.get(bucket, 0) + 1
    rows = queries.aging(db.session(), "USD", as_of)
    assert [row.key for row in rows] == ["current", "1_30", "31_60", "61_90", "over_90", "disputed"]
    assert {row.key: row.amount for row in rows if row.amount} == expected
    assert {row.key: row.invoices for row in rows if row.invoices} == counts


def test_aging_on_a_known_day_reads_as_the_ledger_does(history: History) -> None:
    rows = {row.key: row.amount for row in queries.aging(db.session(), "USD", date(2027, 4, 20))}
    # A owes 500.00, 70 days past its due date; B owes 750.50, 6 days past.
    assert rows["61_90"] == Decimal("500.00")
    assert rows["1_30"] == Decimal("750.50")
    assert rows["current"] == rows["31_60"] == rows["over_90"] == ZERO


def test_top_licensees_rank_by_invoiced_with_collected_and_outstanding(history: History) -> None:
    ranked = queries.top_licensees(db.session(), Filters(date(2027, 1, 1), date(2027, 3, 1)))
    end = date(2027, 3, 31)
    expected = []
    for key in ("A", "B"):
        mine = [i for i, row in enumerate(history.invoices) if row[0] == key]
        expected.append(
            (
                history.names[key],
                sum((history.invoices[i][3] for i in mine), ZERO),
                sum((p[3] for p in history.payments if p[0] == key), ZERO),
                sum((balance_on(history, i, end) for i in mine), ZERO),
            )
        )
    expected.sort(key=lambda row: -row[1])
    assert [(r.name, r.invoiced, r.collected, r.outstanding) for r in ranked] == expected
    assert ranked[0].name == history.names["B"]


def test_invoices_outside_license_revenue_are_counted_as_other(history: History) -> None:
    revenue = queries.revenue(db.session(), Filters(date(2027, 1, 1), date(2027, 3, 1)))
    assert revenue.total == ZERO
    assert revenue.other == sum((row[3] for row in history.invoices), ZERO)
    assert all(rows == [] for rows in revenue.by_axis.values())


# --- the page ----------------------------------------------------------------------------


def test_billing_staff_see_the_figures_in_tables_beside_the_charts(
    client: Any, signed_in: Any, billing_staff: Any, history: History
) -> None:
    page = signed_in(client, billing_staff).get(RANGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for table in ("cash-table", "aging-table", "licensees-table"):
        assert f'id="{table}"' in html
        assert f'data-table="{table}"' in html  # its chart
    # Manual invoices only: no license revenue, so a table saying so and no empty chart.
    assert 'id="revenue-use-table"' in html
    assert 'data-table="revenue-use-table"' not in html
    assert "Nothing to chart." in html
    assert "3,100.00" in html  # outstanding at the end of February
    assert "1,250.50" in html  # and of March
    assert history.names["B"] in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "<script>" not in html  # no inline script: CSP without 'unsafe-inline'
    assert 'href="/console/finance/"' in html  # the console menu links to the page


def test_admins_see_the_figures_too(client: Any, signed_in: Any, admin: Any) -> None:
    html = signed_in(client, admin).get("/console/finance/").get_data(as_text=True)
    assert 'id="cash-table"' in html
    assert 'id="queues-table"' in html


def test_licensing_staff_see_only_queue_health(
    client: Any, signed_in: Any, licensing_staff: Any, history: History
) -> None:
    page = signed_in(client, licensing_staff).get(RANGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="queues-table"' in html
    assert 'id="cash-table"' not in html
    assert "1,250.50" not in html
    assert history.names["B"] not in html
    assert client.get("/console/finance/report.pdf?month=2027-03").status_code == 403


def test_vendors_and_strangers_are_refused(client: Any, signed_in: Any, vendor: Any) -> None:
    anonymous = client.get("/console/finance/")
    assert anonymous.status_code == 302
    assert "/sign-in" in anonymous.headers["Location"]
    assert signed_in(client, vendor).get("/console/finance/").status_code == 403
    assert client.get("/console/finance/report.pdf?month=2027-03").status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2027-13", "Give a month as YYYY-MM"),
        ("from=2027-05&to=2027-01", "cannot come before"),
        ("by=week", "Choose months or quarters"),
        ("currency=XYZ", "ISO 4217"),
        ("as_of=someday", "Give a date as YYYY-MM-DD"),
        ("from=2000-01&to=2027-01", "at most 60 periods"),
        ("from=1900-01&to=9998-12&by=quarter", "at most 60 periods"),
        ("from=9999-11&to=9999-12", "Give a month as YYYY-MM"),
        ("from=0001-01", "Give a month as YYYY-MM"),
        ("as_of=0001-01-01", "Give a date as YYYY-MM-DD"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(
    client: Any, signed_in: Any, billing_staff: Any, query: str, message: str
) -> None:
    page = signed_in(client, billing_staff).get(f"/console/finance/?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert 'id="cash-table"' not in html


def test_filters_are_kept_in_the_url_and_the_form(
    client: Any, signed_in: Any, billing_staff: Any, history: History
) -> None:
    html = (
        signed_in(client, billing_staff)
        .get("/console/finance/?from=2027-01&to=2027-06&by=quarter&as_of=2027-05-01")
        .get_data(as_text=True)
    )
    assert 'value="2027-01"' in html
    assert 'value="2027-06"' in html
    assert '<option value="quarter" selected>' in html
    assert "2027-Q1" in html
    assert "2027-Q2" in html
    assert "/console/finance/report.pdf?month=2027-06&amp;currency=USD" in html
