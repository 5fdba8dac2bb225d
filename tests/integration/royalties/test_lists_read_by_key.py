"""Round 56: a late page of the staff royalty queue (`/console/royalty-reports`) read
every period before it with OFFSET, joined to its report, agreement and invoice (page
400 of 20,000 periods: about three times page 1's CPU on SQLite), and the vendor's
list (`/portal/royalty-reports`) read the keys of every period before it in its three
parts and sorted them (round 55). The pager's links now name the period the page
starts after ("Next"; on the queue, the one it ends before for "Previous") beside the
page's number, and such a page is read from that period's key in the lists' indexes
(`queries._sought`, `queries._vendor_keys_after`). Page numbers stay: a number alone
(typed, kept, or the pager's first page) is read by OFFSET as before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.ratecards import services as ratecards
from licensing.royalties import queries
from licensing.web import paging
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.integration.agreements.conftest import NOW
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.period_lists import TODAY, crowd, seed
from tests.support.plans import plan_of, sent_with_values, sorts

from .conftest import file_quarter

Key = tuple[int, date]


def _staff(licensing_staff: Any) -> Actor:
    return Actor.of(accounts.principal_for(licensing_staff))


def _listing(actor: Actor) -> queries.Listing:
    if actor.is_vendor:
        return queries.vendor_periods_listing(actor, TODAY)
    return queries.staff_queue_listing(actor, queries.QueueFilter(), TODAY)


def _keys(statuses: list[Any]) -> list[Key]:
    return [(status.agreement_id, status.period.start) for status in statuses]


def _whole(actor: Actor) -> list[Any]:
    listing = _listing(actor)
    read = listing.statuses(db.session(), (paging.LIMIT, paging.OFFSET))
    window = listing.rows.limit(1000).offset(0)
    return read(window, {paging.LIMIT: 1000, paging.OFFSET: 0})


@dataclass(frozen=True)
class Seeded:
    """Who the module's periods are of (round 63: `seed` ran once a module, where the
    queue's and the vendor's list's 20 tests had each seeded their own, 0.5-1.2 s a
    test): their ids, read again in each test's session."""

    vendor_id: int
    other_vendor_id: int
    staff_id: int

    def user(self, user_id: int) -> User:
        found = db.session().get(User, user_id)
        assert found is not None
        return found


@pytest.fixture(scope="module")
def prepared(database_template: DatabaseTemplate, module_connection: Connection) -> Seeded:
    """`seed`'s periods, made once a module and backend on its shared connection;
    each test reads them (and what it adds, `crowd`'s periods, goes with its savepoint)."""
    with app_in_transaction(database_template.url, {}, module_connection, keep=True):
        ratecards.import_card(example_document(), published_by="tests")  # `example_card`'s
        session = db.session()
        vendor, other_vendor = factories.make_vendor(session), factories.make_vendor(session)
        staff = factories.make_staff(session, roles=("licensing",))

        def active_agreement(owner: Any, *uses: dict[str, Any]) -> Agreement:
            return make_active_agreement(owner, staff, *uses, now=NOW)

        def file_report(
            owner: Any, agreement: Agreement, quarter: int, *args: Any, **kw: Any
        ) -> Any:
            return file_quarter(owner, agreement.id, quarter, *args, **kw)

        seed(vendor, other_vendor, staff, active_agreement, file_report)
        return Seeded(vendor.id, other_vendor.id, staff.id)


@pytest.fixture
def seeded(app: Flask, prepared: Seeded) -> Actor:
    """Six agreements accepted together (their periods tie on every day), the module's."""
    return _staff(prepared.user(prepared.staff_id))


