"""A refused client is told one number: the 429's Retry-After header and its words
(the API's problem detail, the page's sentence) come from one computation. The
header was written again by Flask-Limiter after the handler, from a later clock,
so it could say a second less than the detail, and the detail said a minute
whatever the window (an hour's limit answered "Retry-After: 3600" and "try again
in 60 seconds")."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from typing import Any

import flask_limiter._extension
import pytest
from flask import Flask

from licensing.web.errors import duration_words

DETAIL_SECONDS = re.compile(r"try again in (\d+) seconds\.$")


def _refused_quote(app: Flask) -> Any:
    client = app.test_client()
    for _ in range(3):
        client.post("/api/v1/quotes", json={"uses": []})
    refused = client.post("/api/v1/quotes", json={"uses": []})
    assert refused.status_code == 429
    return refused


def _detail_seconds(response: Any) -> int:
    found = DETAIL_SECONDS.search(response.get_json()["detail"])
    assert found, response.get_json()["detail"]
    return int(found.group(1))


@pytest.mark.parametrize("config_changes", [{"quote_rate_limit": "3 per hour"}])
def test_an_hourly_limits_429_says_the_hour_in_its_header_and_its_detail_alike(
    app: Flask,
) -> None:
    refused = _refused_quote(app)
    assert refused.mimetype == "application/problem+json"
    assert _detail_seconds(refused) == int(refused.headers["Retry-After"])
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600


@pytest.mark.parametrize("config_changes", [{"quote_rate_limit": "3 per minute"}])
def test_the_header_and_the_detail_agree_when_a_second_passes_between_them(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Flask-Limiter's own clock (its after-request hook) runs 0.9 s late: a slow
    # handler, or the moment between the body and the header crossing a second.
    late = SimpleNamespace(time=lambda: time.time() + 0.9, mktime=time.mktime)
    monkeypatch.setattr(flask_limiter._extension, "time", late)
    refused = _refused_quote(app)
    assert _detail_seconds(refused) == int(refused.headers["Retry-After"])


@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "3 per hour"}])
def test_a_refused_sign_in_page_says_in_words_the_wait_its_header_gives(app: Flask) -> None:
    client = app.test_client()
    for n in range(4):
        page = client.post("/sign-in", data={"email": f"g{n}@nowhere.example", "password": "x"})
    assert page.status_code == 429
    seconds = int(page.headers["Retry-After"])
    assert seconds > 60
    assert f"Try again in {duration_words(seconds)}." in page.get_data(as_text=True)
