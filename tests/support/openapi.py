"""The API's OpenAPI document as a client reads it, for tests that walk it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


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
