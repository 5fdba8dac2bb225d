"""The links port: services ask `links()` for the pages their emails point at."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.links import EXTENSION, Links, PublicUrlLinks, links
from licensing.mail.models import OutboxMessage
from tests.support.factories import DEFAULT_PASSWORD

SAMPLE_ARGUMENTS: dict[str, Any] = {
    "int": 7,
    "int | None": 7,  # an optional record (the token a new one replaces)
    "str": "a-token",
    "date": date(2027, 1, 1),
    # The console lists' own narrowing (`to_pay`, `states`): served with them too.
    "bool": True,
    "Sequence[str]": ("active",),
    # The estimator filled in with a use (a denied request's, round 58).
    "Mapping[str, str] | None": {"uses-0-use": "education"},
}


def _link_kinds() -> list[str]:
    return [name for name, _ in inspect.getmembers(Links, inspect.isfunction) if name[0] != "_"]


def _sample_link(adapter: Links, kind: str) -> str:
    method = getattr(adapter, kind)
    parameters = inspect.signature(method).parameters.values()
    arguments = [
        SAMPLE_ARGUMENTS[parameter.annotation]
        for parameter in parameters
        if parameter.kind != inspect.Parameter.KEYWORD_ONLY
    ]
    keywords = {
        parameter.name: SAMPLE_ARGUMENTS[parameter.annotation]
        for parameter in parameters
        if parameter.kind == inspect.Parameter.KEYWORD_ONLY
    }
    url: str = method(*arguments, **keywords)
    return url


class LinksElsewhere:
    """Another edge's links: every kind of link on a host of its own, with its arguments."""

    def __getattr__(self, kind: str) -> Any:
        if kind not in _link_kinds():
            raise AttributeError(kind)
        return lambda *values: "/".join(["https://elsewhere.test", kind, *map(str, values)])


def test_a_service_mails_the_links_of_the_adapter_the_app_is_given(
    app: Flask, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.extensions, EXTENSION, LinksElsewhere())

    services.request_password_reset(vendor.email)

    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert message.subject == "Reset your password"
    assert "https://elsewhere.test/password_reset/" in message.body_text
    assert "http://testserver/reset" not in message.body_text


def test_a_link_from_another_adapter_still_carries_a_working_token(
    app: Flask, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.extensions, EXTENSION, LinksElsewhere())
    services.request_password_reset(vendor.email)
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    token = message.body_text.split("https://elsewhere.test/password_reset/")[1].split()[0]

    services.reset_password(token, DEFAULT_PASSWORD + "-renewed")

    assert services.sign_in(vendor.email, DEFAULT_PASSWORD + "-renewed").id == vendor.id


@pytest.mark.parametrize("kind", _link_kinds())
def test_every_kind_of_email_link_opens_a_page_the_app_serves(app: Flask, kind: str) -> None:
    url = _sample_link(links(), kind)

    assert url.startswith("http://testserver/")
    path = urlsplit(url).path  # a link may carry a query and a fragment (the token replaced)
    endpoint, _ = app.url_map.bind("testserver").match(path)
    assert endpoint  # a route answers this path: the port and the routes agree


def test_links_follow_the_public_url_with_its_path_prefix(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = dataclasses.replace(
        app.config["LICENSING"], public_url="https://licensing.example.test/office"
    )
    monkeypatch.setitem(app.config, "LICENSING", public)

    url = PublicUrlLinks(app).agreement(7)

    assert url.startswith("https://licensing.example.test/office/")
    assert url.endswith("/7")
