"""Round 6: loose ends in decisions and letters (docs/journeys.md, "Round 6:
decisions and letters"). Each test failed before its fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.agreements.models import Application, QuoteVersion
from tests.integration.agreements.conftest import STAFF_USE
from tests.support.factories import bearer

Apply = Callable[..., Application]


def test_an_amount_posted_for_a_use_the_application_does_not_have_is_refused_on_the_form(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)  # one use
    staff = signed_in(app.test_client(), licensing_staff)
    # The browser's form has amount-0 only; a crafted post names use 4. It was
    # dropped unread and the application approved as quoted.
    answer = staff.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-3": "6000.00", "reason-3": "Agreed rate."},
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Use 4 is not a use of this application (it has 1 use)" in page
    assert 'id="amount-0"' in page  # the approval form again
    session = db.session()
    session.expire_all()
    assert session.get(Application, application.id).state == "submitted"
    versions = session.scalars(
        select(QuoteVersion).where(QuoteVersion.application_id == application.id)
    ).all()
    assert [version.kind for version in versions] == ["submitted"]


def test_the_api_refuses_an_amount_for_a_use_the_application_does_not_have(
    apply: Apply, vendor: Any, licensing_staff: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    answer = app.test_client().post(
        f"/api/v1/applications/{application.id}/approve",
        json={"lines": [{"line": 3, "amount": "6000.00", "reason": "Agreed rate."}]},
        headers=bearer(licensing_staff),
    )
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["errors"] == {
        "lines.0.line": ["Use 4 is not a use of this application (it has 1 use)."]
    }
    db.session().expire_all()
    assert db.session().get(Application, application.id).state == "submitted"
