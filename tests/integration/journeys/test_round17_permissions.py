"""Round 17: the permissions staff queue finds the grants that are ending."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import calendar, db
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    last_mail,
    submit,  # noqa: F401 - the fixture
)
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer

Submit = Callable[..., tuple[PermissionRequest, str]]


def _granted(make: Submit, until: date, name: str) -> PermissionRequest:
    request, _token = make(requester_name=name)
    services.approve(
        request.id,
        OFFICE,
        valid_from=until - timedelta(days=300),
        valid_until=until,
        now=utcnow() - timedelta(days=30),  # decided a month ago
    )
    return request


def test_staff_find_the_grants_ending_within_60_days_in_the_queue_and_the_api(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The queue listed open requests and any state, but nothing said when a grant
    # ended, and no filter found those ending: staff could not follow them up.
    today = calendar.office_date(utcnow())
    later = _granted(submit, today + timedelta(days=45), "Ana Brooks")
    sooner = _granted(submit, today + timedelta(days=10), "Ben Okafor")
    far = _granted(submit, today + timedelta(days=200), "Cy Duarte")
    ended = _granted(submit, today - timedelta(days=1), "Di Fenn")
    waiting, _ = submit(requester_name="Eve Gray")
    client = signed_in(app.test_client(), licensing_staff)

    page = html.unescape(client.get("/console/permissions/?ending=1").get_data(as_text=True))
    assert "Grants ending within 60 days" in page
    assert '<th scope="col">Valid until</th>' in page
    assert 'id="ending" name="ending" value="1" checked' in page
    listed = [r.reference for r in (sooner, later, far, ended, waiting) if r.reference in page]
    assert listed == [sooner.reference, later.reference]
    assert page.index(sooner.reference) < page.index(later.reference)  # soonest first
    assert (today + timedelta(days=10)).isoformat() in page

    # Every grant shows its last day in the queue's "Valid until" column.
    every = client.get("/console/permissions/?state=approved").get_data(as_text=True)
    assert (today + timedelta(days=200)).isoformat() in every

    answer = client.get("/api/v1/permission-requests?ending=true", headers=bearer(licensing_staff))
    assert answer.status_code == 200
    assert [item["reference"] for item in answer.get_json()] == [
        sooner.reference,
        later.reference,
    ]


def test_the_audience_reads_the_same_on_the_pages_the_email_and_the_letter(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The status page said "Audience 1200" while the letter said "an audience of
    # up to 1,200", and the decision email did not say it at all.
    request, token = submit(audience_size=1200)
    services.approve(request.id, OFFICE)
    status = html.unescape(app.test_client().get(f"/permissions/status/{token}").get_data(True))
    assert "<dt>Audience</dt><dd>up to 1,200</dd>" in status
    staff = signed_in(app.test_client(), licensing_staff)
    console = html.unescape(staff.get(f"/console/permissions/{request.id}").get_data(True))
    assert "<dt>Audience</dt><dd>up to 1,200</dd>" in console
    assert "Audience: up to 1,200\n" in last_mail(request.requester_email).body_text
    stored = db.session().get(PermissionRequest, request.id)
    assert stored is not None
    assert "Audience up to 1,200" in " ".join(pdf_text(stored_pdf(stored.letters[-1])).split())
