"""Round 31: the API document tells every answer a route can give.

A developer generates a client from `/api/v1/openapi.json`; an answer the
document does not list reaches that client only as `default`, with nothing to
branch on. The rules below are derived from each route itself, not from a list
kept by hand:

- a body or query arguments: a 400 (a body that is not JSON, an argument given
  twice where it takes one value);
- a path argument: a 404 (nothing the caller may see has it);
- every operation: a 422 (each refuses a query argument it does not take);
- a view that can raise a domain error (read from its source and the sources of
  the functions it reaches: `tests/support/raising.py`): that error's status, a
  `Conflict` (a state machine's refusal included) a 409, `PermissionDenied` a 403,
  `ExternalServiceError` a 502... unless the route declares beside itself that it
  never gives it (`licensing.api.base.never_answers`, with why);
- a rate limit put on the route (the limiter's own record): a 429 with
  `Retry-After`;
- every operation (round 60): a 503 with `Retry-After`, for a request that lost to
  another's changes at the database every try, unless it declares it reads none;
- `@idempotent`: the `Idempotency-Key` header parameter, and its 409 and 422;
- needing a caller: a 401; restricted to some callers: a 403; public: a 401 for
  a token sent that is not valid, and a 403 for a read-only one sent to a write;
- every error: `application/problem+json` with the shared `Problem` schema.

The second half asks the routes: records that do not exist answer as documented.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from flask_smorest.spec.plugins import FlaskPlugin
from sqlalchemy import Engine, event

from licensing import access, db, problems
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.accounts.states import CLOSED
from licensing.actors import Actor
from licensing.api.base import (
    API_PREFIX,
    BODY_ATTRIBUTE,
    BODY_METHODS,
    NEVER_ANSWERS_ATTRIBUTE,
    NO_BODY,
    path_arguments,
)
from licensing.extensions import is_rate_limited
from tests.support import factories
from tests.support.openapi import resolved, served_document
from tests.support.raising import Raising

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# What a route that takes no body answers one sent anyway (`licensing.api._check_body`).
NO_BODY_ANSWERS = {
    400: "not JSON",
    413: "too large",
    415: "not application/json",
    422: "an object with fields, or no object",
}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


_document = served_document
_resolve = resolved


def _chain(view: Any) -> Iterator[Any]:
    """The view and every function it wraps (its decorators' wrappers)."""
    while view is not None:
        yield view
        view = getattr(view, "__wrapped__", None)


def _never_answers(view: Any) -> dict[int, str]:
    declared: dict[int, str] = {}
    for each in _chain(view):
        declared.update(getattr(each, NEVER_ANSWERS_ATTRIBUTE, {}))
    return declared


def _takes_idempotency_key(view: Any) -> bool:
    """Whether `@idempotent` (or its stepwise form) wraps the view: its wrapper's code."""
    return any(
        getattr(each, "__code__", None) is not None
        and each.__code__.co_qualname == "_keyed_route.<locals>.wrapper"
        for each in _chain(view)
    )


def _routes(app: Flask, document: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """Every API route and method the document lists (the documentation's own
    pages and assets are not API operations): (method, OpenAPI path, URL rule, view)."""
    for rule in app.url_map.iter_rules():
        path = FlaskPlugin.flaskpath2openapi(rule.rule)
        if not rule.rule.startswith(API_PREFIX) or path not in document["paths"]:
            continue
        for method in sorted((rule.methods or set()) & set(METHODS)):
            yield method, path, rule.rule, app.view_functions[rule.endpoint]


def _required(app: Flask, method: str, rule: str, view: Any, raising: Raising) -> dict[int, str]:
    """The statuses the route must document, each with the rule that asks for it."""
    required = {
        422: "every operation refuses a query argument it does not take",
        503: "every request may lose to other changes made at the same moment (round 60)",
    }
    if path_arguments(rule):
        required[404] = f"its path names a record ({', '.join(path_arguments(rule))})"
    for kind in raising.of(view):
        status = next((code for base, code in problems.STATUS_FOR if issubclass(kind, base)), 400)
        required.setdefault(status, f"its view can raise {kind.__name__}")
    if is_rate_limited(view):
        required[429] = "a rate limit is put on it"
    # Round 60: any operation reading the database may lose to another's changes.
    required[503] = "it reads the database, and may lose to another request's changes"
    declaration = access.declaration_for(app, view_endpoint(app, view))
    assert declaration is not None
    if not declaration.public:
        required[401] = "it needs a caller"
        if not declaration.any_user:
            required[403] = "only some callers may call it"
    else:
        required[401] = "a token sent to it is checked"
        if method not in access.SAFE_METHODS and not declaration.stores_nothing:
            required[403] = "a read-only token sent to it is refused its write"
    if _takes_idempotency_key(view):
        required[409] = required[422] = "it takes Idempotency-Key"
    for status in _never_answers(view):
        required.pop(status, None)
    return required


def view_endpoint(app: Flask, view: Any) -> str:
    return next(name for name, each in app.view_functions.items() if each is view)


def test_every_operation_documents_every_answer_its_route_can_give(
    app: Flask, client: FlaskClient
) -> None:
    # Before: `GET /organizations/{id}/statement` and most routes with an
    # id in their path listed no 404, `GET /me` and the lists without a filter no
    # 422, `POST /organizations/{id}/invitations` no 409 (a closed organization),
    # `GET /invoices/{id}/pdf` no 409 (a draft, for staff), the requester's
    # public links no 403 (an expired link), and the Idempotency-Key routes no
    # 409 or 422 of the key.
    document = _document(client)
    raising = Raising()
    missing, walked = [], 0
    for method, path, rule, view in _routes(app, document):
        operation = document["paths"][path][method.lower()]
        responses = operation["responses"]
        walked += 1
        required = _required(app, method, rule, view, raising)
        if "requestBody" in operation:
            required.setdefault(400, "it takes a body, which may not be JSON")
        elif getattr(view, BODY_ATTRIBUTE, None) == NO_BODY and method in BODY_METHODS:
            # Round 44: the body its method carries is read and refused like any other.
            for status, why in NO_BODY_ANSWERS.items():
                required.setdefault(status, f"it takes no body, and one sent may be {why}")
        if any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
            required.setdefault(400, "it takes query arguments, which may be given twice")
        for status, why in sorted(required.items()):
            if str(status) not in responses:
                missing.append(f"{method} {path}: no {status}, though {why}")
        for status, response in responses.items():
            if status == "default" or int(status) >= 400:
                content = _resolve(document, response).get("content")
                if content != PROBLEM:
                    missing.append(f"{method} {path}: its {status} is not a problem document")
        for status in ("429", "503"):
            headers = _resolve(document, responses.get(status, {})).get("headers", {})
            if status in responses and "Retry-After" not in headers:
                missing.append(f"{method} {path}: its {status} names no Retry-After")
        keyed = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        if _takes_idempotency_key(view) != bool(keyed):
            missing.append(f"{method} {path}: Idempotency-Key taken {_takes_idempotency_key(view)}")
        if keyed:
            assert keyed[0]["in"] == "header", path
            for status in ("409", "422"):
                described = _resolve(document, responses[status]).get("description", "")
                if "Idempotency-Key" not in described:
                    missing.append(f"{method} {path}: its {status} says nothing of the key")
    assert missing == [], "\n".join(missing)
    assert walked == sum(
        1 for item in document["paths"].values() for method in item if method.upper() in METHODS
    )


def test_the_rules_find_what_they_are_meant_to(app: Flask) -> None:
    """The derivations themselves: the source reading finds a state machine's
    refusal behind a table of steps, the limiter's record and the key's wrapper."""
    raising = Raising()
    document = _document(app.test_client())
    views = {(method, path): view for method, path, _rule, view in _routes(app, document)}
    review = views[("POST", "/api/v1/applications/{application_id}/return")]
    assert any(kind.__name__ == "IllegalTransition" for kind in raising.of(review))
    invite = views[("POST", "/api/v1/organizations/{organization_id}/invitations")]
    assert any(kind.__name__ == "Conflict" for kind in raising.of(invite))
    assert is_rate_limited(views[("POST", "/api/v1/quotes")])
    assert not is_rate_limited(views[("GET", "/api/v1/invoices/{invoice_id}")])
    assert _takes_idempotency_key(views[("POST", "/api/v1/payments/{payment_id}/accept")])
    assert not _takes_idempotency_key(views[("POST", "/api/v1/invoices/{invoice_id}/void")])
    assert inspect.isfunction(review)


def _nowhere(path: str) -> str:
    """`path` with a value no record has in each of its parameters."""
    path = path.replace("{period_start}", "2027-01-01").replace("{dataset}", "nothing")
    path = path.replace("{version}", "no-such-card").replace("{token}", "n" * 43)
    return re.sub(r"\{[a-z_]+\}", "2147480000", path)


def test_every_operation_on_a_record_that_does_not_exist_answers_as_documented(
    app: Flask, client: FlaskClient
) -> None:
    """Each route with a record in its path, asked by a caller it admits about one
    that does not exist: a 404 problem document its document lists (a route with a
    body may first refuse the empty body, its documented 422)."""
    document = _document(client)
    session = db.session()
    callers = {
        "admin": factories.bearer(factories.make_staff(session, roles=("admin",))),
        "vendor": factories.bearer(factories.make_vendor(session)),
    }
    wrong, walked = [], 0
    for method, path, rule, _view in _routes(app, document):
        if not path_arguments(rule):
            continue
        operation = document["paths"][path][method.lower()]
        url = _nowhere(path)
        body = {} if "requestBody" in operation else None
        response = client.open(url, method=method, json=body, headers=callers["admin"])
        if response.status_code == 403:
            response = client.open(url, method=method, json=body, headers=callers["vendor"])
        walked += 1
        status = response.status_code
        expected = {404, 422} if body is not None else {404}
        if status not in expected:
            wrong.append(f"{method} {url}: {status} {response.get_data(as_text=True)[:200]}")
        elif str(status) not in operation["responses"]:
            wrong.append(f"{method} {path}: answers {status}, undocumented")
        elif response.mimetype != "application/problem+json":
            wrong.append(f"{method} {url}: {status} as {response.mimetype}")
    assert wrong == [], "\n".join(wrong)
    assert walked > 60


def _answers_as_documented(
    document: dict[str, Any], method: str, path: str, response: Any, status: int
) -> str:
    """The answer's detail, once it is `status` as a problem document and the
    operation's document lists that status."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert str(status) in document["paths"][path][method]["responses"], (method, path)
    detail: str = response.get_json()["detail"]
    return detail


def test_the_answers_the_source_reading_found_are_given_as_documented(
    client: FlaskClient, vendor: Any, billing_staff: Any
) -> None:
    # Each was given before round 31 and listed by no document.
    document = _document(client)
    with db.transaction() as session:
        session.get(Organization, vendor.organization_id).standing = CLOSED
    invited = client.post(
        f"/api/v1/organizations/{vendor.organization_id}/invitations",
        json={"email": "new.member@example.com"},
        headers=factories.bearer(vendor),
    )
    path = "/api/v1/organizations/{organization_id}/invitations"
    detail = _answers_as_documented(document, "post", path, invited, 409)
    assert "closed organization" in detail

    staff = factories.bearer(billing_staff)
    nowhere = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": 2147480000,
            "lines": [{"description": "Consulting", "amount": "120.00"}],
        },
        headers=staff,
    )
    # A 404 until round 32: the body's organization is the field's 422 now.
    detail = _answers_as_documented(document, "post", "/api/v1/invoices", nowhere, 422)
    assert "organization 2147480000" in detail
    assert list(nowhere.get_json()["errors"]) == ["organization_id"]

    draft = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "lines": [{"description": "Consulting", "amount": "120.00"}],
        },
        headers=staff,
    ).get_json()
    pdf = client.get(f"/api/v1/invoices/{draft['id']}/pdf", headers=staff)
    path = "/api/v1/invoices/{invoice_id}/pdf"
    assert "until it is finalized" in _answers_as_documented(document, "get", path, pdf, 409)


def test_a_reused_idempotency_key_is_refused_as_documented(
    client: FlaskClient, vendor: Any, billing_staff: Any
) -> None:
    document = _document(client)
    staff = factories.bearer(billing_staff)
    lines = [{"description": "Consulting", "amount": "120.00"}]
    draft = client.post(
        "/api/v1/invoices",
        json={"organization_id": vendor.organization_id, "lines": lines},
        headers=staff,
    ).get_json()
    client.post(f"/api/v1/invoices/{draft['id']}/finalize", headers=staff)
    path = "/api/v1/invoices/{invoice_id}/payments"
    url = f"/api/v1/invoices/{draft['id']}/payments"
    keyed = {**staff, "Idempotency-Key": "round-31-key"}
    body = {"method": "wire", "amount": "20.00", "reference": "WIRE-31"}
    first = client.post(url, json=body, headers=keyed)
    assert first.status_code == 201, first.get_json()
    again = client.post(url, json={**body, "amount": "30.00"}, headers=keyed)
    _answers_as_documented(document, "post", path, again, 422)
    assert list(again.get_json()["errors"]) == ["header.Idempotency-Key"]
    described = document["paths"][path]["post"]["responses"]["422"]["description"]
    assert "Idempotency-Key" in described


def test_an_id_past_any_record_is_a_404_whichever_method_its_path_takes(
    app: Flask, client: FlaskClient
) -> None:
    # Found by schemathesis in round 31: `POST /organizations/{id}/invitations` with
    # an id of 29 digits was a 405 naming GET, since the list's GET rule matched the
    # path before the POST rule's converter refused the number.
    document = _document(client)
    headers = factories.bearer(factories.make_staff(db.session(), roles=("admin",)))
    walked = []
    for method, path, rule, _view in _routes(app, document):
        if "<int:" not in rule:
            continue
        for past in (2147483648, 10**28):
            url = re.sub(r"<int:[a-z_]+>", str(past), rule)
            url = _nowhere(FlaskPlugin.flaskpath2openapi(url))
            response = client.open(url, method=method, json={}, headers=headers)
            assert response.status_code == 404, (method, url, response.status_code)
            assert response.mimetype == "application/problem+json"
        walked.append(f"{method} {path}")
    assert "POST /api/v1/organizations/{organization_id}/invitations" in walked
    assert "PATCH /api/v1/invoices/{invoice_id}" in walked


def test_a_public_operation_answers_a_token_sent_as_documented(
    client: FlaskClient, vendor: Any
) -> None:
    # A token sent to a public route is checked (`access.enforce`); the document
    # said nothing of it, so a generated client met an undocumented 401 or 403.
    document = _document(client)
    unknown = client.post("/api/v1/permission-confirmations", json={"token": "x"},
                          headers={"Authorization": "Bearer lic_not-a-token"})  # fmt: skip
    path = "/api/v1/permission-confirmations"
    assert "not valid" in _answers_as_documented(document, "post", path, unknown, 401)
    _token, raw = accounts.create_api_token(vendor.id, "read", actor=Actor.SYSTEM, scope="read")
    read_only = {"Authorization": f"Bearer {raw}"}
    refused = client.post(path, json={"token": "x"}, headers=read_only)
    assert "read-only" in _answers_as_documented(document, "post", path, refused, 403)
    quote = document["paths"]["/api/v1/quotes"]["post"]["responses"]
    assert "401" in quote
    assert "403" not in quote  # a quote stores nothing: a read-only token may ask


def test_a_record_a_body_names_that_does_not_exist_is_a_422_never_a_404(
    client: FlaskClient, app: Flask, billing_staff: Any
) -> None:
    """Round 32: a 404 is for the record the path names; a record a body names that
    does not exist is that field's 422 (`errors` naming it), as a form shows it and
    a generated client reads it. `POST /invoices` answered 404 for an unknown
    `organization_id` and `POST /permission-confirmations` for an unknown `token`,
    while `POST /users/{id}/move` answered 422 naming `organization_id`."""
    document = _document(client)
    found = [
        f"{method} {path}"
        for method, path, rule, _view in _routes(app, document)
        if not path_arguments(rule)
        and "404" in document["paths"][path][method.lower()]["responses"]
    ]
    assert found == []
    unknown = {"organization_id": 99999, "lines": [{"description": "x", "amount": "1.00"}]}
    answer = client.post("/api/v1/invoices", json=unknown, headers=factories.bearer(billing_staff))
    _answers_as_documented(document, "post", "/api/v1/invoices", answer, 422)
    assert answer.get_json()["errors"] == {"organization_id": ["There is no organization 99999."]}
    path = "/api/v1/permission-confirmations"
    answer = client.post(path, json={"token": "no-such-link-0123456789"})
    _answers_as_documented(document, "post", path, answer, 422)
    assert list(answer.get_json()["errors"]) == ["token"]


def test_only_an_operation_that_reads_no_database_leaves_out_the_503(
    app: Flask, client: FlaskClient
) -> None:
    """Round 60 (retry60): the 503 a request that lost to another's changes every try is
    answered (with `Retry-After`) is in the document of every operation but the ones
    that declare they never give it, and those send no statement at all."""
    document = _document(client)
    left_out = [
        (method, path)
        for method, path, _rule, view in _routes(app, document)
        if 503 in _never_answers(view)
    ]
    assert left_out == [("GET", f"{API_PREFIX}/")]
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(args[2])

    event.listen(Engine, "before_cursor_execute", note)
    try:
        answer = client.get(f"{API_PREFIX}/")
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    assert answer.status_code == 200
    assert sent == []
    described = _resolve(
        document, document["paths"][f"{API_PREFIX}/invoices"]["get"]["responses"]["503"]
    )
    assert "nothing was changed" in described["description"]
    assert "Retry-After" in described["headers"]
