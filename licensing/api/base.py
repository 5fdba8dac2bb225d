"""The API edge: flask-smorest configured for exact decimals and problem documents.

Feature API modules create their blueprint with `Blueprint(...)` from here, so
it is mounted under `API_PREFIX`, request bodies are parsed with `Decimal`
numbers and a body that is not JSON is a 415; they are registered in
`licensing.api.register`.

Three things every route gets from here rather than from its own decorators:
- a route whose access declaration (`licensing.access`) is not public is
  documented as needing `Authorization: Bearer` (`SECURED`), so the document
  says what `access.enforce` does;
- every error response is documented as `application/problem+json` with the
  `Problem` schema (the shape `licensing.problems` writes);
- the answers a route gives by its shape are documented from the route itself
  (`Blueprint._document_answers`): a 400 where it takes a body or query arguments,
  a 404 where its path names a record, a 422 on
  every operation (each refuses a query argument it does not take), a 429 with
  `Retry-After` where a rate limit is put on it, a 413 and a 415 where it takes a
  body; `@idempotent` adds the
  `Idempotency-Key` header's own 409 and 422 (docs/api.md, "Every answer in the
  document");
- `@blp.paginate(ItemSchema)` on a list route reads `page` and `per_page`
  (bounded), returns that page of the list (its 200: a list of `ItemSchema`) and
  says where the others are in a `Link` header (RFC 8288: first, prev, next,
  last) and the total in `X-Total-Count`.
"""

from __future__ import annotations

import http
import inspect
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, NoReturn, TypeVar, cast
from urllib.parse import urlencode

import flask
import flask_smorest
import marshmallow as ma
from flask_smorest.utils import load_info_from_docstring, unpack_tuple_response
from sqlalchemy import Select
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from licensing import access, arguments, db, limits
from licensing.api.fields import ApiSchema, callers_steps_refused
from licensing.config import API_PREFIX as API_PREFIX  # the API modules' mount point
from licensing.errors import IllegalTransition, InvalidInput
from licensing.extensions import is_rate_limited
from licensing.links import request_path
from licensing.problems import PROBLEM_MIMETYPE, body_too_large, from_domain_error

# The OpenAPI security requirement of routes that need `Authorization: Bearer`.
SECURED: dict[str, Any] = {"security": [{"bearerAuth": []}]}

# A route that needs a caller answers one without a valid token 401, with the
# challenge (`licensing.problems`).
UNAUTHENTICATED = (
    "Authentication required: no `Authorization: Bearer` token, or one that is unknown, "
    "revoked, expired (`expired_at` says when: create a new one and switch to it, a "
    "retry with this one will not succeed) or of a deactivated account."
)
CHALLENGE: dict[str, Any] = {
    "WWW-Authenticate": {
        "description": 'The scheme to authenticate with: `Bearer realm="licensing"`.',
        "schema": {"type": "string"},
    }
}

# Everything the API accepts in one body; larger bodies are a 413.
MAX_BODY_BYTES = 1_000_000


def _header(description: str, kind: str = "integer", **bounds: Any) -> dict[str, Any]:
    """A response header as the OpenAPI document lists it."""
    return {"description": description, "schema": {"type": kind, **bounds}}


# What a 429 carries besides its problem document (docs/api.md), as the OpenAPI
# document lists it: a client generated from the document can read the wait.
RATE_LIMITED_HEADERS: dict[str, Any] = {
    "Retry-After": _header(
        "Seconds to wait before trying again (the number the detail names).", minimum=0
    ),
    "X-RateLimit-Limit": _header("Requests the limit allows in its window."),
    "X-RateLimit-Remaining": _header("Requests left in the window (0 here)."),
    "X-RateLimit-Reset": _header("When the window resets, in seconds since 1970-01-01 UTC."),
}
# What the document says of the answers every route of a shape gives
# (`Blueprint._document_answers`), where the route says nothing more of its own.
UNKNOWN_ARGUMENT = (
    "Invalid input: a query argument the operation does not take, or a value it refuses "
    "(`errors` names each, `query.NAME`)."
)
# An operation sent a body that declares none (round 42): a field is refused too.
NO_BODY_OR_ARGUMENT = (
    "Invalid input: a body with fields (the operation takes none: send no body, or `{}`; "
    "`errors` names each field), a query argument the operation does not take, or a value "
    "it refuses (`errors` names each, `query.NAME`)."
)
RATE_LIMITED = (
    "Too many requests: over this operation's rate limit. `Retry-After` says how many "
    "seconds to wait, and the detail names the limit."
)
# Every operation that reads or writes the database may lose to other changes made
# to the same records at the same moment (round 59, `db.Contended`: a deadlock or a
# serialization failure, run again up to `db.ATTEMPTS` times first, or SQLite's write
# lock held); round 60: the document says so, and when to retry.
CONTENDED = (
    "Service unavailable: the request lost to other changes made to the same records at "
    f"the same moment (tried {db.ATTEMPTS} times, or once where trying it again was not "
    "safe), and nothing was changed. Send the same request again after `Retry-After` "
    "seconds (with the same `Idempotency-Key`, where the operation takes one)."
)
CONTENDED_HEADERS: dict[str, Any] = {
    "Retry-After": _header(
        f"Seconds to wait before sending the request again ({db.RETRY_AFTER_SECONDS}).",
        minimum=0,
    )
}
# An operation that takes a body can be sent one too large, or not JSON
# (`licensing.api._check_body`, `ApiParser`): listed on it since round 33, where
# only `default` covered them.
BODY_TOO_LARGE = (
    f"The request body is too large: at most {MAX_BODY_BYTES:,} bytes; the detail says the limit."
)
NOT_JSON = "The request body is not `application/json` (nor a `+json` type)."


