"""Assignee ids arrive as text from query strings and forms: anything but a
user id in range is ignored or refused with a message, never a server error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.agreements.models import Application
from tests.integration.agreements.conftest import STAFF_USE
from tests.support import factories

ODD_IDS = ("²", "١٢", "99999999999999999999", "-3", "")


@pytest.mark.parametrize("raw", ODD_IDS)
def test_the_queue_filters_ignore_an_assignee_that_is_not_an_id(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
    apply: Callable[..., Application],
    vendor: Any,
    raw: str,
) -> None:
    apply(vendor, STAFF_USE)
    headers = factories.bearer(licensing_staff)
    assert client.get(f"/api/v1/applications?assignee={raw}", headers=headers).status_code < 500
    page = signed_in(client, licensing_staff).get(f"/console/applications?assignee={raw}")
    if raw.isascii() and raw.isdigit():  # digits past the id range: an id of nobody,
        assert page.status_code == 422  # said beside the filter (round 8)
    else:
        assert page.status_code == 200


@pytest.mark.parametrize("raw", ODD_IDS)
def test_assigning_to_something_that_is_not_a_member_is_refused_with_a_message(
    staff: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    raw: str,
) -> None:
    application = apply(vendor, STAFF_USE)
    response = staff.post(
        f"/console/applications/{application.id}/assign", data={"assignee_id": raw}
    )
    assert response.status_code < 500
    assert staff.get(f"/console/applications/{application.id}").status_code == 200
