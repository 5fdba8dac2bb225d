"""A renewal proposes, for each use, the quantities the licensee last reported
(the latest accepted royalty report's figures, to date, for its period) instead of
the old application's estimates, falls back to the estimate where no accepted
report gives one, and says on its pages which figure came from which report."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import card_effect
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.pricing import Quote
from licensing.ratecards import services as ratecards
from licensing.royalties import services
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import NOW
from tests.integration.pricing.conftest import card_document
from tests.support.agreements import renewal_window
from tests.support.pages import without_time_tags
from tests.support.rate_card_checks import checked_page
from tests.support.settings import issuing

from .conftest import DATA_FILE, SOFTWARE, row

FileReport = Callable[..., Filing]


def _two_quarters(file_report: FileReport, vendor: Any, agreement: Agreement) -> Filing:
    """Quarter 1: 1,500 + 900 end users; quarter 2: 1,600 + 900 + 200 (2,700 to date)."""
    file_report(
        vendor,
        agreement,
        1,
        [
            row(1, "A", quantity=1500),
            row(1, "B", quantity=900),
            row(2, "X", unit="", revenue="20000.00"),
        ],
    )
    return file_report(
        vendor,
        agreement,
        2,
        [
            row(1, "A", quantity=1600),
            row(1, "B", quantity=900),
            row(1, "C", quantity=200),
            row(2, "X", unit="", revenue="21000.00"),
        ],
    )


def _renew(vendor: Any, agreement: Agreement) -> Application:
    return agreements.start_renewal(
        agreement.id, Actor.of(accounts.principal_for(vendor)), now=renewal_window(agreement)
    )


def test_a_renewal_proposes_the_quantities_of_the_latest_accepted_report(
    vendor: Any, active_agreement: Callable[..., Agreement], file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    second = _two_quarters(file_report, vendor, agreement)
    assert second.report is not None
    assert second.report.review_state == "clear"

    renewal = _renew(vendor, agreement)

    software, data_file = renewal.uses
    assert software.quantity == {"end_users": 2700}  # each customer once, to date
    # A use that reports revenue only keeps its estimate (a report covers the periods so far).
    assert (data_file.quantity, data_file.revenue) == ({}, Decimal("80000.0000"))


def test_a_flagged_latest_report_is_passed_over_for_the_last_accepted_one(
    vendor: Any, active_agreement: Callable[..., Agreement], file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=1500), row(1, "B", quantity=900)])
    flagged = file_report(vendor, agreement, 2, [row(1, "A", quantity=400)])
    assert flagged.report is not None
    assert flagged.report.review_state == "flagged"

    renewal = _renew(vendor, agreement)

    assert renewal.uses[0].quantity == {"end_users": 2400}


def test_without_an_accepted_report_a_renewal_keeps_the_estimates_and_says_so(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    signed_in: Callable[..., FlaskClient],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)

    renewal = _renew(vendor, agreement)

    assert renewal.uses[0].quantity == {"end_users": 2500}
    signed_in(client, vendor)
    page = client.get(f"/portal/applications/{renewal.id}").get_data(as_text=True)
    assert (
        f"End users: 2,500</strong> ·\n      the estimate in {agreement.application.reference} "
        "(no accepted royalty report gives it)"
    ) in page


def test_after_nil_reports_only_a_renewal_keeps_the_estimate_rather_than_zero(
    vendor: Any, active_agreement: Callable[..., Agreement], file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    nil = file_report(vendor, agreement, 1, [])
    assert nil.report is not None
    assert nil.report.review_state == "clear"

    renewal = _renew(vendor, agreement)

    assert renewal.uses[0].quantity == {"end_users": 2500}


def test_a_reviewed_report_counts_and_the_renewal_is_priced_on_its_figures(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: FileReport,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=1500), row(1, "B", quantity=900)])
    flagged = file_report(vendor, agreement, 2, [row(1, "A", quantity=400)])
    assert flagged.report is not None
    staff = Actor.of(accounts.principal_for(licensing_staff))
    services.review(flagged.report.id, "mark_reviewed", staff, note="Customer B left")
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    renewal = _renew(vendor, agreement)
    # Quarter 2 reviewed: to date, A's largest is still 1,500, and B's 900.
    assert renewal.uses[0].quantity == {"end_users": 2400}

    submitted = agreements.submit(
        renewal.id, Actor.of(accounts.principal_for(vendor)), policy=issuing(), attest=True, now=NOW
    )

    quote = Quote.from_snapshot(submitted.quotes[-1].snapshot)
    breakdown = quote.lines[0].breakdown
    assert breakdown is not None
    assert dict(breakdown.quantities) == {"end_users": 2400}
    # Priced by the pricing core as any application is: the estimate would give 33800.00.
    assert quote.total != Decimal("33800.00")


def test_the_renewal_pages_say_which_figure_came_from_which_report(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: FileReport,
    signed_in: Callable[..., FlaskClient],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    second = _two_quarters(file_report, vendor, agreement)
    assert second.report is not None
    renewal = _renew(vendor, agreement)
    estimate_from = agreement.application.reference
    signed_in(client, vendor)

    pages = [
        client.get(f"/portal/applications/{renewal.id}").get_data(as_text=True),
        client.get(f"/portal/applications/{renewal.id}/edit").get_data(as_text=True),
    ]

    for page in map(without_time_tags, pages):
        assert "Where the renewal's quantities come from" in page
        assert (
            f"End users: 2,700</strong> ·\n      from royalty report {second.report.reference} "
            "for April 1, 2027 to June 30, 2027 "
            f"(estimated 2,500 in {estimate_from})"
        ) in page
        assert f"Expected revenue stays the estimate in {estimate_from}" in page


def test_the_rate_card_check_prices_a_renewal_on_the_usage_last_reported_as_the_renewal_is(
    vendor: Any, active_agreement: Callable[..., Agreement], file_report: FileReport
) -> None:
    # The check priced a renewal on the agreement's own estimates, so next year's
    # card showed a change the renewal, drawn on the reported usage, would not have.
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=1500), row(1, "B", quantity=900)])
    next_year = card_document(
        version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"
    )

    (record,) = card_effect.effect(db.session(), ratecards.validate(next_year)).records

    ratecards.import_card(next_year, published_by="tests")
    renewal = _renew(vendor, agreement)
    assert renewal.uses[0].quantity == {"end_users": 2400}
    submitted = agreements.submit(
        renewal.id, Actor.of(accounts.principal_for(vendor)), policy=issuing(), attest=True, now=NOW
    )
    assert (record.kind, record.reference) == ("renewal", agreement.number)
    assert record.then == submitted.quotes[-1].total
    assert record.then != agreement.total  # the estimate's price on the same figures


def test_the_rate_card_check_says_the_cards_change_apart_from_the_usage_reported(
    client: FlaskClient,
    signed_in: Any,
    admin: Any,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: FileReport,
) -> None:
    # Round 67: a correction of next year's card raising the first 100 end users by 0.50
    # showed one change for the renewal, -1,150.00: its 50.00 and the usage reported
    # (2,400 end users, not the 2,500 applied for: -1,200.00) summed, checkable by no one.
    agreement = active_agreement(vendor, SOFTWARE)  # 2,500 end users on 2027.1: 33,800.00
    file_report(vendor, agreement, 1, [row(1, "A", quantity=1500), row(1, "B", quantity=900)])
    base = card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    ratecards.import_card(base, published_by="tests")
    correction = copy.deepcopy(base) | {"version": "2028.2"}
    (software,) = [r for r in correction["rules"] if r["id"] == "distribution-software"]
    software["model"]["tiers"][0]["unit_price"] = "19.00"  # was 18.50
    db.session().commit()

    effect = card_effect.effect(db.session(), ratecards.validate(correction))
    (record,) = effect.records
    assert (record.now, record.in_effect_card, record.in_effect, record.then) == (
        Decimal("33800.00"),
        "2028.1",
        Decimal("32600.00"),  # 100 x 18.50 + 900 x 15.50 + 1,400 x 12.00
        Decimal("32650.00"),
    )
    assert (record.card_change, record.usage_change) == (Decimal("50.00"), Decimal("-1200.00"))
    assert (effect.card_change, effect.usage_change, effect.uncompared) == (
        Decimal("50.00"),
        Decimal("-1200.00"),
        0,
    )
    (reported,) = record.usage
    assert reported.startswith("use 1, end users: 2,400 reported in RR-")
    assert reported.endswith("(2,500 applied for)")

    signed_in(client, admin)
    page = " ".join(checked_page(client, correction).split())
    assert "Of which 2028.2's own 50.00 USD" in page
    assert "Of which usage and terms -1,200.00 USD" in page
    assert "32,600.00 on 2028.1" in page
    assert "use 1, end users: 2,400 reported in RR-" in page
