"""The set-up the "Name (address)" tests share (rounds 57 to 59): pages name who acted
by the account a record kept, so the tests make named people, pass an address on to
a newcomer, record events as someone, and count the statements that read users."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User, parse_roles
from licensing.actors import Actor
from licensing.audit import services as audit
from tests.support import factories
from tests.support.console_lists import words
from tests.support.statements import sent_by


def staff_named(full_name: str, roles: tuple[str, ...] = ("licensing",)) -> tuple[User, Actor]:
    """A staff member with `roles` called `full_name`, and the actor they act as."""
    session = db.session()
    person = factories.make_staff(session, roles)
    person.full_name = full_name
    session.commit()
    return person, Actor.of(accounts.principal_for(person))


def address_passed_on(
    person: User, newcomer_name: str = "Ines Newcombe", moved_to: str | None = None
) -> User:
    """`person`'s address changes (to `moved_to`, or "moved." before it), and a
    newcomer called `newcomer_name` is given the old one: staff with `person`'s roles,
    or a colleague in `person`'s organization."""
    session = db.session()
    recorded = person.email
    moved = session.get(User, person.id)
    assert moved is not None
    moved.email = moved_to or f"moved.{recorded}"
    session.commit()
    if moved.organization_id is None:
        roles = tuple(sorted(parse_roles(moved.staff_roles)))
        newcomer = factories.make_staff(session, roles, email=recorded)
        newcomer.full_name = newcomer_name
        session.commit()
        return newcomer
    organization = session.get(Organization, moved.organization_id)
    return factories.make_vendor(
        session, organization=organization, email=recorded, full_name=newcomer_name
    )


def acted_on_organization(organization_id: int, actor: str, user_id: int | None, n: int) -> None:
    """An `organization.updated` event (the `n`th) as `actor` (user `user_id`) took it."""
    audit.record(
        db.session(),
        action="organization.updated",
        entity_type="organization",
        entity_id=organization_id,
        before={"phone": f"+1 555 010{n}"},
        after={"phone": f"+1 555 011{n}"},
        actor=actor,
        actor_user_id=user_id,
    )
    db.session().commit()


def users_read(app: Flask, client: FlaskClient, path: str) -> tuple[str, int]:
    """The page at `path` once warm, and how many statements read users for it."""
    client.get(path)
    with sent_by(app) as statements:
        answer = client.get(path)
    assert answer.status_code == 200, path
    reads = [sql for sql in statements if re.search(r"\bFROM users\b", sql)]
    return answer.get_data(as_text=True), len(reads)


def users_read_in_words(app: Flask, client: FlaskClient, path: str) -> tuple[str, int]:
    """As `users_read`, the page's text in words (tags dropped, spaces collapsed)."""
    markup, reads = users_read(app, client, path)
    return words(markup), reads
