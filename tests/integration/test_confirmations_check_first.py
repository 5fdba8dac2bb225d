"""Round 56: every step that asks before doing checks what it would refuse BEFORE it
asks, so nobody confirms a step that is then refused. Each of these asked first,
then refused the confirmed press (409 or 422): closing an organization closed
meanwhile, removing access to one's own account, forgetting the browsers of (or
signing out) a deactivated account, withdrawing an application decided meanwhile,
unassigning a decided application, terminating an agreement that has ended. Now each
is refused on its page with the rule's words, no confirmation shown, nothing done.
The billing console's steps: `billing/test_confirmations_check_first.py`."""

from __future__ import annotations

import html
from typing import Any

from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from tests.integration.agreements.conftest import (  # noqa: F401 - `apply` is a fixture
    AUTO_USE,
    apply,
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import make_active_agreement

ASKED = 'name="confirmed" value="yes"'


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _actor(user: User) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _not_asked(response: Any, status: int) -> str:
    page = _page(response)
    assert response.status_code == status, page[:2000]
    assert ASKED not in page
    return page


def test_closing_an_organization_closed_meanwhile_is_refused_before_asking(
    app: Flask, signed_in: Any, licensing_staff: User, vendor: User
) -> None:
    organization_id = vendor.organization_id
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/organizations/{organization_id}/standing"
    fields = {"action": "close", "reason": "The company was dissolved."}
    asked = staff.post(url, data=fields)
    assert ASKED in _page(asked)  # open, it asks
    accounts.change_organization_standing(
        organization_id, "close", reason="Dissolved.", actor=_actor(licensing_staff)
    )
    page = _not_asked(staff.post(url, data=fields), 409)
    assert "close" in page
    assert db.session().get(Organization, organization_id).standing == "closed"


def test_removing_access_to_your_own_account_is_refused_before_asking(
    app: Flask, signed_in: Any, vendor: User, admin: User
) -> None:
    own = signed_in(app.test_client(), vendor)
    _not_asked(own.post(f"/organization/members/{vendor.id}/deactivate"), 422)
    office = signed_in(app.test_client(), admin)
    refused = office.post(f"/console/users/{admin.id}/active", data={"active": "false"})
    assert refused.status_code == 302
    assert "You cannot deactivate your own account." in _page(
        office.get(refused.headers["Location"])
    )
    for user_id in (vendor.id, admin.id):
        assert db.session().get(User, user_id, populate_existing=True).is_active


def test_forgetting_browsers_or_signing_out_a_deactivated_account_is_refused_before_asking(
    app: Flask, signed_in: Any, admin: User, vendor: User
) -> None:
    office = signed_in(app.test_client(), admin)
    for step in ("browsers/forget", "sign-out"):
        assert ASKED in _page(office.post(f"/console/users/{vendor.id}/{step}"))
    accounts.set_user_active(vendor.id, False, _actor(admin))
    for step in ("browsers/forget", "sign-out"):
        refused = office.post(f"/console/users/{vendor.id}/{step}")
        assert refused.status_code == 302, step
        assert ASKED not in _page(refused)
        page = _page(office.get(refused.headers["Location"]))
        assert "deactivated" in page, step


def test_withdrawing_an_application_decided_meanwhile_is_refused_before_asking(
    app: Flask,
    signed_in: Any,
    vendor: User,
    apply: Any,  # noqa: F811 - the fixture
) -> None:
    application: Application = apply(vendor, AUTO_USE)  # approved at submission
    assert application.state == "approved"
    browser = signed_in(app.test_client(), vendor)
    page = _not_asked(browser.post(f"/portal/applications/{application.id}/withdraw"), 409)
    assert "withdraw" in page
    db.session().refresh(application)
    assert application.state == "approved"


def test_unassigning_a_decided_application_is_refused_before_asking(
    app: Flask,
    signed_in: Any,
    vendor: User,
    licensing_staff: User,
    apply: Any,  # noqa: F811 - the fixture
) -> None:
    application: Application = apply(vendor, AUTO_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    refused = staff.post(
        "/console/applications/assign",
        data={"application_ids": str(application.id), "assignee_id": "nobody"},
    )
    page = _not_asked(refused, 422)
    assert f"{application.reference} is decided; there is nothing to assign." in page


def test_terminating_an_agreement_terminated_meanwhile_is_refused_before_asking(
    app: Flask,
    signed_in: Any,
    vendor: User,
    licensing_staff: User,
    example_card: str,  # noqa: F811 - the fixture
) -> None:
    agreement: Agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/agreements/{agreement.id}/terminate"
    assert ASKED in _page(staff.post(url, data={"reason": "Breach of clause 4."}))
    agreements.terminate(agreement.id, "Breach of clause 4.", _actor(licensing_staff))
    _not_asked(staff.post(url, data={"reason": "Breach of clause 4."}), 409)
    db.session().refresh(agreement)
    assert agreement.state == "terminated"
