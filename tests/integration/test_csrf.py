"""Every page form that changes something needs its CSRF token: posted without
one, as a signed-in vendor or admin, it is refused (400) and nothing is stored.
The walk covers every POST route of the URL map, so a new form is held to it
(the API reads only bearer tokens, Stripe signs its webhooks, and the price
estimator stores nothing: those are the exemptions, listed below)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.extensions import csrf
from licensing.mail.models import OutboxMessage
from tests.support.factories import DEFAULT_PASSWORD

# Posted without a token these answer at once, by design: the estimator's view,
# and the blueprints of the API (bearer tokens) and of Stripe's webhook (signed).
EXEMPT_VIEWS = {"licensing.agreements.estimator.estimate"}


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"overrides": {}}  # CSRF on, as in production


def _signed_in(app: Flask, user: Any) -> FlaskClient:
    g.pop("csrf_token", None)  # the test's app context outlives each request
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/sign-in",
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token.group(1)},
    )
    assert answer.status_code == 302
    return client


def _stored() -> tuple[int, int]:
    session = db.session()
    return (
        session.scalar(select(func.count(AuditEvent.id))) or 0,
        session.scalar(select(func.count(OutboxMessage.id))) or 0,
    )


def test_only_the_api_the_webhook_and_the_estimator_go_without_a_csrf_token(app: Flask) -> None:
    assert csrf._exempt_views == EXEMPT_VIEWS
    exempt = {blueprint.name for blueprint in csrf._exempt_blueprints}
    assert exempt
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] in exempt:
            assert rule.rule.startswith(("/api/", "/webhooks/")), rule.rule


def test_every_page_post_without_its_token_is_refused_and_stores_nothing(
    app: Flask, vendor: Any, admin: Any
) -> None:
    clients = [_signed_in(app, vendor), _signed_in(app, admin)]
    before = _stored()
    refused = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.rule.startswith(("/api/", "/webhooks/")):
            continue
        view = app.view_functions[rule.endpoint]
        if f"{view.__module__}.{view.__name__}" in EXEMPT_VIEWS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)
        for client in clients:
            answer = client.post(
                path, data={"name": "x", "email": "x@bluefin.example", "reason": "r", "note": "n"}
            )
            assert answer.status_code == 400, (path, answer.status_code)
            refused += 1
    assert refused > 100
    assert _stored() == before
