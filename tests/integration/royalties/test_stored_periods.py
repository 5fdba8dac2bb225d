"""The stored reporting periods (`reporting_periods`) the staff queue and its
summaries read with SQL: written when an agreement starts to report, the same
periods and states as the Python derivation (`services.obligations`,
`services.period_state`), kept right through expiry, renewal and termination,
backfilled by the migration, and read a page at a time."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from licensing import db, migrations
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.finance.queries import health
from licensing.ratecards import services as ratecards
from licensing.royalties import queries, services, views
from licensing.royalties.queries import QueueFilter
from licensing.royalties.states import PERIOD_STATES
from licensing.web import paging
from tests.integration.agreements.conftest import NOW
from tests.integration.pricing.conftest import card_document
from tests.integration.royalties.conftest import (
    AFTER,
    DEVELOPMENT,
    SOFTWARE,
    at,
    row,
    vendor_and_reviewer,
)
from tests.support.agreements import accept, agreement_of, make_active_agreement
from tests.support.copies import copy_agreement, copy_application
from tests.support.pages import text_of
from tests.support.periods import Stored, stored
from tests.support.settings import issuing
from tests.support.statements import sent_by

# The module, not the function `services.obligations` that its package exports.
obligations_module = sys.modules["licensing.royalties.services.obligations"]
MID_MAY = date(2027, 5, 15)  # every first quarter overdue, every second upcoming
QUARTER_2 = date(2027, 4, 1)
SignIn = Callable[..., FlaskClient]


def built(agreement: Agreement) -> Stored:
    """The periods as `obligations()` builds them in Python."""
    periods = services.obligations(db.session(), agreement).periods
    return [(p.index, p.start, p.end, p.due_on) for p in periods]


def staff(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def sql_states(app: Flask, actor: Actor, day: date) -> dict[tuple[int, date], str]:
    """Each period's state as the queue reads it, through each state's filter (so
    the filters agree with the state each row is labelled with)."""
    found: dict[tuple[int, date], str] = {}
    with app.test_request_context("/console/royalty-reports"):
        for state in PERIOD_STATES:
            for status in views.staff_queue_page(actor, QueueFilter(state=state), day).items:
                assert status.state == state, (day, status)
                found[(status.agreement_id, status.period.start)] = status.state
        unfiltered = views.staff_queue_page(actor, QueueFilter(), day).items
    assert {(s.agreement_id, s.period.start): s.state for s in unfiltered} == {
        key: state for key, state in found.items() if state != "upcoming"
    }
    return found


def python_states(actor: Actor, *listed: Agreement, day: date) -> dict[tuple[int, date], str]:
    found = {}
    for agreement in listed:
        _, statuses = services.agreement_periods(agreement.id, actor, now=at(day))
        found.update({(s.agreement_id, s.period.start): s.state for s in statuses})
    return found


def page_text(client: FlaskClient, signed_in: SignIn, user: Any, day: date, url: str) -> str:
    """A console page's text as `user` sees it on `day` (signed in on that day)."""
    with time_machine.travel(at(day), tick=False):
        return text_of(signed_in(client, user).get(url))


def queue_text(client: FlaskClient, signed_in: SignIn, user: Any, day: date) -> str:
    return page_text(client, signed_in, user, day, "/console/royalty-reports")


# --- written when an agreement starts to report --------------------------------------


def test_accepting_an_agreement_stores_the_periods_obligations_builds_and_none_without_royalties(
    vendor: Any, active_agreement: Callable[..., Agreement]
) -> None:
    reporting = active_agreement(vendor, SOFTWARE)
    flat_only = active_agreement(vendor, DEVELOPMENT)

    assert stored(reporting) == built(reporting)
    assert [start for _, start, _, _ in stored(reporting)] == [
        date(2027, 1, 1),
        date(2027, 4, 1),
        date(2027, 7, 1),
        date(2027, 10, 1),
    ]
    assert stored(reporting)[0][3] == date(2027, 4, 30)  # due 30 days after the quarter
    assert stored(flat_only) == built(flat_only) == []


