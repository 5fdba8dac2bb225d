"""Organizations, users, staff roles, API tokens, and who is calling.

`init_app` registers how a request's caller is recognised (see `auth`): the
Flask-Login session on pages, a bearer token on the API; and tells the outbox
who the staff holding a role are; names an organization's administrators to a
member refused an administrator's route; and lets an audit history name the people it
refers to by id (`people_in`, a template global) and name who acted in it
(`history_people`, round 57).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask

from licensing import access, db
from licensing.accounts import auth, queries
from licensing.accounts.models import User, two_step_words
from licensing.accounts.services.roles import role_refusal, with_article
from licensing.accounts.services.standing import licensable
from licensing.audit import queries as audit_queries
from licensing.config import current_config
from licensing.mail import services as mail


def _people_in(events: Sequence[Any]) -> dict[int, str]:
    return queries.people_in(db.session(), events)


def _history_people(events: Sequence[Any]) -> queries.People:
    return queries.people_of(db.session(), events)


def _two_step_words(user: User) -> str:
    """Where a member is with two-step sign-in, as the organization pages say it
    (round 45: with their passkeys, "On: app and 2 passkeys", "Passkey")."""
    staff_required = current_config().two_step_required_for_staff
    return two_step_words(user.two_step_state(staff_required=staff_required), user.passkey_count)


def init_app(app: Flask) -> None:
    auth.init_app(app)
    access.register_role_refusal(app, role_refusal)
    mail.install_staff_directory(app, queries.staff_recipients)
    app.jinja_env.globals["people_in"] = _people_in
    app.jinja_env.globals["person_fields"] = queries.PERSON_FIELDS
    # A history's people, who acted included, named "Pat Lee (pat@...)" (round 57).
    app.jinja_env.globals["history_people"] = _history_people
    # The audit log's *Actor* filter finds people by name too (round 59).
    audit_queries.register_actor_names(queries.accounts_named)
    # `organization is licensable`: a page offers only the steps `ensure_licensable` allows.
    app.jinja_env.tests["licensable"] = licensable
    # A role as pages name it ("billing member"), and the roles a colleague may be given.
    app.jinja_env.filters["role_title"] = lambda role: access.ROLE_TITLES.get(role, role)
    app.jinja_env.filters["with_article"] = with_article
    app.jinja_env.filters["two_step_words"] = _two_step_words
    app.jinja_env.globals["organization_roles"] = access.ORGANIZATION_ROLES
