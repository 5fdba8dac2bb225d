"""Building an app: what `create_app` leaves for later or shares between apps
gives what building everything up front would have given."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Map, UnicodeConverter
from werkzeug.routing import Rule as WerkzeugRule

from licensing.api.base import Api
from licensing.app import Rule, create_app
from tests.conftest import DatabaseTemplate, make_config

# A value each converter of the app's routes accepts.
_EXAMPLES: dict[str, Any] = {"RecordId": 7, "UnicodeConverter": "a b/é", "PathConverter": "x/y z"}


def _example_values(rule: WerkzeugRule) -> dict[str, Any]:
    return {name: _EXAMPLES[type(c).__name__] for name, c in rule._converters.items()}


def test_every_route_builds_the_urls_werkzeugs_own_builders_build(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    assert rules
    assert all(isinstance(rule, Rule) for rule in rules)
    for rule in rules:
        values = _example_values(rule)
        extra = {"page": "2", "q": "a&b c"}
        eager = WerkzeugRule._compile_builder(rule, False).__get__(rule, None)
        eager_unknown = WerkzeugRule._compile_builder(rule, True).__get__(rule, None)
        for _ in range(2):  # compiled on the first call, kept for the second
            assert rule._build(**values) == eager(**values)
            assert rule._build_unknown(**values, **extra) == eager_unknown(**values, **extra)


def test_url_for_builds_through_the_lazy_builders(app: Flask) -> None:
    with app.test_request_context():
        from flask import url_for

        first = url_for("static", filename="app.css", v="1")
        assert first == url_for("static", filename="app.css", v="1")
    assert first.startswith("/static/app.css?v=1")


def test_a_later_app_shares_the_document_the_first_app_built(
    app: Flask, database_template: DatabaseTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared document is the one a first app of a fresh process builds,
    whatever the app's settings (here the mail viewer's extra routes)."""
    served = json.loads(app.test_client().get("/api/v1/openapi.json").data)

    monkeypatch.setattr(Api, "_documents", {})
    fresh = create_app(make_config(database_template.url, dev_mail_viewer=True))
    try:
        built = json.loads(fresh.test_client().get("/api/v1/openapi.json").data)
        again = create_app(make_config(database_template.url))
        try:
            assert json.loads(again.test_client().get("/api/v1/openapi.json").data) == built
        finally:
            again.extensions["licensing.db"].engine.dispose()
    finally:
        fresh.extensions["licensing.db"].engine.dispose()
    assert built == served
    assert len(Api._documents) == 1


def _compiled(rule: WerkzeugRule) -> tuple[Any, ...]:
    converters = sorted((name, type(c), c.regex) for name, c in rule._converters.items())
    return list(rule._parts), list(rule._trace), converters, set(rule.arguments)


def test_every_route_is_parsed_into_the_parts_werkzeugs_own_compile_makes(app: Flask) -> None:
    """An app built after another in the process (the suite builds one per test)
    takes each rule's parts from those `Rule` kept."""
    later = create_app(app.config["LICENSING"])
    try:
        for rule in later.url_map.iter_rules():
            kept = _compiled(rule)
            WerkzeugRule.compile(rule)
            assert _compiled(rule) == kept, rule.rule
    finally:
        later.extensions["licensing.db"].engine.dispose()


def test_a_rule_on_a_map_with_other_converters_is_parsed_for_that_map() -> None:
    class Hex(UnicodeConverter):
        regex = "[0-9a-f]+"

    plain, hexed = Map(), Map(converters={"int": Hex})
    for routes in (plain, hexed):
        routes.add(Rule("/records/<int:record>", endpoint="record"))
    assert plain.bind("example.test").match("/records/12") == ("record", {"record": 12})
    assert hexed.bind("example.test").match("/records/ff") == ("record", {"record": "ff"})
    assert hexed.bind("example.test").build("record", {"record": "ab"}) == "/records/ab"
