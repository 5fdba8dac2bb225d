"""Domain errors.

They carry no HTTP status: `licensing.problems` and `licensing.web.errors`
each map them, in one table, to what their audience sees. Raise them from
services and the domain; never raise `werkzeug` exceptions there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


class DomainError(Exception):
    """Base class: a request the service understood but will not carry out."""

    title = "Request refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The record does not exist, or the caller may not know that it exists."""

    title = "Not found"


class InvalidInput(DomainError):
    """Input that breaks a business rule; `errors` maps field paths to messages."""

    title = "Invalid input"

    def __init__(self, detail: str, errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(detail)
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}

    @classmethod
    def for_field(cls, path: str, message: str) -> InvalidInput:
        return cls(message, {path: [message]})


class Conflict(DomainError):
    """The request clashes with the record's current state or with another record."""

    title = "Conflict"


class IllegalTransition(Conflict):
    """A state machine refused a step; says which steps are allowed instead."""

    title = "Action not allowed in this state"

    def __init__(self, entity: str, state: str, action: str, allowed: Iterable[str]) -> None:
        self.entity = entity
        self.state = state
        self.action = action
        self.allowed = sorted(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        article = "an" if entity[:1] in set("aeiou") else "a"  # entities are English nouns
        super().__init__(
            f"Cannot {action.replace('_', ' ')} {article} {entity} that is "
            f"{state.replace('_', ' ')}; "
            f"allowed actions: {allowed_text}"
        )


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    title = "Forbidden"


class AuthenticationRequired(DomainError):
    """The caller must sign in (pages) or send a valid bearer token (API)."""

    title = "Authentication required"


class RateLimited(DomainError):
    """Too many attempts; `retry_after` is in seconds."""

    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ExternalServiceError(DomainError):
    """A system we depend on (Stripe, SMTP) failed; nothing was changed here."""

    title = "A service we depend on failed"
