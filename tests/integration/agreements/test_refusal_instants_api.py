"""An application's closed reconsideration window on the API: the detail says the
office's time, as the page does, and `deadline` gives the instant in ISO 8601 (round
33; docs/api.md "Changes to answers a client reads")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.calendar import instant_iso
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.support.factories import bearer

# What each late request sends: a resubmission, a request for reconsideration.
_BODIES = {
    "submit": {"attest": True, "response": "All of the United States."},
    "reconsideration": {"reason": "Too late"},
}


def _decided(
    apply: Callable[..., Application], vendor: Any, licensing_staff: Any, step: str
) -> Application:
    """A staff-reviewed application, returned for information or rejected at NOW."""
    application = apply(vendor, STAFF_USE)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    if step == "return":
        return services.return_for_information(application.id, "Which territories?", staff, now=NOW)
    return services.reject(application.id, "Revenue not evidenced", staff, now=NOW)


def _sent_late(
    client: FlaskClient, vendor: Any, application: Application, step: str, moment: datetime
) -> TestResponse:
    with time_machine.travel(moment, tick=False):
        return client.post(
            f"/api/v1/applications/{application.id}/{step}",
            json=_BODIES[step],
            headers=bearer(vendor),
        )


def test_a_closed_reconsideration_window_on_the_api_gives_its_deadline_in_iso_8601(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    """The detail says the office's time, as the page does; `deadline` is the instant."""
    rejected = _decided(apply, vendor, licensing_staff, "reject")
    assert rejected.reconsider_by is not None
    late = rejected.reconsider_by + timedelta(seconds=1)
    answer = _sent_late(client, vendor, rejected, "reconsideration", late)
    assert answer.status_code == 409
    problem = answer.get_json()
    assert problem["deadline"] == instant_iso(rejected.reconsider_by)
    assert "(US Central time)" in problem["detail"]


def test_a_passed_resubmission_deadline_on_the_api_gives_its_deadline_in_iso_8601(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    """Round 36: `deadline` was tested only through the problem writer. A returned
    application resubmitted through the API after its deadline is the 409 whose
    `deadline` is the stored `resubmit_by`, to the second, and nothing changes."""
    returned = _decided(apply, vendor, licensing_staff, "return")
    assert returned.resubmit_by is not None
    answer = _sent_late(
        client, vendor, returned, "submit", returned.resubmit_by + timedelta(seconds=1)
    )
    assert answer.status_code == 409, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["deadline"] == instant_iso(returned.resubmit_by)
    assert problem["deadline"].endswith("+00:00")  # round 42: was "Z"
    assert "passed at the end of" in problem["detail"]
    assert "(US Central time)" in problem["detail"]
    read = client.get(f"/api/v1/applications/{returned.id}", headers=bearer(vendor))
    assert read.get_json()["state"] == "returned"


def test_resubmitting_after_the_expiry_run_lapsed_it_still_gives_the_deadline(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    """Round 36, walked end to end: the hourly expiry run lapses a returned
    application soon after its deadline, so a late resubmission usually meets the
    lapsed state, not the deadline check. It says the same sentence and `deadline`,
    besides the state and what it allows."""
    returned = _decided(apply, vendor, licensing_staff, "return")
    assert returned.resubmit_by is not None
    late = returned.resubmit_by + timedelta(minutes=5)
    services.expire(now=late)
    answer = _sent_late(client, vendor, returned, "submit", late)
    assert answer.status_code == 409, answer.get_data(as_text=True)
    problem = answer.get_json()
    assert problem["state"] == "lapsed"
    assert problem["deadline"] == instant_iso(returned.resubmit_by)
    assert "passed at the end of" in problem["detail"]
    assert "Start a new application." in problem["detail"]


def test_a_reconsideration_window_closed_by_the_expiry_run_still_gives_its_deadline(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    """Round 36, as the lapsed resubmission: once the expiry run closed the window,
    the API's refusal still carries `deadline`, the rejection's 14 days."""
    rejected = _decided(apply, vendor, licensing_staff, "reject")
    assert rejected.reconsider_by is not None
    late = rejected.reconsider_by + timedelta(minutes=5)
    services.expire(now=late)
    answer = _sent_late(client, vendor, rejected, "reconsideration", late)
    assert answer.status_code == 409
    problem = answer.get_json()
    assert problem["deadline"] == instant_iso(rejected.reconsider_by)
    assert "the window was closed" in problem["detail"]
