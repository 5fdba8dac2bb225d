"""The app's responses hand the server exactly the headers werkzeug would:
`AppResponse.get_wsgi_headers` only skips checking each value a second time."""

from __future__ import annotations

from typing import Any

import flask
import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from licensing.headers import DEFAULT_POLICY, AppResponse

ENVIRON = EnvironBuilder(path="/api/v1/quotes", base_url="http://example.test/").get_environ()

STATUSES = [100, 101, 200, 201, 204, 301, 302, 303, 304, 404, 422, 429, 500, 503, 599]
HEADERS = [
    ("Location", "/elsewhere?q=ä"),
    ("Content-Location", "/ünïcode"),
    ("Content-Length", "7"),
    ("Content-Type", "application/json"),
    ("Content-Security-Policy", DEFAULT_POLICY),
    ("X-Request-Id", "0123456789abcdef"),
    ("content-length", "3"),
    ("ETag", '"abc"'),
]


def werkzeugs(response: AppResponse) -> list[tuple[str, str]]:
    return flask.Response.get_wsgi_headers(response, ENVIRON).to_wsgi_list()


@given(
    status=st.sampled_from(STATUSES),
    extra=st.lists(st.sampled_from(HEADERS), max_size=5),
    body=st.sampled_from(["a body", "", None]),
)
def test_the_headers_sent_are_werkzeugs(
    status: int, extra: list[tuple[str, str]], body: str | None
) -> None:
    # body None: a streamed body, whose length werkzeug cannot know
    response = AppResponse(iter([b"chunk"]) if body is None else body, status=status)
    for name, value in extra:
        response.headers.add(name, value)
    assert response.get_wsgi_headers(ENVIRON).to_wsgi_list() == werkzeugs(response)


def test_the_copy_is_the_servers_own() -> None:
    response = AppResponse("x", mimetype="application/json")
    sent = response.get_wsgi_headers(ENVIRON)
    sent.add("X-Later", "1")
    assert "X-Later" not in response.headers
    assert sent is not response.headers


@pytest.mark.parametrize("value", ["a\nb", "a\r\nSet-Cookie: x=1"])
def test_a_value_with_a_newline_never_reaches_the_list(value: Any) -> None:
    response = AppResponse("x")
    with pytest.raises(ValueError, match="newline"):
        response.headers["X-Anything"] = value
    with pytest.raises(ValueError, match="newline"):
        response.headers.add("X-Anything", value)


def test_the_app_answers_with_it() -> None:
    from licensing.app import App

    assert App.response_class is AppResponse
