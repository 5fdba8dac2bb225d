"""The vendor's royalty pages at the size of a vendor with many agreements (round 52):
the dashboard names the first reports of each kind and counts the rest, its
statements read the periods through the organization's index, and the vendor's list
orders the reports not filed by the day each is late from, as the staff queue does."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.royalties import queries, services, views
from tests.integration.royalties.conftest import SOFTWARE, at, row
from tests.support.back_reports import back_licensed
from tests.support.pages import text_of
from tests.support.period_lists import crowd

SignIn = Callable[..., FlaskClient]
# 2 September 2027: a back licence accepted yesterday owes its two reports since then.
DAY_AFTER = date(2027, 9, 2)


def _listed(text: str) -> list[tuple[str, str, str]]:
    """The vendor's list's rows as `(number, start, state)`, in the order listed."""
    return re.findall(
        r"(CPT-\d{4}-\d{6}) (\S+) to \S+ \S+(?: \(due from the acceptance on \S+\))? "
        r"(upcoming|due|overdue|submitted)",
        text,
    )


def test_a_back_report_accepted_yesterday_is_not_listed_as_the_vendors_longest_overdue(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """The back licence (its number first) owes the first two quarters of 2027 from
    its acceptance on 1 September; the other agreement owes them since 30 April and
    30 July. The list of reports not filed reads longest late first: the back reports
    after those, though their due dates are the same (by due date, the back licence's
    first quarter led the list), and says from when they are due."""
    back = back_licensed(vendor, licensing_staff)
    punctual = active_agreement(vendor, SOFTWARE)
    assert back.number < punctual.number

    with time_machine.travel(at(DAY_AFTER), tick=False):
        text = text_of(signed_in(client, vendor).get("/portal/royalty-reports"))

    assert _listed(text) == [
        (punctual.number, "2027-01-01", "overdue"),
        (punctual.number, "2027-04-01", "overdue"),
        (back.number, "2027-01-01", "overdue"),
        (back.number, "2027-04-01", "overdue"),
        (punctual.number, "2027-07-01", "upcoming"),
        (punctual.number, "2027-10-01", "upcoming"),
    ]
    assert "2027-04-30 (due from the acceptance on 2027-09-01) overdue" in text
    assert (
        "the reports sent back for correction first, then the ones waiting on you "
        "(the longest late first)" in text
    )


def test_the_dashboard_names_five_reports_of_each_kind_and_counts_the_rest(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """Seven agreements: in March each one's first report is to come (five named, two
    counted); in May each one's first report is overdue (five named, two counted, and
    no next report named: each agreement has one waiting)."""
    made = [active_agreement(vendor, SOFTWARE) for _ in range(7)]
    db.session().commit()
    assert views.REPORTS_NAMED == 5

    with time_machine.travel(at(date(2027, 3, 15)), tick=False):
        march = text_of(signed_in(client, vendor).get("/portal/"))
    with time_machine.travel(at(date(2027, 5, 15)), tick=False):
        may = text_of(signed_in(client, vendor).get("/portal/"))

    for agreement in made[:5]:
        assert f"Next royalty report for {agreement.number}, January 1, 2027" in march
        assert f"Royalty report for {agreement.number}, January 1, 2027" in may
    for agreement in made[5:]:
        assert agreement.number not in march
        assert agreement.number not in may
    assert "2 more agreements with a royalty report to come" in march
    assert "more royalty report" not in march
    assert "2 more royalty reports to file or correct" in may
    assert "Next royalty report" not in may
    assert "with a royalty report to come" not in may


def test_reports_sent_back_for_correction_are_named_first_on_the_dashboard_and_the_list(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    """Nine agreements in mid-May: seven owe their first quarter (overdue since 30
    April), two filed theirs and staff sent both back, the later-filed one first. The
    dashboard names the two sent back (chosen first, the one sent back longest ago
    first), then three of the seven overdue (longest late first), and counts four
    more; the list page lists them in that order. Round 53 named five overdue reports and
    counted the two the office waits on among "4 more"."""
    staff = Actor.of(accounts.principal_for(licensing_staff))
    overdue = [active_agreement(vendor, SOFTWARE) for _ in range(7)]
    corrected_later, corrected_sooner = (active_agreement(vendor, SOFTWARE) for _ in range(2))
    for agreement, sent_on in ((corrected_sooner, 5), (corrected_later, 8)):
        report = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
        services.review(
            report.id,
            "request_correction",
            staff,
            note="Clinic B is missing",
            now=at(date(2027, 5, sent_on)),
        )
    db.session().commit()
    assert views.REPORTS_NAMED == 5

    with time_machine.travel(at(date(2027, 5, 15)), tick=False):
        signed_in(client, vendor)
        dashboard = text_of(client.get("/portal/"))
        listed = text_of(client.get("/portal/royalty-reports"))

    named = re.findall(
        r"Royalty report (?:RR-\d+ )?for (CPT-\d{4}-\d{6}), January 1, 2027", dashboard
    )
    # The page lists what waits on the vendor oldest first across features (the
    # reports sent back since their review); which five it names is the list's order.
    first_five = [corrected_sooner, corrected_later, *overdue[:3]]
    assert sorted(named) == sorted(agreement.number for agreement in first_five)
    chosen = queries.vendor_waiting_named(
        Actor.of(accounts.principal_for(vendor)), date(2027, 5, 15), views.REPORTS_NAMED
    )
    assert [status.agreement_number for status in chosen.waiting] == [
        agreement.number for agreement in first_five
    ]
    assert chosen.waiting_count == 9
    assert dashboard.count("a correction is asked for") == 2
    assert "4 more royalty reports to file or correct" in dashboard
    assert "those sent back for correction first, then the longest late." in dashboard
    assert [number for number, start, _state in _listed(listed) if start == "2027-01-01"] == [
        corrected_sooner.number,
        corrected_later.number,
        *(agreement.number for agreement in overdue),
    ]
    assert listed.count("A correction is asked for: amend the report") == 2


def test_the_dashboards_royalty_statements_read_the_organizations_periods_by_index(
    app: Flask,
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """Each dashboard statement that reads the periods, EXPLAINed with its own values:
    on SQLite through `ix_reporting_periods_organization_unfiled` (royalties_0010, round
    53: only the periods not filed; royalties_0008's index before, which asked every
    ended period's current report), never by the organization alone nor the whole
    table, nor any period's current report to choose it, and the reports sent back through
    `ix_royalty_reports_organization_review`. On PostgreSQL, with sequential scans
    priced out (`enable_seqscan`), no statement scans the periods' table; which index
    it takes among a few rows without statistics is a tie its planner breaks either
    way, so only SQLite's choice is asserted. On PostgreSQL priced on 2,000 more of the
    vendor's periods, ANALYZEd (`period_lists.crowd`, round 58), not on the counts
    earlier tests left in `pg_class`."""
    for _ in range(3):
        active_agreement(vendor, SOFTWARE)
    crowd(vendor.organization_id)
    db.session().commit()
    engine = db.session().get_bind()
    sent: list[tuple[str, Any]] = []

    def note(*args: Any) -> None:
        sent.append((str(args[2]), args[3]))

    with time_machine.travel(at(date(2027, 5, 15)), tick=False):
        signed_in(client, vendor)
        event.listen(engine, "before_cursor_execute", note)
        try:
            assert client.get("/portal/").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", note)
    dashboard = [
        (sql, values) for sql, values in sent if "reporting_periods" in sql and "LIMIT" in sql
    ]
    assert len(dashboard) == 2, [sql for sql, _values in sent]
    connection = db.session().connection()
    for query, parameters in dashboard:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explained = connection.exec_driver_sql(f"EXPLAIN {query}", parameters)
            plan = "\n".join(row[0] for row in explained)
            assert "Seq Scan on reporting_periods" not in plan, plan
        else:
            explained = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", parameters)
            plan = "\n".join(str(row[-1]) for row in explained)
            assert "SCAN reporting_periods" not in plan, plan
            assert "ix_reporting_periods_organization_id" not in plan, plan
            assert "ix_reporting_periods_organization_unfiled" in plan, plan
            # Chosen by `filed`: no period's current report is asked to choose it.
            assert "EXISTS" not in query, query
    if connection.dialect.name == "sqlite":
        assert "ix_royalty_reports_organization_review" in "\n".join(
            str(row[-1])
            for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {dashboard[0][0]}", dashboard[0][1]
            )
        )
