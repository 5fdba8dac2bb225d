"""The monthly revenue report renders from plain data alone: the month's
figures, exact to the cent, and charts that cope with a month of nothing."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from licensing.finance.documents import (
    AmountRow,
    LicenseeRow,
    MonthlyReport,
    TrendRow,
    render_monthly_report_pdf,
)
from licensing.finance.queries import AGING_BUCKETS
from tests.support.glyphs import CJK_NAMES, misdrawn


def _report(scale: int = 1) -> MonthlyReport:
    amount = Decimal(scale)
    return MonthlyReport(
        month="2027-06",
        currency="USD",
        issuer="CPT Licensing Office",
        generated_on=date(2027, 7, 1),
        invoiced=Decimal("12345.67") * amount,
        collected=Decimal("2000.01") * amount,
        credited=Decimal(0),
        refunded=Decimal(0),
        outstanding_at_start=Decimal(0),
        outstanding=Decimal("10345.66") * amount,
        trend=tuple(
            TrendRow(
                f"2027-{m:02d}", Decimal(100 * m) * amount, Decimal(50 * m) * amount, Decimal(0)
            )
            for m in range(1, 7)
        ),
        revenue_by_use=(AmountRow("derivative_work", Decimal("12000.00") * amount),)
        if scale
        else (),
        revenue_other=Decimal("345.67") * amount,
        aging=tuple(AmountRow(label, Decimal(0), 0) for _key, label in AGING_BUCKETS),
        top_licensees=(
            LicenseeRow(
                "Harborlight Analytics 7 Inc.", Decimal("12345.67"), Decimal(0), Decimal(0)
            ),
        )
        if scale
        else (),
    )


def _text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_report_prints_the_months_figures_to_the_cent() -> None:
    text = _text(render_monthly_report_pdf(_report()))
    assert "Monthly revenue report: 2027-06" in text
    for figure in ("12345.67", "2000.01", "10345.66", "345.67"):
        assert figure in text
    assert "derivative work" in text
    assert "Harborlight Analytics 7 Inc." in text


def test_the_same_report_gives_the_same_bytes() -> None:
    assert render_monthly_report_pdf(_report()) == render_monthly_report_pdf(_report())


def test_a_month_with_nothing_invoiced_still_renders_with_empty_charts() -> None:
    text = _text(render_monthly_report_pdf(_report(scale=0)))
    assert "No license fees or royalties were invoiced this month." in text
    assert "Nothing was invoiced this month." in text


@pytest.mark.parametrize("language", sorted(CJK_NAMES))
def test_top_licensees_named_in_chinese_japanese_and_korean_are_drawn_in_their_cid_font(
    language: str,
) -> None:
    name, font = CJK_NAMES[language]
    row = LicenseeRow(f"{name} Inc.", Decimal("12345.67"), Decimal(0), Decimal(0))
    data = render_monthly_report_pdf(replace(_report(), top_licensees=(row,)))
    assert row.name in _text(data)
    assert misdrawn(data, row.name, font) == []
