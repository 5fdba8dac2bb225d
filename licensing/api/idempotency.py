"""`@idempotent`: the `Idempotency-Key` request header on a money-moving POST.

Without the header a route behaves as it always has. With it, the request runs
through `licensing.billing.idempotency.run_once`: the first request with a key
is carried out and its answer stored with the money it moved; a repeat with the
same body is answered from that record with `Idempotent-Replayed: true`, and the
same key with another body is a 422 (docs/api.md).

Place it under `@access...` and above `@blp.arguments`, so that it wraps the
response flask-smorest has already written. It documents the header itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

import flask
import flask_smorest
from werkzeug.wrappers import Response

from licensing import access
from licensing.billing import idempotency

F = TypeVar("F", bound=Callable[..., Any])

REPLAYED_HEADER = "Idempotent-Replayed"

# The header as the OpenAPI document lists it on each idempotent route.
PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": idempotency.HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.KEY_MAX},
    "description": (
        "A key of your choosing (a UUID) that makes retrying safe: a repeat with the "
        "same key and body within 24 hours is not carried out again but answered "
        "with the first answer and `Idempotent-Replayed: true`; the same key with "
        "another body is a 422. Keys are per user. Refused requests store nothing."
    ),
}


def _replayed(answer: idempotency.Answer) -> Response:
    response = Response(answer.body, status=answer.status, mimetype="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: F) -> F:
    """Honour `Idempotency-Key` on this route (see the module's docstring)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sent = flask.request.headers.get(idempotency.HEADER)
        if sent is None:
            return view(*args, **kwargs)
        key = idempotency.check_key(sent)
        principal = access.require_principal()
        caller = idempotency.Caller(principal.user_id, principal.organization_id)
        request = flask.request
        fingerprint = idempotency.request_hash(
            request.method, request.path, request.get_data(cache=True)
        )
        first: list[Response] = []

        def perform() -> idempotency.Answer:
            response = flask.make_response(view(*args, **kwargs))
            first.append(response)
            return idempotency.Answer(response.status_code, response.get_data(as_text=True))

        answer = idempotency.run_once(caller, key, fingerprint, perform)
        return _replayed(answer) if answer.replayed else first[0]

    return cast(F, flask_smorest.Blueprint.doc(parameters=[PARAMETER])(wrapper))
