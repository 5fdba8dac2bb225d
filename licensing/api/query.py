"""Every API operation refuses a query argument it does not take (round 16).

Lists refused an unknown argument since round 14 (their query schemas), but a
single record's GET (`/api/v1/invoices/1?expand=lines`), an action's POST and
the royalty report's POST (which reads `attest`, `amends` and `reason` itself)
ignored it, as if it had been understood. The arguments an operation takes are
the ones its OpenAPI document lists (`in: query`), so one check before every
API request reads them from there: an argument not listed is the lists' 422,
`errors` naming it `query.NAME` with "Unknown field.", however often it is
given. Routes the document does not describe (the document itself, Swagger UI's
assets) are left alone.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Request
from flask_smorest.spec.plugins import FlaskPlugin
from webargs.flaskparser import abort

UNKNOWN = "Unknown field."

# (OpenAPI path, method) -> the query arguments the operation takes.
Taken = dict[tuple[str, str], frozenset[str]]

_METHODS = ("get", "put", "post", "delete", "patch")
# Built once for each OpenAPI document (apps of a process share one: `Api`).
_taken: dict[int, tuple[Any, Taken]] = {}
_lock = threading.Lock()


def _parameter(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in parameter:
        parameter = document["components"]["parameters"][parameter["$ref"].split("/")[-1]]
    return parameter


def arguments_taken(document: dict[str, Any]) -> Taken:
    """Each operation's query arguments, from an OpenAPI document."""
    taken: Taken = {}
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            if method not in item:
                continue
            parameters = [
                _parameter(document, p) for p in shared + item[method].get("parameters", [])
            ]
            taken[(path, method.upper())] = frozenset(
                p["name"] for p in parameters if p.get("in") == "query"
            )
    return taken


def _taken_by(spec: Any) -> Taken:
    with _lock:
        cached = _taken.get(id(spec))
        if cached is None or cached[0] is not spec:
            cached = (spec, arguments_taken(spec.to_dict()))
            _taken[id(spec)] = cached
        return cached[1]


def check_query(req: Request, spec: Any) -> None:
    """Refuse (422) the query arguments the request's operation does not take."""
    # No query string, no arguments: not worth parsing it into an empty MultiDict
    # on every request.
    if not req.query_string or not req.args or req.url_rule is None:
        return
    method = "GET" if req.method == "HEAD" else req.method
    path = FlaskPlugin.flaskpath2openapi(req.url_rule.rule)
    taken = _taken_by(spec).get((path, method))
    if taken is None:  # not an operation of the document
        return
    unknown = [name for name in dict.fromkeys(req.args) if name not in taken]
    if unknown:
        abort(422, messages={"query": {name: [UNKNOWN] for name in unknown}})
