"""A console list narrowed to one organization (`?organization=ID`: the links from
what stays open with a closed organization name them).

The list says so above its rows, with a way back to every organization's, and its
filter form carries the organization on: choosing a state used to widen the list to
every organization's without a word. Its rows' links carry it to the record's page
too (`OrganizationScope.carried`), whose link back to the list keeps it
(`carried_back`): that link used to return to every organization's list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from licensing import arguments
from licensing.limits import record_id

# The organization a list is narrowed to, as its messages name it.
ORGANIZATION_LABEL = {"organization": "Organization"}


class _Organization(Protocol):
    @property
    def legal_name(self) -> str: ...


@dataclass(frozen=True)
class OrganizationScope:
    id: int
    name: str | None  # None: no organization has that id (the list is empty)
    everyone_url: str  # the same filters, every organization's, from the first page

    @property
    def carried(self) -> dict[str, int]:
        """What a row's link to its record adds, so the record's link back to the
        list keeps to the organization (`carried_back`)."""
        return {"organization": self.id}


def requested_organization(args: MultiDict[str, str]) -> int | None:
    """The organization a list's link narrows it to (`?organization=ID`), None for
    every organization's; given twice it is refused (400, `arguments.once`), as every
    filter is: the list was narrowed to the first without a word (round 56)."""
    arguments.once(args, ORGANIZATION_LABEL)
    return record_id((args.get("organization") or "").strip())


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


def carried_back(args: MultiDict[str, str], organization_id: int) -> dict[str, int]:
    """What a record page's link back to its list adds: the organization its list was
    narrowed to (`OrganizationScope.carried`), when that is the record's own. Any
    other organization is dropped: the record is in no such list."""
    if record_id(args.get("organization")) == organization_id:
        return {"organization": organization_id}
    return {}
