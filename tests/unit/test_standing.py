"""An organization's standing moves only through its table."""

from __future__ import annotations

import pytest

from licensing.accounts.states import GOOD_STANDING, STANDING
from licensing.errors import IllegalTransition


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        ("applying", "activate", "active"),
        ("active", "mark_pending_payment", "pending_payment"),
        ("pending_payment", "payment_received", "active"),
        ("active", "suspend", "suspended"),
        ("pending_payment", "suspend", "suspended"),
        ("suspended", "reinstate", "active"),
        ("applying", "close", "closed"),
        ("suspended", "close", "closed"),
    ],
)
def test_each_allowed_step(state: str, action: str, expected: str) -> None:
    assert STANDING.step(state, action) == expected


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("applying", "payment_received"),
        ("active", "activate"),
        ("active", "reinstate"),
        ("suspended", "payment_received"),
        ("closed", "activate"),
        ("closed", "reinstate"),
    ],
)
def test_an_illegal_step_is_refused(state: str, action: str) -> None:
    with pytest.raises(IllegalTransition):
        STANDING.step(state, action)


def test_closed_is_final() -> None:
    assert STANDING.is_terminal("closed")


def test_only_applying_and_active_are_good_standing() -> None:
    assert frozenset({"applying", "active"}) == GOOD_STANDING
