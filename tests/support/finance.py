"""A monthly revenue report of plain data, for the renderer's tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from licensing.finance.documents import AmountRow, LicenseeRow, MonthlyReport, TrendRow
from licensing.finance.queries import AGING_BUCKETS


def sample_report(scale: int = 1) -> MonthlyReport:
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
