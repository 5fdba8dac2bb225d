"""Round 46: the console's rate card list a page at a time. Every version ever
published was one page; the list now pages as the others do (round 45), newest period
first, then by version and id, and says which cards replace a card on the page as it
did when every card was on one page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.ratecards import queries, services
from licensing.ratecards import views as ratecard_views
from tests.integration.pricing.conftest import card_document
from tests.support.pages import walk_pages
from tests.support.statements import statements_for

ROW = r'/console/rate-cards/([^"/]+)">'


def publish(version: str, start: str, end: str) -> str:
    document = card_document(version=version, effective_from=start, effective_to=end)
    return services.import_card(document, published_by="tests").version


def replaced_notes(page: str) -> list[str]:
    return re.findall(r"replaced by ([^:<]+): prices only", page)


def test_the_rate_card_list_pages_through_cards_starting_the_same_day(
    app: Flask,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Four cards for 2027 (tied on their first day: the version orders them), one
    # for 2028 that replaces none, and the 2026 card, replaced by the 2026.2 card
    # published over all its days, on the last page.
    publish("2026.1", "2026-01-01", "2026-12-31")
    publish("2026.2", "2026-01-01", "2026-12-31")
    for version in ("2027.3", "2027.1", "2027.4", "2027.2"):
        publish(version, "2027-01-01", "2027-12-31")
    publish("2028.1", "2028-01-01", "2028-12-31")
    expected = ["2028.1", "2027.4", "2027.3", "2027.2", "2027.1", "2026.2", "2026.1"]
    client = signed_in(app.test_client(), admin)
    whole = client.get("/console/rate-cards/").get_data(as_text=True)
    assert re.findall(ROW, whole) == expected
    assert "Rate cards 1\u20137 of 7" in whole
    # Every card for 2027 but the last published (2027.2) is replaced by it.
    notes_on_one_page = replaced_notes(whole)
    assert notes_on_one_page == ["2027.2", "2027.2", "2027.2", "2026.2"]

    monkeypatch.setattr(ratecard_views, "CARDS_PER_PAGE", 2)
    seen, urls = walk_pages(client, "/console/rate-cards/", ROW)
    assert seen == expected
    assert urls[1:] == [
        "/console/rate-cards/?page=2",
        "/console/rate-cards/?page=3",
        "/console/rate-cards/?page=4",
    ]
    # Each card's replacements are read for its page, whichever page the
    # replacement is listed on.
    notes = [
        note for url in urls for note in replaced_notes(client.get(url).get_data(as_text=True))
    ]
    assert notes == notes_on_one_page
    last = client.get("/console/rate-cards/?page=9").get_data(as_text=True)
    assert "Rate cards 7\u20137 of 7 \u00b7 page 4 of 4" in last
    assert re.findall(ROW, last) == ["2026.1"]
    assert replaced_notes(last) == ["2026.2"]
    assert client.get("/console/rate-cards/?page=2&page=3").status_code == 400


def test_the_replacements_of_a_page_are_those_of_the_whole_list(app: Flask) -> None:
    publish("2026.1", "2026-01-01", "2026-12-31")
    publish("2026.2", "2026-07-01", "2026-12-31")
    publish("2026.3", "2026-01-01", "2026-06-30")
    publish("2027.1", "2027-01-01", "2027-12-31")
    session = db.session()
    cards = queries.all_cards(session)
    whole = queries.replaced_by(cards)
    for card in cards:
        assert queries.replaced_on_page(session, [card]) == (
            {card.version: whole[card.version]} if card.version in whole else {}
        )
    assert queries.replaced_on_page(session, []) == {}


def test_the_rate_card_list_runs_the_same_statements_at_10_and_100_cards(
    app: Flask, admin: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """The list reads its page, its count and the cards that may replace the page's,
    however many versions are published (each a year, so a page's cards replace none
    off it; on page 2 too)."""
    client = signed_in(app.test_client(), admin)

    def publish_years(first: int, last: int) -> None:
        for year in range(first, last):
            publish(f"{year}.1", f"{year}-01-01", f"{year}-12-31")

    pages = ("/console/rate-cards/", "/console/rate-cards/?page=2")
    publish_years(1900, 1910)
    at_small = [statements_for(app, client, url) for url in pages]
    publish_years(1910, 2000)
    at_large = [statements_for(app, client, url) for url in pages]
    assert at_large == at_small
    second = client.get("/console/rate-cards/?page=2").get_data(as_text=True)
    assert "Rate cards 51\u2013100 of 100 \u00b7 page 2 of 2" in second
