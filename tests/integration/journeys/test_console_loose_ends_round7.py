"""Round 7's billing and console loose ends: one rule for a query argument given
twice on every list, and the wording of forms and pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Application
from licensing.arguments import field_message, message
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.support.console import REPEATED_FILTERS
from tests.support.factories import bearer
from tests.support.markup import duplicate_ids
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


@pytest.mark.parametrize(("who", "url", "name", "label"), REPEATED_FILTERS)
def test_every_console_list_refuses_a_filter_given_twice_naming_the_field_by_its_label(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    signed_in: SignIn,
    who: str,
    url: str,
    name: str,
    label: str,
) -> None:
    # `?sort=newest&sort=oldest` listed by the first value without a word, while the
    # invoice list, the exports and the API refuse it. The refusal then said "Give q
    # once": the URL's parameter, which the page's user never sees; it names the
    # field as the form labels it.
    page = signed_in(client, request.getfixturevalue(who)).get(url)
    assert page.status_code == 400, url
    assert page.mimetype == "text/html"
    text = text_of(page)
    assert field_message(label, 2) in text
    assert message(name, 2) not in text
    html = page.get_data(as_text=True)
    assert f'id="{name}-error"' in html  # beside its field
    assert duplicate_ids(html) == []


def test_a_refused_filter_lists_nothing_and_the_same_filter_once_lists_as_before(
    client: FlaskClient, signed_in: SignIn, vendor: Any, licensing_staff: Any
) -> None:
    console = signed_in(client, licensing_staff)
    organization = vendor.organization.legal_name
    assert organization in text_of(console.get("/console/organizations?standing=active"))
    refused = console.get("/console/organizations?standing=active&standing=active")
    assert refused.status_code == 400
    assert organization not in text_of(refused).split(field_message("Standing", 2))[1]


def test_a_filter_that_takes_a_list_still_takes_every_value_given(
    client: FlaskClient, signed_in: SignIn, vendor: Any, licensing_staff: Any
) -> None:
    console = signed_in(client, licensing_staff)
    assert console.get("/console/applications?state=submitted&state=in_review").status_code == 200
    assert console.get("/console/agreements?state=active&state=expired").status_code == 200
    client.get("/sign-out")
    portal = signed_in(FlaskClient(client.application), vendor)
    assert portal.get("/portal/applications?state=draft&state=submitted").status_code == 200


def test_an_unknown_api_argument_given_twice_is_the_unknown_argument_422(
    client: FlaskClient, billing_staff: Any
) -> None:
    # It was a 400 saying to give `colour` once, as if the list took it.
    answer = client.get("/api/v1/invoices?colour=red&colour=blue", headers=bearer(billing_staff))
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert list(answer.get_json()["errors"]) == ["query.colour"]
    known = client.get("/api/v1/invoices?state=open&state=paid", headers=bearer(billing_staff))
    assert known.status_code == 400
    assert known.get_json()["errors"] == {"query.state": [message("state", 2)]}


# --- wording ---------------------------------------------------------------------------------


def test_an_approval_with_a_misspelt_row_name_is_refused_with_a_message(
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
    app: Flask,
) -> None:
    # `amount-x` read as no row: the application was approved as quoted, the
    # amount typed dropped without a word.
    application = apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    answer = staff.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-x": "6000.00", "reason-x": "Agreed rate."},
    )
    assert answer.status_code == 422
    text = text_of(answer)
    assert "“amount-x” is not a field of this form, so nothing was approved" in text
    assert "“reason-x” is not a field of this form" in text
    db.session().expire_all()
    assert db.session().get(Application, application.id).state == "submitted"  # type: ignore[union-attr]


def test_an_answer_of_spaces_gets_the_message_of_an_empty_one(
    client: FlaskClient,
    submit: Callable[..., tuple[PermissionRequest, str]],  # noqa: F811
    licensing_staff: Any,
) -> None:
    request, token = submit()
    permissions.ask_for_info(
        request.id, "Which chapters?", Actor.of(accounts.principal_for(licensing_staff))
    )
    messages = []
    for body in ("", "   \n  "):
        answer = client.post(f"/permissions/status/{token}/answer", data={"body": body})
        assert answer.status_code == 422
        html = answer.get_data(as_text=True)
        messages.append(html[html.index('id="body-error"') :].split("</p>")[0])
    assert messages[0] == messages[1]
    assert "This field is required." in messages[1]


def test_an_invoice_history_says_a_draft_as_its_refusals_do(
    client: FlaskClient, signed_in: SignIn, vendor: Any, admin: Any, invoice_for: Any
) -> None:
    # The history read "state: draft → open" where a refusal says "... is a draft".
    invoice = invoice_for(vendor, ("100.00",))
    log = text_of(
        signed_in(client, admin).get(f"/console/audit?entity_type=invoice&entity_id={invoice.id}")
    )
    assert "state: a draft → open" in log
    assert "state: draft →" not in log


def test_the_requester_s_own_status_page_speaks_to_them(
    client: FlaskClient,
    submit: Callable[..., tuple[PermissionRequest, str]],  # noqa: F811
    licensing_staff: Any,
) -> None:
    # "State: waiting for the requester's information", on the requester's own page.
    request, token = submit()
    permissions.ask_for_info(
        request.id, "Which chapters?", Actor.of(accounts.principal_for(licensing_staff))
    )
    page = text_of(client.get(f"/permissions/status/{token}"))
    assert "State: waiting for your information" in page
    assert "the requester" not in page


def test_the_staff_page_says_what_staff_may_do_now_in_a_sentence(
    client: FlaskClient,
    submit: Callable[..., tuple[PermissionRequest, str]],  # noqa: F811
    licensing_staff: Any,
    signed_in: SignIn,
) -> None:
    # "Allowed now: Approve, ask for info, deny, start review." read like a list of
    # enum values, in alphabetical order.
    request, _token = submit()
    staff = signed_in(client, licensing_staff)
    page = text_of(staff.get(f"/console/permissions/{request.id}"))
    assert (
        "You may start the review, ask the requester for more information, approve the "
        "request or deny it." in page
    )
    assert "Allowed now" not in page
