"""The pure parts of exports: formats, schedules, splits and filters."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licensing.errors import InvalidInput
from licensing.exports import base, filters
from licensing.exports.base import DATE, DATETIME, INTEGER, MONEY, TEXT, Column, Dataset
from licensing.exports.formats import (
    Header,
    formula_safe,
    value_text,
    write_csv,
    write_jsonl,
    write_xlsx,
)
from licensing.exports.recognition import month_end, straight_line
from licensing.money import proportional

TINY = Dataset(
    name="tiny",
    title="Tiny",
    description="For tests.",
    schema_version=3,
    columns=(
        Column("name", TEXT, "A name."),
        Column("amount", MONEY, "An amount."),
        Column("day", DATE, "A day."),
    ),
    rows=lambda _context, _filter: iter(()),
    date_bases=(filters.ISSUED, filters.PAID),
    filters=frozenset({"organization", "state"}),
    states=("open", "paid"),
)
ROWS = [
    ("=SUM(A1:A9)", Decimal("-120.00"), date(2027, 1, 31)),
    ("+1 555 0100", Decimal("1550.50"), None),
    ("@cmd", Decimal("0.00"), None),
    ("\tTabbed", Decimal("1.00"), None),
    ("-dash", Decimal("2.00"), None),
    ("Plain, with comma", Decimal("3.00"), None),
]
HEADER = Header(TINY, datetime(2027, 2, 1, 12, 0, tzinfo=UTC), {"state": "open"})


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+1", "@A1", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_is_prefixed_with_an_apostrophe(text: str) -> None:
    assert formula_safe(text) == "'" + text


def test_csv_has_a_header_a_schema_version_column_and_formula_safe_text_cells() -> None:
    body = b"".join(write_csv(HEADER, ROWS)).decode("utf-8")
    table = list(csv.reader(io.StringIO(body)))
    assert table[0] == ["schema_version", "name", "amount", "day"]
    assert table[1] == ["3", "'=SUM(A1:A9)", "-120.00", "2027-01-31"]
    assert [row[1] for row in table[2:]] == [
        "'+1 555 0100",
        "'@cmd",
        "'\tTabbed",
        "'-dash",
        "Plain, with comma",
    ]
    assert table[3][3] == ""


def test_json_lines_start_with_a_header_record_naming_the_schema_version() -> None:
    lines = b"".join(write_jsonl(HEADER, ROWS)).decode("utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["schema_version"] == 3
    assert header["dataset"] == "tiny"
    assert header["filter"] == {"state": "open"}
    assert [c["name"] for c in header["columns"]] == ["name", "amount", "day"]
    first = json.loads(lines[1])
    assert first == {"name": "=SUM(A1:A9)", "amount": "-120.00", "day": "2027-01-31"}
    assert len(lines) == 1 + len(ROWS)


def test_xlsx_holds_numbers_with_the_currency_digits_dates_and_an_about_sheet() -> None:
    from openpyxl import load_workbook

    content = b"".join(write_xlsx(HEADER, ROWS))
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook["tiny"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["name", "amount", "day"]
    assert values[1][0] == "'=SUM(A1:A9)"
    assert sheet.cell(row=2, column=1).data_type == "s"
    assert Decimal(str(values[1][1])) == Decimal("-120.00")
    assert sheet.cell(row=2, column=2).number_format == "0.00"
    assert values[1][2].date() == date(2027, 1, 31)
    about = {row[0].value: row[1].value for row in workbook["about"].iter_rows()}
    assert about["schema_version"] == "3"
    assert json.loads(about["filter"]) == {"state": "open"}


def test_a_year_fee_is_recognized_month_by_month_by_days_and_adds_up_exactly() -> None:
    slices = straight_line(
        Decimal("2500.00"),
        date(2027, 1, 1),
        date(2027, 12, 31),
        places=2,
        document_date=date(2026, 11, 2),
    )
    assert len(slices) == 12
    assert slices[0].amount == Decimal("212.33")  # 2500 x 31/365
    assert slices[1].days == 28
    assert sum(s.amount for s in slices) == Decimal("2500.00")


def test_months_of_the_term_before_the_document_are_caught_up_in_its_month() -> None:
    slices = straight_line(
        Decimal("-365.00"),
        date(2027, 1, 1),
        date(2027, 12, 31),
        places=2,
        document_date=date(2027, 3, 15),
    )
    assert slices[0].period == date(2027, 3, 1)
    assert slices[0].days == 31 + 28 + 31
    assert slices[0].amount == Decimal("-90.00")
    assert [s.period.month for s in slices] == list(range(3, 13))
    assert sum(s.amount for s in slices) == Decimal("-365.00")


@given(
    cents=st.integers(min_value=-(10**9), max_value=10**9),
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    days=st.integers(min_value=0, max_value=1200),
    offset=st.integers(min_value=-400, max_value=1600),
)
def test_straight_line_slices_always_add_up_to_the_amount(
    cents: int, start: date, days: int, offset: int
) -> None:
    from datetime import timedelta

    amount = Decimal(cents).scaleb(-2)
    end = start + timedelta(days=days)
    slices = straight_line(
        amount, start, end, places=2, document_date=start + timedelta(days=offset)
    )
    assert sum((s.amount for s in slices), Decimal(0)) == amount
    assert all(s.period.day == 1 and s.service_to <= month_end(s.service_to) for s in slices)
    assert [s.period for s in slices] == sorted({s.period for s in slices})


@given(
    cents=st.integers(min_value=1, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=8),
)
def test_a_credit_split_over_lines_adds_up_to_the_credit(cents: int, weights: list[int]) -> None:
    amount = Decimal(cents).scaleb(-2)
    parts = proportional(amount, [Decimal(w).scaleb(-2) for w in weights], 2)
    assert sum(parts, Decimal(0)) == amount
    assert len(parts) == len(weights)


def test_a_credit_is_split_in_proportion_to_the_lines() -> None:
    assert proportional(Decimal("100.00"), [Decimal("1200.00"), Decimal("300.00")], 2) == [
        Decimal("80.00"),
        Decimal("20.00"),
    ]


def test_a_filter_the_dataset_does_not_take_is_refused_not_ignored() -> None:
    with pytest.raises(InvalidInput) as caught:
        filters.parse(TINY, {"use": "distribution", "currency": "USD"})
    assert set(caught.value.errors) == {"use", "currency"}
    assert "does not filter by use" in caught.value.errors["use"][0]


def test_every_problem_in_a_filter_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        filters.parse(
            TINY,
            {
                "from": "2027-02-30",
                "to": "soon",
                "by": "period",
                "state": "lost",
                "organization": "x",
            },
        )
    assert set(caught.value.errors) == {"from", "to", "by", "state", "organization"}


def test_a_good_filter_is_read_with_the_default_date_basis() -> None:
    found = filters.parse(TINY, {"from": "2027-01-01", "to": "2027-03-31", "state": "open"})
    assert found.date_basis == filters.ISSUED
    assert found.describe() == {
        "from": "2027-01-01",
        "to": "2027-03-31",
        "by": "issued",
        "state": "open",
    }
    with pytest.raises(InvalidInput):
        filters.parse(TINY, {"from": "2027-03-01", "to": "2027-01-01"})


def test_a_filter_day_is_written_yyyy_mm_dd_as_on_the_api() -> None:
    with pytest.raises(InvalidInput) as caught:
        filters.parse(TINY, {"from": "20270101", "to": "2027-W13-3"})
    assert set(caught.value.errors) == {"from", "to"}


def test_every_dataset_has_a_version_and_unique_described_columns() -> None:
    datasets = base.all_datasets()
    assert list(datasets) == [
        "invoices",
        "invoice_lines",
        "payments",
        "credit_notes",
        "refunds",
        "credit_note_lines",
        "agreements",
        "receivables",
        "revenue_recognition",
        "royalty_report_lines",
    ]
    for dataset in datasets.values():
        names = dataset.column_names
        assert len(names) == len(set(names)), dataset.name
        assert dataset.schema_version >= 1
        assert all(column.description for column in dataset.columns)


EVERY_KIND = Dataset(
    name="every_kind",
    title="Every kind",
    description="For tests.",
    schema_version=2,
    columns=(
        Column("name", TEXT, "Text."),
        Column("count", INTEGER, "A whole number."),
        Column("amount", MONEY, "An amount."),
        Column("day", DATE, "A day."),
        Column("at", DATETIME, "A moment."),
    ),
    rows=lambda _context, _filter: iter(()),
)


def _cell_by_cell(rows: list[tuple[object, ...]]) -> str:
    """The CSV each cell's own conversion gives (`value_text`, and `formula_safe` for text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["schema_version", *EVERY_KIND.column_names])
    for row in rows:
        cells = [
            formula_safe(value_text(column.kind, value))
            if column.kind == TEXT
            else value_text(column.kind, value)
            for column, value in zip(EVERY_KIND.columns, row, strict=True)
        ]
        writer.writerow(["2", *cells])
    return buffer.getvalue()


