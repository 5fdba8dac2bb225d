"""Round 51: a back report's lateness the rest of the way. A report due before its
agreement was accepted (a back report) is late from the acceptance's office day, the
day its period keeps (`reporting_periods.late_from`): the Finance page's queue
health ages it toward that day, the standing's hold names that day, the console's
queue lists the longest late first in the order of an index, and the reminders read
that day from the period, not from the agreement (docs/journeys.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.royalties import queries
from tests.support.back_reports import LATER, SEPTEMBER, back_licensed
from tests.support.pages import text_of

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
