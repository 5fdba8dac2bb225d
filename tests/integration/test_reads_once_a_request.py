"""Round 68 (reads68): a record one request has read is not read again. Round 67's count
found an invitation reading its organization three times (the page's read, the
service's by the same statement, then locked) and an approval its application again
after the step (for the page to go back to) and twice on a refusal (read, then
refreshed). What is read under a lock is still read under it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.agreements.conftest import apply as apply  # the fixture
from tests.integration.pricing.conftest import example_card as example_card
from tests.support.statements import reads_from, sent_by

Apply = Callable[..., Application]


def test_an_invitation_reads_the_organization_once_for_the_page_and_once_locked(
    app: Flask, vendor: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    inviter = signed_in(app.test_client(), vendor)
    with sent_by(app) as statements:
        sent = inviter.post("/organization/invitations", data={"email": "priya@northwind.example"})
    assert sent.status_code == 302
    assert reads_from(statements, "organizations") == 2


def test_an_approval_reads_its_application_once_for_the_page_and_once_locked(
    app: Flask, apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    agreements.start_review(application.id, Actor.of(accounts.principal_for(licensing_staff)))
    with sent_by(app) as statements:
        approved = staff.post(f"/console/applications/{application.id}/approve", data={})
    assert approved.status_code == 302, approved.get_data(as_text=True)[:2000]
    assert reads_from(statements, "applications") == 2


def test_a_refused_approval_reads_its_application_once_more_to_show_it_as_it_stands(
    app: Flask, apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    with sent_by(app) as statements:
        refused = staff.post(
            f"/console/applications/{application.id}/approve",
            data={"amount-3": "6000.00", "reason-3": "Agreed rate."},
        )
    assert refused.status_code == 422
    assert "Use 4 is not a use of this application" in refused.get_data(as_text=True)
    # The view's read, the page's as it now stands (one statement: it was read, then
    # refreshed), and the page's currencies of the applications it names.
    assert reads_from(statements, "applications") == 3
