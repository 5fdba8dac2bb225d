"""Two royalty steps at once, for the lock order's tests
(`licensing/royalties/services/__init__.py`; the runner is
`tests/support/concurrent_steps.py`): an agreement's first quarter reported, to amend
while another step runs (moved from `test_credit_lock_order.py`, round 56, which
other packages' lock tests share)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import and_, or_, select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice
from licensing.billing.states import AGREEMENT, ROYALTY_REPORT
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import AFTER, QUARTERS, row, vendor_and_reviewer
from tests.support.agreements import make_active_agreement
from tests.support.reporting_year import filed


@dataclass(frozen=True)
class Reported:
    """An agreement's first quarter reported: who filed it, the report and its
    royalty invoice, and the agreement's up-front invoice (none: `None`)."""

    vendor_id: int
    agreement_id: int
    report_id: int
    invoice_id: int
    up_front_id: int | None

    def amendment(self) -> Filing:
        """The report amended down to 10 users: 185.00, lifted to the 1000.00
        minimum, so 665.00 less than charged (with or without an up-front part)."""
        filer = db.session().get(User, self.vendor_id)
        return filed(
            filer,
            self.agreement_id,
            QUARTERS[1],
            [row(1, "A", quantity=10)],
            amends=self.report_id,
            reason="Clinic B left before the quarter",
            now=AFTER[1],
        )


def reported(app: Flask, use: dict[str, Any]) -> Reported:
    """An agreement for `use`, its first quarter reported with 90 users."""
    with app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        agreement_id = make_active_agreement(vendor, reviewer, use, now=NOW).id
        first = filed(
            vendor,
            agreement_id,
            QUARTERS[1],
            [row(1, "A", quantity=60), row(1, "B", quantity=30)],
            now=AFTER[1],
        )
        assert first.report is not None
        invoices = {
            found.source_type: found.id
            for found in session.execute(
                select(Invoice.source_type, Invoice.id).where(
                    or_(
                        and_(
                            Invoice.source_type == ROYALTY_REPORT,
                            Invoice.source_id == first.report.id,
                        ),
                        and_(Invoice.source_type == AGREEMENT, Invoice.source_id == agreement_id),
                    )
                )
            )
        }
        found = Reported(
            vendor.id,
            agreement_id,
            first.report.id,
            invoices[ROYALTY_REPORT],
            invoices.get(AGREEMENT),
        )
        session.commit()
        return found
