"""Round 42: what the API still takes silently, and one spelling of an instant.

A 401's `expired_at` was written `...Z` to the second, the token list's
`expires_at` `...+00:00` with its fraction: the same instant, two strings. Every
instant the API writes (answers and problem documents alike) is now ISO 8601 in
UTC with the zone `+00:00`, as marshmallow writes most of them
(`licensing.calendar.instant_iso`). The check reads each answer's date-time fields
from the OpenAPI document (`tests.support.openapi.date_times`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.clock import utcnow
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import requested_by
from tests.support import factories
from tests.support.factories import bearer
from tests.support.openapi import (
    INSTANT,
    answered_as_documented,
    date_times,
    resolved,
    served_document,
)

Apply = Callable[..., Application]
API = "/api/v1"


def _instants(document: dict[str, Any], route: str, answer: Any) -> list[tuple[str, str]]:
    operation = document["paths"][route]["get"]
    content = resolved(document, operation["responses"][str(answer.status_code)])["content"]
    schema = content[answer.mimetype]["schema"]
    return list(date_times(document, schema, answer.get_json()))


def test_every_instant_an_answer_or_problem_writes_is_spelt_one_way(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff = factories.make_staff(db.session(), roles=("admin", "licensing", "billing"))
    application = apply(vendor, STAFF_USE)
    services.assign(
        application.id, licensing_staff.id, Actor.of(accounts.principal_for(licensing_staff))
    )
    request = requested_by(vendor)
    # A token that expires (the tests' own never do), listed with its `expires_at`.
    accounts.create_api_token(vendor.id, "expiring", actor=Actor.SYSTEM, expires_in_days=90)
    document = served_document(client)
    read = {
        f"{API}/applications/{{application_id}}": f"{API}/applications/{application.id}",
        f"{API}/permission-requests/{{request_id}}": f"{API}/permission-requests/{request.id}",
    }
    # Every list the document has (no record in its path), and the records above.
    for route, item in document["paths"].items():
        if "get" in item and "{" not in route and "200" in item["get"]["responses"]:
            read.setdefault(route, route)
    seen: list[tuple[str, str]] = []
    for caller in (staff, vendor):
        headers = bearer(caller)
        for route, path in read.items():
            answer = client.get(path, headers=headers)
            if not answer.mimetype.endswith("json"):
                continue  # an export's CSV, the Swagger page
            answered_as_documented(document, "GET", route, answer)  # checks the spelling
            if answer.status_code == 200:
                seen += _instants(document, route, answer)
    names = {path.split(".")[-1] for path, _ in seen}
    # The walk read instants of every kind: records' own, a review clock's, a token's.
    assert {"created_at", "due_at", "clock_from", "expires_at", "occurred_at"} <= names
    assert all(INSTANT.fullmatch(value) for _, value in seen)


def test_a_401_names_the_instant_its_token_expired_as_the_token_list_wrote_it(
    client: FlaskClient, vendor: Any
) -> None:
    token, secret = accounts.create_api_token(
        vendor.id, "short-lived", actor=Actor.SYSTEM, expires_in_days=30
    )
    listed = client.get(f"{API}/tokens/{token.id}", headers=bearer(vendor)).get_json()
    assert INSTANT.fullmatch(listed["expires_at"])

    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        refused = client.get(f"{API}/invoices", headers={"Authorization": f"Bearer {secret}"})

    assert refused.status_code == 401
    assert refused.get_json()["expired_at"] == listed["expires_at"]  # was "...Z", unlike it
