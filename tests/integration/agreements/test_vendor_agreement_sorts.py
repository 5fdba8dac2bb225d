"""Round 55: the vendor's agreements list (`/portal/agreements`) and `GET
/api/v1/agreements` had no sort, newest issued first only, while the console's list
offered *Oldest issued first*. The vendor now has the console's State and Sort, and
both lists and the API a third order, by number (whose year is the term's start,
so it is not the order of issue); each walked through pages, refused twice or
unknown, and the API's `sort` an enum of its document."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.agreements import views as agreement_views
from licensing.agreements.models import Agreement
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support.factories import bearer
from tests.support.pages import walk_pages

NUMBER = r'<a href="/[a-z/]*agreements/\d+[^"]*">(CPT-\d{4}-\d{6})</a>'
# Issued in this order, numbered out of it: a renewal issued late in a year for a
# term starting the next, or a back-dated term, draws its term's year.
NUMBERS = ("CPT-2028-000007", "CPT-2026-000042", "CPT-2027-000003", "CPT-2027-000001")


@pytest.fixture
def issued(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
) -> list[str]:
    """The vendor's four agreements in the order issued (numbered `NUMBERS`), and
    another vendor's."""
    made = [active_agreement(vendor, SMALL_SOFTWARE) for _ in NUMBERS]
    active_agreement(other_vendor, SMALL_SOFTWARE)
    for agreement, number in zip(made, NUMBERS, strict=True):
        db.session().execute(
            update(Agreement).where(Agreement.id == agreement.id).values(number=number)
        )
    db.session().commit()
    return list(NUMBERS)


def test_the_vendor_walks_its_agreements_newest_oldest_or_by_number_the_sort_kept_on_every_page(
    app: Flask,
    vendor: Any,
    issued: list[str],
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agreement_views, "AGREEMENTS_PER_PAGE", 3)
    client = signed_in(app.test_client(), vendor)

    newest, _ = walk_pages(client, "/portal/agreements", NUMBER)
    oldest, _ = walk_pages(client, "/portal/agreements?sort=oldest", NUMBER)
    by_number, urls = walk_pages(client, "/portal/agreements?sort=number", NUMBER)

    assert newest == issued[::-1]
    assert oldest == issued
    assert by_number == sorted(issued)
    assert urls == ["/portal/agreements?sort=number", "/portal/agreements?sort=number&page=2"]
    page = client.get("/portal/agreements?sort=number").get_data(as_text=True)
    assert '<option value="number" selected>By number</option>' in page
    chosen, _ = walk_pages(client, "/portal/agreements?state=active&sort=oldest", NUMBER)
    assert chosen == issued
    none_issued = client.get("/portal/agreements?state=issued").get_data(as_text=True)
    assert re.findall(NUMBER, none_issued) == []
    assert "No agreements in the chosen states." in none_issued


def test_the_vendors_list_refuses_a_sort_given_twice_or_not_offered_and_lists_nothing(
    app: Flask,
    vendor: Any,
    issued: list[str],
    signed_in: Callable[..., FlaskClient],
) -> None:
    client = signed_in(app.test_client(), vendor)

    twice = client.get("/portal/agreements?sort=oldest&sort=number")
    unknown = client.get("/portal/agreements?sort=longest")
    no_state = client.get("/portal/agreements?state=lapsed")

    assert twice.status_code == 400
    assert "Sort takes one value, and the link gave it 2" in twice.get_data(as_text=True)
    assert unknown.status_code == 422
    said = unknown.get_data(as_text=True)
    assert "Sort takes one of: Newest first, Oldest issued first, By number" in said
    assert 'aria-invalid="true"' in said
    assert no_state.status_code == 422
    for answer in (twice, unknown, no_state):
        assert re.findall(NUMBER, answer.get_data(as_text=True)) == []
        assert "Nothing is listed until the filters above are corrected." in answer.get_data(
            as_text=True
        )


def test_the_api_lists_a_vendors_agreements_in_the_order_sort_asks_and_documents_it(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    issued: list[str],
) -> None:
    headers = bearer(vendor)

    def numbers(query: str) -> list[str]:
        answer = client.get(f"/api/v1/agreements?per_page=3{query}", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        page2 = client.get(f"/api/v1/agreements?per_page=3&page=2{query}", headers=headers)
        return [a["number"] for a in answer.get_json() + page2.get_json()]

    assert numbers("") == issued[::-1]
    assert numbers("&sort=newest") == issued[::-1]
    assert numbers("&sort=oldest") == issued
    assert numbers("&sort=number") == sorted(issued)
    refused = client.get("/api/v1/agreements?sort=longest", headers=headers)
    assert refused.status_code == 422
    assert "query.sort" in refused.get_json()["errors"]
    twice = client.get("/api/v1/agreements?sort=oldest&sort=number", headers=headers)
    assert twice.status_code == 400

    document = client.get("/api/v1/openapi.json").get_json()
    (sort,) = [
        parameter
        for parameter in document["paths"]["/api/v1/agreements"]["get"]["parameters"]
        if parameter["name"] == "sort"
    ]
    assert sort["schema"]["enum"] == ["newest", "oldest", "number"]
    assert sort["schema"]["default"] == "newest"
