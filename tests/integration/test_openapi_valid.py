"""The served OpenAPI document as a client generator reads it (round 32)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask.testing import FlaskClient
from schemathesis.specs.openapi import definitions

from tests.support.openapi import served_document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in methods
    ]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _examples_outside_enums(node: Any, where: str = "#") -> list[str]:
    """Schemas whose `example` (or `examples`) a generator's enum would refuse."""
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            given = [node["example"]] if "example" in node else []
            given += node.get("examples", []) if isinstance(node.get("examples"), list) else []
            found += [f"{where}: {value!r}" for value in given if value not in node["enum"]]
        for key, value in node.items():
            found += _examples_outside_enums(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _examples_outside_enums(value, f"{where}/{index}")
    return found


def test_the_document_is_valid_openapi_with_what_a_generator_needs(client: FlaskClient) -> None:
    """Round 32, walked as a developer generating a client: the document is valid
    OpenAPI (schemathesis' copy of the specification's schema), every operation has
    an `operationId` of its own (it had none: a generator named each method from its
    path), every `$ref` resolves, every answer with a body says its content type,
    and no example is outside its enum."""
    document = served_document(client)
    version = document["openapi"]
    validator = (
        definitions.OPENAPI_31_VALIDATOR
        if version.startswith("3.1")
        else definitions.OPENAPI_30_VALIDATOR
    )
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    operations = _operations(document)
    ids = Counter(operation.get("operationId") for _p, _m, operation in operations)
    assert None not in ids
    assert [name for name, times in ids.items() if times > 1] == []
    unresolved = []
    for ref in set(_refs(document)):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if not ref.startswith("#/") or node is None:
            unresolved.append(ref)
    assert unresolved == []
    bare = [
        (method, path, status)
        for path, method, operation in operations
        for status, answer in operation["responses"].items()
        if status not in ("204", "304") and "content" not in answer and "$ref" not in answer
    ]
    assert bare == []
    assert _examples_outside_enums(document) == []
