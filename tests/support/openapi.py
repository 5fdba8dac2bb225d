"""The API's OpenAPI document as a client reads it, for tests that walk it."""

from __future__ import annotations

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
    return body
