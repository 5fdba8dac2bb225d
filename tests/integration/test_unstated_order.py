"""The suite's guard against an unstated order: on SQLite, every connection the
tests open returns a SELECT without an ORDER BY in reverse (tests/conftest.py), so
code that leans on insertion order fails here as it would, now and then, on
PostgreSQL."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from tests.support import factories


def _unordered_and_ordered_ids(application: Flask) -> tuple[list[int], list[int]]:
    with application.app_context():
        session = db.session()
        for _ in range(3):
            factories.make_organization(session)
        session.flush()
        # Whole rows: the table itself is scanned (the id alone is read from the
        # smallest index holding it, since round 51 the name key's, in its order).
        unordered = [found.id for found in session.scalars(select(Organization))]
        ordered = list(session.scalars(select(Organization.id).order_by(Organization.id)))
        session.rollback()
    return unordered, ordered


def test_an_unordered_select_on_the_suites_sqlite_comes_back_in_reverse(app: Flask) -> None:
    unordered, ordered = _unordered_and_ordered_ids(app)
    if db.database().dialect == "sqlite":
        assert unordered == list(reversed(ordered))
    else:
        assert sorted(unordered) == ordered


def test_an_app_on_a_database_of_its_own_reverses_unordered_selects_too(
    committed_app: Flask,
) -> None:
    with committed_app.app_context():
        dialect = db.database().dialect
    unordered, ordered = _unordered_and_ordered_ids(committed_app)
    if dialect == "sqlite":
        assert unordered == list(reversed(ordered))
    else:
        assert sorted(unordered) == ordered
