"""Domain errors.

They carry no HTTP status: `licensing.problems` and `licensing.web.errors`
each map them, in one table, to what their audience sees. Raise them from
services and the domain; never raise `werkzeug` exceptions there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from licensing.words import state_text


class DomainError(Exception):
    """Base class: a request the service understood but will not carry out."""

    title = "Request refused"

    def __init__(self, detail: str, *, instants: Mapping[str, datetime] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # The instants the detail names in the office's words ("the end of Tuesday,
        # November 10, 2026 (US Central time)"), by the name the API gives each
        # (`expired_at`, `deadline`, `available_from`): the API adds them to the
        # problem in ISO 8601, pages say the detail alone (round 33).
        self.instants: dict[str, datetime] = dict(instants or {})


class NotFound(DomainError):
    """The record does not exist, or the caller may not know that it exists."""

    title = "Not found"


class InvalidInput(DomainError):
    """Input that breaks a business rule; `errors` maps field paths to messages."""

    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        errors: Mapping[str, Sequence[str]] | None = None,
        *,
        instants: Mapping[str, datetime] | None = None,
    ) -> None:
        super().__init__(detail, instants=instants)
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}

    @classmethod
    def for_field(
        cls, path: str, message: str, *, instants: Mapping[str, datetime] | None = None
    ) -> InvalidInput:
        return cls(message, {path: [message]}, instants=instants)


class TooLargeToRecord(InvalidInput):
    """An amount computed from the input (a price, a royalty to date, a sum of lines)
    beyond what the money columns hold (`licensing.money.beyond_largest`): no record
    or invoice can say it, so nothing is stored (round 50). A 422 like any
    `InvalidInput`; pages that show an estimate say it as such, not as "not priced"."""


class BadRequest(DomainError):
    """A request the service cannot take as sent (round 54): a value it signed and
    handed out (a credit note's confirmation) that comes back forged, altered, for
    another record or person, or expired. Not a rule on the input (`InvalidInput`),
    nor the record's state (`Conflict`): the request itself is not one to act on."""

    title = "Bad request"


class RepeatedKey(BadRequest, InvalidInput):
    """A JSON document that gives a key twice in one object (round 55): parsers
    disagree on which value counts (Python's takes the last; a proxy or a log may
    read the first), so the request is not one to act on. A 400 like `BadRequest`,
    whose `errors` name the key's path as `InvalidInput`'s name a field, so the
    pages and commands that say an `InvalidInput`'s errors say this one too."""


class Conflict(DomainError):
    """The request clashes with the record's current state or with another record."""

    title = "Conflict"


class FileFirst(Conflict):
    """A royalty report refused because an earlier period of its agreement has no current
    report (round 60, edges60): the period to file first, `start` to `end`, of agreement
    `agreement_id`. The detail names it in words; the API adds it to the problem as
    `file_first` (its days and the address to file it at), as it adds the instants a
    detail names, so a program need not read the sentence."""

    def __init__(self, detail: str, *, agreement_id: int, start: date, end: date) -> None:
        super().__init__(detail)
        self.agreement_id = agreement_id
        self.start = start
        self.end = end


class IllegalTransition(Conflict):
    """A state machine refused a step; says which steps are allowed instead.

    `steps` words each action as what happens to the record ("be approved",
    `licensing.statemachine.StateMachine`'s `steps`), `states` each state
    ("in review"); an action or state without words is named as it is."""

    title = "Action not allowed in this state"

    def __init__(
        self,
        entity: str,
        state: str,
        action: str,
        allowed: Iterable[str],
        *,
        steps: Mapping[str, str] | None = None,
        states: Mapping[str, str] | None = None,
        why: str | None = None,
        record_id: int | None = None,
    ) -> None:
        self.entity = entity
        # The record refused, where the use case names it and the request's path does
        # not (round 59: a royalty report amended through its period's address), so
        # the edge reads that record's steps for the caller.
        self.record_id = record_id
        self.state = state
        self.action = action
        self.allowed = sorted(allowed)
        # What the sentence is made of, for an edge to say it to its caller.
        self._words = (dict(steps or {}), dict(states or {}), why, list(self.allowed))
        super().__init__(
            illegal_step_sentence(
                entity, state, action, self.allowed, steps or {}, states or {}, why=why
            )
        )

    def tell_the_caller(self, allowed: Iterable[str]) -> None:
        """Say the refusal to a caller whose own steps are `allowed` (as the record's
        `allowed_actions` lists them to them): `allowed` becomes the list, and the
        sentence names those steps, or says there is nothing they may do (round 58,
        refusal58: it named every step the state allows, a billing clerk refused
        `finalize` was told the invoice "can only be reopened", the service's step).
        A `why` (the state waits on something outside) and words a use case put in
        place of the sentence (a deadline passed) are kept as they are."""
        steps, states, why, state_allows = self._words
        said = illegal_step_sentence(
            self.entity, self.state, self.action, state_allows, steps, states, why=why
        )
        self.allowed = list(allowed)
        if self.detail != said:
            return
        self.detail = illegal_step_sentence(
            self.entity,
            self.state,
            self.action,
            state_allows,
            steps,
            states,
            why=why,
            callers=self.allowed,
        )
        self.args = (self.detail,)


def illegal_step_sentence(
    entity: str,
    state: str,
    action: str,
    allowed: Sequence[str],
    steps: Mapping[str, str],
    states: Mapping[str, str],
    *,
    why: str | None = None,
    callers: Sequence[str] | None = None,
) -> str:
    """'A permission request that is approved cannot be taken into review: no further
    step is possible.' / '... cannot be finalized: it can only be marked paid, voided
    or marked uncollectible.' An illegal step is refused saying what is allowed; a
    state that waits on something outside says `why` instead (round 43: 'A payment
    that is being given back cannot be accepted: Stripe has not answered ...'), for
    the steps it allows are that outside's, not the caller's.

    Said to a caller whose own steps are `callers` (round 58, refusal58), it names
    those: '... cannot be finalized: of the steps you may take, it can only be
    reopened.', or '... cannot be finalized: there is nothing you may do to it now.'
    where the state allows steps but none of them are theirs."""
    article = "An" if entity[:1] in tuple("aeiou") else "A"  # "an invoice", "an application"
    worded = state_text(state, states)
    head = f"{article} {entity} that is {worded} cannot {_step_words(action, steps)}"
    if why:
        return f"{head}: {why}"
    if not allowed:
        return f"{head}: no further step is possible."
    # Several actions may share their words (a Stripe event's "be applied again",
    # whatever its outcome): each said once.
    if callers is None:
        return f"{head}: it can only {_either(_said_once(allowed, steps))}."
    if not callers:
        return f"{head}: {NOTHING_YOU_MAY_DO}"
    either = _either(_said_once(callers, steps))
    return f"{head}: of the steps you may take, it can only {either}."


# What a refusal says to a caller none of whose steps the state allows.
NOTHING_YOU_MAY_DO = "there is nothing you may do to it now."


def _said_once(actions: Iterable[str], steps: Mapping[str, str]) -> list[str]:
    return list(dict.fromkeys(_step_words(a, steps) for a in actions))


def _step_words(action: str, steps: Mapping[str, str]) -> str:
    return steps.get(action) or f"take the step '{action}'"


def _either(phrases: Sequence[str]) -> str:
    """'be approved, denied or withdrawn'; 'be resubmitted or withdrawn, or lapse'."""
    passive = [phrase.removeprefix("be ") for phrase in phrases if phrase.startswith("be ")]
    others = [phrase for phrase in phrases if not phrase.startswith("be ")]
    parts = ([f"be {_or(passive)}"] if passive else []) + others
    if len(parts) > 1 and len(passive) > 1:
        return f"{', '.join(parts[:-1])}, or {parts[-1]}"
    return _or(parts)


def _or(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    title = "Forbidden"


class AuthenticationRequired(DomainError):
    """The caller must sign in (pages) or send a valid bearer token (API)."""

    title = "Authentication required"


class TooManyRequests(DomainError):
    """The caller used up what may be stored for them in a window: `limit` of it,
    some free again in `retry_after` seconds (round 42: the Idempotency-Keys a user
    stores in a day). The API says them as a rate limit's 429 does."""

    title = "Too many requests"

    def __init__(self, detail: str, *, limit: int, retry_after: int) -> None:
        super().__init__(detail)
        self.limit = limit
        self.retry_after = retry_after


class ExternalServiceError(DomainError):
    """A system we depend on (Stripe, SMTP) failed; nothing was changed here."""

    title = "A service we depend on failed"
