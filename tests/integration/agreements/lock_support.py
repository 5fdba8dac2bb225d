"""Two agreements steps at once, for the lock order's tests
(`licensing/agreements/services/__init__.py`; the runner is
`tests/support/concurrent_steps.py`): licensing staff closing an organization, and a
step answering its refusal (moved from `test_standing_read_locked.py`, round 56)."""

from __future__ import annotations

from typing import Any

from licensing.accounts import services as accounts
from licensing.errors import Conflict
from tests.support import factories


def closing(organization_id: int) -> Any:
    """Licensing staff closing the organization: its standing after."""

    def closing_it() -> str:
        staff = factories.staff_actor(("licensing",))
        return accounts.change_organization_standing(
            organization_id, "close", reason="The licensee asked to end it", actor=staff
        ).standing

    return closing_it


def refused(step: Any) -> Any:
    """`step`, answering a refusal (`Conflict`) instead of raising it."""

    def trying() -> Any:
        try:
            return step()
        except Conflict as refusal:
            return refusal

    return trying
