"""The agreements register's `annual_fees`: the licensed uses priced for the rate
card's whole period, by each pricing model (docs/exports.md, round 12).

Until round 12 the column was the term's fees divided by the proration factor,
which is right only for a flat fee that prorates: a per-unit or percent-of-revenue
amount is never prorated (contracts/pricing.md, "Proration"), so a per-user
estimate of 710.40 for half a year read 1,409.22 a year."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.integration.exports.conftest import Ledger
from tests.support import factories
from tests.support.settings import issuing

Export = Callable[..., list[dict[str, Any]]]

# 184 of the card's 365 days (2027.1 runs through 2027): p = 184/365.
SECOND_HALF = {"term_start": date(2027, 7, 1), "term_end": date(2027, 12, 31)}


def _registered(vendor: User, export_json: Export, use: dict[str, Any]) -> dict[str, Any]:
    """The register's row of an agreement for `use` over the second half of 2027."""
    actor = Actor.of(accounts.principal_for(vendor))
    draft = agreements.ApplicationDraft.from_fields({**SECOND_HALF, "uses": (use,)})
    application = agreements.create_draft(actor, draft, now=NOW)
    application = agreements.submit(application.id, actor, policy=issuing(), attest=True, now=NOW)
    if application.state != "approved":  # a rule staff review
        agreements.approve(application.id, factories.staff_actor(), policy=issuing(), now=NOW)
    (row,) = export_json("agreements", organization=vendor.organization_id)
    assert row["term_start"] == "2027-07-01"
    return row


def test_a_per_unit_amount_is_not_annualized(
    ledger: Ledger, vendor: User, export_json: Export
) -> None:
    # distribution-software: 2500 end users, graduated, the same for any term.
    row = _registered(vendor, export_json, AUTO_USE)
    assert row["term_fees"] == "33800.00"
    assert row["annual_fees"] == "33800.00"  # was 67048.91 (÷ 184/365)


def test_a_sum_annualizes_only_its_prorated_flat_part(
    ledger: Ledger, vendor: User, export_json: Export
) -> None:
    # internal-use: 82.50 flat (prorated) + 36 users x 18.50 (not prorated).
    use = {**AUTO_USE, "use": "internal_use", "user_type": "internal", "quantity": {"users": 36}}
    row = _registered(vendor, export_json, use)
    assert row["term_fees"] == "707.59"  # 82.50 x 184/365 = 41.59, + 666.00
    assert row["annual_fees"] == "748.50"  # 82.50 + 666.00; was 1403.64


def test_a_percent_of_revenue_is_not_annualized_but_its_minimum_is(
    ledger: Ledger, vendor: User, export_json: Export
) -> None:
    # distribution-data: 10% of revenue, minimum 5000.00 a year (2520.55 for the term).
    row = _registered(vendor, export_json, {**STAFF_USE, "revenue": "30000.00"})
    assert row["term_fees"] == "3000.00"  # 10% of 30000.00, above 2520.55
    assert row["annual_fees"] == "5000.00"  # the whole year's minimum; was 5951.09


def test_a_flat_fee_that_does_not_prorate_is_not_annualized(
    ledger: Ledger, vendor: User, export_json: Export
) -> None:
    # education-commercial: a flat 1500.00 with prorate false.
    use = {**AUTO_USE, "use": "education"}
    row = _registered(vendor, export_json, use)
    assert row["term_fees"] == "1500.00"
    assert row["annual_fees"] == "1500.00"  # was 2975.54


def test_a_flat_fee_that_prorates_counts_in_full(
    ledger: Ledger, vendor: User, export_json: Export
) -> None:
    # development: a flat 2500.00, prorated.
    use = {**AUTO_USE, "use": "development"}
    row = _registered(vendor, export_json, use)
    assert row["term_fees"] == "1260.27"
    assert row["annual_fees"] == "2500.00"  # was 2499.99: the rounded term fee ÷ p