@pytest.mark.parametrize("size", [1, 3, 7])
def test_walking_the_queue_by_key_forwards_and_backwards_is_its_whole_order_through_ties(
    seeded: Actor, size: int
) -> None:
    whole = _whole(seeded)
    assert len(whole) > 7  # the periods due, overdue or submitted
    around = _listing(seeded).around(db.session())
    assert around is not None

    forwards = whole[:size]
    while page := around(forwards[-1].period_id, False, size):
        assert len(page) <= size
        forwards += page
    assert _keys(forwards) == _keys(whole)

    backwards = whole[-size:]
    while page := around(backwards[0].period_id, True, size):
        assert len(page) <= size
        backwards = page + backwards
    assert _keys(backwards) == _keys(whole)


def test_a_period_not_to_be_found_leaves_the_page_to_its_number(seeded: Actor) -> None:
    around = _listing(seeded).around(db.session())
    assert around is not None
    assert around(10**9, False, 3) is None


def _query(url: str | None) -> dict[str, list[str]]:
    assert url is not None
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _page(app: Flask, actor: Actor, url: str, size: int = 3) -> paging.Page[Any]:
    """The queue's page `url` asks for, `size` periods a page, as the page reads it."""
    with app.test_request_context(url):
        listing = _listing(actor)
        session = db.session()
        around = listing.around(session)
        assert around is not None
        return paging.read_page(
            session,
            listing.rows,
            rows=listing.statuses(session, (paging.LIMIT, paging.OFFSET)),
            count=listing.count,
            parameters=listing.parameters,
            per_page=size,
            seek=paging.Seek(lambda status: status.period_id, around, listing.seeks_backwards),
        )


def test_the_pagers_links_name_the_period_a_page_starts_after_or_ends_before(
    app: Flask, seeded: Actor
) -> None:
    whole = _whole(seeded)
    by_number = _page(app, seeded, "/console/royalty-reports?page=3&state=")
    assert _keys(list(by_number.items)) == _keys(whole[6:9])

    following = _query(by_number.next_url)
    assert following["page"] == ["4"]
    assert following["after"] == [str(whole[8].period_id)]
    assert following["state"] == [""]
    preceding = _query(by_number.previous_url)
    assert preceding["page"] == ["2"]
    assert preceding["before"] == [str(whole[6].period_id)]

    after = _page(app, seeded, by_number.next_url or "")
    assert _keys(list(after.items)) == _keys(whole[9:12])
    assert after.number == 4
    # The key read is not kept in the links it makes: each names its own.
    assert _query(after.next_url)["after"] == [str(whole[11].period_id)]
    before = _page(app, seeded, by_number.previous_url or "")
    assert _keys(list(before.items)) == _keys(whole[3:6])
    # Page 1 is the list's start: its link names no period.
    assert "before" not in _query(before.previous_url)


def test_a_page_whose_key_cannot_be_read_or_found_is_read_by_its_number(
    app: Flask, seeded: Actor
) -> None:
    whole = _whole(seeded)
    for key in ("x", "-4", "0", "999999999"):
        found = _page(app, seeded, f"/console/royalty-reports?page=2&after={key}")
        assert _keys(list(found.items)) == _keys(whole[3:6]), key


def test_a_key_given_twice_is_refused_as_the_page_number_is(
    app: Flask, seeded: Actor, signed_in: Callable[..., FlaskClient], prepared: Seeded
) -> None:
    client = signed_in(app.test_client(), prepared.user(prepared.staff_id))
    response = client.get("/console/royalty-reports?page=2&after=1&after=2")
    assert response.status_code == 400
    assert "Page takes one value, and the link gave it 2" in response.get_data(as_text=True)


