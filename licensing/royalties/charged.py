"""Which invoices bill an agreement besides its up-front one: its royalty reports'
(told to the agreements package, which sums them into what an agreement has been
charged to date, for its list and the API)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute

from licensing.billing.models import Invoice
from licensing.billing.states import ROYALTY_REPORT
from licensing.royalties.models import RoyaltyReport


def royalty_invoices(agreement_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """An invoice issued for one of the agreement's royalty reports (any of its
    reports, current or amended: each invoice charged what it charged)."""
    reports = (
        select(RoyaltyReport.id)
        .where(RoyaltyReport.agreement_id == agreement_id)
        .correlate_except(RoyaltyReport)  # the agreement is the outer query's row
    )
    return (Invoice.source_type == ROYALTY_REPORT) & Invoice.source_id.in_(reports)
