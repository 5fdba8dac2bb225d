"""`xdist_group` marks that keep a module on one worker, under pytest 9 too.

A pytest plugin (tests/conftest.py names it in `pytest_plugins`). Round 64 found that
pytest-xdist (3.8) names a grouped test `<node id>@<group>` for `--dist loadgroup` by
setting `item._nodeid`, which pytest 9 no longer reads (the id is `item._id`): `make
test` handed a group's tests to both workers, and each worker made the module's data
(module fixtures, module servers) again. The hook names them the way xdist meant, on
the workers of a `loadgroup` run alone; where xdist's own naming took (pytest 8), it
leaves the id as it is.

A plugin of its own, not tests/conftest.py's `pytest_collection_modifyitems`: that
hook must run before pytest's `-m` selection reads the `browser` marker it adds, and
this one after xdist's."""

from __future__ import annotations

import pytest
from _pytest.nodeid import coerce_node_id


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each grouped test named `<node id>@<group>` (the module's docstring)."""
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
