"""The application and agreement tables: every (state, action) pair, allowed or not."""

from __future__ import annotations

import pytest

from licensing.agreements.states import AGREEMENT, APPLICATION
from licensing.errors import IllegalTransition


@pytest.mark.parametrize("state", APPLICATION.states)
@pytest.mark.parametrize("action", sorted(APPLICATION.actions))
def test_the_application_table_allows_exactly_its_steps(state: str, action: str) -> None:
    if (state, action) in APPLICATION.transitions:
        assert APPLICATION.step(state, action) == APPLICATION.transitions[(state, action)]
    else:
        with pytest.raises(IllegalTransition) as refused:
            APPLICATION.step(state, action)
        assert refused.value.allowed == APPLICATION.allowed(state)


@pytest.mark.parametrize("state", AGREEMENT.states)
@pytest.mark.parametrize("action", sorted(AGREEMENT.actions))
def test_the_agreement_table_allows_exactly_its_steps(state: str, action: str) -> None:
    if (state, action) in AGREEMENT.transitions:
        assert AGREEMENT.step(state, action) == AGREEMENT.transitions[(state, action)]
    else:
        with pytest.raises(IllegalTransition):
            AGREEMENT.step(state, action)
