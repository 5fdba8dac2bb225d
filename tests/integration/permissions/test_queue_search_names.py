"""Round 52: the permission queue's search (the console's and the API's `q`) compared
the requester's name, the institution and the requester's account's name with the
database's `lower()`, which folds ASCII letters only (SQLite, and PostgreSQL under the
C locale): "école" did not find *ÉCOLE normale supérieure*, nor "istanbul" *İstanbul
Üniversitesi*, nor a Greek name typed in capitals (written without accents) the name.
The request keeps both names' keys (`requester_name_key`, `institution_key`: `name_key`,
migration `permissions_0005`); the requester's account is searched by its own key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.permissions import queries
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import requested_by
from tests.support import factories

Submit = Callable[..., tuple[PermissionRequest, str]]


def _found(search: str) -> list[str]:
    rows = queries.queue_requests(
        db.session(), queries.QueueFilter(search=search), None, datetime.now(UTC)
    )
    return sorted(row.reference for row in rows)


def test_the_queue_finds_a_requester_and_an_institution_in_any_case_and_script(
    app: Flask, submit: Submit
) -> None:
    ecole, _ = submit(requester_name="Σοφία Παπαδοπούλου", institution="ÉCOLE normale supérieure")
    istanbul, _ = submit(requester_name="JANA MÜLLER", institution="İstanbul Üniversitesi")
    other, _ = submit()
    # Before round 52 each found nothing: lower("ÉCOLE") is "École", and so on.
    assert _found("école") == [ecole.reference]
    assert _found("ΠΑΠΑΔΟΠΟΥΛΟΥ") == [ecole.reference]
    assert _found("istanbul") == [istanbul.reference]
    assert _found("müller") == [istanbul.reference]
    assert _found("cedar ridge") == [other.reference]
    # `%` and `_` are letters, not wildcards, in the names.
    assert _found("m_ller") == []


def test_the_queue_finds_a_requester_by_their_accounts_name_now_in_any_case(
    app: Flask, vendor: User
) -> None:
    request = requested_by(vendor)
    with db.transaction() as session:
        found = session.get(User, vendor.id)
        assert found is not None
        found.full_name = "ÖZGÜR Şahin"
    assert _found("özgür") == [request.reference]


def test_the_consoles_and_the_apis_queue_search_so(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    school, _ = submit(institution="ÉCOLE normale supérieure")
    submit()
    client = signed_in(app.test_client(), licensing_staff)
    page = client.get("/console/permissions/", query_string={"q": "école normale"})
    assert school.reference in page.get_data(as_text=True)
    assert "Cedar Ridge" not in page.get_data(as_text=True)
    listed = client.get(
        "/api/v1/permission-requests",
        query_string={"q": "école normale"},
        headers=factories.bearer(licensing_staff),
    ).get_json()
    assert [item["reference"] for item in listed] == [school.reference]


def test_the_keys_follow_the_names(app: Flask, submit: Submit) -> None:
    request, _ = submit()
    with db.transaction() as session:
        found = session.get(PermissionRequest, request.id)
        assert found is not None
        found.institution = "İstanbul Üniversitesi"
    keys = db.session().execute(
        select(PermissionRequest.requester_name_key, PermissionRequest.institution_key).where(
            PermissionRequest.id == request.id
        )
    )
    assert keys.one() == ("lena ortiz", "istanbul üniversitesi")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite's plan
def test_the_queue_search_still_goes_to_the_state_by_its_index(app: Flask) -> None:
    """The queue of one state searched by name still finds the state's requests by
    `ix_permission_requests_state_sla_due_at`, as it did with `lower()`."""
    statement = queries.queue_query(
        queries.QueueFilter(state="submitted", search="école"), None, datetime.now(UTC)
    )
    connection = db.session().connection()
    sql = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(str(row[3]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "USING INDEX ix_permission_requests_state_sla_due_at (state=?)" in plan, plan


def test_the_queue_finds_the_content_requested_in_any_case_and_script(
    app: Flask, submit: Submit
) -> None:
    """Round 53: the content requested was searched with the database's `lower()`,
    ASCII letters alone: "ÜBERSETZUNG" did not find a request for an *Übersetzung*.
    Any case of its letters finds it, bounded as the audit log's filter is."""
    german, _ = submit(content_requested="Die Übersetzung der Leitlinien für Kurse.")
    other, _ = submit()
    for typed in ("übersetzung", "ÜBERSETZUNG", "üBERSETZUNG", "LEITLINIEN FÜR"):
        assert _found(typed) == [german.reference], typed
    assert other.reference not in _found("übersetzung")
    # `%` and `_` are letters in the content and the reference too.
    assert _found("%bersetzung") == []
    assert _found("PR_") == []
