"""Round 51: the whole integration tier runs under the audit watch
(`tests.support.audited`; round 50 ran it under the journeys alone): a unit of work
a service runs in a test that changes a record's state without writing an audit
event on that record fails the test, naming the change (table, columns, ids)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.audited import unaudited_state_changes


@pytest.fixture(autouse=True)
def _every_state_change_audited(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each unit of work a service runs in the test that changes a record's state
    writes an audit event on it. Tests without an app are not watched;
    `--no-audit-watch` leaves the watch off (to measure its cost, or to see a
    failure of another kind first)."""
    if "app" not in request.fixturenames or request.config.getoption("no_audit_watch"):
        yield
        return
    app = request.getfixturevalue("app")
    with unaudited_state_changes(app) as watch:
        yield
    assert watch.gaps == [], "state changed with no audit event of the record"
