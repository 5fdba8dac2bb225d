"""Withdrawing an application from the portal asks first: nothing changes until the
vendor confirms on the page that says what withdrawing means."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import STAFF_USE


def test_withdrawing_an_application_asks_first_and_changes_nothing_until_confirmed(
    app: Flask,
    vendor: Any,
    apply: Callable[..., Application],
    signed_in: Callable[..., FlaskClient],
) -> None:
    application = apply(vendor, STAFF_USE)
    client = signed_in(app.test_client(), vendor)
    url = f"/portal/applications/{application.id}/withdraw"
    asked = client.post(url)
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert f"Withdraw application {application.reference}?" in page
    assert "cannot be submitted again" in page
    # The way back returns to the button pressed (round 61).
    back = f"/portal/applications/{application.id}#withdraw-application"
    assert f'href="{back}">Keep the application</a>' in page
    db.session().refresh(application)
    assert application.state == "submitted"
    done = client.post(url, data={"confirmed": "yes"})
    assert done.status_code == 302
    db.session().refresh(application)
    assert application.state == "withdrawn"


def test_another_organizations_application_cannot_be_asked_about(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    apply: Callable[..., Application],
    signed_in: Callable[..., FlaskClient],
) -> None:
    application = apply(vendor, STAFF_USE)
    client = signed_in(app.test_client(), other_vendor)
    assert client.post(f"/portal/applications/{application.id}/withdraw").status_code == 404