BAD_BODY = "the body is not valid JSON (or not UTF-8)"
REPEATED_ARGUMENT = (
    "an argument that takes one value was given more than once (`errors` names it, `query.NAME`)"
)


def _bad_request(places: set[str]) -> str:
    said = [BAD_BODY] * ("json" in places) + [REPEATED_ARGUMENT] * ("query" in places)
    return f"Bad request: {', or '.join(said)}."


def _takes(view: Any) -> set[str]:
    """Where the route takes arguments, as its decorators document them: `json`
    for a body, `query`, ..."""
    apidoc = getattr(view, APIDOC_ATTRIBUTE, {})
    manual = apidoc.get("manual_doc", {})
    declared = [*apidoc.get("arguments", {}).get("parameters", []), *manual.get("parameters", [])]
    places = {str(parameter.get("in")) for parameter in declared if isinstance(parameter, dict)}
    if "pagination" in apidoc:
        places.add("query")
    if "requestBody" in manual:
        places.add("json")
    return places


def _not_found(names: Sequence[str], *, vendors: bool) -> str:
    named = " and ".join(f"`{name}`" for name in names)
    scoped = " (a vendor's token finds only its own organization's records)" if vendors else ""
    return f"Not found: nothing the caller may see has this {named}{scoped}."


# The request-environ key under which the API's body check leaves the JSON it
# loaded (per request, unlike `g`, which tests share across requests).
CHECKED_JSON_BODY = "licensing.checked_json_body"


F = TypeVar("F", bound=Callable[..., Any])


# Pagination of list routes: a page is at most MAX_PER_PAGE items; pages past
# MAX_PAGE are refused (use filters instead of walking that far).
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
MAX_PAGE = 100_000
PAGE_ARGUMENTS = ("page", "per_page")
PAGINATED_ATTRIBUTE = "__paginated__"
# Where flask-smorest's decorators leave a view's OpenAPI documentation.
APIDOC_ATTRIBUTE = "_apidoc"


def declared_statuses(view: Any) -> set[int]:
    """The statuses `view`'s decorators have documented so far: its responses,
    its arguments' 422 and its pager's."""
    apidoc = getattr(view, APIDOC_ATTRIBUTE, {})
    found = {
        *apidoc.get("response", {}).get("responses", {}),
        *apidoc.get("arguments", {}).get("responses", {}),
        *apidoc.get("pagination", {}).get("response", {}),
    }
    return {int(status) for status in found if str(status).isdigit()}


def document_answer(
    view: F, status: int, description: str, *, headers: Mapping[str, Any] | None = None
) -> F:
    """Document on `view` an error answer, a problem document, as
    `Blueprint.alt_response` would, without wrapping the view in another call."""
    apidoc = deepcopy(getattr(view, APIDOC_ATTRIBUTE, {}))
    answer: dict[str, Any] = {
        "schema": PROBLEM,
        "description": description,
        "content_type": PROBLEM_MIMETYPE,
    }
    if headers:
        answer["headers"] = deepcopy(dict(headers))
    responses = apidoc.setdefault("response", {}).setdefault("responses", {})
    responses.setdefault(status, []).append(answer)
    setattr(view, APIDOC_ATTRIBUTE, apidoc)
    return view


NEVER_ANSWERS_ATTRIBUTE = "__never_answers__"


def never_answers(status: int, why: str) -> Callable[[F], F]:
    """Declare, beside a route, that it never answers `status` although a function
    its view reaches can raise the domain error of that status in another use (a
    draft invoice is created without being finalized, so finalizing's 409 never
    comes), and why. `tests/integration/test_api_answers.py` reads the view's
    source for the errors it can raise; this is where it is told otherwise."""

    def declare(view: F) -> F:
        setattr(
            view,
            NEVER_ANSWERS_ATTRIBUTE,
            {**getattr(view, NEVER_ANSWERS_ATTRIBUTE, {}), status: why},
        )
        return view

    return declare


def never_answered(view: Any) -> dict[int, str]:
    """The statuses `view` (or a function it wraps) declares it never answers
    (`never_answers`), with why."""
    declared: dict[int, str] = {}
    while view is not None:
        declared.update(getattr(view, NEVER_ANSWERS_ATTRIBUTE, {}))
        view = getattr(view, "__wrapped__", None)
    return declared