def test_a_page_read_by_key_reads_the_queues_index_from_the_key_and_sorts_nothing(
    seeded: Actor, prepared: Seeded
) -> None:
    whole = _whole(seeded)
    # Priced on 2,000 more periods, ANALYZEd, not on what earlier tests left (round 58).
    other_vendor = prepared.user(prepared.other_vendor_id)
    assert other_vendor.organization_id is not None
    crowd(other_vendor.organization_id)
    around = _listing(seeded).around(db.session())
    assert around is not None
    dialect = db.session().connection().dialect.name
    for backwards in (False, True):
        with sent_with_values(db.session().get_bind()) as caught:
            around(whole[10].period_id, backwards, 3)
        sql, values = caught[-1]
        lines = plan_of(sql, values)
        plan = "\n".join(lines)
        assert "ix_reporting_periods_late_order" in plan, plan
        assert sorts(lines, dialect) == [], plan
        if dialect == "sqlite":
            # (SQLite seeks by the two leading columns; the id, the rowid, it checks.)
            assert "ix_reporting_periods_late_order ((late_from,agreement_number)" in plan, plan
        else:
            assert "Index Cond: (ROW(" in plan, plan


@pytest.fixture
def vendors_list(app: Flask, prepared: Seeded) -> tuple[Actor, Actor]:
    """Round 55's periods: the vendor's five agreements tied on every day, reports
    filed, one amended, two sent back; and the other vendor's (the module's)."""
    return (
        Actor.of(accounts.principal_for(prepared.user(prepared.vendor_id))),
        Actor.of(accounts.principal_for(prepared.user(prepared.other_vendor_id))),
    )


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_walking_the_vendors_list_by_key_is_its_whole_order_through_every_part(
    vendors_list: tuple[Actor, Actor], size: int
) -> None:
    actor, _other = vendors_list
    whole = _whole(actor)
    assert len(whole) == 20
    around = _listing(actor).around(db.session())
    assert around is not None

    forwards = whole[:size]
    while page := around(forwards[-1].period_id, False, size):
        assert len(page) <= size
        forwards += page
    assert _keys(forwards) == _keys(whole)
    # Read before a period: not this list's (its "Previous" is read by number).
    assert around(whole[-1].period_id, True, size) is None


def test_another_organizations_period_leaves_the_vendors_page_to_its_number(
    app: Flask, vendors_list: tuple[Actor, Actor]
) -> None:
    actor, other = vendors_list
    theirs = _whole(other)[0].period_id
    around = _listing(actor).around(db.session())
    assert around is not None
    assert around(theirs, False, 3) is None
    found = _page(app, actor, f"/portal/royalty-reports?page=2&after={theirs}")
    assert _keys(list(found.items)) == _keys(_whole(actor)[3:6])


def test_the_vendors_pager_names_the_period_after_which_next_starts_and_none_for_previous(
    app: Flask, vendors_list: tuple[Actor, Actor]
) -> None:
    actor, _other = vendors_list
    whole = _whole(actor)
    by_number = _page(app, actor, "/portal/royalty-reports?page=3")
    assert _query(by_number.next_url)["after"] == [str(whole[8].period_id)]
    assert "before" not in _query(by_number.previous_url)
    after = _page(app, actor, by_number.next_url or "")
    assert _keys(list(after.items)) == _keys(whole[9:12])


def test_a_vendors_page_read_by_key_reads_each_later_part_from_its_index(
    vendors_list: tuple[Actor, Actor],
) -> None:
    actor, other = vendors_list
    whole = _whole(actor)
    assert other.organization_id is not None
    crowd(other.organization_id)  # as in test_vendor_list_keys: priced as at size
    around = _listing(actor).around(db.session())
    assert around is not None
    dialect = db.session().connection().dialect.name
    # After a period still to file (part 1): the rest of part 1, then the filed ones.
    to_file = next(status for status in whole if not status.report)
    with sent_with_values(db.session().get_bind()) as caught:
        around(to_file.period_id, False, 3)
    sql, values = next((sql, values) for sql, values in caught if "UNION ALL" in sql)
    plan = "\n".join(plan_of(sql, values))
    for index in (
        "ix_reporting_periods_organization_late_order",
        "ix_reporting_periods_organization_due_order",
    ):
        assert index in plan, plan
    if dialect == "sqlite":
        assert "SCAN reporting_periods" not in plan, plan
    else:
        assert "Seq Scan on reporting_periods" not in plan, plan
