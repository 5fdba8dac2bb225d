"""Round 51: a back report's lateness the rest of the way. A report due before its
agreement was accepted (a back report) is late from the acceptance's office day, the
day its period keeps (`reporting_periods.late_from`): the Finance page's queue
health ages it toward that day, the standing's hold names that day, the console's
queue lists the longest late first in the order of an index, and the reminders read
that day from the period, not from the agreement (docs/journeys.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.agreements.models import Agreement
from licensing.audit.models import AuditEvent
from licensing.royalties import queries
from licensing.royalties.services import send_reminders
from tests.integration.royalties.conftest import SOFTWARE, at
from tests.support.back_reports import LATER, SEPTEMBER, back_licensed
from tests.support.pages import text_of
from tests.support.period_lists import crowd
from tests.support.statements import sent_by

SignIn = Callable[..., FlaskClient]
STANDING_DAYS = 30


def test_the_finance_queue_health_ages_a_back_report_toward_the_acceptance_day_it_is_due(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    example_card: str,
) -> None:
    """Accepted on 2027-09-01, both reports are due that day: at their 30 days (due
    soon), not 154 days old against the target; three days on, past it by three."""
    back_licensed(vendor, licensing_staff)

    accepted_day = queries.report_queue_health(db.session(), SEPTEMBER)
    later = queries.report_queue_health(db.session(), LATER)
    with time_machine.travel(SEPTEMBER, tick=False):
        page = text_of(signed_in(client, billing_staff).get("/console/finance/"))

    assert accepted_day.bands == {"on_track": 0, "due_soon": 2, "past_target": 0}
    assert accepted_day.oldest_days == 30
    assert later.bands == {"on_track": 0, "due_soon": 0, "past_target": 2}
    assert later.oldest_days == 33
    assert "Royalty reports due or overdue (licensees) 30 0 2 0 30" in page
    assert "it is 30 days old on the acceptance's day and past target from the next" in page


def test_the_hold_names_the_acceptance_day_a_back_report_was_due_from(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    """Held 31 days after the acceptance, the organization reads why (the standing
    change's note, the vendor's dashboard): each report was due from the acceptance
    on 2027-09-01, its due date having passed before it."""
    agreement = back_licensed(vendor, licensing_staff)
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None

    not_yet = send_reminders(standing_days=STANDING_DAYS, now=at(date(2027, 10, 1)))
    run = send_reminders(standing_days=STANDING_DAYS, now=at(date(2027, 10, 2)))
    why = accounts.overdue_obligations(db.session(), organization.id, date(2027, 10, 2))
    note = (
        db.session()
        .scalars(
            select(AuditEvent.note)
            .where(AuditEvent.action == "organization.standing_changed")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        .one()
    )
    with time_machine.travel(at(date(2027, 10, 2)), tick=False):
        dashboard = text_of(signed_in(client, vendor).get("/portal/"))

    assert not_yet.pending_payment == []
    assert run.pending_payment == [organization.legal_name]
    # The reason is a sentence the standing's email carries: its days in words (round 56).
    assert why == [
        f"the royalty report of {agreement.number} for {period} was due from the acceptance "
        f"on September 1, 2027 (its due date, {due}, passed before the agreement was accepted)"
        for period, due in (
            ("January 1, 2027 to March 31, 2027", "April 30, 2027"),
            ("April 1, 2027 to June 30, 2027", "July 30, 2027"),
        )
    ]
    assert note == (
        f"The royalty report of {agreement.number} for January 1, 2027 to March 31, 2027 was "
        "due from the acceptance on September 1, 2027 (its due date, April 30, 2027, passed "
        "before the agreement was accepted); it is more than 30 days overdue."
    )
    assert (
        f"{organization.legal_name} is behind: the royalty report of {agreement.number} for "
        "January 1, 2027 to March 31, 2027 was due from the acceptance on September 1, 2027 "
        "(its due date, April 30, 2027, passed before the agreement was accepted); "
    ) in dashboard


def test_a_report_late_from_its_due_date_keeps_the_hold_sentence_it_had(
    vendor: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)

    why = accounts.overdue_obligations(db.session(), vendor.organization_id, date(2027, 6, 1))

    assert why == [
        f"the royalty report of {agreement.number} for January 1, 2027 to March 31, 2027 was "
        "due April 30, 2027"
    ]


def _queue_rows(text: str) -> list[str]:
    """The queue's rows as `number start`, in the order listed."""
    return re.findall(r"(CPT-\d{4}-\d{6}) (\S+) to \S+ \S+ (?:due|overdue)", text)


