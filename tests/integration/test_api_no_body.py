"""A route that declares no body schema refuses a body with fields (round 42).

Round 40 made the sign-out steps refuse `{"everywhere": true}`; every other
route without a body schema (a withdrawal, an unlock, an invoice's finalization,
a token's revocation...) took any body and ignored it, as if it had been
understood. The routes are found from the app's URL map and held to the OpenAPI
document (no `requestBody`), not listed by hand, so a route added without a body
schema is walked too."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import access, db
from licensing.accounts import services as accounts
from licensing.agreements.models import Application
from licensing.api.base import ANY_BODY, API_PREFIX, BODY_ATTRIBUTE, BODY_METHODS
from licensing.db import Base
from tests.integration.agreements.conftest import (
    STAFF_USE,
    apply,  # noqa: F401 - the fixture
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.factories import bearer
from tests.support.openapi import served_document

PROBLEM = "application/problem+json"
Apply = Callable[..., Application]


def _bodyless_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of each API route sent a body by its method whose
    view declares no body schema and reads no body of its own, from the URL map."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        apidoc = getattr(view, "_apidoc", {})
        takes_json = any(
            parameter.get("in") == "json"
            for parameter in apidoc.get("arguments", {}).get("parameters", [])
        ) or "requestBody" in apidoc.get("manual_doc", {})
        if getattr(view, BODY_ATTRIBUTE, None) == ANY_BODY:
            # `POST /tokens` refuses every caller (403, where tokens are made), whatever
            # the body: held to that below.
            continue
        for method in sorted((rule.methods or set()) & BODY_METHODS):
            if not takes_json:
                found.append((method, rule.rule, rule.endpoint))
    return found


def test_only_the_route_that_refuses_everyone_leaves_its_body_unread(
    app: Flask, client: FlaskClient, vendor: Any
) -> None:
    unread = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if getattr(app.view_functions[rule.endpoint], BODY_ATTRIBUTE, None) == ANY_BODY
    ]
    assert unread == ["/api/v1/tokens"]
    refused = client.post("/api/v1/tokens", json={"name": "spare"}, headers=bearer(vendor))
    assert refused.status_code == 403  # where tokens are made, not "Unknown field."


def _arguments(rule: str) -> list[str]:
    return [part.split(":")[-1].split(">")[0] for part in rule.split("<")[1:]]


def _rows() -> dict[str, int]:
    session = db.session()
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture
def callers(app: Flask, vendor: Any) -> list[Any]:
    everything = factories.make_staff(db.session(), roles=("admin", "licensing", "billing"))
    return [vendor, everything]


def test_every_route_without_a_body_schema_is_found_and_is_documented_without_a_body(
    app: Flask, client: FlaskClient
) -> None:
    routes = _bodyless_routes(app)
    found = {(method.lower(), rule) for method, rule, _ in routes}
    # The walk below is not empty: the routes round 40 left and those like them.
    assert {
        ("post", "/api/v1/applications/<int:application_id>/withdraw"),
        ("post", "/api/v1/users/<int:user_id>/unlock"),
        ("post", "/api/v1/users/<int:user_id>/sign-out"),
        ("post", "/api/v1/invoices/<int:invoice_id>/finalize"),
        ("delete", "/api/v1/tokens/<int:token_id>"),
    } <= found
    document = served_document(client)
    without_body = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method, path) == ("post", "/api/v1/tokens"):
                continue  # refuses every caller whatever is sent (below)
            if method.upper() in BODY_METHODS and "requestBody" not in operation:
                without_body.add((method, path))
                assert "a body with fields" in operation["responses"]["422"]["description"]
    openapi = {
        (method, rule.replace("<int:", "<").replace("<", "{").replace(">", "}"))
        for method, rule in found
    }
    assert openapi == without_body


def test_every_route_without_a_body_schema_refuses_a_body_with_fields_and_stores_nothing(
    app: Flask, client: FlaskClient, callers: list[Any]
) -> None:
    reached: list[str] = []

    def tripwire(endpoint: str, view: Any) -> Any:
        @wraps(view)
        def reached_view(*args: Any, **kwargs: Any) -> Any:
            reached.append(endpoint)
            return "", 204

        return reached_view

    routes = _bodyless_routes(app)
    for _, _, endpoint in routes:
        app.view_functions[endpoint] = tripwire(endpoint, app.view_functions[endpoint])
    adapter = app.url_map.bind("localhost")
    headers = [(user, bearer(user)) for user in callers]  # each token made before counting
    before = _rows()
    refused = {}
    for method, rule, endpoint in routes:
        declaration = access.declaration_for(app, endpoint)
        assert declaration is not None
        sent = next(
            header for user, header in headers if declaration.admits(accounts.principal_for(user))
        )
        arguments = {name: 1 if f"<int:{name}>" in rule else "x" for name in _arguments(rule)}
        url = adapter.build(endpoint, arguments, method=method)
        answer = client.open(url, method=method, headers=sent, json={"reason": "x"})
        refused[f"{method} {rule}"] = (
            answer.status_code,
            answer.mimetype,
            (answer.get_json() or {}).get("errors"),
        )
        for other in (None, {}):
            taken = client.open(url, method=method, headers=sent, json=other)
            assert taken.status_code == 204, (method, rule, other, taken.get_json())
    assert refused == {name: (422, PROBLEM, {"reason": ["Unknown field."]}) for name in refused}
    assert len(reached) == 2 * len(routes)  # `{}` and no body reach the view; a field never
    assert _rows() == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ('{"a": 1, "b": 2}', {"a": ["Unknown field."], "b": ["Unknown field."]}),
        ("[]", {"_body": ["Invalid input type."]}),
        ('"x"', {"_body": ["Invalid input type."]}),
        ("null", {"_body": ["Invalid input type."]}),
    ],
)
def test_a_withdrawal_refuses_what_a_body_schema_refuses_and_withdraws_nothing(
    client: FlaskClient,
    apply: Apply,  # noqa: F811 - the fixture imported above
    vendor: Any,
    body: str,
    errors: dict[str, list[str]],
) -> None:
    application = apply(vendor, STAFF_USE)
    path = f"/api/v1/applications/{application.id}/withdraw"
    sent = bearer(vendor)
    before = _rows()

    answer = client.post(path, headers=sent, data=body, content_type="application/json")

    assert answer.status_code == 422
    assert answer.mimetype == PROBLEM
    assert answer.get_json()["errors"] == errors
    assert _rows() == before
    assert db.session().get(Application, application.id).state != "withdrawn"
    withdrawn = client.post(path, headers=sent, json={})
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert withdrawn.get_json()["state"] == "withdrawn"
