"""A console list narrowed to one organization (`?organization=ID`: the links from
what stays open with a closed organization name them).

The list says so above its rows, with a way back to every organization's, and its
filter form carries the organization on: choosing a state used to widen the list to
every organization's without a word."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict


class _Organization(Protocol):
    @property
    def legal_name(self) -> str: ...


@dataclass(frozen=True)
class OrganizationScope:
    id: int
    name: str | None  # None: no organization has that id (the list is empty)
    everyone_url: str  # the same filters, every organization's, from the first page


def organization_scope(
    organization_id: int | None,
    find: Callable[[int], _Organization | None],
    *,
    filters: MultiDict[str, str],
    path: str,
) -> OrganizationScope | None:
    """The list's scope, or None when it lists every organization's. `find` looks the
    organization up by id (a feature's `partial(session.get, Organization)`: this
    toolkit knows no feature's models); `filters` and `path` are the list's own (a
    queue shown again after a refused bulk action was not asked for by GET)."""
    if organization_id is None:
        return None
    organization = find(organization_id)
    kept = [
        (name, value)
        for name, value in filters.items(multi=True)
        if name not in ("organization", "page")
    ]
    everyone = f"{path}?{urlencode(kept)}" if kept else path
    return OrganizationScope(
        organization_id, organization.legal_name if organization else None, everyone
    )
