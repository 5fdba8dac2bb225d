"""Round 2 of the staff journeys: what licensing staff tripped on while reviewing."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import REASON_MAX, Application
from licensing.errors import InvalidInput
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support.agreements import accept, agreement_of
from tests.support.factories import make_staff
from tests.support.pages import confirmation_carried, without_time_tags
from tests.support.settings import issuing

Apply = Callable[..., Application]


def _in_review(apply: Apply, vendor: Any, staff: Any) -> Application:
    application = apply(vendor, STAFF_USE)
    services.start_review(application.id, Actor.of(accounts.principal_for(staff)), now=NOW)
    return application


def test_an_approval_whose_reasons_are_longer_than_any_reason_may_be_is_refused_on_the_page(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/applications/{application.id}/approve"
    too_long = "pilot rate " * (REASON_MAX // 10)
    for data in (
        {"amount-0": "5000.00", "reason-0": too_long},
        {"term_end": "2027-06-30", "term_reason": too_long},
    ):
        refused = staff.post(url, data=data)
        assert refused.status_code == 422
        assert f"At most {REASON_MAX:,} characters." in refused.get_data(as_text=True)
        assert db.session().get(Application, application.id).state == "in_review"
    approved = staff.post(url, data={"amount-0": "5000.00", "reason-0": "pilot rate"})
    assert approved.status_code == 302


def test_an_approval_note_longer_than_a_reason_may_be_is_refused_by_the_use_case(
    apply: Apply, vendor: Any, licensing_staff: Any, app: Flask
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    actor = Actor.of(accounts.principal_for(licensing_staff))
    with pytest.raises(InvalidInput) as refused:
        services.approve(
            application.id, actor, policy=issuing(), note="n" * (REASON_MAX + 1), now=NOW
        )
    assert refused.value.errors == {"note": [f"At most {REASON_MAX:,} characters."]}
    assert db.session().get(Application, application.id).state == "in_review"


def test_an_applications_history_names_the_person_it_was_assigned_to(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    reviewer = make_staff(db.session(), roles=("licensing",))
    actor = Actor.of(accounts.principal_for(licensing_staff))
    services.assign(application.id, reviewer.id, actor)
    services.assign(application.id, None, actor)
    staff = signed_in(app.test_client(), licensing_staff)
    page = staff.get(f"/console/applications/{application.id}").get_data(as_text=True)
    history = page[page.index("<h2>History</h2>") :]
    # It read "assignee id: — → 7": nobody on the page could tell who that was.
    assert f"assignee id: — → {reviewer.id}" not in history
    assert f"Assignee: nobody → {reviewer.full_name}" in history
    assert f"Assignee: {reviewer.full_name} → nobody" in history


def test_terminating_an_agreement_asks_for_confirmation_first(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, AUTO_USE)  # approved automatically: the agreement is issued
    agreement = agreement_of(application)
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/agreements/{agreement.id}/terminate"
    reason = "Breach of the distribution clause"
    # One click ended the license, irreversibly, and emailed the licensee.
    asked = staff.post(url, data={"reason": reason})
    assert asked.status_code == 200
    page = html.unescape(asked.get_data(as_text=True))
    assert f"Terminate agreement {agreement.number}?" in page
    assert "cannot be undone" in page
    assert reason in page
    db.session().refresh(agreement)
    assert agreement.state == "issued"
    # Round 54: the confirmation carries the state it spoke of (round 55: signed).
    shown = confirmation_carried(asked)
    done = staff.post(url, data={"reason": reason, "confirmed": "yes", "confirmation": shown})
    assert done.status_code == 302
    db.session().refresh(agreement)
    assert agreement.state == "terminated"
    # Without a reason the form's message comes back at once, not a confirmation.
    assert staff.post(url, data={"reason": " "}).status_code in (409, 422)


def test_a_termination_confirmed_after_the_licensee_accepted_meanwhile_is_refused(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    """Round 54: the confirmation said of the issued agreement "it can no longer be
    accepted"; the licensee accepted it before staff pressed, and the press ended a
    license in force, which the confirmation never said. Now a 409, nothing changed."""
    agreement = agreement_of(apply(vendor, AUTO_USE))
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/agreements/{agreement.id}/terminate"
    reason = "Breach of the distribution clause"
    asking = staff.post(url, data={"reason": reason})
    asked = html.unescape(asking.get_data(as_text=True))
    assert "it can no longer be accepted" in asked
    accept(agreement, vendor)  # meanwhile, on the portal
    db.session().refresh(agreement)
    assert agreement.state == "active"

    confirming = {
        "reason": reason,
        "confirmed": "yes",
        "confirmation": confirmation_carried(asking),
    }
    refused = staff.post(url, data=confirming)
    assert refused.status_code == 409
    said = " ".join(html.unescape(refused.get_data(as_text=True)).split())
    assert (
        f"Not terminated: agreement {agreement.number} was issued when its termination was "
        "shown to confirm and is active now, so what the confirmation said no longer holds. "
        "Nothing changed"
    ) in said
    # A confirming post that carries no confirmation is refused as not what was
    # shown (round 55: 400; it was a 409 when the state came in plain text).
    assert staff.post(url, data={"reason": reason, "confirmed": "yes"}).status_code == 400
    db.session().refresh(agreement)
    assert (agreement.state, agreement.termination_reason) == ("active", None)

    # Asked again, it says the license ends today, and goes.
    asking = staff.post(url, data={"reason": reason})
    assert "its license ends today" in html.unescape(asking.get_data(as_text=True))
    confirming = {
        "reason": reason,
        "confirmed": "yes",
        "confirmation": confirmation_carried(asking),
    }
    done = staff.post(url, data=confirming)
    assert done.status_code == 302
    db.session().refresh(agreement)
    assert agreement.state == "terminated"


def test_a_term_that_ends_before_it_starts_is_reported_beside_the_ends_field(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    staff = signed_in(app.test_client(), licensing_staff)
    refused = staff.post(
        f"/console/applications/{application.id}/approve",
        data={"term_start": "2027-12-31", "term_end": "2027-01-01", "term_reason": "A pilot"},
    )
    assert refused.status_code == 422
    page = html.unescape(refused.get_data(as_text=True))
    # The message was only in the summary at the top, its link leading nowhere.
    ends = page.index('<input type="date" id="term_end"')
    field = page[page.rindex('<div class="field', 0, ends) : ends]
    assert "must not be before the term's start (December 31, 2027)" in without_time_tags(field)
    assert 'href="#term_end"' in page
