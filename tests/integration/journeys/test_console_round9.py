"""Round 9's console and queue loose ends (docs/journeys.md, "Round 9: console and
queue loose ends"). Each test failed before its fix."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from licensing.agreements.models import Application
from licensing.words import USE_LABELS
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.royalties.test_pages import text_of
from tests.support.factories import bearer

SignIn = Callable[..., FlaskClient]


# --- 1. the Exports page in its own words ---------------------------------------------------


def _options(page: str, select: str) -> list[tuple[str, str]]:
    """The (value, text) of each option of the select `select`."""
    found = re.search(rf'<select id="{select}"[^>]*>(.*?)</select>', page, re.S)
    assert found, select
    return [
        (value, html.unescape(text))
        for value, text in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found[1])
    ]


def test_the_exports_use_filter_offers_each_use_in_words(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    # The dropdown read "distribution", "derivative work": the stored names.
    page = signed_in(client, billing_staff).get("/console/exports").get_data(as_text=True)
    offered = dict(_options(page, "use"))
    for use, words in USE_LABELS.items():
        assert offered[use] == words


def test_the_exports_page_refuses_a_filter_in_its_labels_and_the_api_in_its_parameters(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    # "The payments export does not filter by use (it takes as_of, by, ...)": the
    # API's dataset and parameter names, on a page whose form says "Payments",
    # "Use" and "Dates apply to".
    staff = signed_in(client, billing_staff)
    page = staff.get("/console/exports?dataset=payments&use=development&by=someday")
    assert page.status_code == 422
    text = text_of(page)
    assert (
        "The Payments export does not filter by Use (it takes From, To, Dates apply to, "
        "Organization, State, Currency)." in text
    )
    assert "Must be one of: Paid date." in text
    assert "payments export" not in text
    assert "filter by use" not in text
    # A use it takes, misspelt: the uses as the options say them.
    lines = text_of(staff.get("/console/exports?dataset=invoice_lines&use=distributing"))
    assert f"Must be one of: {USE_LABELS['development']}; " in lines
    assert "derivative_work" not in lines
    formats = text_of(staff.get("/console/exports?dataset=payments&format=pdf"))
    assert "Must be one of: CSV, JSON Lines, XLSX (spreadsheet)." in formats
    unknown = text_of(staff.get("/console/exports?dataset=payment"))
    assert "There is no 'payment' export; there are: Invoices, Invoice lines," in unknown
    # The API keeps its words: its caller wrote the parameters.
    api = client.get(
        "/api/v1/exports/payments",
        query_string={"as_of": "2027-01-31"},
        headers=bearer(billing_staff),
    )
    assert api.status_code == 422
    assert (
        "The payments export does not filter by as_of (it takes from, to, by,"
        in (api.get_json()["errors"]["query.as_of"][0])
    )


# --- 2. the staff queue's uses in words -----------------------------------------------------


def test_the_staff_queue_says_each_use_in_words_as_the_application_pages_do(
    apply: Callable[..., Application],
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    # The Uses column read "Fernhill Code Feed · distribution, Data file".
    application = apply(vendor, STAFF_USE)
    staff = signed_in(client, licensing_staff)
    queue = text_of(staff.get("/console/applications"))
    assert f"Fernhill Code Feed · {USE_LABELS['distribution']}; data file" in queue
    assert "· distribution," not in queue
    # The application's table of proposed uses says it the same way.
    review = text_of(staff.get(f"/console/applications/{application.id}"))
    assert f"{USE_LABELS['distribution']}; data file for provider users" in review
