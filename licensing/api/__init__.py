"""/api/v1: JSON in, JSON out, documented as OpenAPI 3 from the marshmallow schemas.

`register(app, *blueprints)` installs the API and each feature's blueprint, as
`licensing.app.register_blueprints` lists them.
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any

from flask import Flask, Request, Response, current_app, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from licensing import access, limits
from licensing.api import negotiation
from licensing.api.base import (
    API_PREFIX,
    BODY_ATTRIBUTE,
    BODY_METHODS,
    CHECKED_JSON_BODY,
    CREATED,
    MAX_BODY_BYTES,
    NO_BODY,
    Api,
    Blueprint,
    created_location,
    refuse_fields,
)
from licensing.api.fields import callers_steps_refused
from licensing.api.query import check_query
from licensing.extensions import csrf
from licensing.links import links
from licensing.problems import body_too_large
from licensing.web import errors as page_errors

SWAGGER_ASSETS = f"{API_PREFIX}/docs/assets"
# Where the app keeps its `Api` (its OpenAPI document says what each operation takes).
API_EXTENSION = "licensing.api"


# Where an integrator's token comes from (the OpenAPI document says it twice): the
# tokens page's full address under PUBLIC_URL, as the refusals give it. The document
# is built once per process and shared by its apps (`base.Api.register_blueprints`),
# and an app may learn its address after it is built, so the address is put in
# when the document is served (`_openapi_json`); built, it names the page's path.
GETTING_STARTED = (
    "send `Authorization: Bearer <token>`. A token acts as the user who created it, "
    "with their permissions: sign in and create one on the *API tokens* page "
    "({tokens_page}; it is shown once). A token expires after the 30, 90 "
    "(the default), 180 or 365 days chosen when it was made: an expired one is a 401 "
    "saying when it expired, and its owner is emailed a week before. A token's scope is "
    "`write` (everything its user may do) or `read` (GET and HEAD, and the POSTs that "
    "store nothing: `POST /quotes`, a royalty report's preview and an admin's "
    "`POST /rate-cards/checks`); a read-only token "
    "asking to change anything is a 403. A token cannot create tokens "
    "(`POST /api/v1/tokens` is a 403), so a leaked one ends when it is revoked. "
    "A new organization signs up at `/sign-up` or with "
    "`POST /api/v1/signups`, then confirms the emailed link before signing in."
)


def _check_request() -> Response | None:
    """Before every API request: answer `OPTIONS`, refuse an `Accept` that admits
    none of the route's answers (406), a query argument the operation does not
    take (422, `query.check_query`), and check the body (`_check_body`)."""
    # The request itself, not the proxy: this runs on every request, and each
    # attribute read through the proxy costs a context lookup.
    req = request._get_current_object()  # type: ignore[attr-defined]
    if not req.path.startswith(API_PREFIX + "/"):
        return None
    options = negotiation.options_response(req)
    if options is not None:
        return options
    negotiation.check_accept(req)
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one lookup
    check_query(req, app.extensions[API_EXTENSION].spec)
    if req.method in BODY_METHODS:
        _check_body(req, app)
    return None


def _after_request(response: Response) -> Response:
    """After every API request: a 201's `Location` (`base.created_location`).
    Only a 201 can get one, so any other status returns before the request's path
    is looked up (a context lookup on every answer, a page's too)."""
    if response.status_code != CREATED or not request.path.startswith(API_PREFIX + "/"):
        return response
    return created_location(response)


def _check_body(req: Request, app: Flask) -> None:
    """Every API body is JSON: refuse other content types and unreadable JSON early,
    whatever the route, so no handler ever sees a body it cannot trust. A route
    that declares no body schema refuses a body with fields (`base.refuse_fields`,
    round 42: it was ignored). Which a route is was marked on its view when it was
    declared (`base.Blueprint.route`), so a route with a body schema (the quote's)
    pays one attribute read, as it did for the large-body mark alone."""
    takes = getattr(app.view_functions.get(req.endpoint or ""), BODY_ATTRIBUTE, None)
    if takes is not None:  # no body schema: the view reads its own body, or takes none
        if takes is NO_BODY:
            body = _json_body(req)
            if body is not _NOTHING_SENT:
                refuse_fields(body)
        return
    _json_body(req)


_NOTHING_SENT = object()  # no body sent (JSON's `null` is a body)


def _json_body(req: Request) -> Any:
    """The request's body read as JSON (bounded), kept for the arguments parser;
    `_NOTHING_SENT` without one."""
    length = req.content_length  # parsed from the header on each read
    if length and length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(body_too_large(MAX_BODY_BYTES))
    body = req.get_data(cache=True)
    if not body:
        return _NOTHING_SENT
    mimetype = req.mimetype
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise UnsupportedMediaType("Send the request body as application/json.")
    try:
        # InvalidInput (422) beyond the bounds; kept so the arguments parser does
        # not parse and walk the same body again (a tenth of a 25-use quote).
        loaded = req.environ[CHECKED_JSON_BODY] = limits.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    return loaded


def _described(tokens_page: str) -> dict[str, Any]:
    """The document's descriptions that name the tokens page, naming `tokens_page`."""
    getting_started = GETTING_STARTED.format(tokens_page=tokens_page)
    return {
        "info": {
            "description": (
                "Quotes, license applications, agreements, invoices, payments, "
                "royalty reports, billing exports and educational permission requests. "
                f"Authenticate with a personal API token: {getting_started} Errors are "
                "`application/problem+json` documents. Which to retry: a 429, and a 503 (the "
                "request lost to other changes made at the same moment; nothing was "
                "changed), after their `Retry-After` seconds; a 409 saying a request "
                "with the Idempotency-Key is in progress, and a 502, with the same "
                "key; a 500 or a lost answer as a GET, or with the same "
                "Idempotency-Key where the operation takes one. Never a 401 (create a "
                "new token) nor any other 4xx: the same "
                "request gets the same answer (docs/api.md, Which errors to retry)."
            )
        },
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": getting_started},
    }


# The served document's bytes, by the process's shared document (`base.Api`) and the
# tokens page's address it names (round 68, reads68: built and indented afresh, 35 to
# 48 ms of CPU a request, the same bytes for every request to one app). An address is
# the app's PUBLIC_URL's, so a process has one; a test session makes apps on many
# ports, so a few are kept and the rest made again.
_SERVED: weakref.WeakKeyDictionary[Any, dict[str, bytes]] = weakref.WeakKeyDictionary()
_SERVED_LOCK = threading.Lock()
_ADDRESSES_KEPT = 16


def _openapi_json() -> Response:
    """The OpenAPI document, its tokens page at this app's address (serialized once a
    process for each address: the built document is shared by the process's apps and
    never changes)."""
    spec = current_app.extensions[API_EXTENSION].spec
    tokens_page = links().api_tokens()
    with _SERVED_LOCK:
        served = _SERVED.get(spec, {}).get(tokens_page)
    if served is None:
        served = _serialized(spec.to_dict(), tokens_page)
        with _SERVED_LOCK:
            kept = _SERVED.setdefault(spec, {})
            if len(kept) >= _ADDRESSES_KEPT:
                kept.clear()
            kept[tokens_page] = served
    return current_app.response_class(served, mimetype="application/json")


def _serialized(document: dict[str, Any], tokens_page: str) -> bytes:
    """`document` naming `tokens_page`, as JSON (a copy: the document is shared)."""
    described = _described(tokens_page)
    components = document["components"]
    served = {
        **document,
        "info": {**document["info"], **described["info"]},
        "components": {
            **components,
            "securitySchemes": {
                **components["securitySchemes"],
                "bearerAuth": described["bearerAuth"],
            },
        },
    }
    return json.dumps(served, indent=2, sort_keys=False).encode()


def _swagger_asset(filename: str) -> Response:
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def register(app: Flask, *blueprints: Blueprint) -> Api:
    described = _described("`/account/tokens`")
    # Pages say a refused step to their reader as the API's 409 does (refusal58).
    page_errors.install_callers_steps(callers_steps_refused)
    app.config.update(
        API_TITLE="CPT licensing and royalty service",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_ASSETS + "/",
        API_SPEC_OPTIONS={
            "info": described["info"],
            "components": {"securitySchemes": {"bearerAuth": described["bearerAuth"]}},
        },
    )
    api = Api(app)
    app.extensions[API_EXTENSION] = api
    app.view_functions["api-docs.openapi_json"] = _openapi_json
    app.add_url_rule(
        f"{SWAGGER_ASSETS}/<path:filename>", "swagger_assets", access.public(_swagger_asset)
    )
    for endpoint in ("api-docs.openapi_json", "api-docs.openapi_swagger_ui"):
        access.declare_endpoint(endpoint, access.Access(public=True))
    negotiation.init_app(app, api)
    app.before_request(_check_request)
    app.after_request(_after_request)

    for blueprint in blueprints:
        # The API authenticates with bearer tokens only, never the session
        # cookie, so cross-site requests cannot act for a user: no CSRF token.
        csrf.exempt(blueprint)
    api.register_blueprints(app, blueprints)
    return api
