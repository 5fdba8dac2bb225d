"""Every route declares who may call it."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import access, db
from licensing.accounts.models import User
from tests.support import factories
from tests.support.factories import bearer


def test_every_route_in_the_url_map_declares_who_may_call_it(app: Flask) -> None:
    undeclared = sorted(
        f"{rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if access.declaration_for(app, rule.endpoint) is None
    )
    assert undeclared == []


def test_the_route_walk_notices_an_undeclared_route(app: Flask) -> None:
    app.add_url_rule("/_probe", "probe_without_declaration", lambda: "x")
    assert access.declaration_for(app, "probe_without_declaration") is None


def _example_path(rule: str) -> str:
    """The rule with every variable part filled in (`/users/<int:user_id>` -> `/users/1`)."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule)


def test_every_route_that_needs_a_caller_refuses_an_anonymous_one(app: Flask) -> None:
    """Pages send anonymous callers to sign in; the API answers 401 with a problem."""
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if declaration is None or declaration.public:
            continue
        path = _example_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            checked += 1
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.mimetype == "application/problem+json", (method, path)
            else:
                assert response.status_code == 302, (method, path, response.status_code)
                assert "/sign-in?next=" in response.headers["Location"], (method, path)
    assert checked > 0


def test_every_api_operation_that_needs_a_caller_documents_the_bearer_token(
    app: Flask,
) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    undocumented = []
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if not rule.rule.startswith("/api/") or declaration is None or declaration.public:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = document["paths"].get(path, {}).get(method.lower(), {})
            if {"bearerAuth": []} not in operation.get("security", []):
                undocumented.append(f"{method} {path}")
    assert undocumented == []


def test_every_route_for_an_organizations_administrators_refuses_its_members_naming_them(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Declared with `vendor=ADMINISTRATOR`: a member is refused (403) before the
    route runs, and told whom to ask, on the API (problem+json) and on pages."""
    member = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    api = app.test_client()
    headers = bearer(member)
    pages = signed_in(app.test_client(), member)
    administrators = f"{vendor.full_name} ({vendor.email})"
    refused = []
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if declaration is None or declaration.vendor_roles != {access.ADMINISTRATOR}:
            continue
        path = _example_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            on_api = rule.rule.startswith("/api/")
            response = (api if on_api else pages).open(
                path, method=method, headers=headers if on_api else {}
            )
            assert response.status_code == 403, (method, path, response.status_code)
            assert administrators in response.get_data(as_text=True), (method, path)
            refused.append(f"{method} {rule.rule}")
    assert len(refused) >= 10, refused
