"""The staff console's home lists each queue the viewer may open, with counts,
what needs attention and the oldest item; staff land there after signing in."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.agreements.models import Application
from licensing.web.console import summaries
from tests.integration.agreements.conftest import STAFF_USE
from tests.support import factories


def _row(html: str, title: str) -> str:
    found = re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{re.escape(title)}</a>.*?</tr>", html, re.S)
    assert found, f"no row for {title!r}"
    return found.group(0)


def test_staff_land_on_the_console_home_and_see_waiting_applications(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    apply: Callable[..., Application],
    vendor: Any,
) -> None:
    apply(vendor, STAFF_USE)
    apply(vendor, STAFF_USE)
    staff = factories.make_staff(db.session(), roles=("licensing",))
    response = client.post(
        "/sign-in", data={"email": staff.email, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.headers["Location"].endswith("/console/")
    html = client.get("/console/").get_data(as_text=True)
    row = _row(html, "Applications awaiting review")
    assert '<td class="num">2</td>' in row
    assert "2 unassigned" in row
    # The outbox is the admins': its page would refuse this viewer.
    assert "Email waiting to be sent" not in html


def test_every_summary_reports_its_oldest_item_as_an_aware_time(
    app: Flask, apply: Callable[..., Application], vendor: Any
) -> None:
    apply(vendor, STAFF_USE)
    staff = factories.make_staff(db.session(), roles=("licensing", "billing", "admin"))
    with app.test_request_context():
        found = summaries(db.session(), accounts.principal_for(staff), db.utcnow())
    titles = [summary.title for summary in found]
    assert "Applications awaiting review" in titles
    assert "Overdue invoices" in titles
    assert "Educational permission requests with the office" in titles
    assert "Email waiting to be sent" in titles
    waiting = next(s for s in found if s.title == "Applications awaiting review")
    assert isinstance(waiting.oldest, datetime)
    assert waiting.oldest.tzinfo is not None


def test_a_vendor_cannot_open_the_console_home(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], vendor: Any
) -> None:
    assert signed_in(client, vendor).get("/console/").status_code == 403
