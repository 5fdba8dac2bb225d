"""Royalty-report helpers: agreements made active the way production makes them
(apply, submit, approve where staff must, accept), on the contract's example card."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.ratecards import services as ratecards
from licensing.royalties import services
from licensing.royalties.models import RoyaltyReport, RoyaltyReportRow
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW
from tests.integration.pricing.conftest import (
    example_card,  # noqa: F401 - the fixture
    example_document,
)
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.reporting_year import filed

# The applications tests' SaaS product: 2500 end users, approved at submission.
SOFTWARE = AUTO_USE
# 10 end users estimated: 185.00, below the 1000.00 minimum, so 815.00 is due up front.
SMALL_SOFTWARE = {**SOFTWARE, "product_name": "Scrubber Lite", "quantity": {"end_users": 10}}
PAYER = {
    **SOFTWARE,
    "product_name": "Plan Navigator",
    "user_type": "payer",
    "quantity": {"members": 200000},
}
DATA_FILE = {
    "product_name": "Fernhill Code Feed",
    "description": "A nightly data file for billing systems",
    "use": "distribution",
    "product_type": "data_file",
    "user_type": "provider",
    "delivery": "data_feed",
    "territories": "United States",
    "languages": ["en"],
    "revenue": "80000.00",
}
DEVELOPMENT = DEVELOPMENT_USE

# Days on which each 2027 quarter may first be reported.
AFTER = {
    1: datetime(2027, 4, 2, 15, 0, tzinfo=UTC),
    2: datetime(2027, 7, 2, 15, 0, tzinfo=UTC),
    3: datetime(2027, 10, 2, 15, 0, tzinfo=UTC),
    4: datetime(2028, 1, 2, 15, 0, tzinfo=UTC),
}
QUARTERS = {
    1: date(2027, 1, 1),
    2: date(2027, 4, 1),
    3: date(2027, 7, 1),
    4: date(2027, 10, 1),
}
# Mid-May 2027: the first quarter's report (due 2027-04-30) is 15 days overdue.
MID_MAY = datetime(2027, 5, 15, 15, 0, tzinfo=UTC)


def at(day: date) -> datetime:
    """15:00 UTC on `day`: the same calendar day at the office (Chicago)."""
    return datetime.combine(day, time(15, 0), tzinfo=UTC)


def row(
    line: int, customer: str, unit: str = "end_users", quantity: Any = "", **extra: Any
) -> dict[str, Any]:
    return {
        "line": line,
        "customer_id": customer,
        "customer_name": f"Clinic {customer}",
        "country": "US",
        "unit": unit,
        "quantity": quantity,
        **extra,
    }


def period_url(agreement: Agreement, quarter: int) -> str:
    return f"/portal/royalty-reports/{agreement.id}/{QUARTERS[quarter].isoformat()}"


def previewed_csv(client: Any, agreement: Agreement, quarter: int, content: str) -> Any:
    """The period page's answer to `content` sent as a CSV file to preview."""
    return client.post(
        period_url(agreement, quarter),
        data={"mode": "csv", "action": "preview", "file": (io.BytesIO(content.encode()), "q.csv")},
        content_type="multipart/form-data",
    )


def typed(*rows: dict[str, Any]) -> dict[str, str]:
    """The rows form's fields for `rows` (numbered from 1, as on the page)."""
    fields = {}
    for number, values in enumerate(rows, start=1):
        for column, value in values.items():
            fields[f"rows-{number}-{column}"] = str(value)
    return fields


def reports_of(agreement: Agreement) -> list[RoyaltyReport]:
    return list(
        db.session().scalars(
            select(RoyaltyReport)
            .where(RoyaltyReport.agreement_id == agreement.id)
            .order_by(RoyaltyReport.id)
        )
    )


def stored_rows() -> int:
    return db.session().scalar(select(func.count()).select_from(RoyaltyReportRow)) or 0


def vendor_and_reviewer(session: Session) -> tuple[Any, Any]:
    """For a database of its own (`committed_app`): the contract's example card
    published, a vendor and a licensing reviewer, committed."""
    ratecards.import_card(example_document(), published_by="tests")
    vendor = factories.make_vendor(session)
    reviewer = factories.make_staff(session, roles=("licensing",))
    session.commit()
    return vendor, reviewer


@pytest.fixture
def active_agreement(
    app: Flask,
    example_card: str,  # noqa: F811
    licensing_staff: Any,
) -> Callable[..., Agreement]:
    """`active_agreement(vendor, *uses)`: applied for, approved (by staff where the
    card says so) and accepted: active, with its up-front invoice issued."""

    def make(vendor: Any, *uses: dict[str, Any]) -> Agreement:
        return make_active_agreement(vendor, licensing_staff, *uses, now=NOW)

    return make


