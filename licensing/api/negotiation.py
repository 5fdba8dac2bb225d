"""What the API answers `OPTIONS` and an `Accept` header with.

- `OPTIONS` on an API route is answered as an API answers: 204, no body, the
  route's methods in `Allow` (Flask's own answer was an empty `text/html` page),
  for any caller: it runs no view and tells nothing the public OpenAPI document
  does not (`licensing.access.enforce` lets it through).
- A request whose `Accept` excludes every type the route answers with is a 406
  problem document naming them. What a route answers with is what the OpenAPI
  document says of its success responses: JSON for most (where
  `application/problem+json` is accepted too, since a client asking for problem
  documents reads JSON), `application/pdf` for the PDFs, `text/csv` for the royalty
  template and rows, and the three export formats for an export (whose `format`
  argument then picks one: `exports.export` checks that one). A missing `Accept`,
  `*/*` and `application/*` accept everything JSON; routes the document does not
  list (the Swagger UI page and its assets) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, Request, Response, current_app
from werkzeug.exceptions import NotAcceptable

from licensing.problems import PROBLEM_MIMETYPE

JSON = "application/json"
# The routes' answers, by (rule, method), read once from the OpenAPI document.
_PRODUCED = "licensing.api.produced"
# The flask-smorest Api whose document says what each route answers.
_API = "licensing.api.document"
# `<int:invoice_id>` in a Flask rule is `{invoice_id}` in the OpenAPI document.
_RULE_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def options_response(req: Request) -> Response | None:
    """The answer to `OPTIONS` on an API route Flask would answer by itself."""
    rule = req.url_rule
    if req.method != "OPTIONS" or not getattr(rule, "provide_automatic_options", False):
        return None
    adapter = current_app.create_url_adapter(req)
    assert adapter is not None  # a request's context always has one
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]  # no body, so no type (not text/html)
    response.headers["Allow"] = ", ".join(sorted(adapter.allowed_methods()))
    return response


def check_accept(req: Request) -> None:
    """Refuse (406) a request whose `Accept` admits none of the route's answers."""
    # The environ's key, as `req.headers.get("Accept")` reads it, without the
    # KeyError that look-up raises and catches when the header is absent.
    accept = req.environ.get("HTTP_ACCEPT")
    if not accept or accept == "*/*" or req.method == "OPTIONS" or req.url_rule is None:
        return
    produced = _produced(current_app).get((req.url_rule.rule, req.method))
    if produced:
        require_acceptable(req, produced)


def require_acceptable(req: Request, produced: Iterable[str]) -> None:
    """406 unless `req`'s `Accept` admits one of the `produced` media types (no
    `Accept` admits every type)."""
    if not req.headers.get("Accept"):
        return
    offered = sorted(produced)
    acceptable = [*offered, PROBLEM_MIMETYPE] if JSON in offered else offered
    if req.accept_mimetypes.best_match(acceptable) is None:
        raise NotAcceptable(
            f"This endpoint answers {_either(offered)}, and errors as {PROBLEM_MIMETYPE}; "
            f"the Accept header ({req.headers.get('Accept', '')[:200]}) admits none of "
            f"them. Accept {_either(offered)} (or */*), or send no Accept header."
        )


def _either(types: list[str]) -> str:
    return types[0] if len(types) == 1 else f"{', '.join(types[:-1])} or {types[-1]}"


def _produced(app: Flask) -> dict[tuple[str, str], frozenset[str]]:
    """(rule, method) -> the media types of the route's documented success answers
    (empty for one without a body, such as a 204)."""
    cached: dict[tuple[str, str], frozenset[str]] | None = app.extensions.get(_PRODUCED)
    if cached is None:
        cached = _read_document(app)
        app.extensions[_PRODUCED] = cached
    return cached


def init_app(app: Flask, api: Any) -> None:
    """Remember `api` (a flask-smorest Api): its document says what each route answers."""
    app.extensions[_API] = api


def _read_document(app: Flask) -> dict[tuple[str, str], frozenset[str]]:
    paths = app.extensions[_API].spec.to_dict()["paths"]
    produced: dict[tuple[str, str], frozenset[str]] = {}
    for rule in app.url_map.iter_rules():
        operations = paths.get(_RULE_ARGUMENT.sub(r"{\1}", rule.rule), {})
        for method in rule.methods or ():
            operation = operations.get(("get" if method == "HEAD" else method).lower())
            if not isinstance(operation, dict):
                continue
            produced[(rule.rule, method)] = frozenset(
                media_type
                for status, answer in operation.get("responses", {}).items()
                if str(status).startswith("2")
                for media_type in (answer.get("content") or {})
            )
    return produced
