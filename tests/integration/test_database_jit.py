"""Round 42: PostgreSQL's JIT compiled the month's first statement run's query for
1.6-3 s to run it in 0.2-0.4 s (docs/operations.md, "JIT"). The service's own
sessions start with `jit = off` unless DATABASE_JIT says otherwise."""

from __future__ import annotations

import urllib.parse

import pytest
from sqlalchemy import text

from licensing import db
from licensing.app import create_app
from tests.conftest import DatabaseTemplate, make_config


def _session_says(url: str, setting: str, **changes: str) -> str:
    application = create_app(make_config(url, **changes))
    with application.app_context():
        try:
            return str(db.session().execute(text(f"SHOW {setting}")).scalar_one())
        finally:
            db.session().close()
            db.database().engine.dispose()


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({}, "off"),  # the default
        ({"database_jit": "off"}, "off"),
        ({"database_jit": "on"}, "on"),
        ({"database_jit": "server"}, "on"),  # PostgreSQL's own default, asked nothing
    ],
)
def test_the_services_sessions_start_with_the_jit_database_jit_asks_for(
    postgresql_template: DatabaseTemplate, changes: dict[str, str], said: str
) -> None:
    url = postgresql_template.new_url()
    assert _session_says(url, "jit", **changes) == said


def test_the_server_decides_when_database_jit_is_server(
    postgresql_template: DatabaseTemplate, postgres_server: object
) -> None:
    url = postgresql_template.new_url()
    name = url.rsplit("/", 1)[-1]
    postgres_server.execute(f'ALTER DATABASE "{name}" SET jit = off')  # type: ignore[attr-defined]
    assert _session_says(url, "jit", database_jit="server") == "off"
    assert _session_says(url, "jit", database_jit="on") == "on"  # the service's wins


def test_options_the_database_url_gives_are_kept_beside_it(
    postgresql_template: DatabaseTemplate,
) -> None:
    options = urllib.parse.quote("-c statement_timeout=4321")
    url = f"{postgresql_template.new_url()}?options={options}"
    assert _session_says(url, "statement_timeout") == "4321ms"
    assert _session_says(url, "jit") == "off"
