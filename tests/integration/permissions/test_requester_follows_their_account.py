"""A permission request made by a signed-in user from an application follows that user:
its emails, its letter and its pages use the address and name their account has now,
not the ones it had when they asked. A public request keeps the address given."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.mail.models import OutboxMessage
from licensing.permissions import queries, services
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import requested_by
from tests.support import factories
from tests.support.documents import pdf_text
from tests.support.pages import without_time_tags

# `requested_by` asks for 2027 (1 January to 31 December): the requests are sent and
# decided before it, as the tests are written. At the real time the decision's default
# term had ended from 1 January 2028 ("The end of validity must follow its start").
ASKED_AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _before_the_year_asked_for() -> Iterator[None]:
    with time_machine.travel(ASKED_AT, tick=True):
        yield


def _read(client: FlaskClient, url: str) -> str:
    """The page at `url`, its days and isolated names read as their words."""
    return without_time_tags(client.get(url).get_data(as_text=True))


def _renamed(user: User, email: str, full_name: str) -> None:
    """The user confirms a new address and changes their name (as the profile does)."""
    with db.transaction() as session:
        found = session.get(User, user.id)
        assert found is not None
        found.email, found.full_name = email, full_name


def _emails(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(select(OutboxMessage).where(OutboxMessage.template == template))
    )


def test_the_decision_and_its_letter_go_to_the_address_the_requester_has_now(
    vendor: User,
) -> None:
    request = requested_by(vendor)
    _renamed(vendor, "sam.okafor@bluefin-new.example", "Sam Okafor")

    services.approve(request.id, factories.staff_actor())

    (decision,) = _emails("permission_decided")
    assert decision.to == ["sam.okafor@bluefin-new.example"]
    assert decision.body_text.startswith("Hello Sam Okafor,")
    assert "/permissions/status/" in decision.body_text  # still theirs: they do the work
    letter = pdf_text(decision.attachments[0].content)
    assert "Sam Okafor" in letter
    assert "sam.okafor@bluefin-new.example" in letter


def test_the_ending_reminder_a_year_on_reaches_the_requester_s_new_address(
    vendor: User,
) -> None:
    request = requested_by(vendor)
    services.approve(
        request.id,
        factories.staff_actor(),
        valid_from=date(2027, 8, 16),
        valid_until=date(2027, 12, 31),
        now=datetime(2027, 8, 2, 15, 0, tzinfo=UTC),
    )
    _renamed(vendor, "sam.okafor@bluefin-new.example", "Sam Okafor")

    due = services.expire_due(datetime(2027, 12, 2, 15, 0, tzinfo=UTC))

    assert due.ending_reminded == [request.reference]
    (reminder,) = _emails("permission_ending")
    assert reminder.to == ["sam.okafor@bluefin-new.example"]
    assert reminder.body_text.startswith("Hello Sam Okafor,")


def test_a_question_to_a_requester_who_moved_address_and_was_then_removed_goes_to_colleagues(
    vendor: User,
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    requester = factories.make_vendor(db.session(), organization)  # a member
    request = requested_by(requester)
    _renamed(requester, "moved-on@elsewhere.example", requester.full_name)
    with db.transaction() as session:
        found = session.get(User, requester.id)
        assert found is not None
        found.is_active = False

    services.ask_for_info(request.id, "Which course is it for?", factories.staff_actor())

    (question,) = _emails("permission_needs_info")
    assert question.to == [vendor.email]
    assert "/permissions/status/" not in question.body_text


def test_a_public_request_is_written_to_at_the_address_given_even_if_an_account_had_it(
    submit: Any, vendor: User
) -> None:
    # The public form asks for no account: the address given is the requester.
    given = vendor.email
    request, _token = submit(requester_email=given)
    _renamed(vendor, "sam.okafor@bluefin-new.example", "Sam Okafor")

    services.approve(request.id, factories.staff_actor())

    (decision,) = _emails("permission_decided")
    assert decision.to == [given]


def test_the_pages_the_api_and_the_queue_name_the_requester_as_their_account_does_now(
    client: FlaskClient, signed_in: Any, vendor: User, licensing_staff: User
) -> None:
    request = requested_by(vendor)
    _renamed(vendor, "sam.okafor@bluefin-new.example", "Sam Okafor")

    signed_in(client, vendor)
    page = _read(client, f"/portal/permissions/{request.id}")
    assert "Sam Okafor, sam.okafor@bluefin-new.example, who asked for it" in page
    api = client.get(
        f"/api/v1/permission-requests/{request.id}", headers=factories.bearer(licensing_staff)
    ).get_json()
    assert (api["requester_name"], api["requester_email"]) == (
        "Sam Okafor",
        "sam.okafor@bluefin-new.example",
    )
    for search in ("okafor", "bluefin-new"):
        rows = queries.queue_requests(
            db.session(), queries.QueueFilter(search=search), None, datetime.now(UTC)
        )
        assert [(row.id, row.requester_name) for row in rows] == [(request.id, "Sam Okafor")]


def test_a_requester_whose_account_now_belongs_to_another_organization_is_not_followed_there(
    vendor: User,
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    requester = factories.make_vendor(db.session(), organization)  # a member
    asked_as = (requester.full_name, requester.email)
    request = requested_by(requester)
    elsewhere = factories.make_organization(db.session())
    with db.transaction() as session:
        found = session.get(User, requester.id)
        assert found is not None
        found.organization_id = elsewhere.id  # an office correction
        found.email, found.full_name = "sam@elsewhere.example", "Sam Okafor"

    services.approve(request.id, factories.staff_actor())

    (decision,) = _emails("permission_decided")
    assert decision.to == [vendor.email]  # the organization's licensing work
    found_request = db.session().get(PermissionRequest, request.id)
    assert found_request is not None
    assert (found_request.requester_shown_name, found_request.requester_address) == asked_as
    rows = queries.queue_requests(
        db.session(), queries.QueueFilter(state=None), None, datetime.now(UTC)
    )
    assert [row.requester_name for row in rows if row.id == request.id] == [asked_as[0]]


def test_the_console_and_the_portal_say_where_a_removed_requester_s_news_goes_instead(
    app: Flask, signed_in: Any, vendor: User, licensing_staff: User
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    requester = factories.make_vendor(db.session(), organization)  # a member
    request = requested_by(requester)
    _renamed(requester, "moved-on@elsewhere.example", "Sam Okafor")
    with db.transaction() as session:
        found = session.get(User, requester.id)
        assert found is not None
        found.is_active = False

    # The office asking a question saw "Requester Sam Okafor <moved-on@...>" and
    # nothing else, and the colleagues' portal page said the link "was emailed to"
    # them: the questions and letters had gone to the colleagues instead.
    staff = signed_in(app.test_client(), licensing_staff)
    console = without_time_tags(
        staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    )
    assert (
        "No longer does the organization's licensing work, so the request's emails "
        f"go to those who do: {vendor.email}."
    ) in console
    colleague = signed_in(app.test_client(), vendor)
    portal = without_time_tags(
        colleague.get(f"/portal/permissions/{request.id}").get_data(as_text=True)
    )
    assert "Sam Okafor, who asked for it, no longer does your organization" in portal
    assert "was emailed to Sam Okafor" not in portal
    assert f"go to those who do: {vendor.email}." in portal


def test_a_requester_who_still_does_the_work_is_shown_as_written_to(
    app: Flask, signed_in: Any, vendor: User, licensing_staff: User
) -> None:
    request = requested_by(vendor)
    staff = signed_in(app.test_client(), licensing_staff)
    console = without_time_tags(
        staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    )
    assert "No longer does the organization" not in console
    portal = signed_in(app.test_client(), vendor).get(f"/portal/permissions/{request.id}")
    portal_page = without_time_tags(portal.get_data(as_text=True))
    assert f"its link was emailed to {vendor.full_name}, {vendor.email}" in portal_page


def test_a_request_from_an_application_gives_the_requester_no_role_they_were_not_asked(
    client: FlaskClient, signed_in: Any, vendor: User, licensing_staff: User
) -> None:
    """A routed request stores the role "other", which no one chose: the staff notice
    read "other at Bluefin ...", the pages "; other" and the letter "Other, Bluefin"."""
    request = requested_by(vendor)
    institution = request.institution

    services.approve(request.id, factories.staff_actor())

    notices = [m.body_text for m in _emails("permission_staff_notice")]
    assert notices
    assert all(f"<{vendor.email}>, {institution}\n" in text for text in notices)
    (decision,) = _emails("permission_decided")
    letter = pdf_text(decision.attachments[0].content)
    assert institution in letter
    assert "Other," not in letter
    signed_in(client, licensing_staff)
    page = without_time_tags(
        client.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    )
    assert f"{institution} (" in page
    assert "; other</dd>" not in page
