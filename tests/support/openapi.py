"""The API's OpenAPI document as a client reads it, for tests that walk it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
from flask.testing import FlaskClient
from werkzeug.test import TestResponse


def served_document(client: FlaskClient) -> dict[str, Any]:
    """`/api/v1/openapi.json` as the app serves it."""
    document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    return document


def resolved(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """`item`, its `$ref` followed into the document's components until none is left."""
    while "$ref" in item:
        section, name = item["$ref"].split("/")[-2:]
        item = document["components"][section][name]
    return item


def _json_schema(item: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema reads it: `nullable: true` becomes
    `null` among the types (or the values), everything else as written."""
    if isinstance(item, list):
        return [_json_schema(each) for each in item]
    if not isinstance(item, dict):
        return item
    schema = {key: _json_schema(value) for key, value in item.items() if key != "nullable"}
    if item.get("nullable"):
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def answered_as_documented(
    document: dict[str, Any], method: str, route: str, response: TestResponse
) -> Any:
    """`response`'s body, once it is checked to be what the document says `route`'s
    `method` answers with its status: the status listed by number, the content type
    one the status lists, and a JSON body valid against that content's schema
    (`$ref`s followed; OpenAPI's `nullable` read as JSON Schema's `null`). A client
    generated from the document would parse it into the listed type."""
    operation = document["paths"][route][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method.upper()} {route} answered {status}, which its document does not list: "
        f"{', '.join(sorted(operation['responses']))}; {response.get_data(as_text=True)[:500]}"
    )
    declared = resolved(document, operation["responses"][status])
    content = declared.get("content", {})
    if not content:
        assert response.get_data() == b"", f"{method} {route} {status} has a body"
        return None
    assert response.mimetype in content, (method, route, status, response.mimetype, content)
    schema = content[response.mimetype].get("schema")
    if schema is None or not response.mimetype.endswith("json"):
        return response.get_data()
    body = response.get_json()
    root = {**_json_schema(schema), "components": _json_schema(document["components"])}
    errors = [
        f"{'/'.join(str(p) for p in error.instance_path)}: {error.message}"
        for error in jsonschema_rs.Draft4Validator(root).iter_errors(body)
    ]
    assert not errors, f"{method.upper()} {route} {status}: " + "; ".join(errors[:10])
    misspelt = {
        path: value
        for path, value in date_times(document, schema, body)
        if not INSTANT.fullmatch(value)
    }
    assert not misspelt, f"{method.upper()} {route} {status}: instants not as one: {misspelt}"
    return body


# How the API writes an instant (round 42): ISO 8601 in UTC, the zone `+00:00`,
# fractions of a second only where there are some (`licensing.calendar.instant_iso`).
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")


def date_times(
    document: dict[str, Any], schema: dict[str, Any], body: Any, path: str = ""
) -> Iterator[tuple[str, str]]:
    """Each string of `body` where its documented `schema` says `format: date-time`,
    with where it is (`items.0.created_at`)."""
    schema = resolved(document, schema)
    if schema.get("format") == "date-time" and isinstance(body, str):
        yield path or ".", body
    for each in (*schema.get("allOf", []), *schema.get("anyOf", []), *schema.get("oneOf", [])):
        yield from date_times(document, each, body, path)
    if isinstance(body, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, value in body.items():
            inner = properties.get(name, extra if isinstance(extra, dict) else None)
            if inner is not None:
                yield from date_times(document, inner, value, f"{path}.{name}".lstrip("."))
    elif isinstance(body, list) and isinstance(schema.get("items"), dict):
        for index, value in enumerate(body):
            yield from date_times(document, schema["items"], value, f"{path}.{index}".lstrip("."))


class Integration:
    """An integrator's program: one set of headers (a token), every answer checked
    against the served document as a generated client would parse it (round 40;
    shared since round 60)."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.document = served_document(client)

    def call(self, method: str, route: str, status: int, path: str = "", **kw: Any) -> Any:
        """`method` on `path` (the `route` template itself when not given), which must
        answer `status`: the body as the document says `route` answers it."""
        response = self.client.open(
            path or route, method=method, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )
        assert response.status_code == status, response.get_data(as_text=True)[:800]
        self.last = response
        return answered_as_documented(self.document, method, route, response)


def next_link(response: TestResponse) -> str | None:
    """The `next` page of a list's `Link` header, or None on its last page."""
    found = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return found.group(1) if found else None


def walk(api: Integration, route: str, path: str) -> list[dict[str, Any]]:
    """Every item of a list, following its `Link` header's `next` page by page; as
    many as its `X-Total-Count` says."""
    items: list[dict[str, Any]] = []
    url: str | None = path
    total = -1
    while url:
        items += api.call("GET", route, 200, url.removeprefix("http://testserver"))
        total = int(api.last.headers["X-Total-Count"])
        url = next_link(api.last)
    assert len(items) == total
    return items
