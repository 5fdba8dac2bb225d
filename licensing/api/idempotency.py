"""`@idempotent`: the `Idempotency-Key` request header on a money-moving POST.

Without the header a route behaves as it always has. With it, the request runs
through `licensing.billing.idempotency.run_once`: the first request with a key
is carried out and its answer stored with the money it moved; a repeat with the
same body is answered from that record with `Idempotent-Replayed: true`, and the
same key with another body is a 422 (docs/api.md).

Place it under `@access...` and above `@blp.arguments`, so that it wraps the
response flask-smorest has already written. It documents the header itself.

`@idempotent_in_steps(answer_started)` is the same for a route whose service moves
the money in several transactions (a card refund, around the Stripe call): the
view passes `current_claim()` to the service, which stores the key with its first
step, and with it `answer_started`'s answer about what that step created (the
refund as created); a retry whose first request stored no answer (Stripe's
answer lost, say) is answered with that, the same every time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

import flask
import flask_smorest
from werkzeug.wrappers import Response

from licensing import access
from licensing.api.base import (
    APIDOC_ATTRIBUTE,
    NO_BODY_OR_ARGUMENT,
    RATE_LIMITED_HEADERS,
    UNKNOWN_ARGUMENT,
    declared_statuses,
    document_answer,
    takes_no_body,
)
from licensing.billing import idempotency

F = TypeVar("F", bound=Callable[..., Any])

REPLAYED_HEADER = "Idempotent-Replayed"
# Where the request's claim on its key waits for the view (the environ: per request).
_CLAIM = "licensing.idempotency_claim"

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
        "another body is a 422. Keys are per user, at most "
        f"{idempotency.KEYS_PER_USER:,} new ones in 24 hours (then a 429 with "
        "`Retry-After`). Refused requests store nothing."
    ),
}


def _replayed(answer: idempotency.Answer) -> Response:
    response = Response(answer.body, status=answer.status, mimetype="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _keyed_request() -> idempotency.KeyedRequest | None:
    """What both decorators start from: the caller, the checked `Idempotency-Key`
    and the fingerprint of the request (None without the header)."""
    sent = flask.request.headers.get(idempotency.HEADER)
    if sent is None:
        return None
    key = idempotency.check_key(sent)
    principal = access.require_principal()
    caller = idempotency.Caller(principal.user_id, principal.organization_id)
    request = flask.request
    fingerprint = idempotency.request_hash(
        request.method, request.path, request.get_data(cache=True)
    )
    return idempotency.KeyedRequest.of(caller, key, fingerprint)


# What a keyed route does with the keyed request; `respond()` runs the view.
_Keyed = Callable[[idempotency.KeyedRequest, Callable[[], Response]], Response]


def _keyed_route(view: F, keyed: _Keyed) -> F:
    """`view` as a route taking `Idempotency-Key`: without the header it runs as it
    always has; with it, `keyed` decides what is carried out and answered."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        found = _keyed_request()
        if found is None:
            return view(*args, **kwargs)
        return keyed(found, lambda: flask.make_response(view(*args, **kwargs)))

    _document_replay(wrapper)
    _document_key_refusals(wrapper)
    return cast(F, flask_smorest.Blueprint.doc(parameters=[PARAMETER])(wrapper))


INVALID_FIELDS = "Invalid input: `errors` names each field refused (`query.NAME` in the query)."
# What the header itself can be refused with, as the OpenAPI document lists it on
# each idempotent route: beside the route's own 409 and 422 where it has them.
KEY_REFUSALS: dict[int, str] = {
    409: (
        f"A request with this `{idempotency.HEADER}` is still being carried out: "
        "retry in a moment (nothing was done twice)."
    ),
    422: (
        f"`{idempotency.HEADER}` was used in the last 24 hours for another request "
        f"(another body or address), or is not 1 to {idempotency.KEY_MAX} printable "
        f"characters: `errors` names `{idempotency.FIELD}`."
    ),
}

# A new key past the user's bound (`idempotency.KEYS_PER_USER` in 24 hours).
KEYS_USED_UP = (
    f"Too many requests: {idempotency.KEYS_PER_USER:,} new `{idempotency.HEADER}`s were "
    "sent by this user in the last 24 hours; `Retry-After` says when the oldest of them "
    "frees a place. A key sent before is still answered. Nothing was done."
)
# As a rate limit's 429 lists them: the limit is the keys' bound, reset when the
# oldest frees a place.
KEYS_USED_UP_HEADERS = RATE_LIMITED_HEADERS


