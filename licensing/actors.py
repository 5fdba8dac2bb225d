"""Who performs a use case, passed to it explicitly.

A use case takes an `Actor` argument instead of reading the current request:
the edges (pages, API) make one from the request's principal, batch commands
use `Actor.SYSTEM`. Role checks are made on the actor, in the use case, so the
same rule holds whichever edge called it.

An actor is one of three kinds, said outright rather than read from which ids
happen to be missing (an actor without a user once counted as the system, so a
permission requester's actor held every role):

- `user`: a signed-in user (`Actor.of(principal)`), with their organization or
  their staff roles;
- `system`: `Actor.SYSTEM` alone, the batch commands and the worker: every role,
  every organization;
- `link`: someone with no account acting by a link they were sent (a permission
  requester, the billing contact paying by an invoice link) or signing up
  (`Actor.by_link(email, organization_id)`): no roles, and no organization's
  records by sight; the use case reaches the one record the link names.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from licensing.access import ADMINISTRATOR, BILLING, Principal, require_principal
from licensing.errors import NotFound, PermissionDenied

ActorKind = Literal["user", "system", "link"]


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who acts. Build one with `Actor.of`, `Actor.by_link` or use `Actor.SYSTEM`;
    the audit log names `name` and `user_id` (None for the system and a link)."""

    kind: ActorKind
    name: str
    user_id: int | None = None
    organization_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # A vendor user's role in their organization (`access.ORGANIZATION_ROLES`), as
    # their request began; the accounts services check it again under a lock.
    organization_role: str | None = None

    SYSTEM: ClassVar[Actor]

    def __post_init__(self) -> None:
        if (self.kind == "user") != (self.user_id is not None):
            raise ValueError("a user actor, and only one, has a user id")
        if self.kind != "user" and self.roles:
            raise ValueError(f"a {self.kind} actor holds no roles")
        if self.kind == "system" and self.organization_id is not None:
            raise ValueError("the system actor acts for no organization")

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor of `principal`. A principal with user id 0 has no account (the
        billing contact paying by an invoice link, `billing.links.payer`): a link
        actor, so every audit event it writes names no user (None)."""
        if not principal.user_id:
            return cls.by_link(principal.email, principal.organization_id)
        return cls.user(
            principal.email,
            principal.user_id,
            principal.organization_id,
            principal.roles,
            organization_role=principal.organization_role,
        )

    @classmethod
    def user(
        cls,
        email: str,
        user_id: int,
        organization_id: int | None,
        roles: frozenset[str],
        *,
        organization_role: str | None = None,
    ) -> Actor:
        """A user with an account: staff (no organization) or a vendor's user."""
        return cls(
            kind="user",
            name=email,
            user_id=user_id,
            organization_id=organization_id,
            roles=roles,
            organization_role=organization_role if organization_id is not None else None,
        )

    @classmethod
    def by_link(cls, email: str, organization_id: int | None = None) -> Actor:
        """Someone with no account, known by `email`, acting by a link (for an
        organization's record: its `organization_id`, kept for the record only)."""
        return cls(kind="link", name=email, organization_id=organization_id)

    @property
    def is_system(self) -> bool:
        """The batch commands and the worker: `Actor.SYSTEM`, nobody else."""
        return self.kind == "system"

    @property
    def is_link(self) -> bool:
        return self.kind == "link"

    @property
    def is_vendor(self) -> bool:
        """A user of an organization (a link actor with an organization is not one:
        it may pay the invoice its link names, not act as the organization's user)."""
        return self.kind == "user" and self.organization_id is not None

    @property
    def is_staff(self) -> bool:
        return self.kind == "user" and self.organization_id is None and bool(self.roles)

    @property
    def is_administrator(self) -> bool:
        """A vendor user who manages their organization (`access.ADMINISTRATOR`)."""
        return self.is_vendor and self.organization_role == ADMINISTRATOR

    def require_licensing_work(self) -> None:
        """Refuse a billing member a step of the licensing work (apply, accept, renew,
        report usage: `access.LICENSING_WORK`). Their routes refuse them first,
        naming whom to ask; the use cases keep the rule whichever edge calls."""
        if self.is_vendor and self.organization_role == BILLING:
            raise PermissionDenied(
                "Billing members read and pay the organization's invoices; applying, "
                "accepting agreements and reporting usage are for its members and "
                "administrators."
            )

    @property
    def sees_every_organization(self) -> bool:
        """Staff and the system read every organization's records."""
        return self.is_system or self.is_staff

    def has_role(self, *roles: str) -> bool:
        """Admins hold every staff role; the system holds every role; a link none."""
        if self.is_system:
            return True
        return self.is_staff and ("admin" in self.roles or bool(self.roles & set(roles)))

    def require_role(self, *roles: str) -> None:
        if not self.has_role(*roles):
            raise PermissionDenied(f"Only staff with the {' or '.join(roles)} role may do this.")

    def may_see(self, organization_id: int) -> bool:
        """Staff and the system see every organization's records, a vendor user only
        their own, a link actor none by organization (only what its link names)."""
        if self.sees_every_organization:
            return True
        return self.is_vendor and self.organization_id == organization_id

    def require_sight(self, organization_id: int, what: str) -> None:
        """Answer "not found" for another organization's record, never "forbidden"."""
        if not self.may_see(organization_id):
            raise NotFound(f"There is no {what}.")


Actor.SYSTEM = Actor(kind="system", name="system")


def current_actor() -> Actor:
    """The current request's caller, as the use cases take it: what every page and
    API route passes on."""
    return Actor.of(require_principal())


def operator_login() -> str:
    """The login of whoever runs a command, for the note of what it records as
    the system's (the system acted; the note says at whose hands)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"
