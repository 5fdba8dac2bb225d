"""Classifying royalty invoice lines for finance (`licensing.finance.classification`).

A royalty invoice carries one line per reportable line whose due is not zero, in
line order; each is classified as its agreement line was priced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement
from licensing.finance.classification import Classification, RevenueLine, agreement_lines

from .models import RoyaltyReport, RoyaltyReportLine


def classify_royalty_lines(
    session: Session, lines: Sequence[RevenueLine]
) -> Mapping[int, Classification]:
    report_ids = {line.source_id for line in lines if line.source_id is not None}
    if not report_ids:
        return {}
    reports = {
        report.id: report
        for report in session.scalars(select(RoyaltyReport).where(RoyaltyReport.id.in_(report_ids)))
    }
    charged: dict[int, list[int]] = {}
    for report_line in session.scalars(
        select(RoyaltyReportLine)
        .where(RoyaltyReportLine.report_id.in_(report_ids), RoyaltyReportLine.due != Decimal(0))
        .order_by(RoyaltyReportLine.report_id, RoyaltyReportLine.line)
    ):
        charged.setdefault(report_line.report_id, []).append(report_line.line)
    by_agreement: dict[int, dict[int, Classification]] = {}
    found: dict[int, Classification] = {}
    for line in lines:
        report = reports.get(line.source_id or 0)
        numbers = charged.get(line.source_id or 0, [])
        if report is None or not 1 <= line.position <= len(numbers):
            continue
        if report.agreement_id not in by_agreement:
            agreement = session.get(Agreement, report.agreement_id)
            assert agreement is not None
            by_agreement[report.agreement_id] = {
                item.number: item.classification for item in agreement_lines(agreement)
            }
        classification = by_agreement[report.agreement_id].get(numbers[line.position - 1])
        if classification is not None:
            found[line.invoice_line_id] = classification
    return found
