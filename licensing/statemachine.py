"""Explicit state machines: a table of `(state, action) -> next state`.

Each feature declares its table in its own `states.py`; services call
`machine.step(record.state, "approve")` before changing anything, so an illegal
step raises `IllegalTransition` (a 409 at the edges) naming the allowed actions.
"""

from __future__ import annotations

from collections.abc import Mapping

from licensing.errors import IllegalTransition


class StateMachine:
    def __init__(
        self,
        entity: str,
        transitions: Mapping[tuple[str, str], str],
        states: tuple[str, ...],
    ) -> None:
        self.entity = entity
        self.transitions = dict(transitions)
        self.states = states
        unknown = {s for pair in self.transitions for s in (pair[0],)} | set(
            self.transitions.values()
        )
        if not unknown <= set(states):
            raise ValueError(f"{entity}: transitions name unknown states {unknown - set(states)}")

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(action for _, action in self.transitions)

    def allowed(self, state: str) -> list[str]:
        """The actions that may be taken from `state`, in a stable order."""
        return sorted(action for (source, action) in self.transitions if source == state)

    def can(self, state: str, action: str) -> bool:
        return (state, action) in self.transitions

    def step(self, state: str, action: str) -> str:
        """The state after `action`, or `IllegalTransition` when it is not allowed."""
        try:
            return self.transitions[(state, action)]
        except KeyError:
            raise IllegalTransition(self.entity, state, action, self.allowed(state)) from None

    def is_terminal(self, state: str) -> bool:
        return not self.allowed(state)
