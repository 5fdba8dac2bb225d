"""The monthly revenue report renders from plain data alone: the month's
figures, exact to the cent, and charts that cope with a month of nothing."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal

import pytest
from pypdf import PdfReader

from licensing.finance.documents import (
    LicenseeRow,
    TrendRow,
    render_monthly_report_pdf,
)
from tests.support.documents import pdf_text
from tests.support.finance import sample_report
from tests.support.glyphs import CJK_NAMES, misdrawn


def test_the_report_prints_the_months_figures_to_the_cent() -> None:
    text = pdf_text(render_monthly_report_pdf(sample_report()))
    # The month in words (round 56: "2027-06"), the day it was prepared too.
    assert "Monthly revenue report: June 2027" in text
    assert "prepared July 1, 2027." in text
    # Grouped as the Finance page prints them (round 12: they read "12345.67").
    for figure in ("12,345.67", "2,000.01", "10,345.66", "345.67"):
        assert figure in text
    assert "12345.67" not in text
    # The use as the application form offers it (round 37), not "derivative work".
    assert "Create a derivative work" in text
    assert "Harborlight Analytics 7 Inc." in text


def test_an_issuer_whose_name_ends_in_a_full_stop_ends_the_subtitle_once() -> None:
    """Round 36: the subtitle wrote "Example Inc.. Amounts in USD"."""
    text = pdf_text(render_monthly_report_pdf(replace(sample_report(), issuer="Example Inc.")))
    assert "Example Inc. Amounts in" in text
    assert "Inc.." not in text
    plain = pdf_text(render_monthly_report_pdf(replace(sample_report(), issuer="Example Office")))
    assert "Example Office. Amounts in" in plain


def test_the_same_report_gives_the_same_bytes() -> None:
    assert render_monthly_report_pdf(sample_report()) == render_monthly_report_pdf(sample_report())


def test_a_month_with_nothing_invoiced_still_renders_with_empty_charts() -> None:
    text = pdf_text(render_monthly_report_pdf(sample_report(scale=0)))
    assert "No license fees or royalties were invoiced this month." in text
    assert "Nothing was invoiced this month." in text


@pytest.mark.parametrize("language", sorted(CJK_NAMES))
def test_top_licensees_named_in_chinese_japanese_and_korean_are_drawn_in_their_cid_font(
    language: str,
) -> None:
    name, font = CJK_NAMES[language]
    row = LicenseeRow(f"{name} Inc.", Decimal("12345.67"), Decimal(0), Decimal(0))
    data = render_monthly_report_pdf(replace(sample_report(), top_licensees=(row,)))
    assert row.name in pdf_text(data)
    assert misdrawn(data, row.name, font) == []


def test_a_licensee_row_taller_than_a_page_is_split_within_its_row_not_an_error() -> None:
    # reportlab's frames, which laid out this report for its charts, refused a
    # table row taller than a page (LayoutError). A stored legal name (200
    # characters, 8 lines here) stays far below a page, but the renderer takes
    # any plain data: like every other document it now goes through our layout
    # loop, which splits such a row within it.
    name = "Meadowlark Practice Systems " * 200
    report = replace(
        sample_report(),
        top_licensees=(LicenseeRow(name, Decimal("12345.67"), Decimal(0), Decimal(0)),),
    )
    content = render_monthly_report_pdf(report)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]
    assert len(pages) >= 4
    assert sum(page.count("Meadowlark") for page in pages) == 200
    assert "12,345.67" in "".join(pages)


def test_the_report_gives_royalties_net_of_credit_notes_beside_the_gross() -> None:
    """Round 39: the revenue by use is invoiced (gross); the report says the month's
    royalties, the royalty credit notes and the net apart, as the Finance page does."""
    report = replace(
        sample_report(), royalty=Decimal("6180.00"), royalty_credited=Decimal("2000.01")
    )
    text = " ".join(pdf_text(render_monthly_report_pdf(report)).split())
    assert "Royalties invoiced this month (gross, in the amounts above): 6,180.00 USD" in text
    assert "royalty credit notes issued this month: 2,000.01 USD" in text
    assert "royalties net of credit notes: 4,179.99 USD" in text


def test_ten_million_in_every_column_of_the_twelve_months_table_stays_on_one_line() -> None:
    """Round 53: the trend table's eight columns wrapped 1,000,000.00 and more inside
    its cell ("1,000,000.0" over "0"), so a busy office's month read as two rows."""
    big = Decimal("10000000.00")
    month = TrendRow(
        "2027-06",
        big,
        big,
        big,
        credited=big,
        refunded=big,
        reversed=big,
        refunds_owed=-big,  # below zero when more was sent back than the ledger owed
    )
    text = pdf_text(render_monthly_report_pdf(replace(sample_report(), trend=(month,))))
    # Each cell is a line of the text; a cell wrapped is two ("10,000,000." and "00").
    lines = text.splitlines()
    table = lines[lines.index("Month") : lines.index("License revenue invoiced this month, by use")]
    assert table == [
        *("Month", "Invoiced", "Collected", "Reversed", "Credited", "Net refunds"),
        *("Refunds owed", "Outstanding", "2027-06"),
        *["10,000,000.00"] * 5,
        "-10,000,000.00",
        "10,000,000.00",
    ]
