"""Records for tests, made through the real services (validation, audit and all).

Each factory commits what it makes (in the integration tests' rolled-back outer
transaction that releases a savepoint), so requests made afterwards, from any
connection, see it. Names and organizations are invented.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from licensing import db
from licensing.access import ADMINISTRATOR, MEMBER
from licensing.accounts import queries, services
from licensing.accounts.models import ApiToken, Organization, User
from licensing.accounts.states import APPLYING, STANDING
from licensing.actors import Actor

DEFAULT_PASSWORD = "plum-harbour-lantern-42"

_numbers = itertools.count(1)

_ORGANIZATION_NAMES = (
    "Northwind Health Software",
    "Bluefin Claims Analytics",
    "Cedar Ridge Coding Academy",
    "Harborlight Billing Services",
    "Quillstone Clinical Data",
    "Meadowlark Practice Systems",
)


def _unique() -> int:
    return next(_numbers)


def organization_fields(**overrides: Any) -> dict[str, Any]:
    """Valid profile fields for a new organization."""
    number = _unique()
    name = _ORGANIZATION_NAMES[number % len(_ORGANIZATION_NAMES)]
    fields: dict[str, Any] = {
        "legal_name": f"{name} {number} Inc.",
        "organization_type": "commercial",
        "address_line1": f"{100 + number} Harbor Way",
        "address_line2": None,
        "city": "Portland",
        "region": "OR",
        "postal_code": "97201",
        "country": "US",
        "billing_contact_name": "Robin Castellanos",
        "billing_email": f"billing{number}@northwind.example",
        "tax_id": None,
    }
    fields.update(overrides)
    return fields


def _path_to(target: str) -> list[str]:
    """The actions that take a new organization (applying) to `target`."""
    paths: deque[tuple[str, list[str]]] = deque([(APPLYING, [])])
    seen = {APPLYING}
    while paths:
        state, actions = paths.popleft()
        if state == target:
            return actions
        for action in STANDING.allowed(state):
            following = STANDING.step(state, action)
            if following not in seen:
                seen.add(following)
                paths.append((following, [*actions, action]))
    raise ValueError(f"no path to standing {target!r}")


def make_organization(session: Session, **overrides: Any) -> Organization:
    """An organization, `active` unless `standing=` says otherwise (reached through
    the standing machine, as staff would)."""
    organization = _organization(session, **overrides)
    session.commit()
    return organization


def _organization(session: Session, **overrides: Any) -> Organization:
    """`make_organization`'s organization, not yet committed."""
    standing = overrides.pop("standing", "active")
    organization = services.create_organization(session, **organization_fields(**overrides))
    for action in _path_to(standing):
        services.change_standing(
            session,
            organization,
            action,
            reason="set up by the test",
            notify=False,
            actor=Actor.SYSTEM,
        )
    return organization


def make_vendor(
    session: Session,
    organization: Organization | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    verified: bool = True,
    full_name: str | None = None,
    role: str | None = None,
) -> User:
    """A vendor user (email confirmed unless `verified=False`), in a new
    organization unless one is given. As in the service, the organization's first
    user administers it and the colleagues after are members, unless `role` says."""
    if organization is None:  # a new one has no members yet: its first user administers it
        # Committed with the user (round 66): one commit, and one extension of the
        # audit chain, for the two (each commit had cost a vendor a fifth of its time).
        organization = _organization(session)
        role = ADMINISTRATOR if role is None else role
    elif role is None:
        role = MEMBER if queries.members(session, organization.id) else ADMINISTRATOR
    number = _unique()
    user = services.create_vendor_user(
        session,
        organization,
        email=email or f"vendor{number}@northwind.example",
        password=password,
        full_name=full_name or f"Alex Moreno {number}",
        verified=verified,
        role=role,
    )
    session.commit()
    return user


def make_staff(
    session: Session,
    roles: tuple[str, ...] | list[str] = ("licensing",),
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
) -> User:
    """A staff member with `roles`, able to sign in at once."""
    session.commit()
    number = _unique()
    user = services.create_staff_user(
        email=email or f"staff{number}@licensing-office.example",
        roles=roles,
        full_name=f"Jordan Okafor {number}",
        password=password,
        actor=Actor.SYSTEM,
    )
    return user


def staff_actor(roles: tuple[str, ...] = ("licensing",)) -> Actor:
    """A new staff member with `roles`, as a use case takes the one acting."""
    return Actor.of(services.principal_for(make_staff(db.session(), roles)))


def billing_contact_form(organization: Any, name: str, email: str) -> dict[str, str]:
    """The Organization page's form as `organization` stands, with another billing
    contact: what a member posts to `/organization/profile` to change it."""
    return {
        "address_line1": organization.address_line1,
        "city": organization.city,
        "country": organization.country,
        "billing_contact_name": name,
        "billing_email": email,
    }


def billing_clerk() -> Actor:
    """A new billing staff member: who records payments, credits and refunds."""
    return staff_actor(("billing",))


def named(user_id: int | None) -> str:
    """The account as pages name people (round 57): "Jordan Okafor 7 (staff7@...)"."""
    user = db.session().get(User, user_id)
    assert user is not None, user_id
    return f"{user.full_name} ({user.email})"


def bearer(user: User, name: str = "tests") -> dict[str, str]:
    """`Authorization` headers with a real API token of `user`'s, made by the service.

    It is made to never expire, as tokens made before expiry existed: tests travel
    in time (a royalty period a year on), and a token made on the real day would
    expire on the way. Expiry has tests of its own
    (tests/integration/test_accounts_token_scopes.py). Made and changed in one unit
    of work, so one commit (round 66: two before); being the suite's own unit, the
    audit watch does not look into it (the service's own tests make tokens
    watched, `tests/integration/test_accounts_tokens.py`)."""
    with db.transaction() as session:  # the service's unit of work joins this one
        token, secret = services.create_api_token(user.id, name, actor=Actor.SYSTEM)
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(expires_at=None))
    return {"Authorization": f"Bearer {secret}"}


def api_tokens(user: User, count: int, start: int, **values: Any) -> list[int]:
    """`count` API tokens of `user`'s stored as rows (named `token <start>`, ...; not
    through the service, which allows only a few working ones), with `values` set on
    each (`revoked_at`, `expires_at`); their ids in order."""
    session = db.session()
    made = [
        ApiToken(
            user_id=user.id,
            name=f"token {number}",
            token_hash=f"{user.id:08d}{number:056d}",
            prefix=f"lic_{number:08d}",
            **values,
        )
        for number in range(start, start + count)
    ]
    session.add_all(made)
    session.commit()
    return [token.id for token in made]
