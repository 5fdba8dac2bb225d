"""Round 51: a list's count reads only what it counts. `db.count_rows` (and
`db.count_of`, a count kept beside a list's rows) counts a statement with each ORM
entity it selects replaced by the entity's primary key (`db.counted`), where the
counted subquery named every column of the entity, an agreement's PDF and a user's
correlated count of passkeys among them. Every count must still be the rows its list
shows, under DISTINCT, GROUP BY, LIMIT, joins and aliases, at 0, 1, 50 and 51 rows
(an empty list, one row, one full page, a second page of one)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from itertools import count
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.agreements.models import Agreement
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support import copies, factories
from tests.support.pages import next_link

SIZES = (0, 1, 50, 51)
_names = count(1)

# How many rows a list page's pager says it has ("Organizations 1-50 of 51", "No ...").
PAGER = re.compile(r'<nav class="pager actions" aria-label="Pages of ([^"]+)">\s*<p[^>]*>([^<]*)<')


def _organizations(size: int) -> str:
    """`size` organizations named alike, and the part of a name only they share."""
    marker = f"Countable {next(_names)} Ltd"
    session = db.session()
    for number in range(size):
        factories.make_organization(session, legal_name=f"{marker} {number:03d}")
    return marker


def _shapes(marker: str) -> dict[str, tuple[Select[Any], Callable[[int], int]]]:
    """Each way a listed statement may be built, and the rows it has at `size`."""
    named = Organization.legal_name.like(f"{marker} %")
    other = aliased(Organization)
    pairs = select(Organization).join(other, other.legal_name.like(f"{marker} %")).where(named)
    return {
        "an entity": (select(Organization).where(named), lambda n: n),
        "an entity joined to rows that repeat it": (pairs, lambda n: n * n),
        "an entity DISTINCT over those rows": (pairs.distinct(), lambda n: n),
        "an entity grouped by its key": (
            select(Organization).where(named).group_by(Organization.id),
            lambda n: n,
        ),
        "an entity with a LIMIT": (
            select(Organization).where(named).order_by(Organization.id).limit(50),
            lambda n: min(n, 50),
        ),
        "an alias with a column, DISTINCT": (
            select(other, Organization.country)
            .join(Organization, Organization.legal_name.like(f"{marker} %"))
            .where(other.legal_name.like(f"{marker} %"))
            .distinct(),
            lambda n: n,
        ),
        "two entities": (
            select(Organization, other)
            .join(other, other.id == Organization.id)
            .where(named)
            .order_by(Organization.id),
            lambda n: n,
        ),
        "a column, DISTINCT": (
            select(Organization.country).where(named).distinct(),
            lambda n: min(n, 1),
        ),
        "columns grouped": (
            select(Organization.standing, func.count())
            .where(named)
            .group_by(Organization.standing),
            lambda n: min(n, 1),
        ),
        "an aggregate without a group": (
            select(func.count(Organization.id)).where(named),
            lambda n: 1,
        ),
    }


@pytest.mark.parametrize("size", SIZES)
def test_every_shape_of_list_statement_is_counted_as_many_rows_as_it_selects(
    app: Flask, size: int
) -> None:
    session = db.session()
    for name, (statement, expected) in _shapes(_organizations(size)).items():
        rows = len(session.execute(statement).all())
        assert rows == expected(size), name
        assert db.count_rows(session, statement) == rows, name
        assert session.scalar(db.count_of(statement)) == rows, name


def test_a_count_selects_an_entitys_key_and_none_of_its_other_columns(app: Flask) -> None:
    marker = _organizations(1)
    entities = {
        name: shape for name, shape in _shapes(marker).items() if name.startswith(("an ", "two "))
    }
    del entities["an aggregate without a group"]
    for name, (statement, _) in entities.items():
        counted = str(db.counted(statement))
        selected = counted.split("FROM", 1)[0]
        assert "legal_name" not in selected, (name, counted)
        assert "address_line1" not in selected, (name, counted)
        assert re.search(r"\b(organizations|organizations_1)\.id\b", selected), (name, counted)
    agreements = str(db.count_of(select(Agreement).distinct()))
    assert "agreements.pdf" not in agreements
    assert "agreements.id" in agreements
    assert "passkeys" not in str(db.count_of(select(User).distinct()))


def _walked(client: FlaskClient, url: str, row: str, noun: str) -> tuple[int, list[str]]:
    """What the pager of `noun` says the list has, on every page (the same), and the
    rows (`row`'s group) its pages show walked by *Next*."""
    totals: set[int] = set()
    seen: list[str] = []
    following: str | None = url
    while following is not None:
        answer = client.get(following)
        assert answer.status_code == 200, following
        page = answer.get_data(as_text=True)
        # An empty list says so instead of drawing its pager.
        said = dict(PAGER.findall(page)).get(noun, "No rows").strip()
        of = re.search(r" of ([\d,]+)", said)
        totals.add(int(of.group(1).replace(",", "")) if of else 0)
        seen += re.findall(row, page)
        following = next_link(page, noun)
    assert len(totals) == 1, totals
    return totals.pop(), seen


def _api_walked(client: FlaskClient, url: str, **kwargs: Any) -> tuple[int, list[int]]:
    """The API list's `X-Total-Count` (the same on every page) and the ids its pages
    give, walked 50 a page."""
    totals: set[int] = set()
    seen: list[int] = []
    page = 1
    while True:
        answer = client.get(f"{url}&page={page}&per_page=50", **kwargs)
        assert answer.status_code == 200, (url, answer.get_json())
        totals.add(int(answer.headers["X-Total-Count"]))
        items = answer.get_json()
        items = items["items"] if isinstance(items, dict) else items
        seen += [item["id"] for item in items]
        if len(items) < 50:
            break
        page += 1
    assert len(totals) == 1, totals
    return totals.pop(), seen


@pytest.mark.parametrize("size", SIZES)
def test_the_organizations_list_and_api_count_what_their_pages_show(
    app: Flask, admin: Any, signed_in: Callable[..., FlaskClient], size: int
) -> None:
    marker = _organizations(size)
    staff = signed_in(app.test_client(), admin)
    query = f"q={marker.replace(' ', '+')}"
    total, names = _walked(
        staff,
        f"/console/organizations?{query}",
        rf">(?:<bdi>)?({re.escape(marker)} \d+)(?:</bdi>)?</a>",  # `|isolated` (round 61)
        "organizations",
    )
    assert total == len(names) == len(set(names)) == size
    total, ids = _api_walked(
        app.test_client(), f"/api/v1/organizations?{query}", headers=factories.bearer(admin)
    )
    assert total == len(ids) == len(set(ids)) == size


@pytest.mark.parametrize("size", SIZES)
def test_the_agreements_lists_and_api_count_what_their_pages_show(
    app: Flask,
    vendor: Any,
    admin: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    size: int,
) -> None:
    if size:
        first = active_agreement(vendor, SMALL_SOFTWARE)
        session = db.session()
        made = copies.copy_application(session, first.application_id, size - 1)
        copies.copy_agreement(session, first.id, made, term=(date(2027, 1, 1), date(2027, 12, 31)))
    number = r">(CPT-\d{4}-\d{6})</a>"
    scope = f"organization={vendor.organization_id}"
    for client, url in (
        (signed_in(app.test_client(), admin), f"/console/agreements?{scope}"),
        (signed_in(app.test_client(), vendor), "/portal/agreements?"),
    ):
        total, numbers = _walked(client, url, number, "agreements")
        assert total == len(numbers) == len(set(numbers)) == size, url
    total, ids = _api_walked(
        app.test_client(), "/api/v1/agreements?", headers=factories.bearer(vendor)
    )
    assert total == len(ids) == len(set(ids)) == size


@pytest.mark.parametrize("size", SIZES)
def test_the_users_list_and_api_count_what_their_pages_show(
    app: Flask, admin: Any, signed_in: Callable[..., FlaskClient], size: int
) -> None:
    # A user's row carries a column property (its correlated count of passkeys),
    # which the count's subquery named before it counted keys.
    marker = f"countable{next(_names)}-"
    session = db.session()
    if size:
        organization = factories.make_organization(session)
        for number in range(size):
            factories.make_vendor(
                session, organization, email=f"{marker}{number:03d}@northwind.example"
            )
    staff = signed_in(app.test_client(), admin)
    total, emails = _walked(
        staff,
        f"/console/users?q={marker}",
        rf">({re.escape(marker)}\d+@northwind\.example)</a>",
        "users",
    )
    assert total == len(emails) == len(set(emails)) == size
    total, ids = _api_walked(
        app.test_client(), f"/api/v1/users?q={marker}", headers=factories.bearer(admin)
    )
    assert total == len(ids) == len(set(ids)) == size
