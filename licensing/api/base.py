"""The API edge: flask-smorest configured for exact decimals and problem documents.

Feature API modules create their blueprint with `Blueprint(...)` from here, so
request bodies are parsed with `Decimal` numbers and a body that is not JSON is
a 415, and they are registered in `licensing.api.register`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import flask
import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from licensing import limits

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIX = "/api/v1"
# The OpenAPI security requirement of routes that need `Authorization: Bearer`.
SECURED = {"security": [{"bearerAuth": []}]}

# Everything the API accepts in one body; larger bodies are a 413.
MAX_BODY_BYTES = 1_000_000


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
            abort(413)
        if not body.strip():
            return core.missing
        return limits.loads(body.decode("utf-8"))

    def _handle_invalid_json_error(
        self, error: Exception, req: flask.Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        abort(400, exc=error, messages={"json": [f"The body is not valid JSON: {error}"]})


LARGE_BODY_ATTRIBUTE = "__large_body__"


def large_body(view: F) -> F:
    """Mark a route that reads its own (large, possibly non-JSON) body as a stream:
    the API's general body check and size limit leave it alone."""
    setattr(view, LARGE_BODY_ATTRIBUTE, True)
    return view


def reads_own_body(view: Any) -> bool:
    return bool(getattr(view, LARGE_BODY_ATTRIBUTE, False))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ApiParser()


class Api(flask_smorest.Api):
    """flask-smorest's Api, with errors left to `licensing.app` (problem+json)."""

    def _register_error_handlers(self) -> None:
        return None
