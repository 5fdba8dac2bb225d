"""Round 50: what an application for a past term still left. Staff may change the
term at approval: the approval form's sentence now follows the term being approved
(the refused form's re-render here; the page's script in
`tests/browser/test_past_term_changed.py`), and the outcome follows the agreement's
own term both ways: a past term moved into the present is approved, accepted and
expired as any running one, a running term moved into the past licenses past use
only (docs/journeys.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import Date, literal, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.agreements.services.expiry import expiring
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import accept, accepted_through_the_api, agreement_of
from tests.support.factories import bearer
from tests.support.page_days import in_words
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]
# Wednesday 2027-09-01, 15:00 UTC: the 2027 term is under way.
SEPTEMBER = datetime(2027, 9, 1, 15, 0, tzinfo=UTC)
YEAR = (date(2027, 1, 1), date(2027, 12, 31))
# The first half of 2027, over by September.
HALF = (date(2027, 1, 1), date(2027, 6, 30))
OVER = "The term ended on June 30, 2027, before today: approving it licenses past use only"


def _submitted(
    vendor: Any, use: dict[str, Any], now: datetime, term: tuple[date, date] = YEAR
) -> Application:
    """An application of `use` for `term` (2027) submitted at `now` (to staff review)."""
    actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(actor, draft(use, term=term), now=now)
    with time_machine.travel(now, tick=False):
        submitted = agreements.submit(application.id, actor, policy=issuing(), attest=True, now=now)
    assert submitted.state == "submitted"
    return submitted


def _approved_with_term(
    application: Application, staff: Any, term: tuple[date, date], now: datetime
) -> Agreement:
    actor = Actor.of(accounts.principal_for(staff))
    with time_machine.travel(now, tick=False):
        agreements.approve(
            application.id,
            actor,
            policy=issuing(),
            modifications=agreements.Modifications(
                term_start=term[0], term_end=term[1], term_reason="Agreed with the licensee."
            ),
            now=now,
        )
    return agreement_of(application)


def _approval_email(agreement: Agreement) -> str:
    (email,) = db.session().scalars(
        select(OutboxMessage).where(
            OutboxMessage.subject.contains("ready to accept"),
            OutboxMessage.body_text.contains(agreement.number),
        )
    )
    return " ".join(email.body_text.split())


def test_the_refused_approval_form_words_the_sentence_for_the_term_it_asked_for(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    application = _submitted(vendor, AUTO_USE, SEPTEMBER, HALF)
    with time_machine.travel(SEPTEMBER, tick=False):
        signed_in(client, licensing_staff)
        before = text_of(client.get(f"/console/applications/{application.id}"))
        # The end moved to the year's, still running, without the change's reason.
        refused = client.post(
            f"/console/applications/{application.id}/approve",
            data={"term_start": "2027-01-01", "term_end": "2027-12-31", "term_reason": ""},
        )
        approved = text_of(
            client.post(
                f"/console/applications/{application.id}/approve",
                data={
                    "term_start": "2027-01-01",
                    "term_end": "2027-12-31",
                    "term_reason": "Still sold.",
                },
                follow_redirects=True,
            )
        )
    assert OVER in before
    assert refused.status_code == 422
    page = text_of(refused)
    assert OVER not in page  # was the submitted term's sentence
    assert (
        in_words(
            "The term began on 2027-01-01, before today: approving it licenses that time "
            "retroactively. The royalty reports of the 2 periods already ended (2027-01-01 "
            "to 2027-06-30) can be filed as soon as the licensee accepts"
        )
        in page
    )
    # Approved with the year's term, still running: the message says nothing of past use.
    assert "Approved: the agreement is issued as" in approved
    assert "to read and accept it. The term ended" not in approved  # the history says it


def test_a_past_term_changed_at_approval_to_one_still_running_is_not_treated_as_past(
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    application = _submitted(vendor, AUTO_USE, SEPTEMBER, HALF)
    agreement = _approved_with_term(application, licensing_staff, YEAR, SEPTEMBER)
    assert agreement.term_end == date(2027, 12, 31)
    email = _approval_email(agreement)
    assert "past use only" not in email
    assert "The term began on January 1, 2027, before this approval" in email
    # Neither left waiting as issued after its term nor expired unaccepted: running.
    assert agreements.expire(now=SEPTEMBER).expired == []
    accepted = accept(agreement, vendor, now=SEPTEMBER)
    assert accepted.state == "active"
    assert accepted.ended_at is None
    assert agreements.expire(now=SEPTEMBER).expired == []
    assert agreements.past_term(accepted, date(2027, 9, 1)) is None  # the API's null
    # It runs its term and expires by the run: not a license of past use only either.
    january = datetime(2028, 1, 4, 15, 0, tzinfo=UTC)
    assert agreements.expire(now=january).expired == [agreement.number]
    db.session().refresh(agreement)
    assert agreement.state == "expired"
    assert agreements.past_term(agreement, date(2028, 1, 4)) is None


def test_a_running_term_changed_at_approval_to_one_already_over_licenses_past_use_only(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    application = _submitted(vendor, STAFF_USE, SEPTEMBER)
    with time_machine.travel(SEPTEMBER, tick=False):
        signed_in(client, licensing_staff)
        before = text_of(client.get(f"/console/applications/{application.id}"))
    assert "The term began on January 1, 2027, before today" in before
    # Staff license the first half only, which ended on 2027-06-30.
    agreement = _approved_with_term(application, licensing_staff, HALF, SEPTEMBER)
    assert (
        "The term ended on June 30, 2027, before this approval: the license covers past use "
        "only, from January 1, 2027 to June 30, 2027, and the agreement is expired as soon as you "
        "accept it." in _approval_email(agreement)
    )
    # Issued after its (changed) term: the run leaves it open to acceptance ...
    assert agreements.expire(now=SEPTEMBER).expired == []
    assert db.session().get(Agreement, agreement.id).state == "issued"  # type: ignore[union-attr]
    # ... and the acceptance expires it at once.
    accepted = accept(agreement, vendor, now=SEPTEMBER)
    assert accepted.state == "expired"
    assert accepted.ended_at == accepted.activated_at


OFFERED = (
    "The term ended on June 30, 2027, before today: accepting this agreement licenses past "
    "use only, from January 1, 2027 to June 30, 2027, so it is expired as soon as it is accepted, "
    "and the royalty reports of its term are due at once."
)


def test_the_agreement_says_it_licenses_past_use_only_before_and_after_its_acceptance(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    application = _submitted(vendor, AUTO_USE, SEPTEMBER, HALF)
    with time_machine.travel(SEPTEMBER, tick=False):
        signed_in(client, licensing_staff)
        approved = text_of(
            client.post(f"/console/applications/{application.id}/approve", follow_redirects=True)
        )
        agreement = agreement_of(application)
        offered = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(vendor))
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/agreements/{agreement.id}"))
        accepted = accepted_through_the_api(client, agreement, vendor)
        after = text_of(client.get(f"/portal/agreements/{agreement.id}"))
        dashboard = text_of(client.get("/portal/"))
        period = text_of(client.get(f"/portal/royalty-reports/{agreement.id}/2027-01-01"))
    # Staff's message says it as they approve, and, before acceptance, the API and the
    # page above *Accept the agreement* (was nothing).
    assert f"Approved: the agreement is issued as {agreement.number}." in approved
    assert OFFERED in approved
    assert offered.get_json()["past_term"] == OFFERED
    assert OFFERED in page
    assert page.index(OFFERED) < page.index("Accept the agreement")
    # Accepted: expired, and the acceptance's sentence says why.
    body = accepted.get_json()
    assert body["state"] == "expired"
    told = (
        "The term ended on June 30, 2027, before this acceptance: the license covers past use "
        "only, from January 1, 2027 to June 30, 2027, so the agreement is expired at once. Its "
        f"royalty reports are due now: file them under {agreement.number}."
    )
    assert body["past_term"] == told
    assert told in after
    # The dashboard's back reports are due from the acceptance (was "Overdue: it was
    # due on April 30, 2027." since April 1, 2027, for a report nobody could file then).
    assert (
        f"Royalty report for {agreement.number}, January 1, 2027 to March 31, "
        "2027 Due now: its due "
        "date, April 30, 2027, passed before the agreement was accepted on "
        "September 1, 2027, so it is "
        "due from the acceptance." in dashboard
    )
    assert "Overdue: it was due on" not in dashboard
    # The period's page says it under its due date.
    assert (
        "Due on April 30, 2027 · due Its due date, April 30, 2027, passed before the agreement was "
        "accepted on September 1, 2027, so it is due from the acceptance." in period
    )
    # The list answers it too.
    listed = client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
    assert [a["past_term"] for a in listed] == [told]


def _issued_at(vendor: Any, staff: Any, term: tuple[date, date], issued: datetime) -> Agreement:
    """An agreement for `term` approved by staff, its `issued_at` set to `issued`."""
    application = _submitted(vendor, STAFF_USE, SEPTEMBER, term)
    actor = Actor.of(accounts.principal_for(staff))
    agreements.approve(application.id, actor, policy=issuing(), now=SEPTEMBER)
    agreement = agreement_of(application)
    agreement.issued_at = issued
    db.session().commit()
    return agreement


def test_the_expiry_claim_leaves_out_in_sql_the_agreements_issued_after_their_term(
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    # The term ended on 2027-06-30; the next office day began at 05:00 UTC (daylight).
    late = _issued_at(vendor, licensing_staff, HALF, datetime(2027, 7, 1, 6, 0, tzinfo=UTC))
    in_the_hour = _issued_at(vendor, licensing_staff, HALF, datetime(2027, 7, 1, 5, 30, tzinfo=UTC))
    on_its_last_day = _issued_at(
        vendor, licensing_staff, HALF, datetime(2027, 7, 1, 4, 59, tzinfo=UTC)
    )
    # A term ending 2027-11-30: the next office day began at 06:00 UTC (standard time).
    autumn = (date(2027, 1, 1), date(2027, 11, 30))
    before_midnight = _issued_at(
        vendor, licensing_staff, autumn, datetime(2027, 12, 1, 5, 30, tzinfo=UTC)
    )
    claimed = {a.id for a in db.session().scalars(expiring(date(2027, 12, 2)))}
    # Issued after its term, and surely so: not read (round 49 claimed it each hour).
    assert late.id not in claimed
    # The hour the SQL cannot tell apart is claimed, and decided in Python.
    assert {in_the_hour.id, on_its_last_day.id, before_midnight.id} <= claimed
    run = agreements.expire(now=datetime(2027, 12, 2, 15, 0, tzinfo=UTC))
    # Issued at 00:30 on 2027-07-01 at the office (after the term): it waits.
    assert in_the_hour.number not in run.expired
    # Issued on the term's last day at the office (23:59, 23:30): expired unaccepted.
    assert set(run.expired) == {on_its_last_day.number, before_midnight.number}
    for agreement, state in (
        (late, "issued"),
        (in_the_hour, "issued"),
        (on_its_last_day, "expired"),
        (before_midnight, "expired"),
    ):
        db.session().refresh(agreement)
        assert agreement.state == state


def test_two_instants_of_other_seconds_in_one_process_each_say_their_own(app: Any) -> None:
    # The lead's merge: `UTCInstant` writes its seconds into the SQL, no part of a
    # cache key; cached, the second statement reused the first one's text.
    day = literal(date(2027, 1, 1), Date)
    session = db.session()
    first = session.scalar(select(db.UTCInstant(day, timedelta(seconds=1))))
    second = session.scalar(select(db.UTCInstant(day, timedelta(hours=6))))
    assert first is not None
    assert second is not None
    assert second - first == timedelta(hours=6, seconds=-1)
