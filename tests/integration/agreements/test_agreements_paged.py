"""Round 45: the agreements lists (the console's and the vendor's) a page at a time.
They listed every agreement on one page; they now page as the other lists do, newest
first with the id last (agreements issued in the same second keep their places), the
console's links keeping its filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.agreements import views as agreement_views
from licensing.agreements.models import Agreement
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support import factories
from tests.support.agreements import up_front_invoice
from tests.support.pages import walk_pages
from tests.support.statements import sent_by

# An agreement's number as its row links it.
NUMBER = r'<a href="/[a-z/]*agreements/\d+[^"]*">(CPT-\d{4}-\d{6})</a>'


def test_the_agreements_lists_page_newest_first_across_agreements_issued_together(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issued at the same instant (the fixture's clock): only the id orders them.
    own = [active_agreement(vendor, SMALL_SOFTWARE).number for _ in range(4)]
    theirs = active_agreement(other_vendor, SMALL_SOFTWARE).number
    monkeypatch.setattr(agreement_views, "AGREEMENTS_PER_PAGE", 2)

    staff = signed_in(app.test_client(), billing_staff)
    seen, urls = walk_pages(staff, "/console/agreements?state=active", NUMBER)
    assert seen == [theirs, *own[::-1]]
    assert urls[1:] == [
        "/console/agreements?state=active&page=2",
        "/console/agreements?state=active&page=3",
    ]
    last = staff.get("/console/agreements?state=active&page=9").get_data(as_text=True)
    assert re.findall(NUMBER, last) == [own[0]]
    assert "Agreements 5\u20135 of 5 \u00b7 page 3 of 3" in last

    mine, _ = walk_pages(signed_in(app.test_client(), vendor), "/portal/agreements", NUMBER)
    assert mine == own[::-1]


def test_the_console_list_pages_oldest_issued_first_when_asked_across_agreements_issued_together(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round 54: *Oldest issued first* (the home's row of agreements waiting for
    acceptance links it) walks the same agreements in the other direction, the id
    last, every page's link keeping the sort and its option chosen; a sort given twice
    is refused (400) and one the list does not offer too (422), nothing listed."""
    own = [active_agreement(vendor, SMALL_SOFTWARE).number for _ in range(4)]
    theirs = active_agreement(other_vendor, SMALL_SOFTWARE).number
    monkeypatch.setattr(agreement_views, "AGREEMENTS_PER_PAGE", 2)

    staff = signed_in(app.test_client(), billing_staff)
    seen, urls = walk_pages(staff, "/console/agreements?state=active&sort=oldest", NUMBER)
    assert seen == [*own, theirs]
    assert urls[1:] == [
        "/console/agreements?state=active&sort=oldest&page=2",
        "/console/agreements?state=active&sort=oldest&page=3",
    ]
    page = staff.get("/console/agreements?sort=oldest").get_data(as_text=True)
    assert '<option value="oldest" selected>Oldest issued first</option>' in page
    newest, _ = walk_pages(staff, "/console/agreements?state=active", NUMBER)
    assert newest == seen[::-1]

    twice = staff.get("/console/agreements?sort=oldest&sort=newest")
    assert twice.status_code == 400
    assert "Sort takes one value, and the link gave it 2" in twice.get_data(as_text=True)
    unknown = staff.get("/console/agreements?sort=longest")
    assert unknown.status_code == 422
    assert re.findall(NUMBER, unknown.get_data(as_text=True)) == []
    assert "Sort takes one of: Newest first, Oldest issued first" in unknown.get_data(as_text=True)


# The statement that sums an agreement's invoices (`queries.charged_page`): since
# round 52 over `billed`, each kind of invoice selected on its own and put together.
SUMMED = "billed.total - billed.amount_credited"


def _sums_for_the_page_only(statements: list[str]) -> bool:
    """Whether the statement summing invoices chose the page's agreements first (a
    subquery of their ids with the LIMIT, joined) rather than summing every agreement
    the list selects and then taking the page."""
    (summing,) = [" ".join(text.split()) for text in statements if SUMMED in text]
    return bool(re.search(r"JOIN \(SELECT agreements\.id AS id FROM agreements .*LIMIT", summing))


def test_each_page_of_agreements_shows_what_each_was_charged_summed_for_that_page_alone(
    app: Flask,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # count51: the sums ran over every agreement before the page was taken (3-4 s at
    # 2,000 agreements with their invoices on SQLite).
    made = [active_agreement(vendor, SMALL_SOFTWARE) for _ in range(3)]
    charged = {agreement.number: up_front_invoice(agreement).total for agreement in made}
    monkeypatch.setattr(agreement_views, "AGREEMENTS_PER_PAGE", 2)
    row = NUMBER + r'</td>.*?<td class="num">.*?</td>\s*<td class="num">(.*?)</td>'
    for client, url in (
        (signed_in(app.test_client(), billing_staff), "/console/agreements"),
        (signed_in(app.test_client(), vendor), "/portal/agreements"),
    ):
        shown: dict[str, str] = {}
        for page in ("", "?page=2"):
            with sent_by(app) as statements:
                answer = client.get(url + page).get_data(as_text=True)
            shown.update(re.findall(row, answer, re.S))
            assert _sums_for_the_page_only(statements), url
        assert set(shown) == set(charged), url
        for number, figure in shown.items():
            shown_figure = re.sub(r"<[^>]+>", "", figure).replace(",", "")
            assert f"{charged[number]:.2f}" in shown_figure, (url, figure)
    api = app.test_client()
    as_vendor = factories.bearer(vendor)
    for page in (1, 2):
        with sent_by(app) as statements:
            answer = api.get(f"/api/v1/agreements?per_page=2&page={page}", headers=as_vendor)
        assert answer.status_code == 200
        assert _sums_for_the_page_only(statements)
        body = answer.get_json()
        for item in body["items"] if isinstance(body, dict) else body:
            assert Decimal(item["charged_to_date"]) == charged[item["number"]], item
