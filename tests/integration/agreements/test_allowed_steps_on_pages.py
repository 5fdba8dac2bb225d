"""Round 57: the pages offer a press only for a step the reader's use case would
take, as `allowed_actions` lists it, and say why where the state alone would have
offered one: a resubmission past its deadline, a submission while the organization
is held, a decision by the reviewer who escalated, an approval while suspended."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services
from tests.integration.agreements.conftest import NOW, draft
from tests.support import factories
from tests.support.settings import issuing
from tests.support.uses import STAFF_USE

WORDS = "Checked against the steps the reader may take (round 57)."


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _actor(user: User) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _in_review(vendor: User, reviewer: User, *, now: Any = None) -> int:
    application_id = services.create_draft(_actor(vendor), draft(STAFF_USE), now=now).id
    services.submit(application_id, _actor(vendor), policy=issuing(), attest=True, now=now)
    services.start_review(application_id, _actor(reviewer), now=now)
    return application_id


def test_a_returned_application_past_its_deadline_offers_no_resubmit_and_says_why(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    licensing_staff: User,
    example_card: str,
) -> None:
    late = _in_review(vendor, licensing_staff, now=NOW)
    services.return_for_information(late, WORDS, _actor(licensing_staff), now=NOW)
    on_time = _in_review(vendor, licensing_staff)
    services.return_for_information(on_time, WORDS, _actor(licensing_staff))
    signed_in(client, vendor)

    page = client.get(f"/portal/applications/{late}").get_data(as_text=True)
    assert f'action="/portal/applications/{late}/submit"' not in page
    assert "The deadline to resubmit APP-" in _words(page)
    assert "Start a new application." in _words(page)
    refused = client.post(f"/portal/applications/{late}/submit", data={"attest": "yes"})
    assert refused.status_code == 409

    page = client.get(f"/portal/applications/{on_time}").get_data(as_text=True)
    assert f'action="/portal/applications/{on_time}/submit"' in page
    assert 'id="not-submitted"' not in page


def test_a_held_organizations_draft_offers_no_submit_and_says_why(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    billing_staff: User,
    example_card: str,
) -> None:
    application_id = services.create_draft(_actor(vendor), draft(STAFF_USE)).id
    accounts.change_organization_standing(
        vendor.organization_id, "mark_pending_payment", reason=WORDS, actor=_actor(billing_staff)
    )
    signed_in(client, vendor)
    page = client.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    assert f'action="/portal/applications/{application_id}/submit"' not in page
    assert 'id="not-submitted"' in page
    assert "pending payment" in _words(page).lower()


def test_the_reviewer_who_escalated_is_offered_no_decision_and_a_second_reviewer_is(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    licensing_staff: User,
    example_card: str,
) -> None:
    application_id = _in_review(vendor, licensing_staff)
    services.escalate(application_id, WORDS, _actor(licensing_staff))
    url = f"/console/applications/{application_id}"

    signed_in(client, licensing_staff)
    page = client.get(url).get_data(as_text=True)
    assert f'action="/console/applications/{application_id}/approve' not in page
    assert '<option value="reject"' not in page
    assert '<option value="return"' in page
    assert "You escalated APP-" in _words(page)
    client.post("/sign-out")

    second = factories.make_staff(db.session(), roles=("licensing",))
    signed_in(client, second)
    page = client.get(url).get_data(as_text=True)
    assert f'action="/console/applications/{application_id}/approve' in page
    assert '<option value="reject"' in page
    assert 'id="second-reviewer"' not in page


def test_a_suspended_organizations_application_is_offered_no_approval_and_says_why(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    licensing_staff: User,
    example_card: str,
) -> None:
    application_id = _in_review(vendor, licensing_staff)
    accounts.change_organization_standing(
        vendor.organization_id, "suspend", reason=WORDS, actor=_actor(licensing_staff)
    )
    signed_in(client, licensing_staff)
    page = client.get(f"/console/applications/{application_id}").get_data(as_text=True)
    assert f'action="/console/applications/{application_id}/approve' not in page
    assert '<option value="reject"' in page
    assert "account is suspended, so APP-" in _words(page)
