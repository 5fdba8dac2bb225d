"""Round 40: what round 39 left for vendors' and billing's pages and the API.

A vendor's answers carry no staff member's address (the reviewer, the assignee, the
staff member who invited their first colleague); staff still read them. The
sign-out steps refuse a body with fields as every other route does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.permissions import services as permissions
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import requested_by
from tests.support.factories import bearer
from tests.support.two_step import events_of

Apply = Callable[..., Application]


def test_a_vendors_application_answers_name_no_reviewer_while_staff_read_the_address(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    application = apply(vendor, STAFF_USE)
    services.assign(application.id, licensing_staff.id, staff_actor)

    staff_answer = client.get(
        f"/api/v1/applications/{application.id}", headers=bearer(licensing_staff)
    ).get_json()
    assert staff_answer["assignee"] == licensing_staff.email

    mine = client.get(f"/api/v1/applications/{application.id}", headers=bearer(vendor))
    assert mine.status_code == 200
    assert mine.get_json()["assignee"] is None
    listed = client.get("/api/v1/applications", headers=bearer(vendor)).get_json()
    assert [item["assignee"] for item in listed] == [None]
    # A step's answer too: the vendor withdraws it.
    withdrawn = client.post(
        f"/api/v1/applications/{application.id}/withdraw", headers=bearer(vendor), json={}
    )
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert withdrawn.get_json()["assignee"] is None
    assert licensing_staff.email not in withdrawn.get_data(as_text=True)


def test_a_vendors_permission_request_answer_names_no_assignee(
    client: FlaskClient, vendor: Any, licensing_staff: Any
) -> None:
    request = requested_by(vendor)
    permissions.assign(
        [request.id], licensing_staff.id, Actor.of(accounts.principal_for(licensing_staff))
    )
    staff_answer = client.get(
        f"/api/v1/permission-requests/{request.id}", headers=bearer(licensing_staff)
    ).get_json()
    assert staff_answer["assignee_id"] == licensing_staff.id
    mine = client.get(f"/api/v1/permission-requests/{request.id}", headers=bearer(vendor))
    assert mine.status_code == 200, mine.get_json()
    assert mine.get_json()["assignee_id"] is None


def test_a_vendor_reads_no_staff_address_among_its_invitations(
    client: FlaskClient, vendor: Any, admin: Any
) -> None:
    organization_id = vendor.organization_id
    accounts.invite_member(
        organization_id, "newcomer@northwind.example", Actor.of(accounts.principal_for(admin))
    )
    accounts.invite_member(
        organization_id, "second@northwind.example", Actor.of(accounts.principal_for(vendor))
    )
    path = f"/api/v1/organizations/{organization_id}/invitations"
    by_staff = {
        item["email"]: item["invited_by"]
        for item in client.get(path, headers=bearer(admin)).get_json()
    }
    assert by_staff == {
        "newcomer@northwind.example": admin.email,
        "second@northwind.example": vendor.email,
    }
    by_vendor = {
        item["email"]: item["invited_by"]
        for item in client.get(path, headers=bearer(vendor)).get_json()
    }
    assert by_vendor == {
        "newcomer@northwind.example": None,
        "second@northwind.example": vendor.email,
    }


@pytest.mark.parametrize("step", ["sign-out", "forget-browsers"])
def test_the_sign_out_steps_refuse_a_body_with_fields_and_take_none_or_an_empty_one(
    client: FlaskClient, vendor: Any, admin: Any, step: str
) -> None:
    path = f"/api/v1/users/{vendor.id}/{step}"
    before = _events(vendor)

    refused = client.post(path, headers=bearer(admin), json={"everywhere": True})

    assert refused.status_code == 422, refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["errors"] == {"everywhere": ["Unknown field."]}
    assert _events(vendor) == before  # nothing done, recorded or emailed
    assert client.post(path, headers=bearer(admin), json={}).status_code == 200
    assert client.post(path, headers=bearer(admin)).status_code == 200
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"][f"/api/v1/users/{{user_id}}/{step}"]["post"]
    # Round 42: a route without a body schema refuses a field (`api._check_body`), so
    # the steps declare no body, and their 422 says a field is refused.
    assert "requestBody" not in operation
    assert "a body with fields" in operation["responses"]["422"]["description"]


def _events(user: Any) -> int:
    return len(events_of(user, "user.signed_out")) + len(events_of(user, "user.browsers_forgotten"))
