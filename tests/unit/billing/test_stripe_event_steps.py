"""Round 58 (replay58): a Stripe event's steps for billing staff, as the machine holds
them: a failed event is applied again (to the kind its outcome has) or marked looked
at; one looked at can still be applied again; applying it failing again keeps it
failed; every other kind refuses both, saying so."""

from __future__ import annotations

import pytest

from licensing.billing.models import STRIPE_EVENT_KINDS
from licensing.billing.states import APPLY_AGAIN_ACTIONS, STRIPE_EVENT, STRIPE_EVENT_STATES
from licensing.errors import IllegalTransition


def test_every_kind_the_webhook_stores_is_a_state_of_the_machine() -> None:
    assert set(STRIPE_EVENT_KINDS) == set(STRIPE_EVENT_STATES)


@pytest.mark.parametrize("state", ["failed", "looked_at"])
def test_a_failed_or_looked_at_event_applied_again_takes_the_kind_of_its_outcome(
    state: str,
) -> None:
    for kind, action in APPLY_AGAIN_ACTIONS.items():
        assert STRIPE_EVENT.step(state, action) == kind


def test_only_a_failed_event_is_marked_looked_at_and_a_refusal_says_what_is_left() -> None:
    assert STRIPE_EVENT.step("failed", "mark_looked_at") == "looked_at"
    with pytest.raises(IllegalTransition) as refused:
        STRIPE_EVENT.step("looked_at", "mark_looked_at")
    assert refused.value.detail == (
        "A Stripe event that is marked looked at cannot be marked looked at: it can only be "
        "applied again."
    )


@pytest.mark.parametrize("state", ["applied", "no_change", "ignored", "not_matched"])
def test_an_event_the_webhook_applied_or_set_aside_has_no_step(state: str) -> None:
    for action in ("apply_again", "mark_looked_at"):
        with pytest.raises(IllegalTransition) as refused:
            STRIPE_EVENT.step(state, action)
        assert refused.value.detail.endswith("no further step is possible.")
