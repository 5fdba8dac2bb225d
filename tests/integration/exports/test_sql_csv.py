"""The CSV the database writes (`exports.sqlcsv`, `Dataset.csv_lines`) is byte for
byte what the Python writer (`formats.write_csv`, the reference) writes for the
same rows: hostile text, amounts in every digit count, NULLs, every filter."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from licensing import db
from licensing.accounts.models import Organization, name_key, sort_key
from licensing.billing.models import Invoice, InvoiceLine
from licensing.errors import InvalidInput
from licensing.exports import base, filters, queries
from licensing.exports.base import ExportContext
from licensing.exports.datasets import invoice_lines
from licensing.exports.filters import ExportFilter
from licensing.exports.ledger import Ledger
from licensing.money import MoneyError
from tests.integration.exports.conftest import UNKNOWN_CURRENCY, at, corrupt_currency
from tests.integration.exports.conftest import Ledger as Made
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.exports import ACCOUNTS, MOMENT, both, written

# An account a spreadsheet would read as a formula, to check constants are made safe too.

# Characters the csv module quotes for, a spreadsheet runs, or that are easy to get wrong.
HOSTILE = [
    '"',
    ",",
    "\n",
    "\r",
    "\r\n",
    "=",
    "+",
    "-",
    "@",
    "\t",
    "'",
    " ",
    "\\",
    "é",
    "日本",
    "😀",
]
_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
TEXT = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(_CHARACTERS, max_size=4)), max_size=5
).map("".join)


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"gl_accounts": ACCOUNTS}


LINE = st.tuples(
    TEXT,  # description (empty text is not NULL, and must still be an empty cell)
    # 1/10,000ths: small ones meet halves and negative zeros often, large ones the bounds.
    st.one_of(st.integers(-(10**6), 10**6), st.integers(-(10**18) + 1, 10**18 - 1)),
)
INVOICE = st.fixed_dictionaries(
    {
        "number": TEXT.map(lambda text: text[:19]),
        # States and sources are vocabularies the database checks.
        "state": st.sampled_from(["open", "paid", "void", "uncollectible"]),
        "currency": st.sampled_from(["USD", "JPY", "KWD", "CLF", "EUR"]),
        "source_type": st.sampled_from(["manual", "late_fee", "agreement", "royalty_report"]),
        "source_id": st.one_of(st.none(), st.integers(1, 10**6)),
        "issue_date": st.one_of(st.none(), st.dates(date(1000, 1, 1), date(9999, 12, 31))),
        "lines": st.lists(LINE, min_size=1, max_size=3),
    }
)


def _source_id(invoice: dict[str, Any], number: int) -> int | None:
    """The drawn source, kept apart per invoice: an agreement or a royalty report
    has at most one invoice (billing_0008), so two drawn alike must not collide."""
    drawn = invoice["source_id"]
    return None if drawn is None else drawn + number * 10**6


def _insert(organization_id: int, invoices: list[dict[str, Any]]) -> None:
    session = db.session()
    ids = itertools.count(10**6)
    for number, invoice in enumerate(invoices):
        invoice_id = next(ids)
        session.execute(
            Invoice.__table__.insert().values(
                id=invoice_id,
                organization_id=organization_id,
                # Unique: the drawn text, then a suffix of its own.
                number=f"{invoice['number']}{number:x}"[-20:],
                state=invoice["state"],
                currency=invoice["currency"],
                source_type=invoice["source_type"],
                source_id=_source_id(invoice, number),
                payment_terms_days=30,
                late_fee_monthly_percent=Decimal("1.5"),
                issue_date=invoice["issue_date"],
                due_date=None,
                total=Decimal(0),
                amount_paid=Decimal(0),
                amount_credited=Decimal(0),
                created_at=MOMENT,
                reminder_count=0,
                late_fee_months_charged=0,
                # A late fee says the month it charges through (operations_0005).
                late_fee_through_month=1 if invoice["source_type"] == "late_fee" else None,
            )
        )
        for position, (description, units) in enumerate(invoice["lines"], start=1):
            session.execute(
                InvoiceLine.__table__.insert().values(
                    invoice_id=invoice_id,
                    position=position,
                    description=description,
                    amount=Decimal(units).scaleb(-4),
                )
            )


def test_the_database_writes_the_same_csv_as_the_python_writer_for_hostile_rows(
    app: Flask,
) -> None:
    session = db.session()
    organization_id = factories.make_organization(session).id

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(legal_name=TEXT.filter(bool), invoices=st.lists(INVOICE, min_size=1, max_size=4))
    def check(legal_name: str, invoices: list[dict[str, Any]]) -> None:
        session.execute(
            update(Organization)
            .where(Organization.id == organization_id)
            .values(
                legal_name=legal_name,
                legal_name_key=name_key(legal_name),
                legal_name_sort_key=sort_key(legal_name),
            )
        )
        try:
            _insert(organization_id, invoices)
            fast, reference = both()
            assert fast == reference
        finally:
            session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id >= 10**6))
            session.execute(delete(Invoice).where(Invoice.id >= 10**6))

    check()


# 1/10,000ths around every rounding step: halves with an odd and an even kept
# digit, either side of them, negatives that round to zero, and the bounds.
EDGE_UNITS = sorted(
    {
        sign * units
        for sign in (1, -1)
        for step in (1, 10, 100, 10**4)
        for units in (step // 2 - 1, step // 2, step // 2 + 1, 3 * step // 2, 5 * step // 2)
        if units > 0
    }
    | {0, 10**18 - 1, -(10**18) + 1, 5 * 10**17 + 50, 12345678}
)


def test_the_database_rounds_every_half_and_negative_zero_as_the_python_writer_does(
    app: Flask,
) -> None:
    session = db.session()
    organization_id = factories.make_organization(session).id
    lines = [("x", units) for units in EDGE_UNITS]
    _insert(
        organization_id,
        [
            {
                "number": currency,
                "state": "open",
                "currency": currency,
                "source_type": "manual",
                "source_id": None,
                "issue_date": date(2027, 1, 1),
                "lines": lines,
            }
            for currency in ("USD", "JPY", "KWD", "CLF")
        ],
    )
    fast, reference = both()
    assert fast == reference
    # What is compared: a negative zero, and a half rounded to its even digit.
    assert b",-0.00\r\n" in reference
    assert b",0.02\r\n" in reference


@pytest.mark.parametrize(
    "given_filter",
    [
        ExportFilter(),
        ExportFilter(use="development"),
        ExportFilter(use="distribution"),
        ExportFilter(currency="EUR"),
        ExportFilter(state="open"),
        ExportFilter(date_from=date(2027, 1, 1), date_to=date(2027, 3, 31), date_basis="issued"),
        ExportFilter(date_from=date(2027, 1, 1), date_basis="paid"),
    ],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.describe().items()) or "none",
)
def test_the_database_writes_the_same_csv_as_the_python_writer_for_every_filter(
    ledger: Made, given_filter: ExportFilter
) -> None:
    fast, reference = both(given_filter)
    assert fast == reference
    assert fast.count(b"\r\n") > 1 or given_filter.use == "distribution"


# Round 62 (lines62): the Finance page's kind and classification, which round 60 wrote
# row by row in Python, now chosen by the statement the database writes.
CLASSIFIED = [
    ExportFilter(kind="fee"),
    ExportFilter(kind="license"),
    ExportFilter(kind="other"),
    ExportFilter(kind="royalty"),
    ExportFilter(kind="fee", use="development"),
    ExportFilter(kind="license", use="unclassified"),
    ExportFilter(kind="other", use="unclassified", currency="USD"),
    ExportFilter(organization_type="commercial"),
    ExportFilter(product_type="unclassified", state="paid"),
    ExportFilter(kind="fee", user_type="provider", date_from=date(2027, 1, 1), date_basis="paid"),
]


@pytest.mark.parametrize(
    "given_filter",
    CLASSIFIED,
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.describe().items()),
)
def test_the_database_writes_the_finance_page_s_classified_lines_as_the_python_writer_does(
    ledger: Made, given_filter: ExportFilter
) -> None:
    fast, reference = both(given_filter)
    assert fast == reference


def test_the_classified_filters_compared_keep_some_lines_and_leave_out_others(
    ledger: Made,
) -> None:
    everything = both()[0].count(b"\r\n")
    kept = [both(given_filter)[0].count(b"\r\n") - 1 for given_filter in CLASSIFIED]
    # Each kind keeps rows (the up-front fees, the manual charge); none keeps a void line.
    assert min(kept[0], kept[2], kept[4]) > 0
    assert all(rows < everything - 1 for rows in kept)


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_the_database_s_csv_read_in_many_batches_is_the_python_writer_s(
    ledger: Made, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After the first batch the lines come from the driver's cursor itself
    # (`queries.text_batches`): no line lost, repeated or reordered at a
    # batch's edge, whatever the batch's size against the number of lines.
    monkeypatch.setattr(queries, "BATCH", batch)
    session = db.session()
    context = ExportContext(session, Ledger(session, ACCOUNTS))
    batches = list(invoice_lines.csv_lines(context, ExportFilter()))
    assert len(batches) > 2
    assert all(len(lines) <= batch for lines in batches)
    fast, reference = both()
    assert fast == reference


HOSTILE_TEXT = '=HYPERLINK("x"), "quoted"\r\nnext line'
DECLARED = [name for name, dataset in base.all_datasets().items() if dataset.csv_lines]
FILTERS: list[dict[str, Any]] = [
    {},
    {"currency": "EUR"},
    {"state": "open"},
    {"state": "succeeded"},
    {"from": "2027-01-01", "to": "2027-03-31"},
    {"from": "2027-02-01", "by": "paid"},
]


def test_every_dataset_the_database_writes_is_listed_here() -> None:
    assert DECLARED == [
        "invoices",
        "invoice_lines",
        "payments",
        "credit_notes",
        "refunds",
        "royalty_report_lines",
    ]


@pytest.mark.parametrize("name", DECLARED)
def test_each_declared_dataset_s_csv_from_the_database_is_the_python_writer_s(
    ledger: Made, name: str
) -> None:
    # Free text a clerk typed, beside the fixture's hostile invoice line; the euro
    # invoice is paid first, so its credit note leaves a refund to send.
    paid_offline(
        ledger.euro.id, "410.15", "W-410", received_on=date(2027, 6, 2), now=at(date(2027, 6, 2))
    )
    credit = credited(ledger.euro.id, "0.05", HOSTILE_TEXT, now=at(date(2027, 6, 3)))
    refunded_offline(
        credit.id, "0.05", '=1+1, "r"', sent_on=date(2027, 6, 4), now=at(date(2027, 6, 4))
    )
    paid_offline(
        ledger.manual.id,
        "2.42",
        '-1, "x"',
        method="check",
        received_on=date(2027, 6, 2),
        now=at(date(2027, 6, 3)),
    )
    dataset = base.all_datasets()[name]
    compared = 0
    for parameters in FILTERS:
        try:
            given_filter = filters.parse(dataset, parameters, today=date(2027, 12, 31))
        except InvalidInput:
            continue  # a filter this dataset does not take
        fast, reference = both(given_filter, dataset)
        assert fast == reference, parameters
        compared += 1
    assert compared >= 3


@pytest.mark.parametrize("name", ["invoices", "invoice_lines", "payments", "credit_notes"])
def test_an_unknown_currency_in_the_database_stops_both_writers_with_the_same_error(
    ledger: Made, name: str
) -> None:
    corrupt_currency(ledger.credited_paid.id)  # an invoice with a payment and a credit note
    dataset = base.all_datasets()[name]
    with pytest.raises(MoneyError) as by_python:
        written(dataset, ExportFilter(), by_database=False)
    with pytest.raises(MoneyError) as by_database:
        written(dataset, ExportFilter(), by_database=True)
    assert (
        str(by_database.value) == str(by_python.value) == f"unknown currency {UNKNOWN_CURRENCY!r}"
    )
    # Rows in known currencies only: both write them alike, as before.
    fast, reference = both(ExportFilter(organization_id=ledger.org_a), dataset)
    assert fast == reference
    assert fast.count(b"\r\n") > 1 or name == "credit_notes"  # org_b's only
