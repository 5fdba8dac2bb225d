"""The first page after signing in says where the user is (round 61, keyboard61b):
its `<main>` is marked (`data-signed-in`), and error-summary.js gives the focus to
its main heading, read after the title ("Bluefin Inc." on the dashboard, "Work
waiting on the office" in the console). Only that page: the next starts as before.
By keyboard in Chromium: `tests/browser/test_keyboard_confirmations.py`."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.support.factories import DEFAULT_PASSWORD

MARK = "data-signed-in"


def _main(page: str) -> str:
    return page.split("<main", 1)[1].split(">", 1)[0]


def test_the_page_landed_on_after_signing_in_and_only_it_is_marked(
    app: Flask, vendor: Any, admin: Any
) -> None:
    for person, home, heading in (
        # Round 62: the dashboard says it is one, before whose it is.
        (vendor, "/portal/", f"Dashboard of {vendor.organization.legal_name}"),
        (admin, "/console/", "Work waiting on the office"),
    ):
        client = app.test_client()
        assert MARK not in _main(client.get("/sign-in").get_data(as_text=True))
        signed = client.post("/sign-in", data={"email": person.email, "password": DEFAULT_PASSWORD})
        assert signed.status_code == 302
        landed = client.get(signed.headers["Location"])
        page = landed.get_data(as_text=True)
        assert landed.request.path == home
        assert MARK in _main(page)
        # The heading's words, whatever markup isolates a name in it (`|isolated`).
        [first_heading] = re.findall(r"<h1>(.*?)</h1>", page)
        assert re.sub(r"<[^>]+>", "", first_heading) == heading
        assert MARK not in _main(client.get(home).get_data(as_text=True))


def test_a_refused_password_marks_nothing(app: Flask, vendor: Any) -> None:
    client = app.test_client()
    refused = client.post("/sign-in", data={"email": vendor.email, "password": "not it"})
    assert refused.status_code == 422
    assert MARK not in _main(refused.get_data(as_text=True))
    assert MARK not in _main(client.get("/").get_data(as_text=True))
