"""Round 3: pages give the moment something happened at the office, with the zone
named, as they give deadlines; exports and the API keep UTC (ISO 8601)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import time_machine
from flask import Flask

from licensing.actors import Actor
from licensing.permissions import services
from tests.integration.permissions.conftest import (
    submit,  # noqa: F401 - the fixture
)
from tests.support.factories import bearer

# 03:30 UTC on the 17th is 21:30 on the 16th at the office (US Central, CST).
MOMENT = datetime(2026, 11, 17, 3, 30, tzinfo=UTC)
AT_THE_OFFICE = "November 16, 2026 at 9:30 PM (US Central time)"
# A table's column of instants keeps them as machines sort them (round 57).
IN_A_TABLE = "2026-11-16 21:30 (US Central time)"


def test_submitted_message_and_history_times_read_at_the_office_not_in_utc(
    licensing_staff: Any,
    submit: Any,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    with time_machine.travel(MOMENT, tick=False):
        request, token = submit()
        services.ask_for_info(request.id, "Which course is it for?", Actor.SYSTEM)
    staff = signed_in(app.test_client(), licensing_staff)
    detail = staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    public = app.test_client().get(f"/permissions/status/{token}").get_data(as_text=True)
    for page in (detail, public):
        # Round 57: in words, the instant in UTC beside them for machines.
        assert (
            '<dt>Submitted</dt><dd><time datetime="2026-11-17T03:30:00+00:00">'
            f"{AT_THE_OFFICE}</time></dd>"
        ) in page
        assert f"{AT_THE_OFFICE}</time> · " in page  # the question's time
        assert "03:30 UTC" not in page
    history = detail.split('id="history"', 1)[1]
    assert f"<td>{IN_A_TABLE}</td>" in history


def test_the_api_still_gives_the_instant_in_utc(
    licensing_staff: Any,
    submit: Any,  # noqa: F811
    app: Flask,
) -> None:
    with time_machine.travel(MOMENT, tick=False):
        request, _token = submit()
    answer = app.test_client().get(
        f"/api/v1/permission-requests/{request.id}", headers=bearer(licensing_staff)
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["submitted_at"].startswith("2026-11-17T03:30:00")
