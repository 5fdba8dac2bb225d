"""Round 53: a teacher's request and the office's queue walked again in Chromium
(`tests/browser/test_permissions_teacher_walk.py`); what the walk found, held here
over the test client and the real services."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, timedelta

from flask.testing import FlaskClient

from licensing import calendar
from licensing.db import utcnow
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    config_changes,  # noqa: F401 - the fixture (the form's rate limit off)
    count,
    request_fields,
)

Submit = Callable[..., tuple[PermissionRequest, str]]


def _one_line(text: str) -> str:
    return " ".join(html.unescape(text).split())


def _today() -> date:
    return calendar.office_date(utcnow())


def test_the_form_says_a_wrong_term_with_the_other_problems_in_one_sending(
    client: FlaskClient,
) -> None:
    # The days were checked only once every other field was right: a teacher who
    # typed "sixty" and swapped the days corrected the audience, sent the form again,
    # and only then read that the last day came before the first.
    today = _today()
    sent = client.post(
        "/permissions/request",
        data=request_fields(
            audience_size="sixty",
            use_from=(today + timedelta(days=50)).isoformat(),
            use_until=(today + timedelta(days=20)).isoformat(),
        ),
    )
    assert sent.status_code == 422
    page = _one_line(sent.get_data(as_text=True))
    assert "Give the audience size as a whole number." in page
    assert "The last day must be on or after the first day." in page
    assert 'id="use_until-error"' in page
    assert count(PermissionRequest) == 0


def test_a_first_day_gone_by_is_said_beside_a_missing_name(client: FlaskClient) -> None:
    today = _today()
    sent = client.post(
        "/permissions/request",
        data=request_fields(
            requester_name="",
            use_from=(today - timedelta(days=3)).isoformat(),
            use_until=(today + timedelta(days=20)).isoformat(),
        ),
    )
    assert sent.status_code == 422
    page = _one_line(sent.get_data(as_text=True))
    assert "The first day has passed" in page
    assert 'id="use_from-error"' in page
    assert 'id="requester_name-error"' in page
    assert count(PermissionRequest) == 0
