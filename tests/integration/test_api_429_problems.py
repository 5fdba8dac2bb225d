"""Every API route's 429 is a problem document with `Retry-After` (round 33).
`POST /api/v1/permission-requests` shares the sign-in budget with the public form,
whose 429 keeps the form as sent (`on_breach`); round 30 left it named as "the plain
429". Walked in round 33, it was already the problem handler's; these tests hold it
there, and every other limited API route with it, by the URL map."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_limiter.util import get_qualified_name

from licensing.extensions import is_rate_limited, limiter
from tests.integration.permissions.conftest import request_fields
from tests.support.openapi import resolved, served_document


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"auth_rate_limit": "1 per minute"}


def _body() -> dict[str, Any]:
    return {**request_fields(), "audience_size": 45, "noncommercial": True}


def test_a_permission_request_over_the_limit_is_a_problem_with_retry_after(
    client: FlaskClient,
) -> None:
    assert client.post("/api/v1/permission-requests", json=_body()).status_code == 201
    refused = client.post("/api/v1/permission-requests", json=_body())
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["status"] == 429
    seconds = int(refused.headers["Retry-After"])
    assert 0 < seconds <= 60
    assert f"{seconds} second" in problem["detail"]


def test_a_permission_request_after_the_form_used_the_shared_budget_is_a_problem_too(
    client: FlaskClient,
) -> None:
    """The page's 429 keeps the form as sent; the API's, sharing the budget, does not."""
    assert client.post("/permissions/request", data=request_fields()).status_code in (200, 302)
    refused = client.post("/api/v1/permission-requests", json=_body())
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert "Retry-After" in refused.headers
    page = client.post("/permissions/request", data=request_fields())
    assert page.status_code == 429
    assert page.mimetype == "text/html"


# --- every API route with a limit on it, by the URL map --------------------------------


def _limited_api_routes(app: Flask) -> list[tuple[str, str, Any]]:
    return [
        (rule.rule, method, app.view_functions[rule.endpoint])
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and is_rate_limited(app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def test_no_api_route_answers_its_429_with_a_page_of_its_own(app: Flask) -> None:
    """A limit with `on_breach` answers with the view's own response (the public
    form's page); on the API every 429 is the problem handler's."""
    routes = _limited_api_routes(app)
    assert any(path == "/api/v1/permission-requests" for path, _, _ in routes)
    own = [
        path
        for path, _, view in routes
        for limit in limiter.limit_manager.decorated_limits(get_qualified_name(view))
        if limit.on_breach is not None
    ]
    assert own == []


def test_every_limited_api_operation_documents_a_problem_429_with_retry_after(
    app: Flask, client: FlaskClient
) -> None:
    document = served_document(client)
    missing = []
    for path, method, _ in _limited_api_routes(app):
        documented = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        operation = document["paths"][documented][method.lower()]
        answer = resolved(document, operation["responses"].get("429", {}))
        if "application/problem+json" not in answer.get("content", {}) or (
            "Retry-After" not in answer.get("headers", {})
        ):
            missing.append(f"{method} {path}")
    assert missing == []
