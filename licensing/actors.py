"""Who performs a use case, passed to it explicitly.

A use case takes an `Actor` argument instead of reading the current request:
the edges (pages, API) make one from the request's principal, batch commands
use `Actor.SYSTEM`. Role checks are made on the actor, in the use case, so the
same rule holds whichever edge called it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from licensing.access import Principal, require_principal
from licensing.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class Actor:
    """A signed-in user with their roles, the system running a batch job, or someone
    acting by a link they were sent, with no account: no user, and no roles."""

    name: str
    user_id: int | None = None
    organization_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    SYSTEM: ClassVar[Actor]

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor of `principal`; a principal with user id 0 has no account (the
        billing contact paying by an invoice link, `billing.links.payer`): no user,
        so every audit event it writes names no user (None), as for the system."""
        user_id = principal.user_id or None
        return cls(principal.email, user_id, principal.organization_id, principal.roles)

    @property
    def is_system(self) -> bool:
        """No user and no organization: a batch job (or a permission requester's
        link, whose use cases check no roles). A link payer has an organization,
        so it is a vendor without roles, never the system."""
        return self.user_id is None and self.organization_id is None

    @property
    def is_vendor(self) -> bool:
        return self.organization_id is not None

    @property
    def is_staff(self) -> bool:
        return self.organization_id is None and bool(self.roles)

    def has_role(self, *roles: str) -> bool:
        """Admins hold every staff role; the system holds every role."""
        if self.is_system:
            return True
        return self.is_staff and ("admin" in self.roles or bool(self.roles & set(roles)))

    def require_role(self, *roles: str) -> None:
        if not self.has_role(*roles):
            raise PermissionDenied(f"Only staff with the {' or '.join(roles)} role may do this.")

    def may_see(self, organization_id: int) -> bool:
        """Vendors see only their own organization's records; staff and the system all."""
        return not self.is_vendor or self.organization_id == organization_id

    def require_sight(self, organization_id: int, what: str) -> None:
        """Answer "not found" for another organization's record, never "forbidden"."""
        if not self.may_see(organization_id):
            raise NotFound(f"There is no {what}.")


Actor.SYSTEM = Actor("system")


def current_actor() -> Actor:
    """The current request's caller, as the use cases take it: what every page and
    API route passes on."""
    return Actor.of(require_principal())
