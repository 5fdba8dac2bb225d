"""An organization's standing moves only through its table."""

from __future__ import annotations

import pytest

from licensing.accounts.states import (
    GOOD_STANDING,
    STANDING,
    STANDING_ROLES,
    others_steps,
    require_standing_role,
    standing_actions_for,
)
from licensing.errors import IllegalTransition, PermissionDenied


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


class _Staff:
    def __init__(self, *roles: str) -> None:
        self.roles = set(roles)

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or bool(self.roles & set(roles))


def test_every_standing_step_is_one_roles_billing_for_payment_licensing_for_the_rest() -> None:
    assert set(STANDING_ROLES) == STANDING.actions
    assert {action for action, role in STANDING_ROLES.items() if role == "billing"} == {
        "mark_pending_payment",
        "payment_received",
    }


@pytest.mark.parametrize(
    ("roles", "standing", "expected"),
    [
        (("billing",), "active", ["mark_pending_payment"]),
        (("billing",), "pending_payment", ["payment_received"]),
        (("billing",), "suspended", []),
        (("licensing",), "active", ["close", "suspend"]),
        (("licensing",), "applying", ["activate", "close", "suspend"]),
        (("licensing", "billing"), "pending_payment", ["close", "payment_received", "suspend"]),
        (("admin",), "active", ["close", "mark_pending_payment", "suspend"]),
    ],
)
def test_the_steps_a_role_takes_from_a_standing(
    roles: tuple[str, ...], standing: str, expected: list[str]
) -> None:
    assert standing_actions_for(_Staff(*roles), standing) == expected


def test_who_else_takes_the_steps_is_said_once_a_role() -> None:
    assert others_steps(_Staff("billing"), "active") == [
        "Licensing staff close its account or suspend it."
    ]
    assert others_steps(_Staff("licensing"), "pending_payment") == [
        "Billing staff mark its payment received."
    ]
    assert others_steps(_Staff("admin"), "active") == []


def test_another_roles_step_is_refused_naming_the_role_that_takes_it() -> None:
    with pytest.raises(PermissionDenied, match=r"Only billing staff \(or an admin\) may mark"):
        require_standing_role(_Staff("licensing"), "payment_received")
    require_standing_role(_Staff("billing"), "payment_received")