def _document_key_refusals(route: Callable[..., Any]) -> None:
    """Name the key's 409 and 422 on the route: in the description of the route's
    own answer of that status where it documents one, else as an answer of its own."""
    declared = declared_statuses(route)
    responses = getattr(route, APIDOC_ATTRIBUTE, {}).get("response", {}).get("responses", {})
    for status, refusal in KEY_REFUSALS.items():
        documented = responses.get(status, [])
        if any(isinstance(doc, dict) for doc in documented):
            responses[status] = [
                {**doc, "description": f"{doc.get('description', '').rstrip('.')}. Or: {refusal}"}
                if isinstance(doc, dict)
                else doc
                for doc in documented
            ]
        elif status in declared:  # the body's or the query's 422, by reference
            document_answer(route, status, f"{INVALID_FIELDS} Or: {refusal}")
        elif status == 422:  # every operation's (`Blueprint._document_answers`)
            # A key is taken by POSTs only; one without a body refuses a field too.
            invalid = NO_BODY_OR_ARGUMENT if takes_no_body(route, ["POST"]) else UNKNOWN_ARGUMENT
            document_answer(route, status, f"{invalid} Or: {refusal}")
        else:
            document_answer(route, status, refusal)
    if 429 not in declared_statuses(route):  # round 42: a user's keys are bounded
        document_answer(route, 429, KEYS_USED_UP, headers=KEYS_USED_UP_HEADERS)


# The header a replayed answer carries, as the OpenAPI document lists it on the
# route's success: a client generated from the document can then read it.
REPLAYED_RESPONSE_HEADER: dict[str, Any] = {
    "description": (
        "`true` when this answer is the stored answer to an earlier request with the "
        "same `Idempotency-Key` (nothing was carried out again); absent otherwise."
    ),
    "schema": {"type": "string", "enum": ["true"]},
}


def _document_replay(route: Callable[..., Any]) -> None:
    """Name `Idempotent-Replayed` on the route's success responses (declared by
    `@blp.response` below `@idempotent`), each copied so no other route shares it."""
    responses = getattr(route, "_apidoc", {}).get("response", {}).get("responses", {})
    for status, documented in responses.items():
        if 200 <= int(status) < 300:
            responses[status] = [
                {
                    **doc,
                    "headers": {
                        **(doc.get("headers") or {}),
                        REPLAYED_HEADER: REPLAYED_RESPONSE_HEADER,
                    },
                }
                for doc in documented
            ]


def idempotent(view: F) -> F:
    """Honour `Idempotency-Key` on this route (see the module's docstring)."""

    def once(request: idempotency.KeyedRequest, respond: Callable[[], Response]) -> Response:
        first: list[Response] = []

        def perform() -> idempotency.Answer:
            response = respond()
            first.append(response)
            return idempotency.Answer(response.status_code, response.get_data(as_text=True))

        answer = idempotency.run_once(request, perform)
        return _replayed(answer) if answer.replayed else first[0]

    return _keyed_route(view, once)


def current_claim() -> idempotency.Claim | None:
    """The request's unused `Idempotency-Key`, for the service to store with its
    first step (None without the header)."""
    claim: idempotency.Claim | None = flask.request.environ.get(_CLAIM)
    return claim


def idempotent_in_steps(
    answer_started: Callable[[dict[str, int]], Response],
) -> Callable[[F], F]:
    """Honour `Idempotency-Key` on a route whose service stores `current_claim()`
    with its first step; `answer_started({"refund_id": 17})`, asked in that step's
    transaction, answers a retry whose first request stored no answer."""

    def as_created(records: dict[str, int]) -> idempotency.Answer:
        response = answer_started(records)
        return idempotency.Answer(response.status_code, response.get_data(as_text=True))

    def in_steps(request: idempotency.KeyedRequest, respond: Callable[[], Response]) -> Response:
        begun = idempotency.begin(request, answer_started=as_created)
        if not isinstance(begun, idempotency.Claim):
            return _answer_of(begun, answer_started)
        flask.request.environ[_CLAIM] = begun
        try:
            response = respond()
        except idempotency.KeyTaken:  # a simultaneous request stored the key first
            return _answer_of(idempotency.progress(begun), answer_started)
        answer = idempotency.Answer(response.status_code, response.get_data(as_text=True))
        if response.status_code < 300:
            idempotency.finish(begun, answer)
        return response

    def decorate(view: F) -> F:
        return _keyed_route(view, in_steps)

    return decorate


def _answer_of(
    found: idempotency.Answer | idempotency.Started,
    answer_started: Callable[[dict[str, int]], Response],
) -> Response:
    if isinstance(found, idempotency.Answer):
        return _replayed(found)
    response = answer_started(found.records)
    response.headers[REPLAYED_HEADER] = "true"
    return response
