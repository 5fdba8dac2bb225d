"""Every route declares who may call it."""

from __future__ import annotations

from flask import Flask

from licensing import access


def test_every_route_in_the_url_map_declares_who_may_call_it(app: Flask) -> None:
    undeclared = sorted(
        f"{rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if access.declaration_for(app, rule.endpoint) is None
    )
    assert undeclared == []


def test_the_route_walk_notices_an_undeclared_route(app: Flask) -> None:
    app.add_url_rule("/_probe", "probe_without_declaration", lambda: "x")
    assert access.declaration_for(app, "probe_without_declaration") is None
