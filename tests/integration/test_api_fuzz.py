"""No API route answers 500, whatever it is sent: every documented field is given
values of the wrong type, out of range, oversized or null, by a vendor and by
staff with every role, against the paths in the OpenAPI document; and (round 52)
every route, as each role and anonymously, hostile values in its fields and query
arguments (NUL and other control characters, lone surrogates, exponents, the
calendar's ends), bodies that are no JSON object (empty, truncated, duplicate keys,
deep nesting, other content types) and ids that name nothing (zero, negative, past
64 bits). Each refusal is a problem document; a key given twice (round 55) is a 400
naming it on every route, unless the caller may not make the request at all."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import access, db
from licensing.access import Principal
from licensing.accounts import services as accounts
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories

WRONG_VALUES: tuple[Any, ...] = (
    None,
    "x" * 20_000,
    -1,
    10**30,
    1.5,
    ["a"],
    {"a": 1},
    "2027-02-30",
)

# Round 52: what a hostile client sends beyond a wrong type.
HOSTILE_VALUES: tuple[Any, ...] = (
    "",
    "a\x00b",
    "\x1b[2J\x7f\x9b",
    "\ud800",  # a lone surrogate: JSON carries it escaped
    "x" * 100_000,
    0,
    -(10**30),
    10**400,
    1e308,
    5e-324,
    "1e999",
    "-1e-999",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59+00:00",
    True,
    [[[]]],
    {"a": {"b": None}},
    "١٢",
)

# Bodies that are no JSON object, each with the content type it is sent as.
HOSTILE_BODIES: tuple[tuple[bytes, str | None], ...] = (
    (b"", "application/json"),
    (b"", None),
    (b"{", "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b"1e999999", "application/json"),
    (b'{"a": NaN}', "application/json"),
    (b"\xff\xfe", "application/json"),
    (b'{"\\ud800": "\\udfff"}', "application/json"),
    (b"[" * 50_000 + b"]" * 50_000, "application/json"),
    (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "application/json"),
    (b"a=1&b=2", "application/x-www-form-urlencoded"),
    (b'{"a": 1}', "text/plain"),
    (b'{"a": 1}', "application/json; charset=utf-16"),
    (b'{"a": 1}', "multipart/form-data; boundary=x"),
)

# Ids that name nothing: zero, negative, past 64 bits. Round 63: "1e3" and forty
# nines were sent too, and took these ones' paths: on an id (`<int:...>`,
# `licensing.app.RecordId`, whose pattern admits only the digits of 0 to the id
# columns' largest) "-1", "1e3", 2**63 and forty nines all fail the pattern, a 404
# from the router before any hook or route runs, and "0" is matched and looked up;
# on a text (a card's version, a token, a job's name) each is a text looked up and
# not found.
HOSTILE_IDS = ("0", "-1", str(2**63))

# A path parameter that names a record by other than its id, given one that exists,
# so that the route's query arguments and body are reached (round 54: with "1" the
# rate card's priced lists answered 404 before their pages were read).
EXISTING = {"version": "2027.1"}


def _existing(template: str) -> str:
    """The path with each parameter one that exists: 1 for an id (most record types
    have one here), `EXISTING`'s for the others."""
    return re.sub(r"\{([^}]+)\}", lambda found: EXISTING.get(found.group(1), "1"), template)


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _bodies(document: dict[str, Any], operation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        yield {}
        return
    schema = _schema(document, content["schema"])
    fields = list(schema.get("properties", {}))
    yield {}
    for name in fields:
        for value in WRONG_VALUES:
            yield {name: value}


def _fields(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return list(_schema(document, content["schema"]).get("properties", {})) if content else []


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, template, operation


def _writes(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in document["paths"].items():
        # Every path parameter is an id; 1 exists for most record types here.
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method, operation in item.items():
            if method in ("post", "put", "patch", "delete"):
                yield method, path, operation


def test_no_write_answers_500_to_any_wrong_value(app: Flask, client: FlaskClient) -> None:
    session = db.session()
    vendor = factories.make_vendor(session)
    staff = factories.make_staff(session, roles=("licensing", "billing", "admin"))
    document = client.get("/api/v1/openapi.json").get_json()
    tried = 0
    statuses: dict[int, int] = {}
    for user in (vendor, staff):
        headers = factories.bearer(user)
        for method, path, operation in _writes(document):
            if "token" in path and method == "delete":
                continue  # revoking the caller's own token would end the walk
            for body in _bodies(document, operation):
                response = client.open(
                    path,
                    method=method.upper(),
                    json=body,
                    headers=headers,
                )
                tried += 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code < 500, (method, path, body, response.get_data()[:500])
    assert tried > 500
    # The walk reaches validation, not only "not found" and "forbidden".
    assert statuses.get(422, 0) > 100, statuses


@pytest.fixture
def config_changes() -> dict[str, Any]:
    # The sweep signs in nobody, but sends thousands of bearer requests a minute.
    return {"auth_rate_limit": "off"}


@dataclass
class Caller:
    headers: dict[str, str]
    principal: Principal | None  # whom the token names (None: anonymous)


def _callers(session: Any) -> dict[str, Caller]:
    """Anonymous, each organization role, staff with every role and each staff role
    alone, by bearer token."""
    vendor = factories.make_vendor(session)
    users = {
        "administrator": vendor,
        "staff": factories.make_staff(session, roles=("licensing", "billing", "admin")),
    }
    for role in ("member", "billing"):
        users[role] = factories.make_vendor(session, organization=vendor.organization, role=role)
    for role in ("licensing", "billing", "admin"):
        users[f"staff {role}"] = factories.make_staff(session, roles=(role,))
    callers = {"anonymous": Caller({}, None)}
    for who, user in users.items():
        callers[who] = Caller(factories.bearer(user), accounts.principal_for(user))
    return callers


def _admits(app: Flask, method: str, template: str, principal: Principal | None) -> bool:
    """Whether the route's access declaration lets `principal` call it: `access.enforce`,
    a `before_request` hook, refuses anyone else (401 or 403) before the route reads
    its path's record, query arguments or body."""
    endpoint, _ = app.url_map.bind("localhost").match(_existing(template), method=method.upper())
    declaration = access.declaration_for(app, endpoint)
    assert declaration is not None, endpoint
    return declaration.admits(principal)


# Who is sent every field's hostile values: the vendor's administrator and staff with
# every role, whom the most routes let through to their bodies; the other roles are
# sent the ids and the bodies that are no object (what a role may not do is refused
# before its arguments are read). Round 63: on a route whose declaration refuses one of
# these two (staff-only routes to the administrator, an organization's own to staff),
# `access.enforce` answers before the body is read, the same answer whichever field or
# argument holds the value (only `limits.check_request_text` reads the query string
# first, for characters that cannot be stored, whichever argument holds them), so each
# hostile value is sent there once (in the first field and the first query argument)
# rather than in every one of them.
EVERY_FIELD = ("administrator", "staff")
# Round 65: the same holds for the bodies that are no object, sent by every caller. A
# profile of this test put 58% of its time in `access.enforce` looking up the bearer
# token (`authenticate_token`), which a refused request pays as an admitted one does:
# refused requests were not the cheap ones. `enforce` refuses before any hook or view
# reads the body (the hooks before it: the request id, the query string's characters,
# CSRF, which the API is exempt from, and the rate limit), and its answer names only the
# route's declaration and the caller; sent all fifteen, every refused caller got the
# same status and problem document for each of them on every route. So a route that
# refuses the caller is sent the first of them (and the duplicated key) only.


def _hostile_requests(
    document: dict[str, Any],
    method: str,
    template: str,
    operation: dict[str, Any],
    every_field: bool,
    admitted: bool = True,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, request arguments) for one operation: ids of nothing, for a write
    bodies that are no object and a duplicated key, and (`every_field`) hostile
    query arguments and each field's hostile values: in every argument and field
    when the caller is `admitted` to the route, in the first of each when the route
    refuses them before reading any. A route that refuses the caller is sent the
    first of the bodies that are no object, not all fifteen (round 65, below)."""
    for number in HOSTILE_IDS:
        if "{" in template:
            yield re.sub(r"\{[^}]+\}", number, template), {}
    path = _existing(template)
    queried = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
    for name in (queried if admitted else queried[:1]) if every_field else ():
        for value in HOSTILE_VALUES:
            text = value if isinstance(value, str) else json.dumps(value)
            if "\ud800" not in text:  # a URL carries UTF-8: no lone surrogate
                yield path, {"query_string": {name: text}}
    if method == "get":
        return
    for body, content_type in HOSTILE_BODIES if admitted else HOSTILE_BODIES[:1]:
        yield path, {"data": body, "content_type": content_type}
    fields = _fields(document, operation)
    first = fields[0] if fields else "a"
    yield path, {"data": duplicated_key(first), "content_type": "application/json"}
    if every_field:
        for name in fields if admitted else fields[:1]:
            for value in HOSTILE_VALUES:
                yield path, {"json": {name: value}}


def duplicated_key(name: str) -> str:
    """A body giving `name` twice (round 55: the last value was taken)."""
    return f'{{"{name}": null, "{name}": "x"}}'


def _refused_as_duplicated(arguments: dict[str, Any], response: Any) -> bool:
    """Whether a duplicated key's body was answered 400 naming the key, or refused
    before its body was read (401 anonymously, 403 to a role that may not, 404 by a
    route that reads its body itself once its path names a record: a report's)."""
    data = arguments.get("data")
    if not isinstance(data, str) or response.status_code in (401, 403, 404):
        return True
    name = json.loads(data.split(",", 1)[0] + "}").popitem()[0]
    return response.status_code == 400 and list(response.get_json()["errors"]) == [name]


# About 14,400 requests (18,700 before round 65, 22,400 before round 63).
@pytest.mark.timeout(900)
@pytest.mark.usefixtures("example_card")
def test_no_route_answers_500_to_hostile_input_from_any_role(
    app: Flask, client: FlaskClient
) -> None:
    """Round 52: every route in the document, anonymously and as each role, with
    hostile values, bodies and ids; every refusal a problem document. A rate card is
    published (round 54), so the routes of a card's version reach their arguments."""
    callers = _callers(db.session())
    document = client.get("/api/v1/openapi.json").get_json()
    tried = 0
    for who, caller in callers.items():
        for method, template, operation in _operations(document):
            if "token" in template and method == "delete":
                continue  # revoking the caller's own token would end the walk
            every_field = who in EVERY_FIELD
            admitted = _admits(app, method, template, caller.principal)
            hostile = _hostile_requests(
                document, method, template, operation, every_field, admitted
            )
            for path, arguments in hostile:
                response = client.open(
                    path, method=method.upper(), headers=caller.headers, **arguments
                )
                tried += 1
                sent = (who, method, path, str(arguments)[:200])
                assert response.status_code < 500, (*sent, response.get_data()[:500])
                assert _refused_as_duplicated(arguments, response), (
                    *sent,
                    response.status_code,
                    response.get_data()[:500],
                )
                if response.status_code >= 400:
                    assert response.mimetype == "application/problem+json", (
                        *sent,
                        response.status_code,
                    )
    assert tried > 14_000, tried
