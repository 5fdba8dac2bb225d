"""Round 55: the vendor's list of periods (`/portal/royalty-reports`) chooses a page's
periods in three parts, each read in an index's order and stopped at the page's end
(`queries._vendor_keys`, royalties_0011), where it sorted the keys of every period of
the organization for any page. The same order as the whole list's statement, page by
page through ties, and each part's plan, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.royalties import queries
from licensing.web import paging
from tests.support.period_lists import TODAY, crowd, seed
from tests.support.plans import plan_of, sent_with_values

Key = tuple[int, date]


def whole_list(actor: Actor) -> list[Key]:
    """The list as its own statement orders it, every period at once."""
    listing = queries.vendor_periods_listing(actor, TODAY)
    found = db.session().execute(listing.rows, dict(listing.parameters))
    return [(found_row.agreement_id, found_row.period_start) for found_row in found]


def page(actor: Actor, number: int, size: int) -> list[Key]:
    """Page `number` of `size` periods as the page reads it."""
    listing = queries.vendor_periods_listing(actor, TODAY)
    read = listing.statuses(db.session(), (paging.LIMIT, paging.OFFSET))
    window = listing.rows.limit(size).offset((number - 1) * size)
    statuses = read(window, {paging.LIMIT: size, paging.OFFSET: (number - 1) * size})
    return [(status.agreement_id, status.period.start) for status in statuses]


def test_every_page_of_the_vendors_list_is_the_whole_lists_order_through_ties(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    mine = seed(vendor, other_vendor, licensing_staff, active_agreement, file_report)
    actor = Actor.of(accounts.principal_for(vendor))
    whole = whole_list(actor)
    assert len(whole) == 20

    for size in (1, 3, 7, 50):
        walked = [key for number in range(1, 22) for key in page(actor, number, size)]
        assert walked == whole, size
    # The two sent back first, the one sent back longest ago first; then the five
    # first quarters' and the second quarters' ties still to file, by number.
    assert whole[:2] == [(mine[2].id, date(2027, 1, 1)), (mine[1].id, date(2027, 4, 1))]
    assert whole[2:4] == [(mine[4].id, date(2027, 1, 1)), (mine[3].id, date(2027, 4, 1))]


def test_each_part_of_the_vendors_page_reads_its_own_index_and_no_period_else(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    seed(vendor, other_vendor, licensing_staff, active_agreement, file_report)
    # The other vendor's periods to file, analyzed: the staff queue's late order with
    # the organization filtered would read them all, and is priced so at any history.
    crowd(other_vendor.organization_id)
    actor = Actor.of(accounts.principal_for(vendor))
    with sent_with_values(db.session().get_bind()) as caught:
        page(actor, 2, 3)
    sql, values = next((sql, values) for sql, values in caught if "UNION ALL" in sql)
    plan = "\n".join(plan_of(sql, values))

    for index in (
        "ix_reporting_periods_organization_late_order",
        "ix_reporting_periods_organization_due_order",
    ):
        assert index in plan, plan
    if db.session().connection().dialect.name == "sqlite":
        assert "SCAN reporting_periods" not in plan, plan
    else:
        assert "Seq Scan on reporting_periods" not in plan, plan
