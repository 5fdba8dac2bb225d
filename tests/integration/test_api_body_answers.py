"""An operation that takes a body lists its 413 (too large) and 415 (not JSON) by
number (round 33): only `default` covered them, and a generated client met them as
untyped errors. 405 and 406 stay `default` (docs/api.md says why)."""

from __future__ import annotations

from flask.testing import FlaskClient

from licensing.api.base import MAX_BODY_BYTES
from tests.support.openapi import resolved, served_document

METHODS = ("post", "put", "patch", "delete")
PROBLEM = "application/problem+json"


def test_every_operation_that_takes_a_body_lists_413_and_415_as_problems(
    client: FlaskClient,
) -> None:
    document = served_document(client)
    missing, extra, bodies = [], [], 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in (*METHODS, "get"):
                continue
            listed = {
                status
                for status in ("413", "415")
                if PROBLEM
                in resolved(document, operation["responses"].get(status, {})).get("content", {})
            }
            if "requestBody" in operation:
                bodies += 1
                if listed != {"413", "415"}:
                    missing.append(f"{method} {path}")
            elif listed:
                extra.append(f"{method} {path}")
    assert bodies > 40
    assert missing == []
    assert extra == []


def test_a_body_too_large_or_not_json_is_the_problem_the_document_lists(
    client: FlaskClient,
) -> None:
    not_json = client.post("/api/v1/quotes", data="uses=1", content_type="text/plain")
    assert not_json.status_code == 415
    assert not_json.mimetype == PROBLEM
    large = client.post(
        "/api/v1/quotes",
        data=b"[" + b" " * MAX_BODY_BYTES + b"]",
        content_type="application/json",
    )
    assert large.status_code == 413
    assert large.mimetype == PROBLEM
    assert f"{MAX_BODY_BYTES:,} bytes" in large.get_json()["detail"]
