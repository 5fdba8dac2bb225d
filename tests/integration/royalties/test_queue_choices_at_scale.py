"""Round 52 (staffscale52): the royalty queue's period filter and the console home's
royalty line at a busy office's size. The filter offers each period start once with
the latest end of the periods starting that day; it was a GROUP BY over every stored
period (60,000 at 10,000 agreements) and is now read one start at a time through
`ix_reporting_periods_start_end` (migration royalties_0009), so it reads as many index
entries as there are starts. The console home's "Oldest" names the day the queue's
first report is late from, the queue's own order, where it named the earliest due
date (a back report accepted yesterday is not the oldest by months)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.royalties import queries
from licensing.royalties.models import ReportingPeriod
from licensing.royalties.periods import Period
from tests.integration.royalties.conftest import SOFTWARE, at
from tests.support.back_reports import LATER, back_licensed
from tests.support.pages import text_of
from tests.support.period_lists import crowd
from tests.support.plans import plan_of, sent_with_values

SignIn = Callable[..., FlaskClient]
TERMINATED = at(date(2027, 4, 2))  # the second quarter's periods end on its second day


def _grouped(organization_id: int | None = None) -> list[Period]:
    """Each stored period start once with the latest end starting that day, worked out
    in Python from every stored row."""
    statement = select(ReportingPeriod.period_start, ReportingPeriod.period_end)
    if organization_id is not None:
        statement = statement.where(ReportingPeriod.organization_id == organization_id)
    latest: dict[date, date] = {}
    for start, end in db.session().execute(statement):
        latest[start] = max(end, latest.get(start, end))
    return [Period(0, start, latest[start]) for start in sorted(latest)]


def _offered(actor: Actor) -> list[Period]:
    return queries.queue_choices(actor, []).periods


def test_the_period_filter_offers_each_start_once_with_the_latest_end_of_the_periods_starting_then(
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """Two agreements over 2027, one terminated on 2027-04-02 (its second quarter ends
    that day), and a back licence of the first half: each start once, the second
    quarter's with the kept agreement's end; the other vendor's alone with its own
    ends; nothing stored, nothing offered."""
    staff = Actor.of(accounts.principal_for(licensing_staff))
    assert _offered(staff) == []
    kept = active_agreement(vendor, SOFTWARE)
    ended = active_agreement(other_vendor, SOFTWARE)
    agreements.terminate(ended.id, "Licensee ceased trading", staff, now=TERMINATED)
    back_licensed(vendor, licensing_staff)
    db.session().commit()

    everyone = _offered(staff)
    own = _offered(Actor.of(accounts.principal_for(other_vendor)))

    assert [(p.start, p.end) for p in everyone] == [
        (date(2027, 1, 1), date(2027, 3, 31)),
        (date(2027, 4, 1), date(2027, 6, 30)),
        (date(2027, 7, 1), date(2027, 9, 30)),
        (date(2027, 10, 1), date(2027, 12, 31)),
    ]
    assert everyone == _grouped()
    assert [(p.start, p.end) for p in own] == [
        (date(2027, 1, 1), date(2027, 3, 31)),
        (date(2027, 4, 1), date(2027, 4, 2)),
    ]
    assert own == _grouped(other_vendor.organization_id)
    assert kept.number != ended.number


def test_the_period_filter_is_read_one_start_at_a_time_through_its_index(
    app: Flask,
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """The filter's statement, EXPLAINed with its own values: each start and its
    latest end are looked up in `ix_reporting_periods_start_end`, never a scan of the
    periods and no aggregate over them all (on PostgreSQL with sequential scans and
    sorts priced out, as at a size where they lose), priced on 2,000 more of the
    vendor's periods, ANALYZEd (`period_lists.crowd`, round 58)."""
    for _ in range(3):
        active_agreement(vendor, SOFTWARE)
    crowd(vendor.organization_id)
    db.session().commit()
    with time_machine.travel(LATER, tick=False):
        signed_in(client, licensing_staff)
        with sent_with_values(db.session().get_bind()) as sent:
            assert client.get("/console/royalty-reports").status_code == 200
    [(query, parameters)] = [
        (sql, values) for sql, values in sent if "max(reporting_periods.period_end)" in sql
    ]
    plan = "\n".join(plan_of(query, parameters))
    if db.session().get_bind().dialect.name == "postgresql":
        assert "Seq Scan on reporting_periods" not in plan, plan
        assert "GroupAggregate" not in plan, plan
        assert "HashAggregate" not in plan, plan
    else:
        assert "SCAN reporting_periods" not in plan, plan
        assert "GROUP BY" not in plan, plan
    assert "ix_reporting_periods_start_end" in plan, plan


def test_the_console_home_names_the_day_the_queues_first_report_is_late_from(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    """A back licence of 2027's first half accepted on 2027-09-01 owes both reports
    from then; an agreement accepted in 2026 owes its first quarter since 2027-04-30.
    Three days after the acceptance the home's oldest is the first quarter's due date,
    the queue's first row. With only the back licence, the oldest is the acceptance's
    day, the day its reports are late from, not 2027-04-30, months before it."""
    back_licensed(other_vendor, licensing_staff)
    with time_machine.travel(LATER, tick=False):
        alone = text_of(signed_in(client, licensing_staff).get("/console/"))
    assert "Royalty reports due or overdue 2 2 overdue due 2027-09-01" in alone

    active_agreement(vendor, SOFTWARE)
    db.session().commit()
    with time_machine.travel(LATER, tick=False):
        both = text_of(signed_in(client, licensing_staff).get("/console/"))
        queue = text_of(client.get("/console/royalty-reports?state=overdue"))
    first_day = date(2027, 4, 30)
    assert "Royalty reports due or overdue 4 4 overdue due 2027-04-30" in both
    assert f"{(LATER.date() - first_day).days} days overdue" in queue
    assert first_day + timedelta(days=1) < LATER.date()
