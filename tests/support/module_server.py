"""One live server for a browser module whose tests share it (round 65), served as
the browser tests' `live_server` is (`tests/conftest.py`): the app on a fresh SQLite
database on a loopback port, CSRF on, mail sent after each request.

A module-scoped fixture yields from `served(...)`; the module is kept on one worker
(`pytest.mark.xdist_group`), or each worker would start its own. Only for tests
that change nothing another reads: `tests/browser/test_accessibility.py` says how
a module mixes them with tests that need a server of their own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from licensing.app import create_app
from tests.conftest import DatabaseTemplate, make_config
from tests.support.servers import LiveServer, SMTPServer


def served(
    template: DatabaseTemplate, smtp_server: SMTPServer, **changes: Any
) -> Iterator[LiveServer]:
    """The server, with the configuration `changes` (as `browser_config_changes`),
    stopped and its engine disposed of when the module is done."""
    config = make_config(
        template.new_url(),
        smtp_url=smtp_server.url,
        send_mail_after_request=True,
        overrides={},
        **changes,
    )
    server = LiveServer(create_app(config)).start()
    yield server
    server.stop()
    server.app.extensions["licensing.db"].engine.dispose()