@settings(deadline=None)  # up to 1,200 rows: a busy machine is no failure
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(), st.integers()),
            st.one_of(st.none(), st.integers()),
            st.one_of(
                st.none(),
                st.decimals(allow_nan=False, allow_infinity=False, places=2),
                st.decimals(allow_nan=False, allow_infinity=False, places=4),
            ),
            st.one_of(st.none(), st.dates()),
            st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
        ),
        max_size=1200,  # more than one batch of rows
    )
)
def test_csv_cells_are_what_each_value_s_own_conversion_gives_in_every_kind(
    rows: list[tuple[object, ...]],
) -> None:
    header = Header(EVERY_KIND, datetime(2027, 2, 1, tzinfo=UTC), {})
    assert b"".join(write_csv(header, rows)).decode("utf-8") == _cell_by_cell(rows)


def test_a_row_with_a_value_too_many_or_too_few_is_refused_not_written() -> None:
    header = Header(EVERY_KIND, datetime(2027, 2, 1, tzinfo=UTC), {})
    with pytest.raises(ValueError, match="a row of 4 values for 5 columns"):
        b"".join(write_csv(header, [("a", 1, Decimal("1.00"), None)]))


def test_generated_at_is_written_by_the_helper_the_api_and_logs_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round 47: the header wrote its own `isoformat()`; it now asks
    `calendar.instant_iso`, the one spelling of an instant, as a timestamp cell does."""
    from datetime import timedelta, timezone

    from licensing import calendar

    chicago = timezone(timedelta(hours=-6))
    made = datetime(2027, 2, 1, 12, 0, 0, 250000, tzinfo=chicago)
    # The spelling, pinned: UTC, `+00:00`, the fraction only where there is one.
    assert Header(TINY, made, {}).as_dict()["generated_at"] == "2027-02-01T18:00:00.250000+00:00"
    assert HEADER.as_dict()["generated_at"] == "2027-02-01T12:00:00+00:00"
    assert value_text(DATETIME, made) == "2027-02-01T18:00:00.250000+00:00"
    # And it is the helper's: a change of spelling there changes it here.
    monkeypatch.setattr(calendar, "instant_iso", lambda moment, **_kw: f"instant {moment:%Y}")
    assert Header(TINY, made, {}).as_dict()["generated_at"] == "instant 2027"
    assert value_text(DATETIME, made) == "instant 2027"
    line = b"".join(write_jsonl(Header(TINY, made, {}), [])).decode("utf-8").splitlines()[0]
    assert json.loads(line)["generated_at"] == "instant 2027"
