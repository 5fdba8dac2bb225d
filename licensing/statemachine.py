"""Explicit state machines: a table of `(state, action) -> next state`.

Each feature declares its machines in its own `states.py`, one `Action` an action
(`StateMachine.from_actions`): the states it is taken from, the state it leads to,
and any word of it that is not regular. A use case moves a
record with `machine.apply(session, record, "approve", actor=...)`: one call
checks the step (an illegal one raises `IllegalTransition`, a 409 at the edges,
whose sentence says what the state allows in the machine's `steps` words), sets
the new state, stamps the time of the step where the machine names a column for
it, writes the audit event, and runs the hooks declared for the action
(notifications), all in the caller's transaction.
`machine.step(state, action)` only answers what the next state would be.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from licensing import words
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import IllegalTransition

if TYPE_CHECKING:
    from licensing.actors import Actor

# hook(session, record, actor, note): runs after the step, in the same transaction.
Hook = Callable[[Any, Any, "Actor", "str | None"], None]


class Action:
    """One action of a machine, as its diagram draws it: the states it may be taken
    from, the one state it leads to, and only what is irregular about it: its audit
    `event` where that is not its past tense, the `stamp` column that records when it
    was taken, the `words` a refusal says it as (see `StateMachine`)."""

    def __init__(
        self,
        *sources: str,
        to: str,
        event: str | None = None,
        stamp: str | None = None,
        words: str | None = None,
    ) -> None:
        self.sources = sources
        self.to = to
        self.event = event
        self.stamp = stamp
        self.words = words


class Hold:
    """Something outside a record that holds some of its steps back for now, whatever
    its state allows (round 44: a flagged payment whose charge the bank disputes is
    neither accepted nor given back until the dispute's outcome): the `actions` held,
    and `why`, said in the refusal in place of the steps the state allows, as a
    state's `state_why` is."""

    def __init__(self, *actions: str, why: str) -> None:
        self.actions = frozenset(actions)
        self.why = why

    def holds(self, action: str) -> bool:
        return action in self.actions


class StateMachine:
    @classmethod
    def from_actions(
        cls,
        entity: str,
        states: tuple[str, ...],
        actions: Mapping[str, Action],
        *,
        field: str = "state",
        event: str | None = None,
        stamp: str | None = None,
        state_words: Mapping[str, str] | None = None,
        state_why: Mapping[str, str] | None = None,
    ) -> StateMachine:
        """The machine of `actions`, each declared once with all it says. `event` and
        `stamp`, when given, are every action's that names none of its own (a machine
        audited as one event, or stamping one column on every step); its steps are
        worded as regular where an action gives no `words` (see `regular_words`)."""

        def irregular(word: Callable[[Action], str | None]) -> dict[str, str]:
            return {name: said for name, action in actions.items() if (said := word(action))}

        return cls(
            entity,
            {
                (source, name): action.to
                for name, action in actions.items()
                for source in action.sources
            },
            states,
            field=field,
            events=irregular(lambda action: action.event or event),
            stamps=irregular(lambda action: action.stamp or stamp),
            steps=irregular(lambda action: action.words),
            state_words=state_words,
            state_why=state_why,
        )

    def __init__(
        self,
        entity: str,
        transitions: Mapping[tuple[str, str], str],
        states: tuple[str, ...],
        *,
        field: str = "state",
        events: Mapping[str, str] | None = None,
        stamps: Mapping[str, str] | None = None,
        steps: Mapping[str, str] | None = None,
        state_words: Mapping[str, str] | None = None,
        state_why: Mapping[str, str] | None = None,
    ) -> None:
        """`field` is the record's attribute holding the state; `events` names
        the audit event of an action where it is not the action's past tense
        (`accept` -> `accepted` needs no entry, `settle` -> `paid` does);
        `stamps` names the column that records when an action was taken (`submit`
        -> `submitted_at`). `steps` words each action as what happens to the
        record, after "cannot" and "can only", where it is not the regular words
        (`regular_words`: `mark_reviewed` -> "be marked reviewed" and `lapse` ->
        "lapse" need no entry, `settle` -> "be marked paid" does); a machine given
        no `steps` words none, and its refusals name the actions as they are.
        `state_words` words a state after "that is" (`in_review` -> "in review";
        default: the state with spaces): a refused step is a sentence saying what is
        allowed instead. `state_why` says, for a state that holds steps back until
        something outside happens, why, in place of the steps it allows (round 42: a
        payment being given back waits for Stripe; round 43: its refusal said Stripe's
        own steps as if the caller could take them, "it can only be flagged again, if
        Stripe reports ...")."""
        self.entity = entity
        # A record's words may hold a name ("Stripe event"); its audited type does not.
        self.entity_type = entity.replace(" ", "_").lower()
        self.field = field
        self.transitions = dict(transitions)
        self.states = states
        self.events = {action: past_tense(action) for action in self.actions} | dict(events or {})
        self.stamps = dict(stamps or {})
        self.steps = {} if steps is None else self._regular_steps() | dict(steps)
        self.state_words = dict(state_words or {})
        self.state_why = dict(state_why or {})
        self._hooks: dict[str, list[Hook]] = {}
        unknown = {s for pair in self.transitions for s in (pair[0],)} | set(
            self.transitions.values()
        )
        if not unknown <= set(states):
            raise ValueError(f"{entity}: transitions name unknown states {unknown - set(states)}")
        # The word tables list only exceptions: a misspelt action would silently
        # leave the regular word in place.
        strays = (set(events or {}) | set(stamps or {}) | set(steps or {})) - self.actions
        if strays:
            raise ValueError(f"{entity}: words or stamps for no actions {sorted(strays)}")

    def state_text(self, state: str) -> str:
        """`state` in words, as a refusal says it after "that is" and a history
        shows it (`in_review` -> "in review")."""
        return words.state_text(state, self.state_words)

    def _regular_steps(self) -> dict[str, str]:
        return {action: regular_words(action) for action in self.actions}

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(action for _, action in self.transitions)

    def allowed(self, state: str) -> list[str]:
        """The actions that may be taken from `state`, in a stable order."""
        return sorted(action for (source, action) in self.transitions if source == state)

    def can(self, state: str, action: str) -> bool:
        return (state, action) in self.transitions

    def step(self, state: str, action: str, *, hold: Hold | None = None) -> str:
        """The state after `action`, or `IllegalTransition` when it is not allowed,
        or when the state allows it but `hold` holds it back (its `why` said)."""
        if hold is not None and hold.holds(action) and self.can(state, action):
            raise IllegalTransition(
                self.entity,
                state,
                action,
                [step for step in self.allowed(state) if not hold.holds(step)],
                steps=self.steps,
                states=self.state_words,
                why=hold.why,
            )
        try:
            return self.transitions[(state, action)]
        except KeyError:
            raise IllegalTransition(
                self.entity,
                state,
                action,
                self.allowed(state),
                steps=self.steps,
                states=self.state_words,
                why=self.state_why.get(state),
            ) from None

    def refusal(self, state: str, action: str, *, hold: Hold | None = None) -> str | None:
        """The sentence `step` would refuse `action` with, None when it is allowed: a
        page says it instead of offering a button the step would refuse."""
        try:
            self.step(state, action, hold=hold)
        except IllegalTransition as refused:
            return refused.detail
        return None

    def is_terminal(self, state: str) -> bool:
        return not self.allowed(state)

    def on(self, *actions: str) -> Callable[[Hook], Hook]:
        """Declare a hook (a notification, say) to run after each of `actions`."""
        unknown = set(actions) - self.actions
        if unknown:
            raise ValueError(f"{self.entity}: no actions {sorted(unknown)}")

        def register(hook: Hook) -> Hook:
            for action in actions:
                if hook not in self._hooks.setdefault(action, []):
                    self._hooks[action].append(hook)
            return hook

        return register

    def apply(
        self,
        session: Any,
        record: Any,
        action: str,
        *,
        actor: Actor,
        note: str | None = None,
        changes: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        hold: Hold | None = None,
    ) -> str:
        """Step `record` (which has `id` and the state field) by `action`, in the caller's
        transaction: state, time stamp, audit event, then the action's hooks.

        `actor` is who acts (a user or `Actor.SYSTEM`); `changes` adds to the audit
        event's `after` the other fields the use case changed with the step; `hold`,
        what outside the record holds the step back, if anything does (`Hold`).
        """
        before = getattr(record, self.field)
        after = self.step(before, action, hold=hold)
        setattr(record, self.field, after)
        column = self.stamps.get(action)
        if column is not None:
            setattr(record, column, at or utcnow())
        session.flush()
        audit.record(
            session,
            action=f"{self.entity_type}.{self.events[action]}",
            entity_type=self.entity_type,
            entity_id=record.id,
            before={self.field: before},
            after={self.field: after, **(changes or {})},
            note=note,
            actor=actor.name,
            actor_user_id=actor.user_id,
        )
        for hook in self._hooks.get(action, ()):
            hook(session, record, actor, note)
        return after


# Verbs of the machines' actions whose past tense the rule in `past_tense` would misspell.
_SPELLED = {
    "defer": "deferred",
    "flag": "flagged",
    "give": "given",
    "resubmit": "resubmitted",
    "submit": "submitted",
    "withdraw": "withdrawn",
}


# Actions a record takes itself rather than undergoes: it "cannot expire", where
# it "cannot be approved".
_INTRANSITIVE = frozenset({"expire", "fail", "lapse", "succeed"})


def regular_words(action: str) -> str:
    """What happens to a record by `action`, after "cannot": "be" and its past tense
    (`mark_reviewed` -> "be marked reviewed"), or the verb itself for what a record
    does of itself (`expire` -> "expire")."""
    if action in _INTRANSITIVE:
        return action
    return f"be {past_tense(action).replace('_', ' ')}"


def past_tense(action: str) -> str:
    """An action's past tense, its verb being its first word: `approve` -> `approved`,
    `deny` -> `denied`, `mark_uncollectible` -> `marked_uncollectible`, `give_up` ->
    `given_up`."""
    verb, joint, rest = action.partition("_")
    if verb in _SPELLED:
        done = _SPELLED[verb]
    elif verb.endswith("e"):
        done = f"{verb}d"
    elif verb.endswith("y") and not verb.endswith(("ay", "ey", "oy", "uy")):
        done = f"{verb[:-1]}ied"
    else:
        done = f"{verb}ed"
    return done + joint + rest