def test_every_state_at_its_day_boundaries_is_the_python_derivations(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    filed = active_agreement(vendor, SOFTWARE)
    unfiled = active_agreement(other_vendor, SOFTWARE)
    file_report(vendor, filed, 1, [row(1, "A", quantity=60)])
    actor = staff(licensing_staff)
    # Each quarter's last day (upcoming), the next (due), its due date (still due),
    # the day after (overdue), around the first two quarters and the year's end.
    days = [
        date(2027, 3, 31),
        date(2027, 4, 1),
        date(2027, 4, 30),
        date(2027, 5, 1),
        date(2027, 6, 30),
        date(2027, 7, 1),
        date(2027, 7, 30),
        date(2027, 7, 31),
        date(2028, 1, 30),
        date(2028, 1, 31),
    ]
    for day in days:
        assert sql_states(app, actor, day) == python_states(actor, filed, unfiled, day=day), day
    assert sql_states(app, actor, date(2027, 4, 30))[(unfiled.id, date(2027, 1, 1))] == "due"
    assert sql_states(app, actor, date(2027, 5, 1))[(unfiled.id, date(2027, 1, 1))] == "overdue"


def test_the_queue_says_due_on_the_due_date_and_overdue_the_day_after(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = f"{agreement.number} 2027-01-01 to 2027-03-31 2027-04-30"

    def queue(day: date) -> str:
        return queue_text(client, signed_in, licensing_staff, day)

    assert f"{first} due 0 days left" in queue(date(2027, 4, 30))
    assert f"{first} overdue 1 days overdue" in queue(date(2027, 5, 1))
    assert agreement.number not in queue(date(2027, 3, 31)).split("Filter")[-1]


def test_the_queues_count_and_states_ask_no_agreement_row(
    app: Flask,
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """Lateness is read from the period (`late_from`, written with it): the queue's
    count and the console home's summary join no agreement. On SQLite an agreement's
    `activated_at` lies behind its stored PDF, and asking it for each of 4,000
    periods made the overdue filter ten times slower (round 51)."""
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(at(MID_MAY), tick=False):
        signed_in(client, licensing_staff)
        counted = statements_of(
            app, client, f"/console/royalty-reports?state=overdue&agreement={agreement.number}"
        )
        home = statements_of(app, client, "/console/")
    counts = [sql for sql in counted if "count(" in sql and "reporting_periods" in sql]
    summaries = [sql for sql in home if "reporting_periods" in sql and "sum(" in sql]
    assert counts
    assert summaries
    assert [sql for sql in counts + summaries if re.search(r"\bagreements\b", sql)] == []


# --- the steps after activation ------------------------------------------------------


def test_expiry_keeps_the_periods_and_the_queue_still_asks_for_the_last_reports(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    before = stored(agreement)

    agreements.expire(now=at(date(2028, 1, 5)))

    assert db.session().get(Agreement, agreement.id).state == "expired"  # type: ignore[union-attr]
    assert stored(agreement) == before == built(agreement)
    page = queue_text(client, signed_in, licensing_staff, date(2028, 1, 5))
    assert f"{agreement.number} 2027-10-01 to 2027-12-31 2028-01-30 due" in page


def test_an_agreement_expired_without_acceptance_reports_as_the_vendors_list_shows_it(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    principal = accounts.principal_for(vendor)
    draft = agreements.ApplicationDraft.from_fields(
        {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": [SOFTWARE]}
    )
    application = agreements.create_draft(Actor.of(principal), draft, now=AFTER[1])
    application = agreements.submit(
        application.id, Actor.of(principal), policy=issuing(), attest=True, now=AFTER[1]
    )
    issued = agreement_of(application)
    assert stored(issued) == []  # not yet reporting

    agreements.expire(now=at(date(2028, 1, 5)))

    assert stored(issued) == built(issued) != []
    actor = staff(licensing_staff)
    day = date(2028, 1, 5)
    assert sql_states(app, actor, day) == python_states(actor, issued, day=day)


def test_a_renewal_supersedes_the_agreement_which_keeps_its_periods_and_stores_its_own(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    renewed = active_agreement(vendor, SOFTWARE)
    before = stored(renewed)
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    moment = at(date(2027, 11, 2))
    vendor_actor = staff(vendor)
    renewal = agreements.start_renewal(renewed.id, vendor_actor, now=moment)
    renewal = agreements.submit(renewal.id, vendor_actor, policy=issuing(), attest=True, now=moment)
    successor = accept(agreement_of(renewal), vendor, now=moment)
    # In force to its term's end; the expiry run supersedes it on the renewal's first day.
    assert db.session().get(Agreement, renewed.id).state == "active"  # type: ignore[union-attr]
    agreements.expire(now=at(date(2028, 1, 1)))

    assert db.session().get(Agreement, renewed.id).state == "superseded"  # type: ignore[union-attr]
    assert stored(renewed) == before == built(renewed)
    assert stored(successor) == built(successor) != []
    assert stored(successor)[0][1] == successor.term_start
    actor = staff(licensing_staff)
    day = date(2028, 4, 2)
    assert sql_states(app, actor, day) == python_states(actor, renewed, successor, day=day)


def test_a_terminated_agreements_periods_end_on_its_termination_day_and_stay_in_the_queue(
    app: Flask,
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    kept = active_agreement(vendor, SOFTWARE)
    ended = active_agreement(other_vendor, SOFTWARE)
    assert stored(ended) != []
    agreements.terminate(ended.id, "Licensee ceased trading", staff(licensing_staff), now=AFTER[1])
    # Terminated on 2027-04-02: the first quarter, and the second's first two days.
    assert stored(ended) == [
        (1, date(2027, 1, 1), date(2027, 3, 31), date(2027, 4, 30)),
        (2, date(2027, 4, 1), date(2027, 4, 2), date(2027, 5, 2)),
    ]
    assert stored(ended) == built(ended)
    assert stored(kept) == built(kept)

    page = queue_text(client, signed_in, licensing_staff, date(2027, 5, 15))
    home = page_text(client, signed_in, licensing_staff, date(2027, 5, 15), "/console/")

    assert f"{ended.number} 2027-04-01 to 2027-04-02 2027-05-02 overdue" in page
    assert f"{kept.number} 2027-01-01 to 2027-03-31 2027-04-30 overdue" in page
    assert "3 reporting periods, oldest due first" in page
    assert "Royalty reports due or overdue 3 3 overdue due 2027-04-30" in home
    actor = staff(licensing_staff)
    day = date(2027, 5, 15)
    assert sql_states(app, actor, day) == python_states(actor, kept, ended, day=day)


# --- the queue reads one page ----------------------------------------------------------


def test_the_finance_report_queue_health_is_the_python_derivations_at_each_boundary(
    vendor: Any,
    other_vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    filed = active_agreement(vendor, SOFTWARE)
    active_agreement(other_vendor, SOFTWARE)
    file_report(vendor, filed, 1, [row(1, "A", quantity=60)])
    # The first quarter ended 2027-03-31: 14 days on (on track), 15 (half the 30
    # days: due soon), its due date, the day after (past target), and later ones.
    days = [
        date(2027, 4, 14),
        date(2027, 4, 15),
        date(2027, 4, 30),
        date(2027, 5, 1),
        date(2027, 7, 16),
        date(2028, 2, 1),
    ]
    for day in days:
        statuses = services.all_periods(Actor.SYSTEM, now=at(day))
        ages = [
            ((day - s.period.end).days, s.state == "overdue")
            for s in statuses
            if s.state in ("due", "overdue")
        ]
        expected = health("royalty_reports", "Royalty reports due or overdue (licensees)", 30, ages)
        assert queries.report_queue_health(db.session(), at(day)) == expected, day


# --- the vendor's list and dashboard ---------------------------------------------------


def test_the_vendors_list_puts_waiting_periods_first_and_filed_ones_newest_first(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    listed = [active_agreement(vendor, SOFTWARE) for _ in range(3)]
    file_report(vendor, listed[0], 1, [row(1, "A", quantity=60)])
    file_report(vendor, listed[1], 1, [row(1, "A", quantity=60)])
    file_report(vendor, listed[1], 2, [row(1, "A", quantity=70)])
    day = date(2027, 10, 5)
    # As the list was sorted in Python from every period built: waiting soonest due
    # first, then filed newest first, each by due date and agreement number.
    statuses = services.all_periods(staff(vendor), now=at(day))
    waiting = sorted(
        (s for s in statuses if s.state != "submitted"),
        key=lambda s: (s.due_on, s.agreement_number),
    )
    filed = sorted(
        (s for s in statuses if s.state == "submitted"),
        key=lambda s: (s.due_on, s.agreement_number),
        reverse=True,
    )
    expected = [
        f"{s.agreement_number} {s.period.start} to {s.period.end} {s.due_on} {s.state}"
        for s in waiting + filed
    ]

    text = page_text(client, signed_in, vendor, day, "/portal/royalty-reports")

    shown = re.findall(r"CPT-\d{4}-\d{6} \S+ to \S+ \S+ (?:upcoming|due|overdue|submitted)", text)
    assert shown == expected
    assert len(shown) == 12


def test_the_dashboard_names_the_reports_waiting_and_the_next_of_agreements_with_none_waiting(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    punctual = active_agreement(vendor, SOFTWARE)
    late = active_agreement(vendor, SOFTWARE)
    file_report(vendor, punctual, 1, [row(1, "A", quantity=60)])

    text = page_text(client, signed_in, vendor, MID_MAY, "/portal/")

    assert f"Next royalty report for {punctual.number}, April 1, 2027 to June 30, 2027" in text
    assert (
        f"Royalty report for {late.number}, January 1, 2027 to March 31, 2027 "
        "Overdue: it was due on April 30, 2027."
    ) in text
    assert f"Next royalty report for {late.number}" not in text
    assert f"Royalty report for {punctual.number}, 2027-01-01" not in text


SMALL, LARGE = 10, 100


def statements_of(app: Flask, client: FlaskClient, url: str) -> list[str]:
    """The SQL a second request for `url` sends (the first fills the caches)."""
    assert client.get(url).status_code == 200
    with sent_by(app) as sent:
        assert client.get(url).status_code == 200
    return sent


def test_the_queue_the_console_home_and_the_vendors_pages_do_the_same_work_at_10_and_100(
    app: Flask,
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pages' statements are counted at 10 agreements (40 periods) and at 100.
    The first agreement is made through the services and the others are copies of its
    rows (`tests.support.copies`: its application, quote, agreement and reporting
    periods, stored as acceptance stores them), which is all the pages read. Until round
    64 each of the 100 was applied for, approved, issued with its PDF and accepted,
    some 80% of the test's time."""
    urls = ("/console/royalty-reports", "/console/royalty-reports?page=2", "/console/")
    vendor_urls = ("/portal/royalty-reports", "/portal/royalty-reports?page=2", "/portal/")
    vendor_client = app.test_client()
    first = active_agreement(vendor, SOFTWARE)

    def seed(count: int, number_from: int) -> None:
        session = db.session()
        applications = copy_application(session, first.application_id, count)
        term = (first.term_start, first.term_end)
        copy_agreement(session, first.id, applications, term=term, number_from=number_from)

    def measure() -> dict[str, int]:
        with time_machine.travel(at(MID_MAY), tick=False):
            signed_in(client, licensing_staff)
            signed_in(vendor_client, vendor)
            return {
                **{url: len(statements_of(app, client, url)) for url in urls},
                **{url: len(statements_of(app, vendor_client, url)) for url in vendor_urls},
            }

    seed(SMALL - 1, 900001)
    at_small = measure()
    seed(LARGE - SMALL, 900000 + SMALL)
    # From here, any agreement's periods built in Python, and every row turned into
    # a period's status, are recorded.
    built_in_python: list[Any] = []
    monkeypatch.setattr(obligations_module, "reporting_periods", built_in_python.append)
    made: list[date] = []
    status_of = queries._status

    def counted(found: Any) -> Any:
        made.append(found.period_start)
        return status_of(found)

    monkeypatch.setattr(queries, "_status", counted)
    at_large = measure()
    with time_machine.travel(at(MID_MAY), tick=False):
        signed_in(client, licensing_staff)
        made.clear()
        second_page = client.get(urls[1])
        with sent_by(app) as sent:
            client.get(urls[1])
        staff_rows = len(made)
        made.clear()
        signed_in(vendor_client, vendor)
        vendor_page = vendor_client.get(vendor_urls[1])

    assert at_large == at_small
    assert built_in_python == []
    assert staff_rows == 2 * paging.PER_PAGE  # page 2 asked twice: its 50 rows each time
    assert "Reporting periods 51\N{EN DASH}100 of 100 · page 2 of 2" in text_of(second_page)
    assert len(made) == paging.PER_PAGE
    assert "Reporting periods 51\N{EN DASH}100 of 400 · page 2 of 8" in text_of(vendor_page)
    paged = [sql for sql in sent if "reporting_periods" in sql and "LIMIT" in sql]
    assert len(paged) == 1


# --- the migration --------------------------------------------------------------------


def test_the_migration_backfills_the_periods_of_the_agreements_already_reporting(
    committed_app: Flask,
) -> None:
    url = committed_app.extensions["licensing.db"].engine.url.render_as_string(hide_password=False)
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        reporting = make_active_agreement(vendor, reviewer, SOFTWARE, now=NOW)
        flat_only = make_active_agreement(vendor, reviewer, DEVELOPMENT, now=NOW)
        expected = {agreement.id: built(agreement) for agreement in (reporting, flat_only)}
        written = {agreement.id: stored(agreement) for agreement in (reporting, flat_only)}
        reporting_id, flat_only_id = reporting.id, flat_only.id
        session.commit()
    committed_app.extensions["licensing.db"].engine.dispose()

    migrations.downgrade(url, "royalties_0001")  # the table and its rows dropped
    assert "royalties_0002" not in migrations.current(url)
    migrations.upgrade(url)

    with committed_app.app_context():
        backfilled = {
            agreement.id: stored(agreement)
            for agreement in db.session().scalars(select(Agreement).order_by(Agreement.id))
        }
    assert written == expected
    assert backfilled == expected
    assert backfilled[reporting_id] != []
    assert backfilled[flat_only_id] == []


# --- statements kept per process --------------------------------------------------------


def test_the_queue_and_the_vendors_list_keep_one_statement_per_shape_and_bind_each_requests_values(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    ours = active_agreement(vendor, SOFTWARE)
    theirs = active_agreement(other_vendor, SOFTWARE)
    file_report(vendor, ours, 1, [row(1, "A", quantity=60)])
    licensing, billing = staff(licensing_staff), staff(billing_staff)

    def listed(actor: Actor, chosen: QueueFilter, day: date = MID_MAY) -> list[tuple[str, str]]:
        with app.test_request_context("/console/royalty-reports"):
            page = views.staff_queue_page(actor, chosen, day).items
        return [(s.agreement_number, s.state) for s in page]

    # One statement for every request of a shape, whoever asks and whatever the values.
    first = queries.staff_queue_listing(licensing, QueueFilter(agreement=ours.number), MID_MAY)
    again = queries.staff_queue_listing(billing, QueueFilter(agreement="2027"), date(2027, 8, 1))
    assert (again.rows, again.count) == (first.rows, first.count)
    assert again.rows is first.rows
    other_shapes = [
        queries.staff_queue_listing(licensing, QueueFilter(), MID_MAY),
        queries.staff_queue_listing(licensing, QueueFilter(state="overdue"), MID_MAY),
        queries.staff_queue_listing(staff(vendor), QueueFilter(agreement="2027"), MID_MAY),
    ]
    assert all(listing.rows is not first.rows for listing in other_shapes)

    # Each request's own values: the agreement, the state and the day.
    assert listed(licensing, QueueFilter(agreement=ours.number)) == [(ours.number, "submitted")]
    assert listed(licensing, QueueFilter(agreement=theirs.number.lower())) == [
        (theirs.number, "overdue")
    ]
    assert listed(licensing, QueueFilter(agreement="2027-%")) == []  # a LIKE wildcard escaped
    assert listed(licensing, QueueFilter(agreement="_")) == []
    assert listed(licensing, QueueFilter(state="overdue", agreement="CPT")) == [
        (theirs.number, "overdue")
    ]
    assert listed(licensing, QueueFilter(state="due"), date(2027, 4, 30)) == [
        (theirs.number, "due")
    ]
    assert listed(
        licensing,
        QueueFilter(organization_id=other_vendor.organization_id, period_start=QUARTER_2),
        date(2027, 7, 5),
    ) == [(theirs.number, "due")]

    # A vendor's list: one statement, each vendor's own periods.
    own = queries.vendor_periods_listing(staff(vendor), MID_MAY)
    other = queries.vendor_periods_listing(staff(other_vendor), MID_MAY)
    assert other.rows is own.rows
    with app.test_request_context("/portal/royalty-reports"):
        mine = views.vendor_periods_page(staff(vendor), MID_MAY).items
        yours = views.vendor_periods_page(staff(other_vendor), MID_MAY).items
    assert {s.agreement_number for s in mine} == {ours.number}
    assert {s.agreement_number for s in yours} == {theirs.number}


def test_the_waiting_reports_summary_keeps_one_statement_and_binds_each_requests_day(
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    # The console home's and the Finance page's summary built its statement each
    # request with the day written into it, where the dashboard's is kept per process.
    active_agreement(vendor, SOFTWARE)
    executed: list[object] = []

    def note(state: Any) -> None:
        executed.append(state.statement)

    event.listen(Session, "do_orm_execute", note)
    try:
        april = queries.waiting_reports(staff(licensing_staff), date(2027, 4, 30))
        july = queries.waiting_reports(Actor.SYSTEM, date(2027, 7, 15))
        other = queries.waiting_reports(staff(other_vendor), date(2027, 7, 15))
        own = queries.waiting_reports(staff(vendor), date(2027, 7, 15))
    finally:
        event.remove(Session, "do_orm_execute", note)
    assert executed[1] is executed[0]  # staff and the system: one statement
    assert executed[3] is executed[2]  # every vendor: one statement, its own bound
    # Each request's own day: the first quarter due on 30 April (half its days
    # gone), overdue by mid-July beside the second, due and half way too.
    assert (april.count, april.overdue, april.due_soon) == (1, 0, 1)
    assert (july.count, july.overdue, july.due_soon) == (2, 1, 1)
    assert july.first_late_from == date(2027, 4, 30)
    assert (other.count, own.count) == (0, 2)


def test_the_queues_counts_and_the_summaries_choose_periods_by_filed_alone(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    """Round 54: a period records whether it was filed (royalties_0010), so the staff
    queue's count under every state filter, the vendor's list's count and the console
    home's summary read the periods alone; they LEFT JOINed every period's current
    report to ask. The pages' answers are the pinned ones (`test_vendor_waiting_pinned`
    and the state tests above)."""
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    db.session().commit()
    engine = db.session().get_bind()
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(str(args[2]))

    with time_machine.travel(at(date(2027, 8, 15)), tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        own = signed_in(app.test_client(), vendor)
        event.listen(engine, "before_cursor_execute", note)
        try:
            queue = "/console/royalty-reports"
            for path in ("/console/", queue, *(f"{queue}?state={s}" for s in PERIOD_STATES)):
                assert staff.get(path).status_code == 200, path
            assert own.get("/portal/royalty-reports").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", note)
    counts = [
        sql for sql in sent if "reporting_periods" in sql and sql.startswith("SELECT count(*)")
    ]
    assert len(counts) >= len(PERIOD_STATES) + 3, sent
    for sql in counts:
        assert "royalty_reports" not in sql, sql
        assert "filed" in sql or "WHERE reporting_periods.organization_id" in sql, sql
