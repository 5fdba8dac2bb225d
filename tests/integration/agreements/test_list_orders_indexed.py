"""Round 52: every order the agreements are listed in has an index the database
walks, so a page is read in order and the read stops after its rows, where each page
sorted every agreement its filters chose (agreements_0007; docs/list-pages.md). And
what each agreement on a page has been charged is summed from its own invoices,
found through the index on their source, where SQLite read every invoice for each
agreement (`charged_page`). Each statement is EXPLAINed with its own values on both
backends (`tests/support/plans.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.agreements import queries
from licensing.agreements.models import Agreement
from licensing.agreements.states import REPLACED
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support import factories
from tests.support.plans import analyzed, plan_of, sent, sent_with_values, sorts, subtree


@pytest.fixture
def listed(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
) -> None:
    for owner in (vendor, other_vendor, vendor):
        active_agreement(owner, SMALL_SOFTWARE)
    db.session().commit()


def _page_plan(statement: Any, order: str = queries.NEWEST) -> tuple[list[str], list[str], str]:
    """The plan of a list's page as `paging.read_page` reads it (page 2's window) with
    the charged sums (`charged_page`): (the whole plan, the window's part, dialect)."""
    window = statement.limit(50).offset(50)
    lines = plan_of(*sent(queries.charged_page(window, order), containing="LIMIT"))
    dialect = db.session().connection().dialect.name
    return lines, subtree(lines, "Limit" if dialect == "postgresql" else "MATERIALIZE"), dialect


# The number's unique constraint's index: SQLite names it by the table and a count
# (the table has two), so the window is asked to walk one of them with no sort.
NUMBER_UNIQUE = "uq_agreements_number"
NUMBER_UNIQUE_SQLITE = "sqlite_autoindex_agreements_"


@pytest.mark.parametrize(
    ("caller", "states", "organization", "index", "order"),
    [
        ("staff", (), False, "ix_agreements_issued_order", queries.NEWEST),
        ("staff", ("active",), False, "ix_agreements_state_issued_order", queries.NEWEST),
        ("staff", (), True, "ix_agreements_organization_issued_order", queries.NEWEST),
        ("vendor", (), False, "ix_agreements_organization_issued_order", queries.NEWEST),
        ("staff", ("issued",), False, "ix_agreements_state_issued_order", queries.OLDEST),
        ("staff", (), False, "ix_agreements_issued_order", queries.OLDEST),
        ("vendor", (), False, "ix_agreements_organization_issued_order", queries.OLDEST),
        ("vendor", (), False, "ix_agreements_organization_number", queries.BY_NUMBER),
        ("staff", (), False, NUMBER_UNIQUE, queries.BY_NUMBER),
    ],
    ids=[
        "every agreement",
        "one state",
        "one organization",
        "a vendor's own",
        "waiting for acceptance, oldest first",
        "every agreement, oldest first",
        "a vendor's own, oldest first",
        "a vendor's own, by number",
        "every agreement, by number",
    ],
)
def test_an_agreements_page_is_read_in_an_index_order_with_no_sort_of_the_agreements(
    listed: None,
    vendor: Any,
    caller: str,
    states: tuple[str, ...],
    organization: bool,
    index: str,
    order: str,
) -> None:
    """The console's list (all, filtered to a state, narrowed to an organization;
    newest first, or oldest first since round 54), the vendor's list and the API (the
    same statement; oldest first and by number offered to vendors since round 55):
    the window of keys reads the index whose columns are the filter and the order
    (forwards or backwards), and nothing sorts them."""
    principal = accounts.principal_for(vendor) if caller == "vendor" else None
    statement, _count = queries.agreements_listing(
        principal,
        states=states,
        organization_id=vendor.organization_id if organization else None,
        order=order,
    )

    lines, window, dialect = _page_plan(statement, order)

    if index == NUMBER_UNIQUE and dialect == "sqlite":
        index = NUMBER_UNIQUE_SQLITE
    assert index in "\n".join(window), "\n".join(lines)
    assert sorts(window, dialect) == [], "\n".join(lines)


def test_each_agreements_charged_sum_reads_its_own_invoices_through_their_source_index(
    listed: None,
) -> None:
    """Summed as one OR of bound source types, SQLite could not use the partial index
    on an invoice's source and read every invoice for each agreement on the page; each
    kind of invoice is now its own select, with the index's condition as written."""
    statement, _count = queries.agreements_listing()

    lines, _window, dialect = _page_plan(statement)

    plan = "\n".join(lines)
    assert "uq_invoices_one_per_source" in plan, plan
    if dialect == "sqlite":
        assert [line for line in lines if line.strip() == "SCAN invoices"] == [], plan
    else:
        assert "Seq Scan on invoices" not in plan, plan


# Agreements replaced long before the window (a reissue's replaced rows, which the
# one live agreement an application holds leaves out), copies of one of the list's: enough
# that, analyzed, a count that walked another index of the agreements and filtered
# the state and term (PostgreSQL's choice at the fixture's three on some statistics:
# round 57) is priced as at size, where it reads every agreement.
REPLACED_ROWS = 2000


def _replaced_long_ago() -> None:
    """`REPLACED_ROWS` copies of an agreement, replaced, each its own number and a day
    earlier, stored as they are; the agreements then analyzed (`analyzed`)."""
    agreements = Agreement.__table__
    first = dict(db.session().execute(select(agreements)).mappings().first() or {})
    assert first
    del first["id"]
    copies = [
        first
        | {
            "number": f"CPT-1999-{n:06d}",
            "state": REPLACED,
            "term_start": date(1999, 1, 1),
            "term_end": date(2020, 1, 1) - timedelta(days=n),
        }
        for n in range(REPLACED_ROWS)
    ]
    db.session().execute(insert(agreements), copies)
    analyzed("agreements", "organizations")


def test_the_renewals_due_are_read_by_state_and_term_end_in_the_order_of_an_index(
    listed: None,
) -> None:
    """The renewals-due list (active, ending within the window, soonest first, the id
    last) and the console home's count of them: a range of one index, no sort."""
    _replaced_long_ago()
    today = date(2027, 11, 1)
    page = queries.renewals_due_query(db.session(), today).limit(50).offset(0)
    lines = plan_of(*sent(page, containing="LIMIT"))
    counted = plan_of(
        *sent(db.count_of(queries.ending_soon(db.session(), today)), containing="count")
    )
    dialect = db.session().connection().dialect.name

    for plan in (lines, counted):
        assert "ix_agreements_state_term_end_order" in "\n".join(plan), "\n".join(plan)
    assert sorts(lines, dialect) == [], "\n".join(lines)


def test_the_agreements_expired_unrenewed_are_read_by_state_and_term_end_in_an_indexs_order(
    listed: None,
) -> None:
    """Round 59 (expired59): the office's list of agreements expired without a renewal
    (expired, ended within 90 days, the longest ended first, the id last): a range of
    the renewals due's index, no sort."""
    _replaced_long_ago()
    today = date(2028, 2, 1)
    page = queries.expired_unrenewed_query(today).limit(50).offset(0)
    lines = plan_of(*sent(page, containing="LIMIT"))
    dialect = db.session().connection().dialect.name

    assert "ix_agreements_state_term_end_order" in "\n".join(lines), "\n".join(lines)
    assert sorts(lines, dialect) == [], "\n".join(lines)


def test_each_agreements_renewal_is_found_through_the_index_on_what_it_renews(
    app: Flask,
    listed: None,
    vendor: Any,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """The console home's "Agreements ending within 90 days ... without a renewal"
    and the API's agreements (each with its live renewal) ask of every agreement
    whether an application renews it: unindexed, each asked read every application
    (1.4 s of CPU at 20,000 of each on SQLite, round 52). Priced on the test's own
    rows (`analyzed`): on statistics that said the tables were empty, PostgreSQL
    read the applications by another index (round 57)."""
    analyzed("applications", "agreements", "organizations")
    engine = app.extensions["licensing.db"].engine
    staff = signed_in(app.test_client(), admin)
    with sent_with_values(engine) as caught:
        assert staff.get("/console/").status_code == 200
        listed_by_api = app.test_client().get(
            "/api/v1/agreements", headers=factories.bearer(vendor)
        )
        assert listed_by_api.status_code == 200
    asking = [(sql, values) for sql, values in caught if "applications.renewal_of_id =" in sql]

    assert len(asking) >= 2
    for sql, values in asking:
        plan = "\n".join(plan_of(sql, values, sorts_priced_out=False))
        assert "ix_applications_renewal_of_id" in plan, plan
        assert "SCAN applications\n" not in plan + "\n", plan
        assert "Seq Scan on applications" not in plan, plan
