"""Round 59 (asof59): the permission metrics' median days from submission to decision
measured a confirmed correction from its own confirmation, while its service level
counts from the request it corrects (attention59): the lecturer who corrected her
audience four days in and was decided six days later had waited ten days, not six.
The median now counts from the first confirmation a correction stands for; a
correction of a request decided meanwhile stands alone, on its own clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    last_mail,
    link_in,
    request_fields,
    send_correction,
)

Submit = Callable[..., tuple[PermissionRequest, str]]
EMAIL = "lena.ortiz@cedar-ridge.example"
MONDAY = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def _correct_as_lena(client: FlaskClient, token: str) -> PermissionRequest:
    return send_correction(client, token, EMAIL)


def _at(day: int) -> Any:
    return time_machine.travel(datetime(2026, 11, day, 15, 0, tzinfo=UTC), tick=False)


def _median_on(day: int) -> Decimal | None:
    moment = datetime(2026, 11, day, 15, 0, tzinfo=UTC)
    return services.metrics(db.session(), now=moment).median_days_to_decision


def test_a_correction_decided_is_measured_from_the_request_it_corrects(
    client: FlaskClient, submit: Submit
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        _first, token = submit()
    with _at(6):  # four days in, the requester corrects her audience
        correction = _correct_as_lena(client, token)
    with _at(12):
        services.approve(correction.id, OFFICE)
    # Monday the 2nd to Thursday the 12th: ten days, not the six since the correction.
    assert _median_on(12) == Decimal("10.0")


def test_a_correction_of_a_correction_is_measured_from_the_first_request(
    client: FlaskClient, submit: Submit
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        _first, token = submit()
    with _at(4):
        second = _correct_as_lena(client, token)
    with _at(6):
        third = _correct_as_lena(client, services.status_token(second))
    with _at(9):
        services.deny(third.id, "Not for this course.", OFFICE)
    assert _median_on(9) == Decimal("7.0")


def test_a_correction_of_a_request_decided_meanwhile_keeps_its_own_clock(
    client: FlaskClient, submit: Submit
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        first, token = submit()
    with _at(3):  # the correction sent, then the first decided before it is confirmed
        page = client.get(f"/permissions/request?again={token}").get_data(as_text=True)
        hidden = re.search(r'name="corrects" type="hidden" value="([^"]*)"', page)
        assert hidden is not None
        client.post(
            "/permissions/request",
            data=request_fields(audience_size="90", corrects=hidden.group(1)),
        )
        confirm = link_in(last_mail(EMAIL), "/permissions/confirm/")
        services.approve(first.id, OFFICE)  # decided after one day
    with _at(4):
        client.get(confirm)
        db.session().expire_all()
        correction = (
            db.session()
            .scalars(select(PermissionRequest).order_by(PermissionRequest.id.desc()))
            .first()
        )
    assert correction.corrects_id == first.id
    with _at(9):
        services.approve(correction.id, OFFICE)
    # The first took 1 day; the correction, on its own clock, 5: the median of 1 and 5.
    assert _median_on(9) == Decimal("3.0")