def path_arguments(rule: str) -> list[str]:
    """The arguments a URL rule takes from its path (`<int:invoice_id>`)."""
    return re.findall(r"<(?:[^<>:]+:)?([^<>:]+)>", rule)


# A public operation needs no token, but one sent is checked (`access.enforce`).
PUBLIC_UNKNOWN_CALLER = (
    "Authentication required: a bearer token was sent and it is unknown, revoked or "
    "expired. This operation needs none: send a valid one, or none."
)
PUBLIC_READ_ONLY_CALLER = (
    "Forbidden: a bearer token with scope `read` was sent, and this operation stores "
    "what it is sent. It needs no token: send one with scope `write`, or none."
)


def _document_token_sent(view: F, declaration: access.Access, methods: Iterable[str]) -> F:
    """A public route's answers to a token sent with the request: an unknown one
    is a 401, a read-only one on a request that stores something a 403."""
    declared = declared_statuses(view)
    if 401 not in declared:
        view = document_answer(view, 401, PUBLIC_UNKNOWN_CALLER, headers=CHALLENGE)
    writes = set(methods) - access.SAFE_METHODS
    if writes and not declaration.stores_nothing and 403 not in declared:
        view = document_answer(view, 403, PUBLIC_READ_ONLY_CALLER)
    return view


class FileFirstSchema(ApiSchema):
    """The royalty reporting period a refused report must wait for (`file_first`)."""

    start = ma.fields.Date(required=True, metadata={"description": "Its first day."})
    end = ma.fields.Date(required=True, metadata={"description": "Its last day."})
    url = ma.fields.String(
        required=True,
        metadata={
            "description": "Where its report is filed: "
            "`/api/v1/agreements/{agreement_id}/royalty-reports/{period_start}`.",
            "example": "/api/v1/agreements/7/royalty-reports/2027-01-01",
        },
    )


class ProblemSchema(ApiSchema):
    """An RFC 9457 problem document, as every API error is answered."""

    class Meta:
        unknown = ma.INCLUDE  # problem documents may carry extension members

    type = ma.fields.String(required=True, metadata={"example": "about:blank"})
    title = ma.fields.String(
        required=True,
        metadata={
            "description": "One title a status, whoever refused the request: `Invalid input` "
            "for every 422, `Not found` for every 404, `Conflict` for every 409 "
            "(docs/api.md lists them); `detail` says what the problem was.",
            "example": "Invalid input",
        },
    )
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages by field path, e.g. `uses.0.quantity`."},
    )
    state = ma.fields.String(metadata={"description": "The record's state (409 only)."})
    allowed_actions = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "What the caller may take now, as the record read by them lists "
            "it (409 only; round 58: it was every step the state allows)."
        },
    )
    # The instant a refusal's detail names in the office's words, as ISO 8601 in UTC
    # (round 33): the detail is the sentence the page shows.
    expired_at = ma.fields.String(
        metadata={
            "format": "date-time",
            "description": "When the link or token the request used expired "
            "(ISO 8601, UTC; the detail says it at the office).",
        }
    )
    deadline = ma.fields.String(
        metadata={
            "format": "date-time",
            "description": "When the window the request needed closed: reconsideration, "
            "resubmission (ISO 8601, UTC).",
        }
    )
    available_from = ma.fields.String(
        metadata={
            "format": "date-time",
            "description": "From when the refused step may be taken again (ISO 8601, UTC).",
        }
    )
    # Round 60 (edges60): a royalty report filed out of order names the period to file
    # first in its detail; this says it as a program reads it.
    file_first = ma.fields.Nested(
        FileFirstSchema,
        metadata={
            "description": "The period of the agreement to report first (409 only: a royalty "
            "report filed or previewed out of period order): its first and last days and "
            "the address to file its report at (POST; its `/template` and `/preview` "
            "below it)."
        },
    )


# The one problem schema every documented error answer names: a schema instance is
# never changed once made (`ApiSchema.__deepcopy__`), and one for each of the
# document's thousand-odd error answers held 5.5 MB in every process (round 49).
PROBLEM = ProblemSchema()


class PageQuerySchema(ApiSchema):
    class Meta:
        unknown = ma.EXCLUDE  # the route's own query schema checks the other arguments

    page = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "Page number, from 1."},
    )
    per_page = ma.fields.Integer(
        load_default=DEFAULT_PER_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_PER_PAGE),
        metadata={"description": f"Items per page (at most {MAX_PER_PAGE})."},
    )


PAGE_HEADERS = {
    "Link": _header("URLs of the first, prev, next and last pages (RFC 8288).", "string"),
    "X-Total-Count": _header("How many items all pages hold together."),
}


def _route_view(endpoint: str | None) -> Any:
    """The view registered for `endpoint` (with what its decorators declared)."""
    return flask.current_app.view_functions.get(endpoint or "")


def _is_paginated(req: flask.Request) -> bool:
    return bool(getattr(_route_view(req.endpoint), PAGINATED_ATTRIBUTE, False))


