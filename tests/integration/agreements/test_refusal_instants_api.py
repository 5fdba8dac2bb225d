"""An application's closed reconsideration window on the API: the detail says the
office's time, as the page does, and `deadline` gives the instant in ISO 8601 (round
33; docs/api.md "Changes to answers a client reads")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.calendar import instant_iso
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.support.factories import bearer


def test_a_closed_reconsideration_window_on_the_api_gives_its_deadline_in_iso_8601(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    """The detail says the office's time, as the page does; `deadline` is the instant."""
    application = apply(vendor, STAFF_USE)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    rejected = services.reject(application.id, "Revenue not evidenced", staff, now=NOW)
    assert rejected.reconsider_by is not None
    with time_machine.travel(rejected.reconsider_by + timedelta(seconds=1), tick=False):
        answer = client.post(
            f"/api/v1/applications/{application.id}/reconsideration",
            json={"reason": "Too late"},
            headers=bearer(vendor),
        )
    assert answer.status_code == 409
    problem = answer.get_json()
    assert problem["deadline"] == instant_iso(rejected.reconsider_by)
    assert "(US Central time)" in problem["detail"]
