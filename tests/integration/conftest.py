"""Round 51: the whole integration tier runs under the audit watch
(`tests.support.audited`; round 50 ran it under the journeys alone): a unit of work
a service runs in a test that changes a record's state without writing an audit
event on that record fails the test, naming the change (table, columns, ids)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _pytest.nodeid import coerce_node_id

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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Round 64: `xdist_group` kept no module on one worker. pytest-xdist (3.8) names a
    grouped test `<node id>@<group>` for `--dist loadgroup` by setting `item._nodeid`,
    which pytest 9 no longer reads (the id is `item._id`), so `make test` handed a
    group's tests to both workers and each made its module's data. Named here the
    way xdist meant, on the workers of a `loadgroup` run alone."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted(
            {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
        )
        if names and item.nodeid.rfind("@") <= item.nodeid.rfind("]"):
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")