def test_the_queue_lists_the_longest_late_first_a_back_report_after_those_late_since_spring(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """An agreement accepted in 2026 owes its first two quarters since 30 April and
    30 July; a back licence of the same quarters accepted on 2027-09-01 owes them since
    then. Three days on, staff read the reports late longest first: the back reports
    after the others, though their due dates are the same (they sorted among them, by
    due date, each before the later quarter)."""
    punctual = active_agreement(vendor, SOFTWARE)
    back = back_licensed(other_vendor, licensing_staff)
    assert punctual.number < back.number

    with time_machine.travel(LATER, tick=False):
        signed_in(client, licensing_staff)
        listed = _queue_rows(text_of(client.get("/console/royalty-reports?state=overdue")))

    assert listed == [
        (punctual.number, "2027-01-01"),
        (punctual.number, "2027-04-01"),
        (back.number, "2027-01-01"),
        (back.number, "2027-04-01"),
    ]


def test_the_queues_page_is_read_in_the_order_of_an_index_and_stops_after_its_rows(
    app: Flask,
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """The page's statement, EXPLAINed with its own values: the periods are read
    through the index whose columns are the queue's order (the day each report is
    late from, the agreement's number, the id), with no sort of the rows. On
    PostgreSQL sorting is priced out (`enable_sort`), as at a size where reading in
    order and stopping after the page wins: the plan then has a sort only when no
    index gives the order. Priced on 2,000 more of the vendor's periods, ANALYZEd
    (`period_lists.crowd`, round 58), not on the counts earlier tests left."""
    for _ in range(3):
        active_agreement(vendor, SOFTWARE)
    crowd(vendor.organization_id)
    db.session().commit()
    engine = db.session().get_bind()
    sent: list[tuple[str, Any]] = []

    def note(*args: Any) -> None:
        sent.append((str(args[2]), args[3]))

    with time_machine.travel(LATER, tick=False):
        signed_in(client, licensing_staff)
        event.listen(engine, "before_cursor_execute", note)
        try:
            assert client.get("/console/royalty-reports").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", note)
    [(query, parameters)] = [
        (sql, values) for sql, values in sent if "reporting_periods" in sql and "LIMIT" in sql
    ]
    connection = db.session().connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        explained = connection.exec_driver_sql(f"EXPLAIN {query}", parameters)
        plan = "\n".join(row[0] for row in explained)
        assert "Sort" not in plan, plan
    else:
        explained = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", parameters)
        plan = "\n".join(str(row[-1]) for row in explained)
        assert "TEMP B-TREE" not in plan, plan
    assert "ix_reporting_periods_late_order" in plan, plan


def test_the_reminders_read_each_periods_own_late_from_and_no_agreement_row(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    """The job's candidates (a page of unfiled periods that have reached a reminder)
    asked each period's agreement for its `activated_at`, which on SQLite lies behind
    the agreement's stored PDF; the period keeps the day (round 51). The back reports
    are still reminded on the acceptance's day, each once."""
    back_licensed(vendor, licensing_staff)

    with sent_by(app) as sent:
        run = send_reminders(standing_days=STANDING_DAYS, now=SEPTEMBER)
    candidates = [sql for sql in sent if "reporting_periods" in sql and "LIMIT" in sql]

    assert run.reminders == 2
    assert candidates
    assert [sql for sql in candidates if re.search(r"\bagreements\b", sql)] == []
    assert all("late_from" in sql for sql in candidates)
