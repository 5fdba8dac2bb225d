"""Destructive steps in the permissions pages ask first: withdrawing a request and
unassigning requests in bulk change nothing until confirmed; bulk assignment has
no default assignee, and the queue keeps its filters after the action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import OFFICE

Submit = Callable[..., tuple[PermissionRequest, str]]


def _reloaded(request_id: int) -> PermissionRequest:
    found = db.session().get(PermissionRequest, request_id, populate_existing=True)
    assert found is not None
    return found


def test_withdrawing_a_request_asks_first_and_changes_nothing_until_confirmed(
    client: FlaskClient, submit: Submit
) -> None:
    request, token = submit()
    asked = client.post(f"/permissions/status/{token}/withdraw")
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert f"Withdraw permission request {request.reference}?" in page
    assert 'name="confirmed" value="yes"' in page
    assert f'action="/permissions/status/{token}/withdraw"' in page
    assert _reloaded(request.id).state != "withdrawn"
    done = client.post(f"/permissions/status/{token}/withdraw", data={"confirmed": "yes"})
    assert done.status_code == 302
    assert _reloaded(request.id).state == "withdrawn"


def test_bulk_assignment_has_no_default_and_says_what_is_missing(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    first, _ = submit()
    client = signed_in(app.test_client(), licensing_staff)
    queue = client.get("/console/permissions/?state=open").get_data(as_text=True)
    assert '<select id="bulk-assignee" name="assignee_id"><option value="">Choose a' in queue
    assert '<option value="nobody">Nobody: unassign them</option>' in queue
    refused = client.post(
        "/console/permissions/assign",
        data={"request_ids": [str(first.id)], "assignee_id": "", "filters": "state=open&q=x"},
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Choose who to assign the selected requests to." in html
    assert f'value="{first.id}" aria-label="Select {first.reference}" checked' in html
    assert 'name="filters" value="state=open&amp;q=x"' in html
    nothing = client.post(
        "/console/permissions/assign",
        data={"assignee_id": str(licensing_staff.id), "filters": ""},
    )
    assert nothing.status_code == 422
    assert "Select at least one request." in nothing.get_data(as_text=True)
    assert _reloaded(first.id).assignee_id is None


def test_unassigning_in_bulk_asks_first_then_returns_to_the_same_filtered_queue(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    first, _ = submit()
    second, _ = submit(requester_name="Tomas Lindqvist", institution="Harborlight University")
    services.assign([first.id, second.id], licensing_staff.id, OFFICE)
    client = signed_in(app.test_client(), licensing_staff)
    fields = {
        "request_ids": [str(first.id), str(second.id)],
        "assignee_id": "nobody",
        "filters": "q=harborlight&assignee=me&bogus=1",
    }
    asked = client.post("/console/permissions/assign", data=fields)
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "Unassign 2 requests?" in page
    assert page.count('name="request_ids"') == 2
    assert _reloaded(first.id).assignee_id == licensing_staff.id
    done = client.post("/console/permissions/assign", data={**fields, "confirmed": "yes"})
    assert done.status_code == 302
    assert done.headers["Location"] == "/console/permissions/?q=harborlight&assignee=me"
    assert _reloaded(first.id).assignee_id is None
    assert _reloaded(second.id).assignee_id is None


def test_assigning_in_bulk_needs_no_confirmation_and_keeps_the_filters(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    first, _ = submit()
    client = signed_in(app.test_client(), licensing_staff)
    done = client.post(
        "/console/permissions/assign",
        data={
            "request_ids": [str(first.id)],
            "assignee_id": str(licensing_staff.id),
            "filters": "state=open&overdue=1",
        },
    )
    assert done.status_code == 302
    assert done.headers["Location"] == "/console/permissions/?state=open&overdue=1"
    assert _reloaded(first.id).assignee_id == licensing_staff.id


def test_assigning_one_request_to_an_id_that_is_no_choice_is_a_422_not_a_500(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    request, _ = submit()
    client = signed_in(app.test_client(), licensing_staff)
    for posted in ("someone", "99999999999999999999"):
        refused = client.post(
            f"/console/permissions/{request.id}/assign", data={"assignee_id": posted}
        )
        assert refused.status_code == 422, posted
        assert "Choose an active member of the licensing staff." in refused.get_data(as_text=True)
    assert _reloaded(request.id).assignee_id is None


def test_assigning_in_bulk_to_an_id_that_is_no_choice_is_a_422_not_a_500(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    request, _ = submit()
    client = signed_in(app.test_client(), licensing_staff)
    for posted in ("²", "99999999999999999999"):  # "²".isdigit() is true; int("²") fails
        refused = client.post(
            "/console/permissions/assign",
            data={"request_ids": [str(request.id)], "assignee_id": posted, "filters": ""},
        )
        assert refused.status_code == 422, posted
        assert "Choose who to assign the selected requests to." in refused.get_data(as_text=True)
    assert _reloaded(request.id).assignee_id is None


def test_after_a_secret_key_rotation_new_emails_repeat_the_link_the_requester_has(
    app: Flask, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    """Round 13: the request is found by the digest of its first link; after a
    rotation every later email carried a link made under the new key, which found
    nothing. With the former key in SECRET_KEY_FALLBACKS they repeat the first."""
    from licensing import signing
    from licensing.signing import Signer

    former = "the-former-secret-key-" + "f" * 20
    signing.install(app, Signer(former))
    request, emailed = submit()
    signing.install(app, Signer("the-new-secret-key-" + "n" * 20, [former]))
    assert services.status_token(request) == emailed
    assert services.request_for_link(emailed).id == request.id