def _page_link(page: int, per_page: int) -> str:
    args = MultiDict(flask.request.args)
    args["page"], args["per_page"] = str(page), str(per_page)
    # The path escaped once (`links.request_path`), not `base_url`'s IRI, which
    # leaves a `%` and non-ASCII letters as they are.
    base = flask.request.host_url.rstrip("/") + request_path()
    return f"{base}?{urlencode(list(args.items(multi=True)))}"


def page_headers(page: int, per_page: int, total: int) -> dict[str, str]:
    last = max(1, -(-total // per_page))
    links = {"first": 1, "last": last}
    if page > 1:
        links["prev"] = min(page - 1, last)
    if page < last:
        links["next"] = page + 1
    link = ", ".join(f'<{_page_link(n, per_page)}>; rel="{rel}"' for rel, n in links.items())
    return {"Link": link, "X-Total-Count": str(total)}


@dataclass(frozen=True)
class ReadPage:
    """A SELECT whose page of records is read further before it is shown (`read`:
    the page's records -> its items), with lookups for the whole page at once, so
    that neither the whole list nor each row costs queries of its own. `query` may
    be a list already built (an agreement's periods, from its term), sliced here and
    its page read further (apiperiods61)."""

    query: Select[Any] | Sequence[Any]
    read: Callable[[Sequence[Any]], Sequence[Any]]
    # The statement that reads the page's records, given the page of `query` (its
    # LIMIT and OFFSET): for figures worth computing for the page's rows alone
    # (`agreements.queries.charged_page`); by default the page itself.
    window: Callable[[Select[Any]], Select[Any]] | None = None


def _one_page(result: Any, start: int, size: int) -> tuple[Sequence[Any], int]:
    """The items from `start` and how many there are in all. A view may return
    a SELECT statement (the database counts and returns just this page), a
    `ReadPage` (the same, then read further) or a list it has already loaded
    (sliced here)."""
    if isinstance(result, ReadPage):
        if result.window is None:
            records, total = _one_page(result.query, start, size)
        else:
            assert isinstance(result.query, Select), "a window reads a statement's page"
            session = db.session()
            total = db.count_rows(session, result.query)
            page = result.window(result.query.limit(size).offset(start))
            records = session.scalars(page).all()
        return result.read(records), total
    if isinstance(result, Select):
        session = db.session()
        total = db.count_rows(session, result)
        return session.scalars(result.limit(size).offset(start)).all(), total
    items = list(result)
    return items[start : start + size], len(items)


def refuse_staff_filter(principal: Any, query: Mapping[str, Any], name: str, records: str) -> None:
    """A query filter by assignee from a vendor caller is a 422 naming it
    (`query.NAME`): vendors are never assigned `records`, so the empty list it
    found would look like an answer (docs/api.md)."""
    if principal.is_vendor and name in query:
        raise InvalidInput.for_field(
            f"query.{name}", f"{name} is a staff filter: vendors are never assigned {records}."
        )


class ApiParser(FlaskParser):
    """Reads JSON numbers as exact decimals and insists on a JSON content type."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "json": ma.RAISE,
        "query": ma.RAISE,
    }

    def _raw_load_json(self, req: flask.Request) -> Any:
        body = req.get_data(cache=True)
        if not core.is_json(req.mimetype):
            if body:
                abort(415, messages={"json": ["Send the request body as application/json."]})
            return core.missing
        if len(body) > MAX_BODY_BYTES:
            raise RequestEntityTooLarge(body_too_large(MAX_BODY_BYTES))
        if not body.strip():
            return core.missing
        if CHECKED_JSON_BODY in req.environ:  # already loaded and bounded by `_check_body`
            return req.environ[CHECKED_JSON_BODY]
        return limits.loads(body.decode("utf-8"))

    def load_querystring(self, req: flask.Request, schema: ma.Schema) -> Any:
        """On a paginated route `page` and `per_page` belong to the pager, not
        to the route's own query schema (which refuses unknown arguments). An
        argument of the schema that takes one value (not one of its lists) given
        twice is a 400 naming it (`arguments.repeated`), never its first value
        taken; an argument the schema does not know is its 422 however often given."""
        lists = self._makeproxy(req.args, schema).multiple_keys
        known = {field.data_key or name for name, field in schema.fields.items()}
        if twice := arguments.repeated(req.args, lists, among=known):
            abort(400, messages={"query": twice})
        if not _is_paginated(req):
            return super().load_querystring(req, schema)
        args = MultiDict(req.args)
        for name in PAGE_ARGUMENTS:
            args.poplist(name)
        return self._makeproxy(args, schema)

    def _handle_invalid_json_error(
        self, error: Exception, req: flask.Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        abort(400, exc=error, messages={"json": [f"The body is not valid JSON: {error}"]})


# What the API's body check (`licensing.api._check_body`) does with a route's body,
# beyond reading it as JSON, marked on the view when the route is declared: nothing
# (absent: a body schema reads it), leave it to the view (`OWN_BODY`), or refuse
# any field (`NO_BODY`: the route declares no body schema). One attribute read a
# request, as the large-body mark alone cost before (round 42).
BODY_ATTRIBUTE = "__body__"
OWN_BODY = "own"
NO_BODY = "none"
ANY_BODY = "any"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A body a route without a body schema refuses, as marshmallow's schemas word it
# (round 40's sign-out steps answered these through an empty schema).
NO_FIELD_TAKEN = ma.Schema._default_error_messages["unknown"]  # "Unknown field."
NOT_AN_OBJECT = ma.Schema._default_error_messages["type"]  # "Invalid input type."


def large_body(view: F) -> F:
    """Mark a route that reads its own (large, possibly non-JSON) body as a stream:
    the API's general body check and size limit leave it alone."""
    setattr(view, BODY_ATTRIBUTE, OWN_BODY)
    return view


def reads_own_body(view: Any) -> bool:
    return getattr(view, BODY_ATTRIBUTE, None) is OWN_BODY


# Who may call a route marked `refuses_whatever_is_sent`, as its description says
# (round 66: its declaration's words, "any signed-in user", said otherwise).
NOBODY = "nobody (every caller is refused: see the 403)"


def refuses_whatever_is_sent(view: F) -> F:
    """Mark a route that refuses every request (`POST /tokens`: a 403 saying where
    tokens are made): its body is not read, so that refusal is what a client reads,
    not a 422 on the fields it thought the route took."""
    setattr(view, BODY_ATTRIBUTE, ANY_BODY)
    return view


def takes_no_body(view: Any, methods: Iterable[str]) -> bool:
    """A route sent a body (POST, PUT, PATCH, DELETE) that declares no body schema
    and is not marked otherwise (reading its own, or refusing whatever is sent): a
    body with fields means nothing to it."""
    return (
        bool(BODY_METHODS.intersection(methods))
        and "json" not in _takes(view)
        and getattr(view, BODY_ATTRIBUTE, None) is None
    )


def refuse_fields(body: Any) -> None:
    """A body sent to a route that takes none: no body and `{}` are taken; a field is
    a 422 naming it ("Unknown field."), anything but an object a 422 on `_body`, as a
    body schema answers them (the sign-out steps' round-40 answer, every route's now)."""
    if body == {}:
        return
    if isinstance(body, dict):
        abort(422, messages={"json": {str(name): [NO_FIELD_TAKEN] for name in body}})
    abort(422, messages={"json": {"_schema": [NOT_AN_OBJECT]}})


def _without_content(decorator: Callable[[F], F]) -> Callable[[F], F]:
    """A 204 as the document declares it: no body, so no `Content-Type` either
    (flask-smorest sent `application/json` with the empty body, which a client
    that decodes by content type fails on)."""

    def documented(view: F) -> F:
        answered = decorator(view)

        @wraps(answered)
        def wrapper(*args: Any, **kwargs: Any) -> flask.Response:
            response = flask.make_response(answered(*args, **kwargs))
            if response.status_code == http.HTTPStatus.NO_CONTENT:
                del response.headers["Content-Type"]
            return response

        return cast(F, wrapper)

    return documented


LOCATION_ATTRIBUTE = "__created_at__"
# A plain int: `http.HTTPStatus.CREATED` is looked up through the enum's class on
# every read (about 0.4 µs), and `created_location` runs after every API answer.
CREATED = int(http.HTTPStatus.CREATED)

LOCATION_HEADER = {
    "Location": {
        "description": "The API URL of the record created (where it has none of its own, "
        "of the record it was added to)",
        "schema": {"type": "string", "format": "uri-reference"},
    }
}


@dataclass(frozen=True)
class Created:
    """Where a 201's new record is read: the route `endpoint` (a GET of the API),
    its URL arguments taken from the answer's fields (`fields`: URL argument ->
    field of the body), else from the request's own URL arguments of that name
    (a payment's reversal is read on its payment, `payment_id`)."""

    endpoint: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def url(self, body: Any) -> str | None:
        values = dict(flask.request.view_args or {})
        for argument, name in self.fields.items():
            values[argument] = body.get(name) if isinstance(body, dict) else None
        rule = next(iter(flask.current_app.url_map.iter_rules(self.endpoint)), None)
        if rule is None or any(values.get(argument) is None for argument in rule.arguments):
            return None
        return flask.url_for(
            self.endpoint, **{argument: values[argument] for argument in rule.arguments}
        )


def created_location(response: flask.Response) -> flask.Response:
    """After every API request: a 201 answers with `Location`, the new record's
    API URL, as its route declares it (`Blueprint.response(201, ..., location=)`),
    however the answer was made (the route's schema, a replayed idempotent answer)."""
    if response.status_code != CREATED or "Location" in response.headers:
        return response
    view = _route_view(flask.request.endpoint)
    created: Created | None = getattr(view, LOCATION_ATTRIBUTE, None)
    if created is None or not response.is_json:
        return response
    url = created.url(response.get_json(silent=True))
    if url is not None:
        response.headers["Location"] = url
    return response


class OnlyPageQuerySchema(PageQuerySchema):
    """The page arguments of a list that takes no query argument of its own: any
    other argument is refused (422, `query.NAME`), as a route's own query schema
    refuses what it does not know, rather than ignored as if it had filtered."""

    class Meta:
        unknown = ma.RAISE


def _page_schema(endpoint: str | None) -> type[PageQuerySchema]:
    """`PageQuerySchema` where the route's own query schema checks the other
    arguments (`@blp.arguments(..., location="query")`), else `OnlyPageQuerySchema`."""
    declared = (
        getattr(_route_view(endpoint), APIDOC_ATTRIBUTE, {})
        .get("arguments", {})
        .get("parameters", [])
    )
    if any(parameter.get("in") == "query" for parameter in declared):
        return PageQuerySchema
    return OnlyPageQuerySchema


class PageParser(FlaskParser):
    """The page arguments only (the route's own query schema checks the rest),
    each taken once (`arguments.repeated`), whether or not the route has a query
    schema of its own."""

    def load_querystring(self, req: flask.Request, schema: ma.Schema) -> Any:
        if twice := arguments.repeated(req.args, among=PAGE_ARGUMENTS):
            abort(400, messages={"query": twice})
        return super().load_querystring(req, schema)


def _refused_step(error: IllegalTransition) -> flask.Response:
    """A step its record's state refused, answered 409 listing the caller's own
    `allowed_actions` (round 58: `callers_steps_refused`), as reading it would, and
    saying those in its `detail` (refusal58: it said the state's)."""
    error.tell_the_caller(callers_steps_refused(error))
    return from_domain_error(error)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ApiParser()
    PAGINATION_ARGUMENTS_PARSER = PageParser()

    def __init__(
        self, name: str, import_name: str, *, url_prefix: str = API_PREFIX, **options: Any
    ) -> None:
        super().__init__(name, import_name, url_prefix=url_prefix, **options)
        self.register_error_handler(IllegalTransition, _refused_step)

    @property
    def tag(self) -> str:
        """The group its operations are listed under in the documentation, in words
        ("Royalty reports"), where flask-smorest would use the blueprint's name
        ("royalty_reports_api")."""
        return self.name.removesuffix("_api").replace("_", " ").capitalize()

    def route(
        self,
        rule: str,
        *,
        parameters: Iterable[str | dict[str, Any]] | None = None,
        tags: Iterable[str] | None = None,
        operation_id: str | None = None,
        **options: Any,
    ) -> Callable[[Any], Any]:
        """Register as flask-smorest does, under the group's tag in words; a view
        whose access declaration is not public (put `@access...` right under
        this) is documented as needing the bearer token. The operation's
        `operationId` is the view's name (`list_invoices`), or `operation_id` where
        two groups' views share one: a client generator names its methods by it
        (round 32: the document had none, and generators made names of the paths)."""
        register = super().route(
            rule, parameters=parameters, tags=[self.tag] if tags is None else tags, **options
        )

        def decorator(view: F) -> F:
            view = self.doc(operationId=operation_id or view.__name__)(view)
            declaration = getattr(view, access.ACCESS_ATTRIBUTE, None)
            if declaration is not None and not declaration.public:
                view = self._document_access(view, declaration)
            elif declaration is not None:
                view = _document_token_sent(view, declaration, options.get("methods", ["GET"]))
            methods = options.get("methods", ["GET"])
            view = self._document_answers(view, rule, declaration, methods)
            if takes_no_body(view, methods):
                setattr(view, BODY_ATTRIBUTE, NO_BODY)
            return register(view)

        return decorator

    @staticmethod
    def doc(**kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's `doc`, whose wrapper calls a plain view directly.

        flask-smorest's wrapper asks `current_app.ensure_sync(view)` on every call:
        a read through the proxy that first fails (round 41), for an answer that
        is the view itself unless it is a coroutine function. Its documentation
        (`_apidoc`) is kept as flask-smorest made it; a coroutine view keeps its
        wrapper."""
        documented = flask_smorest.Blueprint.doc(**kwargs)

        def decorator(view: F) -> F:
            wrapper = documented(view)
            if inspect.iscoroutinefunction(view):
                return wrapper

            @wraps(view)
            def plain(*args: Any, **kwargs: Any) -> Any:
                return view(*args, **kwargs)

            plain._apidoc = wrapper._apidoc  # type: ignore[attr-defined]
            return cast(F, plain)

        return decorator

    @staticmethod
    def _document_answers(
        view: F, rule: str, declaration: access.Access | None, methods: Iterable[str]
    ) -> F:
        """The answers a route gives by its shape, documented from the route itself
        unless its decorators already say more of them: a body or query arguments a
        400 (a body that is not JSON, an argument given twice); a path naming a record a
        404 when nothing the caller may see has it; every operation a 422 (each
        refuses a query argument it does not take: `licensing.api.query`); a route
        with a rate limit on it a 429 with `Retry-After` and the `X-RateLimit-*`
        headers; a body a 413 (too large) and a 415 (not JSON), and so does a route
        that declares none but whose method carries one (round 44: the body is read
        and refused alike, `licensing.api._check_body`); every operation a 503 with
        `Retry-After` (round 60: it lost to another request's changes at the database
        every try, `db.Contended`) unless it declares it never gives one (reads no
        database: `never_answers(503, why)`, put under `@access...`). 405 and 406 stay
        `default` (docs/api.md says why). `tests/integration/test_api_answers.py`
        holds every operation of the document to these rules, and to the 409s a view
        can raise."""
        declared = declared_statuses(view)
        names = path_arguments(rule)
        no_body = takes_no_body(view, methods)
        # What the body check reads: a body schema's, or the one a route without one
        # is sent anyway and refuses (round 44: its 400, 413 and 415 were `default`).
        places = (_takes(view) & {"json", "query"}) | ({"json"} if no_body else set())
        if places and 400 not in declared:
            view = document_answer(view, 400, _bad_request(places))
        if names and 404 not in declared:
            vendors = declaration is not None and declaration.vendor
            view = document_answer(view, 404, _not_found(names, vendors=vendors))
        if 422 not in declared:
            view = document_answer(view, 422, NO_BODY_OR_ARGUMENT if no_body else UNKNOWN_ARGUMENT)
        if 429 not in declared and is_rate_limited(view):
            view = document_answer(view, 429, RATE_LIMITED, headers=RATE_LIMITED_HEADERS)
        if "json" in places and 413 not in declared:
            view = document_answer(view, 413, BODY_TOO_LARGE)
        if "json" in places and 415 not in declared:
            view = document_answer(view, 415, NOT_JSON)
        if 503 not in declared and 503 not in never_answered(view):
            view = document_answer(view, 503, CONTENDED, headers=CONTENDED_HEADERS)
        return view

    def _document_access(self, view: F, declaration: access.Access) -> F:
        """A route that needs a caller, documented from its access declaration: the
        bearer token, its 401, the 403 of a route some signed-in callers may not
        call, and who may call it at the end of its description."""
        summary_and_description = load_info_from_docstring(
            view.__doc__, delimiter=self.DOCSTRING_INFO_DELIMITER
        )
        refused_to_all = getattr(view, BODY_ATTRIBUTE, None) == ANY_BODY
        who = f"Who may call it: {NOBODY if refused_to_all else declaration.describe()}."
        described = "\n\n".join(
            part for part in (summary_and_description.get("description"), who) if part
        )
        view = self.doc(**SECURED, description=described)(view)
        documented = getattr(view, APIDOC_ATTRIBUTE, {}).get("response", {}).get("responses", {})
        refused = f"Forbidden: only {declaration.describe()} may call it."
        # A route that says more about its refusals (whom a refused member is told
        # to ask) says it after whom the declaration admits, so every 403 names them.
        # Rewritten before the 401 below is added: that copies the documentation.
        for answer in documented.get(403, []) if not declaration.any_user else []:
            answer["description"] = f"{refused} {answer['description']}"
        if 401 not in documented:
            view = self.alt_response(401, description=UNAUTHENTICATED, headers=CHALLENGE)(view)
        if not declaration.any_user and 403 not in documented:
            view = self.alt_response(403, description=refused)(view)
        return view

    def response(
        self,
        status_code: int | str,
        schema: Any = None,
        *,
        conflict: str | None = None,
        location: Created | None = None,
        **kwargs: Any,
    ) -> Callable[[F], F]:
        """The route's success; with `conflict`, also when it answers 409 instead
        (a `Conflict`: mostly the record's state refusing the step, the problem
        listing `allowed_actions`), so a step declares both its outcomes at once.
        A 201 says where its new record is read (`location`): its `Location`
        header (`created_location`), declared in the document."""
        if location is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), **deepcopy(LOCATION_HEADER)}
        success = self._success(status_code, schema, **kwargs)
        refusal = None if conflict is None else self.alt_response(409, description=conflict)

        def documented(view: F) -> F:
            answered = success(view if refusal is None else refusal(view))
            if location is not None:
                setattr(answered, LOCATION_ATTRIBUTE, location)
            return answered

        return documented

    def _success(self, status_code: int | str, schema: Any, **kwargs: Any) -> Callable[[F], F]:
        """A success that is not JSON (a PDF) is documented as bytes of its
        content type, so clients and schemathesis know what to expect."""
        decorator: Callable[[F], F] = super().response(status_code, schema, **kwargs)
        if int(status_code) == http.HTTPStatus.NO_CONTENT:
            return _without_content(decorator)
        content_type = kwargs.get("content_type")
        if schema is not None or not content_type or content_type.endswith("json"):
            return decorator

        def documented(view: F) -> F:
            wrapper = decorator(view)
            for doc in getattr(wrapper, APIDOC_ATTRIBUTE)["response"]["responses"][status_code]:
                doc.setdefault("schema", {"type": "string", "format": "binary"})
            return wrapper

        return documented

    def alt_response(
        self, status_code: int | str, response: Any = None, **kwargs: Any
    ) -> Callable[[F], F]:
        """An error response documented by status and description alone is a
        problem document, like every other error."""
        if int(status_code) >= 400 and response is None and kwargs.get("schema") is None:
            kwargs["schema"] = PROBLEM
            kwargs.setdefault("content_type", PROBLEM_MIMETYPE)
        if int(status_code) == 429:
            kwargs.setdefault("headers", RATE_LIMITED_HEADERS)
        return super().alt_response(status_code, response, **kwargs)

    # Takes none of flask-smorest's arguments (its pager, `page_size`): one
    # pagination for the whole API.
    def paginate(self, item_schema: type[ma.Schema]) -> Callable[[F], F]:  # type: ignore[override]
        """Answer one page (`page`, `per_page`) of what the view returns, a
        list or a SELECT of records `item_schema` shows, with `Link` and
        `X-Total-Count` headers; the page is the route's 200 response, so the
        list and its items are declared once. Replaces flask-smorest's own,
        whose argument is `page_size` and whose metadata is a JSON header."""

        def decorator(view: F) -> F:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                schema = _page_schema(flask.request.endpoint)
                params = self.PAGINATION_ARGUMENTS_PARSER.parse(
                    schema, flask.request, location="query", unknown=schema.Meta.unknown
                )
                result, status, headers = unpack_tuple_response(view(*args, **kwargs))
                page, per_page = params["page"], params["per_page"]
                items, total = _one_page(result, (page - 1) * per_page, per_page)
                extra = page_headers(page, per_page, total)
                return items, status, {**(headers or {}), **extra}

            setattr(wrapper, PAGINATED_ATTRIBUTE, True)
            apidoc = deepcopy(getattr(wrapper, APIDOC_ATTRIBUTE, {}))
            apidoc["pagination"] = {
                "parameters": {"in": "query", "schema": PageQuerySchema},
                "response": {422: http.HTTPStatus(422).name},
            }
            setattr(wrapper, APIDOC_ATTRIBUTE, apidoc)
            # `wraps` keeps the view's signature
            return self.response(200, item_schema(many=True))(cast(F, wrapper))

        return decorator

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        resp_doc.setdefault("headers", {}).update(deepcopy(PAGE_HEADERS))


class Api(flask_smorest.Api):
    """flask-smorest's Api, with errors left to `licensing.app` (problem+json),
    and documented as such."""

    ERROR_SCHEMA = ProblemSchema

    # The API document of each set of blueprints, built by the first app of a
    # process to register them (see `register_blueprints`).
    _documents: dict[tuple[flask_smorest.Blueprint, ...], Any] = {}
    _documents_lock = threading.Lock()

    def register_blueprints(
        self, app: flask.Flask, blueprints: Sequence[flask_smorest.Blueprint]
    ) -> None:
        """Register `blueprints` in `app` (this Api's), in order, and document them.

        Documenting walks every operation's schemas (apispec deep-copies each
        one), half the time it takes to build the app, and gives the same
        document for every app of a process: it reads only the blueprints, the
        views' declarations and constant settings, all fixed once imported
        (Flask refuses changes to a blueprint after its first registration). So
        the first app of a process builds it and later apps (the test suite
        builds one per test; the CLI one per command) share that document, which
        nothing changes once built.
        """
        key = tuple(blueprints)
        with self._documents_lock:
            document = self._documents.get(key)
            if document is None:
                self._document_shared_components()
                for blueprint in blueprints:
                    self.register_blueprint(blueprint)
                self._documents[key] = self.spec
                return
        for blueprint in blueprints:  # as `register_blueprint` does, but the document
            app.extensions["flask-smorest"]["blp_name_to_api"][blueprint.name] = self
            app.register_blueprint(blueprint)
        self.spec = document

    def register_blueprint(
        self,
        blp: flask_smorest.Blueprint,
        *,
        parameters: Any = None,
        **options: Any,
    ) -> None:
        """Register as flask-smorest does; the group's tag is named in words
        (`Blueprint.tag`), as its operations are."""
        super().register_blueprint(blp, parameters=parameters, **options)
        if isinstance(blp, Blueprint):
            for tag in self.spec._tags:  # apispec keeps no public way to rename one
                if tag["name"] == options.get("name", blp.name):
                    tag["name"] = blp.tag

    def _register_error_handlers(self) -> None:
        return None

    # flask-smorest registers its shared components (responses, the ETag and
    # pagination headers) in every app's new document as the Api is made; a later
    # app of the process shares the first app's document, so that work (about 15
    # of the 80 ms it takes to build an app) was thrown away with its own. They are
    # registered, in flask-smorest's order, only in the document that is built.
    def _register_responses(self) -> None:
        return None

    def _register_etag_headers(self) -> None:
        return None

    def _register_pagination_header(self) -> None:
        return None

    def _document_shared_components(self) -> None:
        self._register_shared_responses()
        super()._register_etag_headers()
        super()._register_pagination_header()

    def _register_shared_responses(self) -> None:
        """flask-smorest's shared responses (one per status, and the default
        error), with `application/problem+json` as their content type."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = {PROBLEM_MIMETYPE: {"schema": ProblemSchema}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {
                "description": "An error, as a problem document (RFC 9457)",
                "content": {PROBLEM_MIMETYPE: {"schema": ProblemSchema}},
            },
            lazy=True,
        )
