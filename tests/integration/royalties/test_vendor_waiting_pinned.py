"""The vendor dashboard's royalty part (`queries.vendor_waiting`) pinned across the
tricky cases, so that reading it differently (round 52: only the periods due or late
and each agreement's next one, where it ran a window over every period of the
organization) keeps its answer: a report amended, one sent back for correction (and
one corrected since), one flagged, one filed late, periods not yet due, an agreement
terminated, one renewed (superseded, its successor reporting), a back report, and
another organization's agreement that is never listed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.ratecards import services as ratecards
from licensing.royalties import queries, services
from licensing.royalties.services import PeriodStatus
from licensing.royalties.states import CORRECTION_REQUESTED, DUE, OVERDUE
from tests.integration.pricing.conftest import card_document
from tests.integration.royalties.conftest import (
    SOFTWARE,
    at,
    flagged_report,
    lowered_by_amendment,
    row,
    sent_back_and_corrected,
)
from tests.support.agreements import accept, agreement_of
from tests.support.back_reports import back_licensed
from tests.support.settings import issuing

# The third quarter due (on its due date too), then overdue, and in January the
# fourth quarter due while the renewal's first quarter is not yet over.
DAYS = (date(2027, 10, 15), date(2027, 10, 30), date(2027, 10, 31), date(2028, 1, 15))


def actor_of(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def shown(statuses: list[PeriodStatus], names: dict[str, str]) -> list[str]:
    """What the dashboard reads of each status: the agreement (by its part in this
    test), the period's start, its state, and for a report its review state and
    whether its invoice and an earlier filing are named."""
    return [
        " ".join(
            [names[status.agreement_number], status.period.start.isoformat(), status.state]
            + (
                [
                    str(status.report.review_state),
                    "invoiced" if status.invoice_number else "not invoiced",
                    "amends" if status.first_filed_at else "first",
                ]
                if status.report is not None
                else []
            )
        )
        for status in statuses
    ]


def longest_late_first(waiting: list[PeriodStatus]) -> list[PeriodStatus]:
    """The vendor's list's order (round 53: the dashboard's too): those filed and sent
    back first, the one sent back longest ago first (round 54: they came last, and
    fell into the dashboard's "N more"); then those not filed by the day each is late
    from, then agreement number and period."""
    unfiled = [s for s in waiting if s.report is None]
    sent_back = [s for s in waiting if s.report is not None]
    return sorted(
        sent_back,
        key=lambda s: (s.report.reviewed_at, -s.due_on.toordinal()),  # type: ignore[union-attr]
    ) + sorted(unfiled, key=lambda s: (s.late_from, s.agreement_number, s.period.start))


def python_waiting(actor: Actor, day: date) -> tuple[list[PeriodStatus], list[PeriodStatus]]:
    """The same answer from the periods built in Python (`services.all_periods`): those
    due or overdue or sent back, the longest late first (`longest_late_first`), and
    each agreement's first period not yet ended and not reported, in the agreements'
    order (term start, id) and period order."""
    statuses = services.all_periods(actor, now=at(day))
    terms = {
        agreement.id: agreement.term_start
        for agreement in db.session()
        .query(Agreement)
        .filter(Agreement.id.in_({s.agreement_id for s in statuses}))
    }

    def order(status: PeriodStatus) -> tuple[date, int, date]:
        return (terms[status.agreement_id], status.agreement_id, status.period.start)

    waiting = [
        s
        for s in statuses
        if s.state in (DUE, OVERDUE)
        or (s.report is not None and s.report.review_state == CORRECTION_REQUESTED)
    ]
    first: dict[int, PeriodStatus] = {}
    for status in sorted(statuses, key=order):
        if status.report is None and status.period.end >= day:
            first.setdefault(status.agreement_id, status)
    # The upcoming ones are named without their acceptance (nothing is late yet).
    upcoming = [replace(s, accepted_at=None) for s in sorted(first.values(), key=order)]
    return longest_late_first(waiting), upcoming


@pytest.fixture
def organization(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> dict[str, str]:
    """The vendor's agreements in every tricky case, by agreement number."""
    staff = actor_of(licensing_staff)
    punctual = active_agreement(vendor, SOFTWARE)
    for quarter in (1, 2):
        file_report(vendor, punctual, quarter, [row(1, "A", quantity=60)])
    silent = active_agreement(vendor, SOFTWARE)
    amended = active_agreement(vendor, SOFTWARE)
    lowered_by_amendment(file_report, vendor, amended)
    sent_back = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, sent_back, 1, [row(1, "A", quantity=100)]).report
    services.review(first.id, "request_correction", staff, note="Clinic B is missing")
    corrected = active_agreement(vendor, SOFTWARE)
    sent_back_and_corrected(file_report, vendor, licensing_staff, corrected, 20)
    flagged = active_agreement(vendor, SOFTWARE)
    flagged_report(file_report, vendor, flagged)
    late = active_agreement(vendor, SOFTWARE)
    file_report(
        vendor, late, 1, [row(1, "A", quantity=60)], now=datetime(2027, 6, 15, 15, tzinfo=UTC)
    )
    terminated = active_agreement(vendor, SOFTWARE)
    agreements.terminate(terminated.id, "Licensee ceased trading", staff, now=at(date(2027, 8, 2)))
    renewed = active_agreement(vendor, SOFTWARE)
    file_report(vendor, renewed, 1, [row(1, "A", quantity=60)])
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    moment = at(date(2027, 11, 2))
    renewal = agreements.start_renewal(renewed.id, actor_of(vendor), now=moment)
    renewal = agreements.submit(
        renewal.id, actor_of(vendor), policy=issuing(), attest=True, now=moment
    )
    successor = accept(agreement_of(renewal), vendor, now=moment)
    agreements.expire(now=at(date(2028, 1, 1)))
    back = back_licensed(vendor, licensing_staff)
    theirs = active_agreement(other_vendor, SOFTWARE)
    names = {
        punctual.number: "punctual",
        silent.number: "silent",
        amended.number: "amended",
        sent_back.number: "sent back",
        corrected.number: "corrected",
        flagged.number: "flagged",
        late.number: "late",
        terminated.number: "terminated",
        renewed.number: "renewed",
        successor.number: "successor",
        back.number: "back",
        theirs.number: "theirs",
    }
    db.session().commit()
    return names


def test_the_dashboards_royalty_answer_is_pinned_across_every_tricky_case(
    app: Flask, vendor: Any, organization: dict[str, str]
) -> None:
    actor = actor_of(vendor)
    for day in DAYS:
        waiting, upcoming = queries.vendor_waiting(actor, day)
        expected_waiting, expected_upcoming = python_waiting(actor, day)
        assert waiting == expected_waiting, day
        assert upcoming == expected_upcoming, day
        if day in PINNED:
            assert (shown(waiting, organization), shown(upcoming, organization)) == PINNED[day]


# Every agreement's next quarter upcoming in October (the terminated one's term ended
# on its termination day, the back report's in June); by January only the renewal's.
# The amended, corrected, flagged and late first quarters wait on no one but staff;
# the one sent back waits on the vendor, with its report.
OCTOBER_UPCOMING = [
    f"{name} 2027-10-01 upcoming"
    for name in (
        "punctual",
        "silent",
        "amended",
        "sent back",
        "corrected",
        "flagged",
        "late",
        "renewed",
    )
] + ["successor 2028-01-01 upcoming"]
PINNED: dict[date, tuple[list[str], list[str]]] = {
    # The third quarter's due date: due that day inclusive. The longest late first, as
    # the vendor's list (round 53): by the day each is late from (the terminated
    # agreement's last quarter from its termination's, the back report's from its
    # acceptance), then agreement number; the report sent back (filed) first, since
    # round 54 (it came last, after every report still to file).
    date(2027, 10, 30): (
        [
            "sent back 2027-01-01 submitted correction_requested invoiced first",
            "silent 2027-01-01 overdue",
            "terminated 2027-01-01 overdue",
            "silent 2027-04-01 overdue",
            "amended 2027-04-01 overdue",
            "sent back 2027-04-01 overdue",
            "corrected 2027-04-01 overdue",
            "late 2027-04-01 overdue",
            "terminated 2027-04-01 overdue",
            "renewed 2027-04-01 overdue",
            "terminated 2027-07-01 overdue",
            "back 2027-01-01 overdue",
            "back 2027-04-01 overdue",
            "punctual 2027-07-01 due",
            "silent 2027-07-01 due",
            "amended 2027-07-01 due",
            "sent back 2027-07-01 due",
            "corrected 2027-07-01 due",
            "flagged 2027-07-01 due",
            "late 2027-07-01 due",
            "renewed 2027-07-01 due",
        ],
        OCTOBER_UPCOMING,
    ),
    date(2028, 1, 15): (
        [
            "sent back 2027-01-01 submitted correction_requested invoiced first",
            "silent 2027-01-01 overdue",
            "terminated 2027-01-01 overdue",
            "silent 2027-04-01 overdue",
            "amended 2027-04-01 overdue",
            "sent back 2027-04-01 overdue",
            "corrected 2027-04-01 overdue",
            "late 2027-04-01 overdue",
            "terminated 2027-04-01 overdue",
            "renewed 2027-04-01 overdue",
            "terminated 2027-07-01 overdue",
            "back 2027-01-01 overdue",
            "back 2027-04-01 overdue",
            "punctual 2027-07-01 overdue",
            "silent 2027-07-01 overdue",
            "amended 2027-07-01 overdue",
            "sent back 2027-07-01 overdue",
            "corrected 2027-07-01 overdue",
            "flagged 2027-07-01 overdue",
            "late 2027-07-01 overdue",
            "renewed 2027-07-01 overdue",
            "punctual 2027-10-01 due",
            "silent 2027-10-01 due",
            "amended 2027-10-01 due",
            "sent back 2027-10-01 due",
            "corrected 2027-10-01 due",
            "flagged 2027-10-01 due",
            "late 2027-10-01 due",
            "renewed 2027-10-01 due",
        ],
        ["successor 2028-01-01 upcoming"],
    ),
}


def test_the_dashboard_names_the_first_of_that_answer_and_counts_the_rest(
    app: Flask, vendor: Any, organization: dict[str, str]
) -> None:
    """`vendor_waiting_named`, which the dashboard reads: the first periods of the
    whole answer and the count of all; the next reports of the agreements with no
    report waiting (a report sent back does not hold its agreement's next one)."""
    actor = actor_of(vendor)
    for day in DAYS:
        waiting, upcoming = queries.vendor_waiting(actor, day)
        waited_on = {s.agreement_id for s in waiting if s.report is None}
        free = [s for s in upcoming if s.agreement_id not in waited_on]
        for named in (1, 3, 100):
            found = queries.vendor_waiting_named(actor, day, named)
            assert found == queries.VendorWaiting(
                waiting[:named], len(waiting), free[:named], len(free)
            ), (day, named)
