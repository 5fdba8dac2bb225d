"""`allowed_actions` on applications and agreements is what the caller may do:
a vendor sees its own steps only; staff their role's (round 57: every step the
state allows before). Every state and role: `test_allowed_actions_by_role.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from licensing.agreements.models import Application
from tests.support.factories import bearer

from .conftest import STAFF_USE


def _actions(client: FlaskClient, url: str, user: Any) -> list[str]:
    answer = client.get(url, headers=bearer(user))
    assert answer.status_code == 200, answer.get_json()
    actions: list[str] = answer.get_json()["allowed_actions"]
    return actions


def test_a_vendor_sees_only_its_own_steps_on_a_submitted_application_and_staff_theirs(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    apply: Callable[..., Application],
) -> None:
    application = apply(vendor, STAFF_USE)
    url = f"/api/v1/applications/{application.id}"
    assert application.state == "submitted"
    assert _actions(client, url, vendor) == ["withdraw"]
    # Round 57: not the vendor's `withdraw` nor the service's `auto_approve`.
    assert _actions(client, url, licensing_staff) == ["approve", "reject", "return", "start_review"]


def test_a_vendor_may_submit_or_withdraw_its_draft(
    client: FlaskClient, vendor: Any, apply: Callable[..., Application]
) -> None:
    application = apply(vendor, submit=False)
    assert _actions(client, f"/api/v1/applications/{application.id}", vendor) == [
        "submit",
        "withdraw",
    ]


def test_a_vendor_sees_accept_on_an_issued_agreement_but_not_expire_or_terminate(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    apply: Callable[..., Application],
) -> None:
    application = apply(vendor)
    assert application.agreement is not None
    url = f"/api/v1/agreements/{application.agreement.id}"
    assert _actions(client, url, vendor) == ["accept"]
    # Round 56: `reissue` only once a correction replaced its card (round 55 listed
    # it for every issued agreement, the step then answering 409).
    # Round 57: licensing staff terminate; the vendor accepts and the service expires.
    assert _actions(client, url, licensing_staff) == ["terminate"]
