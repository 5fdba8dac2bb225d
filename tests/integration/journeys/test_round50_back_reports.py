"""Round 50: a back report's lateness everywhere. An agreement accepted after its term
(past use only) has every period's report due at once: each is late from the
acceptance's office day, not the contract's due date, on the period's page (its
badge), the console's queue (state, days overdue or left, its filter), the vendor's
list, the API's `state` (its `due_on` kept) and the console's and Finance page's
summary; and a renewal of it is offered, from the office's today
(docs/journeys.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries as agreement_queries
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.royalties import queries
from licensing.royalties.models import ReportingPeriod
from tests.integration.agreements.conftest import AUTO_USE, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import accept, agreement_of
from tests.support.back_reports import LATER, SEPTEMBER, back_licensed
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]


def _seen(
    client: FlaskClient, signed_in: SignIn, vendor: Any, staff: Any, agreement: Agreement
) -> dict[str, Any]:
    """What the queue, its overdue filter, the vendor's list and period page, and the
    API say of the agreement's back reports, now."""
    signed_in(client, staff)
    queue = text_of(client.get(f"/console/royalty-reports?agreement={agreement.number}"))
    overdue_only = text_of(
        client.get(f"/console/royalty-reports?agreement={agreement.number}&state=overdue")
    )
    due_only = text_of(
        client.get(f"/console/royalty-reports?agreement={agreement.number}&state=due")
    )
    signed_in(client, vendor)
    listing = client.get("/portal/royalty-reports").get_data(as_text=True)
    period = text_of(client.get(f"/portal/royalty-reports/{agreement.id}/2027-01-01"))
    api = client.get(
        f"/api/v1/agreements/{agreement.id}/royalty-reports", headers=bearer(vendor)
    ).get_json()
    return {
        "queue": queue,
        "overdue_only": overdue_only,
        "due_only": due_only,
        "listing": listing,
        "period": period,
        "api": [(p["due_on"], p["state"]) for p in api],
    }


