"""What the vendor portal's home lists (the page itself is `licensing.accounts.dashboard`):
what waits on whom, and each feature's own panel.

Features add to the "what is waiting on whom" list by registering a provider:

    from licensing.web.portal import WaitingItem, waiting_provider

    @waiting_provider
    def _applications(session, principal, organization):
        yield WaitingItem("Application A-12 needs more information", waiting_on="you",
                          url=url_for(...), since=application.returned_at)

A provider is called with the request's session, the vendor's principal and
their organization, and yields `WaitingItem`s; the dashboard lists them all,
those waiting on the vendor first, oldest first.

A provider that most vendors have nothing from (no invoice owed, no invitation
pending) may say so in SQL: `waiting_provider(when=condition)`, where
`condition(organization_id, now)` returns a boolean expression (an EXISTS) on
those two bound parameters (the vendor's organization's id, the request's time),
true whenever the provider would yield an item (it may be true more often, never
less). The dashboard asks every condition in one statement and calls only the
providers whose condition holds: on PostgreSQL each query is a round trip and
SQLAlchemy's per-statement cost, and a dozen providers' empty answers were most
of the page. The feature owns its condition, beside the provider's own query.

A provider whose items ask the vendor to take a step that not every role may take
(accept an agreement, file a report) names the step's route: with
`waiting_provider(step="agreements.accept")` it is asked only for a vendor whom that
route's access declaration admits, so a billing member is not asked to do what
the service would refuse them (docs/accounts.md, "Roles").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, overload

from flask import current_app
from sqlalchemy import ColumnElement, Integer, bindparam, select
from sqlalchemy.orm import Session

from licensing import access
from licensing.access import Principal
from licensing.db import Statement, UTCDateTime, utcnow
from licensing.web.registry import Registry

# The vendor's organization (`licensing.accounts.models.Organization`): this
# module sits below the features, so it names no model.
Organization = Any

YOU = "you"


@dataclass(frozen=True)
class WaitingItem:
    """One thing that is waiting, and on whom ("you", "the licensing office", ...)."""

    title: str
    waiting_on: str
    detail: str = ""
    url: str | None = None
    since: datetime | None = None


WaitingProvider = Callable[[Session, Principal, Organization], Iterable[WaitingItem]]
# Whether a provider may have anything to say, in SQL, given the organization's id
# and the time as bound parameters (see the module's docstring).
WaitingCondition = Callable[[ColumnElement[int], ColumnElement[datetime]], ColumnElement[bool]]
ORGANIZATION = "waiting_organization_id"
NOW = "waiting_now"
_PROVIDERS: Registry[tuple[WaitingProvider, WaitingCondition | None]] = Registry()
# A provider's step (the endpoint of the route its items ask the vendor to use).
_STEPS: dict[WaitingProvider, str] = {}


@overload
def waiting_provider(
    provider: WaitingProvider, *, when: WaitingCondition | None = None, step: str | None = None
) -> WaitingProvider: ...
@overload
def waiting_provider(
    *, when: WaitingCondition | None = None, step: str | None = None
) -> Callable[[WaitingProvider], WaitingProvider]: ...
def waiting_provider(
    provider: WaitingProvider | None = None,
    *,
    when: WaitingCondition | None = None,
    step: str | None = None,
) -> WaitingProvider | Callable[[WaitingProvider], WaitingProvider]:
    """Register a source of dashboard items, asked on every dashboard or, with
    `when`, only while its condition holds, and with `step` only for a vendor that
    step's route admits (see the module's docstring). Give a condition defined
    once (a module's function, not a lambda): registering the same provider and
    condition again adds nothing."""

    def register(provider: WaitingProvider) -> WaitingProvider:
        _PROVIDERS.add((provider, when))
        if step is not None:
            _STEPS[provider] = step
        return provider

    return register if provider is None else register(provider)


class WaitingQuestion(NamedTuple):
    """Every registered condition as a labelled column (built once), to be read with
    `parameters(organization_id)` bound: alone (`statement`), or in a row the
    caller reads anyway (the dashboard reads them with its organization), its
    answers then handed to `waiting_items`."""

    conditions: tuple[WaitingCondition, ...]
    columns: tuple[ColumnElement[bool], ...]
    statement: Statement

    @staticmethod
    def parameters(organization_id: int) -> dict[str, Any]:
        return {ORGANIZATION: organization_id, NOW: utcnow()}


# The question for the conditions registered (features register theirs as they
# are imported), built once.
_ASKED: list[WaitingQuestion] = []


def waiting_question() -> WaitingQuestion:
    """The registered conditions as one question (see `WaitingQuestion`)."""
    conditions = tuple(condition for _provider, condition in _PROVIDERS if condition is not None)
    kept = _ASKED[0] if _ASKED else None
    if kept is not None and kept.conditions == conditions:
        return kept
    organization_id = bindparam(ORGANIZATION, type_=Integer())
    now = bindparam(NOW, type_=UTCDateTime())
    columns = tuple(
        condition(organization_id, now).label(f"waiting_{index}")
        for index, condition in enumerate(conditions)
    )
    asked = WaitingQuestion(conditions, columns, select(*columns))
    _ASKED[:] = [asked]
    return asked


def _answering(
    session: Session, organization: Organization, answers: Sequence[Any] | None = None
) -> list[tuple[WaitingProvider, bool]]:
    """Each provider, and whether to ask it: its condition held, or it has none.
    The conditions' `answers`, when not given, are read in one statement."""
    entries = list(_PROVIDERS)
    if answers is None and any(condition is not None for _provider, condition in entries):
        asked = waiting_question()
        answers = session.execute(asked.statement, asked.parameters(organization.id)).one()
    held: Iterator[Any] = iter(answers or ())
    return [(provider, condition is None or bool(next(held))) for provider, condition in entries]


# (session, organization) -> more of the dashboard template's variables
ContextProvider = Callable[[Session, Organization], dict[str, Any]]
_CONTEXT: Registry[ContextProvider] = Registry()


def dashboard_context(provider: ContextProvider) -> ContextProvider:
    """Register variables for the dashboard's template (a feature's own panel, such
    as the first application's), so this module imports no feature."""
    return _CONTEXT.add(provider)


def _order(item: WaitingItem) -> tuple[bool, float]:
    return (item.waiting_on != YOU, item.since.timestamp() if item.since else float("inf"))


def waiting_items(
    session: Session,
    principal: Principal,
    organization: Organization,
    answers: Sequence[Any] | None = None,
) -> list[WaitingItem]:
    """Every provider's items: those waiting on the vendor first, then oldest first.
    `answers`: the `waiting_question()`'s columns as read for this organization
    just now, if the caller read them (else they are read here)."""
    items = [
        item
        for provider, asked in _answering(session, organization, answers)
        if asked and _may_take(provider, principal)
        for item in provider(session, principal, organization)
    ]
    return sorted(items, key=_order)


def _may_take(provider: WaitingProvider, principal: Principal) -> bool:
    step = _STEPS.get(provider)
    if step is None:
        return True
    declaration = access.declaration_for(current_app, step)
    return declaration is not None and declaration.admits(principal)


def dashboard_context_for(session: Session, organization: Organization) -> dict[str, Any]:
    """Every registered panel's variables for the dashboard's template."""
    return {
        name: value
        for provider in _CONTEXT
        for name, value in provider(session, organization).items()
    }
