"""The royalty of reported usage, year to date, by the pricing contract: per-customer
counting, tiers crossed between quarters, the minimum charged with the first reports,
percent-of-revenue lines, volume tiers that credit, amendments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.billing.models import CreditNote, Invoice
from licensing.errors import Conflict, InvalidInput
from licensing.royalties.models import RoyaltyReport, RoyaltyReportRow
from tests.integration.royalties.conftest import (
    AFTER,
    DATA_FILE,
    DEVELOPMENT,
    PAYER,
    SMALL_SOFTWARE,
    SOFTWARE,
    row,
)


def royalty_invoices(agreement: Any) -> list[Invoice]:
    return list(
        db.session().scalars(
            select(Invoice)
            .join(RoyaltyReport, RoyaltyReport.id == Invoice.source_id)
            .where(
                Invoice.source_type == "royalty_report", RoyaltyReport.agreement_id == agreement.id
            )
            .order_by(Invoice.id)
        )
    )


def test_each_customer_counts_once_at_its_largest_quantity_and_tiers_cross_between_quarters(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=60), row(1, "B", quantity=30)])
    # 90 end users, all in the first tier: 90 x 18.50.
    assert first.lines[0].quantities_to_date == {"end_users": 90}
    assert first.lines[0].amount_to_date == Decimal("1665.00")
    assert first.total_due == Decimal("1665.00")
    # A grows to 80 and C arrives; B, not reported again, still counts at 30.
    second = file_report(
        vendor, agreement, 2, [row(1, " a ", quantity=80), row(1, "C", quantity=50)]
    )
    line = second.lines[0]
    assert line.quantities_to_date == {"end_users": 160}
    assert line.amount_to_date == Decimal("2780.00")  # 100 x 18.50 + 60 x 15.50
    assert line.charged_before == Decimal("1665.00")
    assert line.due == Decimal("1115.00")
    invoices = royalty_invoices(agreement)
    assert [invoice.total for invoice in invoices] == [Decimal("1665.00"), Decimal("1115.00")]
    assert second.invoice_number == invoices[1].number
    assert invoices[1].payment_terms_days == agreement.payment_terms_days
    assert invoices[1].lines[0].working.endswith("= 1115.00")


def test_a_minimum_not_covered_up_front_is_charged_with_the_first_reports(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    up_front = (
        db.session()
        .scalars(
            select(Invoice).where(
                Invoice.source_type == "agreement", Invoice.source_id == agreement.id
            )
        )
        .one()
    )
    assert up_front.total == Decimal("815.00")  # the minimum's lift over 10 x 18.50
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=20)])
    # 20 x 18.50 = 370.00 is below the minimum: 1000.00 to date, 815.00 charged before.
    assert first.lines[0].amount_to_date == Decimal("1000.00")
    assert first.lines[0].charged_before == Decimal("815.00")
    assert first.total_due == Decimal("185.00")
    second = file_report(vendor, agreement, 2, [row(1, "B", quantity=80)])
    assert second.lines[0].amount_to_date == Decimal("1850.00")
    assert second.total_due == Decimal("850.00")


def test_a_nil_report_still_charges_the_minimum_not_yet_invoiced(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DEVELOPMENT)
    nil = file_report(vendor, agreement, 1, [])
    assert [line.line for line in nil.lines] == [1]  # the flat development fee reports nothing
    assert nil.lines[0].amount_to_date == Decimal("1000.00")
    assert nil.total_due == Decimal("1000.00")
    assert nil.report is not None
    assert nil.report.row_count == 0


def test_percent_of_revenue_sums_every_row_of_every_period(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    first = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", unit="", revenue="30000.00"), row(1, "B", unit="", revenue="12000")],
    )
    assert first.lines[0].revenue_to_date == Decimal("42000.00")
    # 10% of 42000.00 = 4200.00, below the 5000.00 minimum.
    assert first.total_due == Decimal("5000.00")
    second = file_report(vendor, agreement, 2, [row(1, "A", unit="", revenue="20000.00")])
    assert second.lines[0].revenue_to_date == Decimal("62000.00")
    assert second.total_due == Decimal("1200.00")


def test_a_volume_tier_that_makes_more_members_cheaper_is_credited_newest_invoice_first(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, PAYER)
    first = file_report(vendor, agreement, 1, [row(1, "P1", unit="members", quantity=1000000)])
    assert first.total_due == Decimal("30000.00")  # 1,000,000 x 0.030
    second = file_report(vendor, agreement, 2, [row(1, "P2", unit="members", quantity=1)])
    # 1,000,001 x 0.018 = 18000.018, rounded once: 18000.02.
    assert second.lines[0].amount_to_date == Decimal("18000.02")
    assert second.total_due == Decimal("-11999.98")
    assert second.invoice_number is None
    credit = db.session().scalars(select(CreditNote)).one()
    assert second.credit_notes == [credit.number]
    assert credit.amount == Decimal("11999.98")
    assert credit.invoice.number == first.invoice_number


def test_an_amendment_supersedes_the_report_and_invoices_the_difference(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=60), row(1, "B", quantity=30)])
    amended = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=60), row(1, "B", quantity=50)],
        amends=first.report.id,
        reason="Clinic B's count was wrong",
    )
    assert amended.amends == first.report.id
    assert amended.lines[0].charged_before == Decimal("1665.00")
    # 110 users: 100 x 18.50 + 10 x 15.50 = 2005.00, against 1665.00 charged.
    assert amended.total_due == Decimal("340.00")
    db.session().refresh(first.report)
    assert first.report.state == "superseded"
    assert first.report.amendment_reason is None
    assert amended.report.amendment_reason == "Clinic B's count was wrong"
    lowered = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=10)],
        amends=amended.report.id,
        reason="Clinic B left before the quarter",
    )
    # 10 users cost 185.00, lifted to the 1000.00 minimum: 1005.00 less than charged.
    assert lowered.total_due == Decimal("-1005.00")
    credits = db.session().scalars(select(CreditNote).order_by(CreditNote.id)).all()
    # Newest royalty invoice first: the 340.00 amendment, then the first report's.
    assert [c.amount for c in credits] == [Decimal("340.00"), Decimal("665.00")]


def test_reports_are_filed_in_period_order_after_the_period_ends_and_once(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with pytest.raises(Conflict, match="first report the period 2027-01-01"):
        file_report(vendor, agreement, 2, [], now=AFTER[2])
    with pytest.raises(Conflict, match="has not ended"):
        file_report(vendor, agreement, 1, [], now=AFTER[1].replace(day=1, month=3))
    first = file_report(vendor, agreement, 1, [])
    with pytest.raises(Conflict, match=f"amends: {first.report.id}"):
        file_report(vendor, agreement, 1, [])


def test_every_bad_row_is_reported_at_once_and_nothing_is_stored(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    rows = [
        row(1, "A", quantity=-5),
        row(3, "B", quantity=1),
        row(1, "C", unit="members", quantity=1),
        row(2, "D", unit="", revenue=None),
        row(1, "E", quantity=1, revenue="10.00", country="XX"),
        row(1, "dup", quantity=1),
        row(1, " DUP ", quantity=2),
    ]
    with pytest.raises(InvalidInput) as raised:
        file_report(vendor, agreement, 1, rows)
    errors = raised.value.errors
    assert set(errors) >= {
        "rows.0.quantity",
        "rows.1.line",
        "rows.2.unit",
        "rows.3.revenue",
        "rows.4.revenue",
        "rows.4.country",
        "rows.6.customer_id",
    }
    assert "Rows 5 and 6" in errors["rows.6.customer_id"][0]
    assert db.session().scalars(select(RoyaltyReport)).all() == []
    assert db.session().scalars(select(RoyaltyReportRow)).all() == []


def test_a_preview_computes_without_storing_anything(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    shown = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)], preview=True)
    assert shown.total_due == Decimal("1110.00")
    assert shown.report is None
    assert db.session().scalars(select(RoyaltyReport)).all() == []
    assert royalty_invoices(agreement) == []


def test_anomalies_flag_the_report_and_the_invoice_still_follows(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=60), row(1, "B", quantity=30), row(1, "C", quantity=10)],
    )
    second = file_report(vendor, agreement, 2, [row(1, "A", quantity=40)])
    assert second.report.review_state == "flagged"
    text = " ".join(second.flags)
    assert "1 customer against 3 last period" in text
    assert "A on line 1: 60 to 40 end users" in text
    assert "1 customer reports less than last period" in text
    assert second.total_due == Decimal("0.00")  # usage to date did not grow


def test_a_last_period_far_below_the_estimate_is_flagged_with_the_unit_in_words(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    for quarter in (1, 2, 3):
        file_report(vendor, agreement, quarter, [])
    last = file_report(vendor, agreement, 4, [row(1, "A", quantity=2)])
    text = " ".join(last.flags)
    assert "Line 1: 2 end users for the term, less than half the" in text
    assert "end_users" not in text


def test_royalty_invoice_lines_are_classified_for_finance_as_their_agreement_line(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    from licensing.finance.classification import RevenueLine, classify

    agreement = active_agreement(vendor, DEVELOPMENT, PAYER)
    filed = file_report(vendor, agreement, 1, [row(2, "P1", unit="members", quantity=10)])
    invoice = (
        db.session().scalars(select(Invoice).where(Invoice.number == filed.invoice_number)).one()
    )
    line = invoice.lines[0]
    found = classify(
        db.session(),
        [RevenueLine(line.id, invoice.id, "royalty_report", invoice.source_id, 1, line.amount)],
    )
    assert found[line.id].use == "distribution"
    assert found[line.id].user_type == "payer"
    assert found[line.id].organization_type == "commercial"