def test_a_back_report_is_due_on_the_acceptance_day_and_late_from_it_everywhere(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = back_licensed(vendor, licensing_staff)
    with time_machine.travel(SEPTEMBER, tick=False):
        today = _seen(client, signed_in, vendor, licensing_staff, agreement)
        summary = queries.waiting_reports(Actor.SYSTEM, date(2027, 9, 1))
    # On the acceptance's day both are due, not overdue since April and July (the
    # badge, the queue's age and filters, the vendor's list, the API's state); the
    # contract's due dates are kept.
    assert (
        "Due on April 30, 2027 · due Its due date, April 30, 2027, passed before" in today["period"]
    )
    assert today["api"] == [("2027-04-30", "due"), ("2027-07-30", "due")]
    assert today["queue"].count("0 days left") == 2
    assert "days overdue" not in today["queue"]
    assert (
        "Waiting for the licensee's report, due from the acceptance on 2027-09-01"
        in (today["queue"])
    )
    assert agreement.number not in today["overdue_only"]
    assert today["due_only"].count(agreement.number) == 2
    assert 'class="overdue"' not in today["listing"]
    assert summary.overdue == 0
    assert summary.count == 2

    # Three days on, they are three days overdue (from the acceptance, not 127 and 36).
    with time_machine.travel(LATER, tick=False):
        later = _seen(client, signed_in, vendor, licensing_staff, agreement)
        summary = queries.waiting_reports(Actor.SYSTEM, date(2027, 9, 4))
    assert (
        "Due on April 30, 2027 · overdue Its due date, April 30, 2027, passed before the agreement "
        "was accepted on September 1, 2027, so it was due from the acceptance: "
        "it is 3 days overdue."
    ) in later["period"]
    assert later["api"] == [("2027-04-30", "overdue"), ("2027-07-30", "overdue")]
    assert later["queue"].count("3 days overdue") == 2
    assert later["overdue_only"].count(agreement.number) == 2
    assert agreement.number not in later["due_only"]
    assert later["listing"].count('class="overdue"') == 2
    assert summary.overdue == 2


def test_a_back_reports_period_keeps_the_acceptances_office_day_as_the_day_it_is_late_from(
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    """Written with the period when the agreement is accepted (round 51), so the
    queue's SQL reads it from the period alone: 2027-09-01 for both quarters, due in
    April and July."""
    agreement = back_licensed(vendor, licensing_staff)
    stored = db.session().execute(
        select(ReportingPeriod.due_on, ReportingPeriod.late_from)
        .where(ReportingPeriod.agreement_id == agreement.id)
        .order_by(ReportingPeriod.period_start)
    )
    assert [tuple(row) for row in stored] == [
        (date(2027, 4, 30), date(2027, 9, 1)),
        (date(2027, 7, 30), date(2027, 9, 1)),
    ]


def test_a_license_of_past_use_only_is_renewed_from_the_office_s_today(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = back_licensed(vendor, licensing_staff)
    with time_machine.travel(LATER, tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/agreements/{agreement.id}"))
        drawn = client.post(f"/portal/agreements/{agreement.id}/renew")
    # The page says what renewing a back-licence does, and offers it so (it offered
    # *Renew for the next rate card year*, as for a license that ran its term).
    assert (
        "This agreement licenses past use only. To go on using the content, license the "
        "same uses from today, September 4, 2027, on the rate card in effect then in USD (the "
        "agreement's currency): the renewal "
        "starts on the day it is drawn, never in the past"
    ) in page
    assert "License these uses from today" in page
    assert "Renew for the next rate card year" not in page
    # The renewal is drawn from the office's today, not the day after the term.
    assert drawn.status_code == 302
    (renewal,) = agreements_renewing(agreement)
    assert renewal.term_start == date(2027, 9, 4)
    assert renewal.term_end is not None
    assert renewal.term_end > date(2027, 9, 4)
    assert renewal.renewal_of_id == agreement.id


def agreements_renewing(agreement: Agreement) -> list[Application]:
    return list(agreement_queries.renewals_of(db.session(), agreement.id))


def test_a_license_that_ran_its_term_is_still_offered_the_next_rate_card_year(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(
        actor, draft(AUTO_USE, term=(date(2027, 1, 1), date(2027, 12, 31))), now=SEPTEMBER
    )
    with time_machine.travel(SEPTEMBER, tick=False):
        # A running term's application is approved on submission (AUTO_USE).
        agreements.submit(application.id, actor, policy=issuing(), attest=True, now=SEPTEMBER)
    agreement = accept(agreement_of(application), vendor, now=SEPTEMBER)
    # Within 90 days of the term's end, when *Renew* is offered (round 52).
    with time_machine.travel(datetime(2027, 10, 5, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/agreements/{agreement.id}"))
    assert "Renew for the next rate card year" in page
    assert "licenses past use only" not in page


# Sunday 2027-10-10, 15:00 UTC: the third quarter is over (due 2027-10-30), the first
# two were due before; a term under way, accepted today.
OCTOBER = datetime(2027, 10, 10, 15, 0, tzinfo=UTC)


def test_the_dashboard_lists_the_reports_a_late_acceptance_leaves_in_period_order(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    # The lead's travelled run (2028-01-04): the third quarter, fileable from 1 October
    # but not before the acceptance, sorted as waiting since 1 October, ahead of the
    # back reports waiting since the acceptance, so the dashboard's first report was
    # one the period order refuses ("first report the period ...").
    actor = Actor.of(accounts.principal_for(vendor))
    year = (date(2027, 1, 1), date(2027, 12, 31))
    application = agreements.create_draft(actor, draft(AUTO_USE, term=year), now=OCTOBER)
    with time_machine.travel(OCTOBER, tick=False):
        # A term under way with an automatic use: approved at submission.
        agreements.submit(application.id, actor, policy=issuing(), attest=True, now=OCTOBER)
    agreement = accept(agreement_of(application), vendor, now=OCTOBER)
    with time_machine.travel(OCTOBER, tick=False):
        signed_in(client, vendor)
        dashboard = text_of(client.get("/portal/"))
    labels = [
        f"Royalty report for {agreement.number}, {quarter}"
        for quarter in ("January 1, 2027 to March 31, 2027", "April 1, 2027 to June 30, 2027")
    ] + [f"Royalty report for {agreement.number}, July 1, 2027 to September 30, 2027"]
    positions = [dashboard.find(label) for label in labels]
    assert -1 not in positions, dashboard
    assert positions == sorted(positions)