def file_quarter(
    vendor: Any,
    agreement_id: int,
    quarter: int,
    rows: list[dict[str, Any]],
    *,
    amends: int | None = None,
    reason: str | None = None,
    preview: bool = False,
    now: datetime | None = None,
) -> Filing:
    """`rows` filed (or previewed) by `vendor` through the form's path for a 2027
    `quarter` of the agreement, attested, the day after the quarter ends unless
    `now` says otherwise."""
    return filed(
        vendor,
        agreement_id,
        QUARTERS[quarter],
        rows,
        now=now or AFTER[quarter],
        amends=amends,
        reason=reason,
        preview=preview,
    )


@pytest.fixture
def file_report(app: Flask) -> Callable[..., Filing]:
    """`file_report(vendor, agreement, quarter, rows, amends=None, reason=None,
    preview=False)`: a report filed the day after its quarter ends."""

    def file(vendor: Any, agreement: Agreement, quarter: int, *args: Any, **kwargs: Any) -> Filing:
        return file_quarter(vendor, agreement.id, quarter, *args, **kwargs)

    return file


def flagged_report(
    file_report: Callable[..., Filing], vendor: Any, agreement: Agreement
) -> RoyaltyReport:
    """The second quarter's report, flagged for review: 40 end users filed after
    the first quarter's 150."""
    file_report(vendor, agreement, 1, [row(1, "A", quantity=100), row(1, "B", quantity=50)])
    filing = file_report(vendor, agreement, 2, [row(1, "A", quantity=40)])
    assert filing.report is not None
    return filing.report


def flagged_by_services(vendor: Any, staff: Any, *uses: dict[str, Any]) -> int:
    """`flagged_report` without the fixtures, for a database of its own (`committed_app`):
    an agreement of `uses` made active, its first quarter filed at 150 end users and its
    second at 40 (flagged); the second report's id."""
    agreement = make_active_agreement(vendor, staff, *uses, now=NOW)
    for quarter, rows in (
        (1, [row(1, "A", quantity=100), row(1, "B", quantity=50)]),
        (2, [row(1, "A", quantity=40)]),
    ):
        filing = file_quarter(vendor, agreement.id, quarter, rows)
    assert filing.report is not None
    return filing.report.id


def lowered_by_amendment(
    file_report: Callable[..., Filing], vendor: Any, agreement: Agreement
) -> Filing:
    """The first quarter filed at 3000 end users, then amended down to 2900: the
    amendment's royalty due is a change, refunded by credit note."""
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    assert first.report is not None
    return file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=2900)],
        amends=first.report.id,
        reason="Clinic A had 2900 users",
    )


def sent_back_and_corrected(
    file_report: Callable[..., Filing],
    vendor: Any,
    licensing_staff: Any,
    agreement: Any,
    extra: int,
) -> tuple[RoyaltyReport, RoyaltyReport]:
    """The first quarter filed at 100 end users, sent back by staff, and amended by
    the vendor with a second customer of `extra` end users: (first, corrected)."""
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    assert first is not None
    staff = Actor.of(accounts.principal_for(licensing_staff))
    services.review(first.id, "request_correction", staff, note="Clinic B is missing")
    corrected = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=100), row(1, "B", quantity=extra)],
        amends=first.id,
        reason="Clinic B added",
    ).report
    assert corrected is not None
    return first, corrected


def a_year_with_an_amendment(
    vendor: Any, agreement: Agreement, file_report: Callable[..., Filing]
) -> tuple[Invoice, Invoice, CreditNote]:
    """The docs' year: the first quarter filed (100 end users) and paid by wire; the
    second filed with 2,000 typed for 200, then amended, which credits its invoice."""
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    assert first is not None
    assert first.invoice_id is not None
    with time_machine.travel(AFTER[1], tick=False):
        billing.record_offline_payment(
            first.invoice_id,
            method="wire",
            amount=first.total_due,
            reference="W-1",
            actor=factories.billing_clerk(),
        )
    typo = [row(1, "A", quantity=100), row(1, "B", quantity=2000)]
    second = file_report(vendor, agreement, 2, typo).report
    assert second is not None
    assert second.invoice_id is not None
    fixed = [row(1, "A", quantity=100), row(1, "B", quantity=200)]
    amended = file_report(
        vendor, agreement, 2, fixed, amends=second.id, reason="Clinic B has 200 users"
    )
    assert amended.credit_notes
    session = db.session()
    paid = session.get(Invoice, first.invoice_id)
    typoed = session.get(Invoice, second.invoice_id)
    credit = session.scalars(select(CreditNote).where(CreditNote.number.in_(amended.credit_notes)))
    assert paid is not None
    assert typoed is not None
    return paid, typoed, credit.one()
