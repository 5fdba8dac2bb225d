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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing.access import Principal
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
_PROVIDERS: Registry[WaitingProvider] = Registry()


def waiting_provider(provider: WaitingProvider) -> WaitingProvider:
    """Register a source of dashboard items (see the module's docstring)."""
    return _PROVIDERS.add(provider)


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
    session: Session, principal: Principal, organization: Organization
) -> list[WaitingItem]:
    """Every provider's items: those waiting on the vendor first, then oldest first."""
    items = [item for provider in _PROVIDERS for item in provider(session, principal, organization)]
    return sorted(items, key=_order)


def dashboard_context_for(session: Session, organization: Organization) -> dict[str, Any]:
    """Every registered panel's variables for the dashboard's template."""
    return {
        name: value
        for provider in _CONTEXT
        for name, value in provider(session, organization).items()
    }
