"""Round 18: reminders and renewals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreement_services
from licensing.agreements.models import Application
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.permissions.conftest import (
    last_mail,
    submit,  # noqa: F401 - the fixture
)
from tests.support.agreements import accept, agreement_of, renewal_window
from tests.support.factories import bearer

Submit = Callable[..., tuple[PermissionRequest, str]]


def test_the_staff_email_about_a_new_request_says_its_audience_as_the_letter_does(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
) -> None:
    # The requester's emails, the pages and the letter said "Audience: up to
    # 1,200"; the email telling staff of the new request did not say it at all.
    request, _token = submit(audience_size=1200)
    notice = last_mail(licensing_staff.email)
    assert notice.subject == f"Permission request {request.reference}: new request"
    assert "Audience: up to 1,200\n" in notice.body_text


def test_the_api_says_whether_an_agreement_can_be_renewed_and_which_application_renews_it(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    # An active agreement answered `allowed_actions: []` while its page offered
    # *Renew*: renewal is no state transition, and nothing else said so.
    agreement = accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)
    # Round 53: drawn from the renewal window, as the page offers it.
    with time_machine.travel(renewal_window(agreement), tick=False):
        path = f"/api/v1/agreements/{agreement.id}"
        answer = client.get(path, headers=bearer(vendor)).get_json()
        assert answer["allowed_actions"] == []
        assert answer["renewal"] == {
            "available": True,
            "term_start": "2028-01-01",
            "opens_on": "2027-10-02",
            "application_id": None,
        }

        drawn = client.post(f"{path}/renewal", headers=bearer(vendor))
        assert drawn.status_code == 201
        draft_id = drawn.get_json()["id"]
        taken = {
            "available": False,
            "term_start": "2028-01-01",
            "opens_on": "2027-10-02",
            "application_id": draft_id,
        }
        assert client.get(path, headers=bearer(vendor)).get_json()["renewal"] == taken
        staff = client.get("/api/v1/agreements", headers=bearer(licensing_staff)).get_json()
        assert [item["renewal"] for item in staff] == [taken]

        # A withdrawn renewal renews nothing: the agreement may be renewed again.
        agreement_services.withdraw(draft_id, Actor.of(accounts.principal_for(vendor)), now=NOW)
        again = client.get(path, headers=bearer(vendor)).get_json()["renewal"]
        assert again == {
            "available": True,
            "term_start": "2028-01-01",
            "opens_on": "2027-10-02",
            "application_id": None,
        }


def test_a_terminated_agreement_cannot_be_renewed_as_the_api_says(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
) -> None:
    agreement = accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)
    agreement_services.terminate(agreement.id, "Breach of the reporting clause.", Actor.SYSTEM)
    path = f"/api/v1/agreements/{agreement.id}"
    assert client.get(path, headers=bearer(vendor)).get_json()["renewal"]["available"] is False
    assert client.post(f"{path}/renewal", headers=bearer(vendor)).status_code == 409
