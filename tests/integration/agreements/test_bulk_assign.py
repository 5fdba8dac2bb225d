"""Issue 15, item 16: the application queue assigns several applications at once,
all of them or none, each audited, with the queue's filters kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.agreements.models import Application
from licensing.audit.models import AuditEvent
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE

FILTERS = "q=Fernhill&state=submitted&sort=oldest"


def _assignees(*applications: Application) -> list[int | None]:
    session = db.session()
    session.expire_all()
    ids = [application.id for application in applications]
    query = select(Application.id, Application.assignee_id).where(Application.id.in_(ids))
    current = dict(session.execute(query).all())
    return [current[number] for number in ids]


def _assigned_events(application: Application) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.action == "application.assigned",
                AuditEvent.entity_id == str(application.id),
            )
        )
    )


def _post(client: FlaskClient, ids: list[int], assignee: str, **extra: str) -> Any:
    return client.post(
        "/console/applications/assign",
        data={
            "application_ids": [str(i) for i in ids],
            "assignee_id": assignee,
            "filters": FILTERS,
            **extra,
        },
    )


def test_several_applications_are_assigned_at_once_each_audited_and_the_filters_kept(
    staff: FlaskClient,
    licensing_staff: Any,
    vendor: Any,
    other_vendor: Any,
    apply: Callable[..., Application],
) -> None:
    first, second = apply(vendor, STAFF_USE), apply(other_vendor, STAFF_USE)
    response = _post(staff, [first.id, second.id], str(licensing_staff.id))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/console/applications?{FILTERS}"
    assert _assignees(first, second) == [licensing_staff.id, licensing_staff.id]
    for application in (first, second):
        [event] = _assigned_events(application)
        assert json.loads(event.after or "{}") == {"assignee_id": licensing_staff.id}
    assert "2 applications assigned." in staff.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_a_decided_application_among_them_assigns_none_and_is_named(
    staff: FlaskClient,
    licensing_staff: Any,
    vendor: Any,
    apply: Callable[..., Application],
) -> None:
    waiting = apply(vendor, STAFF_USE)
    decided = apply(vendor, AUTO_USE)  # approved on submission
    assert decided.state not in ("submitted", "in_review")
    response = _post(staff, [waiting.id, decided.id], str(licensing_staff.id))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"{decided.reference} is decided; there is nothing to assign." in page
    assert f'value="{waiting.id}" aria-label="Select {waiting.reference}" checked' in page
    assert _assignees(waiting, decided) == [None, None]
    assert _assigned_events(waiting) == []


def test_an_application_that_does_not_exist_is_named_and_nothing_changes(
    staff: FlaskClient,
    licensing_staff: Any,
    vendor: Any,
    apply: Callable[..., Application],
) -> None:
    waiting = apply(vendor, STAFF_USE)
    response = _post(staff, [waiting.id, 987654], str(licensing_staff.id))
    assert response.status_code == 422
    assert "There is no application 987654." in response.get_data(as_text=True)
    assert _assignees(waiting) == [None]


def test_the_assignee_must_be_chosen_and_must_be_licensing_staff(
    staff: FlaskClient,
    licensing_staff: Any,
    billing_staff: Any,
    vendor: Any,
    apply: Callable[..., Application],
) -> None:
    waiting = apply(vendor, STAFF_USE)
    untouched = _post(staff, [waiting.id], "")
    assert untouched.status_code == 422
    assert "Choose who to assign the selected applications to." in untouched.get_data(as_text=True)
    billing = _post(staff, [waiting.id], str(billing_staff.id))
    assert billing.status_code == 422
    assert "Choose an active member of the licensing staff." in billing.get_data(as_text=True)
    none_selected = _post(staff, [], str(licensing_staff.id))
    assert none_selected.status_code == 422
    assert "Select at least one application." in none_selected.get_data(as_text=True)
    assert _assignees(waiting) == [None]


def test_unassigning_asks_for_confirmation_first(
    staff: FlaskClient,
    licensing_staff: Any,
    vendor: Any,
    apply: Callable[..., Application],
) -> None:
    first, second = apply(vendor, STAFF_USE), apply(vendor, STAFF_USE)
    _post(staff, [first.id, second.id], str(licensing_staff.id))
    asked = _post(staff, [first.id, second.id], "nobody")
    assert asked.status_code == 200
    assert "Unassign 2 applications?" in asked.get_data(as_text=True)
    assert _assignees(first, second) == [licensing_staff.id, licensing_staff.id]
    done = _post(staff, [first.id, second.id], "nobody", confirmed="yes")
    assert done.status_code == 302
    assert _assignees(first, second) == [None, None]
    assert [len(_assigned_events(a)) for a in (first, second)] == [2, 2]


def test_only_licensing_staff_may_assign_in_bulk(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
    billing_staff: Any,
    vendor: Any,
    apply: Callable[..., Application],
) -> None:
    waiting = apply(vendor, STAFF_USE)
    for outsider in (billing_staff, vendor):
        other = signed_in(client.application.test_client(), outsider)
        assert _post(other, [waiting.id], str(licensing_staff.id)).status_code in (403, 404)
    assert _assignees(waiting) == [None]
