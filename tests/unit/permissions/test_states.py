"""The permission request's transition table."""

from __future__ import annotations

import pytest

from licensing.errors import IllegalTransition
from licensing.permissions.states import (
    APPROVED,
    DENIED,
    EXPIRED,
    NEEDS_INFO,
    PERMISSION_REQUEST,
    WITHDRAWN,
)


def test_the_happy_path_runs_from_confirmation_to_approval() -> None:
    state = "unconfirmed"
    for action in ("confirm", "start_review", "ask_for_info", "answer", "approve"):
        state = PERMISSION_REQUEST.step(state, action)
    assert state == APPROVED


@pytest.mark.parametrize("final", [APPROVED, WITHDRAWN, EXPIRED])
def test_closed_requests_allow_nothing(final: str) -> None:
    assert PERMISSION_REQUEST.is_terminal(final)


def test_only_a_denial_can_be_reconsidered_and_reconsideration_is_reviewed_again() -> None:
    assert PERMISSION_REQUEST.allowed(DENIED) == ["request_reconsideration"]
    reopened = PERMISSION_REQUEST.step(DENIED, "request_reconsideration")
    assert set(PERMISSION_REQUEST.allowed(reopened)) == {
        "approve",
        "ask_for_info",
        "deny",
        "start_review",
        "withdraw",
    }


def test_the_requester_may_withdraw_before_a_decision_but_not_after() -> None:
    assert PERMISSION_REQUEST.step(NEEDS_INFO, "withdraw") == WITHDRAWN
    with pytest.raises(IllegalTransition) as refused:
        PERMISSION_REQUEST.step(APPROVED, "withdraw")
    assert refused.value.allowed == []


def test_an_unconfirmed_request_cannot_be_decided() -> None:
    with pytest.raises(IllegalTransition) as refused:
        PERMISSION_REQUEST.step("unconfirmed", "approve")
    assert refused.value.allowed == ["confirm", "expire"]
