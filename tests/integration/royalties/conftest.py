"""Royalty-report helpers: agreements made active the way production makes them
(apply, submit, approve where staff must, accept), on the contract's example card."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.royalties import services
from licensing.royalties.models import RoyaltyReport
from licensing.royalties.rows import form_submission
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import make_active_agreement

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
DEVELOPMENT = {**SOFTWARE, "use": "development", "product_name": "Scrubber Pro SDK"}

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


@pytest.fixture
def file_report(app: Flask) -> Callable[..., Filing]:
    """`file_report(vendor, agreement, quarter, rows, amends=None, reason=None,
    preview=False)`: a report filed the day after its quarter ends."""

    def file(
        vendor: Any,
        agreement: Agreement,
        quarter: int,
        rows: list[dict[str, Any]],
        *,
        amends: int | None = None,
        reason: str | None = None,
        preview: bool = False,
        now: datetime | None = None,
    ) -> Filing:
        submission = form_submission(rows, attest=True, amends=amends, reason=reason)
        act = services.preview if preview else services.submit
        actor = Actor.of(accounts.principal_for(vendor))
        return act(agreement.id, QUARTERS[quarter], submission, actor, now=now or AFTER[quarter])

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
    as_vendor = Actor.of(accounts.principal_for(vendor))
    for quarter, rows in (
        (1, [row(1, "A", quantity=100), row(1, "B", quantity=50)]),
        (2, [row(1, "A", quantity=40)]),
    ):
        filing = services.submit(
            agreement.id,
            QUARTERS[quarter],
            form_submission(rows, attest=True, amends=None, reason=None),
            as_vendor,
            now=AFTER[quarter],
        )
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
