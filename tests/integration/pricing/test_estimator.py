"""The public price estimator page (no JavaScript needed)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, unquote_plus, urlencode

import time_machine
from flask.testing import FlaskClient

from tests.support.pages import without_time_tags


def estimate(client: FlaskClient, **params: Any) -> str:
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "",
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-user_type": "provider",
        "uses-0-quantity-end_users": "2500",
        "uses-0-description": "Claims scrubber",
    }
    query.update(params)
    response = client.get("/estimate?" + urlencode(query))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_empty_estimator_offers_the_next_card_period(
    client: FlaskClient, example_card: str
) -> None:
    # Asked in November 2026, when 2027's card is the next. Asked at the real time, the
    # current card's term began on the office's today from 2 January 2027 (round 47).
    with time_machine.travel(datetime(2026, 11, 2, 15, 0, tzinfo=UTC), tick=True):
        page = client.get("/estimate").get_data(as_text=True)
    assert "Estimate your license price" in page
    assert 'value="2027-01-01"' in page
    assert 'name="uses-0-quantity-end_users"' in page


def test_an_estimate_shows_the_total_and_its_working(
    client: FlaskClient, example_card: str
) -> None:
    page = estimate(client)
    assert "Estimated total: 33,800.00 USD" in page
    assert "100 x 18.50 + 900 x 15.50 + 1,500 x 12.00 = 33,800.00"  # grouped (round 12) in page


def test_a_missing_quantity_is_shown_beside_its_field(
    client: FlaskClient, example_card: str
) -> None:
    page = estimate(client, **{"uses-0-quantity-end_users": ""})
    assert "Estimated total" not in page
    assert 'id="uses-0-quantity-end_users-error"' in page


def test_adding_a_use_adds_a_row_and_keeps_what_was_typed(
    client: FlaskClient, example_card: str
) -> None:
    page = estimate(client, add_use="1")
    assert "Use 2" in page
    assert 'value="2500"' in page
    assert "Estimated total" not in page


def test_removing_a_use_renumbers_the_rest(client: FlaskClient, example_card: str) -> None:
    page = estimate(
        client,
        **{
            "uses-1-use": "development",
            "uses-1-product_type": "software",
            "uses-1-user_type": "provider",
            "remove-0": "1",
        },
    )
    assert "Use 2" not in page
    assert 'name="uses-0-use"' in page


def test_a_bad_revenue_is_a_field_message_not_an_error_page(
    client: FlaskClient, example_card: str
) -> None:
    page = estimate(client, **{"uses-0-revenue": "a lot"})
    assert "Enter an amount such as 120000.00" in page


def test_a_row_number_that_is_no_number_is_ignored_not_an_error_page(
    client: FlaskClient, example_card: str
) -> None:
    for junk in ("uses-\u00b2-use", "uses-x-use", "uses-99999999999999999999-use"):
        response = client.get(
            "/estimate?" + urlencode({"organization_type": "commercial", junk: "development"})
        )
        assert response.status_code == 200, junk


def test_a_use_without_a_description_is_named_in_the_words_it_was_chosen_in(
    client: FlaskClient, example_card: str
) -> None:
    # The table read "1. distribution": the identifier, not the choice the visitor made.
    page = estimate(client, **{"uses-0-description": ""})
    assert "<td>1. Distribute a product to others (installed or hosted)</td>" in page
    assert "<td>1. distribution</td>" not in page


def test_a_term_across_two_card_periods_says_how_to_make_it_fit(
    client: FlaskClient, example_card: str
) -> None:
    # A first-time licensee asking for a year from July was told the term "must lie
    # wholly inside the period of rate card 2027.1" and not what to do about it.
    page = estimate(client, term_start="2027-07-01", term_end="2028-06-30")
    assert "Estimated total" not in page
    assert "must lie wholly inside the period of rate card 2027.1" in page
    assert (  # its days in words on the page (round 58)
        "keep the term within January 1, 2027 to December 31, 2027; a license is renewed "
        "for the next period on the next card" in without_time_tags(page)
    )


# --- long estimates (round 3) --------------------------------------------------------


def _ten_uses(description: str) -> dict[str, str]:
    fields = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "",
    }
    for row in range(10):
        fields |= {
            f"uses-{row}-use": "distribution",
            f"uses-{row}-product_type": "saas",
            f"uses-{row}-user_type": "provider",
            f"uses-{row}-quantity-end_users": "2500",
            f"uses-{row}-description": f"{row + 1}. {description}",
        }
    return fields


def test_ten_uses_with_long_descriptions_are_posted_and_priced(
    client: FlaskClient, example_card: str
) -> None:
    # 195 characters each (200 at most), accented letters taking 6 bytes in a URL.
    fields = _ten_uses(
        "Éditeur québécois: vérificateur de réclamations médicales, évalué et validé, "
        "déployé à Montréal, Québec et Trois-Rivières; intégré aux systèmes hospitaliers "
        "régionaux; mises à jour trimestrielles"
    )
    # As a link it would not fit in gunicorn's default request line, 4,094 bytes (the
    # service's own takes 8,190 since round 64; a proxy in front may take less).
    assert len(f"GET /estimate?{urlencode(fields)} HTTP/1.1") > 4094
    form = client.get("/estimate").get_data(as_text=True)
    assert '<form method="post" action="/estimate"' in form
    response = client.post("/estimate", data=fields)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Estimated total: 338,000.00 USD" in page  # 10 x 33800.00
    assert "10. Éditeur québécois" in page
    assert "This estimate is too long to fit in a link" in page
    assert re.search(r"The descriptions of uses [0-9, ]+ and 10 are too long to carry", page)
    links = re.findall(r'href="([^"]+)"', page)
    assert all(len(link) < 4000 for link in links)


def test_an_ordinary_estimate_gives_a_link_that_shows_it_again(
    client: FlaskClient, example_card: str
) -> None:
    fields = _ten_uses("Scrubber")
    page = client.post("/estimate", data=fields).get_data(as_text=True)
    found = re.search(r'<a href="(/estimate\?[^"]+)">Link to this estimate</a>', page)
    assert found is not None
    again = client.get(html.unescape(found.group(1))).get_data(as_text=True)
    assert "Estimated total: 338,000.00 USD" in again
    assert "10. Scrubber" in again
    assert "too long" not in again


# --- a description at its length limit, carried into an application (round 5) -------

# 200 characters (PRODUCT_NAME_MAX), each four bytes of UTF-8 (a receipt and a
# hospital): twelve characters in a link, twenty once encoded again inside
# sign-in's `next`, where it cannot fit.
AT_THE_LIMIT = "\U0001f9fe\U0001f3e5" * 100


def _one_use(description: str) -> dict[str, str]:
    fields = _ten_uses("x")
    kept = {key: value for key, value in fields.items() if not key.startswith("uses-")}
    kept |= {key: value for key, value in fields.items() if key.startswith("uses-0-")}
    return kept | {"uses-0-description": description}


def _carried(page: str, text: str) -> list[str]:
    """The description as each application link carries it, decoded."""
    links = [html.unescape(href) for href in re.findall(r'href="([^"]+)"', page)]
    applying = [link for link in links if "applications" in unquote(link)]
    assert applying, links
    return [link for link in applying if text in unquote_plus(unquote_plus(link))]


def test_a_description_at_the_limit_is_carried_into_a_vendors_application(
    app: Any, vendor: Any, signed_in: Any, example_card: str
) -> None:
    assert len(AT_THE_LIMIT) == 200
    client = signed_in(app.test_client(), vendor)
    page = client.post("/estimate", data=_one_use(AT_THE_LIMIT)).get_data(as_text=True)
    assert "Estimated total" in page
    carried = _carried(page, AT_THE_LIMIT)
    assert carried, "the application link left the description out"
    assert "too long to carry" not in page
    application = client.get(carried[0]).get_data(as_text=True)
    assert f'value="{AT_THE_LIMIT}"' in application
    for href in re.findall(r'href="([^"]+)"', page):
        assert len(f"GET {html.unescape(href)} HTTP/1.1") <= 4094


def test_a_description_too_long_for_sign_ins_link_is_named_and_the_others_kept(
    client: FlaskClient, example_card: str
) -> None:
    # Signed out, the application is reached through sign-in's `next` (encoded
    # twice): only the description that does not fit is left out, and the page
    # says which one; a short one is carried.
    fields = _one_use(AT_THE_LIMIT) | {
        "uses-1-use": "distribution",
        "uses-1-product_type": "saas",
        "uses-1-user_type": "provider",
        "uses-1-quantity-end_users": "10",
        "uses-1-description": "Claims scrubber",
    }
    page = client.post("/estimate", data=fields).get_data(as_text=True)
    assert "Estimated total" in page
    assert _carried(page, "Claims scrubber")
    assert not _carried(page, AT_THE_LIMIT)
    assert "The description of use 1 is too long to carry into the application" in page
    for href in re.findall(r'href="([^"]+)"', page):
        assert len(f"GET {html.unescape(href)} HTTP/1.1") <= 4094
