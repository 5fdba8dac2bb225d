"""Every page a user can reach by following links answers without a server error.

A crawler signs in as each audience (a vendor, staff with every role, nobody),
starts from their home pages and follows every same-site link it finds (GET
only), over records made through the real services: an application in review,
an active agreement with its invoice, a permission request. Any 5xx fails the
test with the page that produced it and where the link was found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support import factories
from tests.support.agreements import accept, agreement_of

LINK = re.compile(r'href="([^"#]+)')
# Links that leave the pages (downloads are fetched, but not parsed for links)
# or change the session.
NOT_PAGES = ("/static/", "/sign-out", "/api/v1/docs")
PAGE_LIMIT = 400


def shape(path: str) -> str:
    """A link with the numbers of its query left out: `/console/invoices?from=N-N`.
    The finance dashboard links each list for each month of the year, the exports
    page each dataset for each range, a list each of its pages: the same view and
    the same query code, the values aside."""
    head, _, query = path.partition("?")
    return head + "?" + re.sub(r"\d+", "N", query)


def crawl(client: FlaskClient, *starts: str) -> dict[str, int]:
    """Status of every page reached from `starts`, one link of each shape (round 63:
    the staff's crawl stopped at its 400-page limit, 176 shapes followed, the
    dashboard's months and the exports' ranges most of them; 179 pages now reach
    every shape, those 176 and three the limit had left out); raises on the first
    5xx."""
    seen: dict[str, int] = {}
    shapes: set[str] = set()
    queue = [(start, "(start)") for start in starts]
    while queue and len(seen) < PAGE_LIMIT:
        path, found_on = queue.pop(0)
        if path in seen or shape(path) in shapes:
            continue
        shapes.add(shape(path))
        response = client.get(path)
        seen[path] = response.status_code
        assert response.status_code < 500, f"{path} (linked from {found_on}) answered 500"
        if response.mimetype != "text/html":
            # A download (a CSV export streams) is read to its end, so an error while
            # streaming shows, and closed, as a server closes what it served.
            response.get_data()
            response.close()
            continue
        for href in LINK.findall(response.get_data(as_text=True)):
            target = urlsplit(urljoin(path, href.replace("&amp;", "&")))
            if target.netloc not in ("", "localhost") or target.path.startswith(NOT_PAGES):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen:
                queue.append((link, path))
    return seen


@pytest.fixture
def records(apply: Callable[..., Application], vendor: Any) -> dict[str, Any]:
    """An approved and accepted agreement (so an invoice), an application
    waiting for staff, and a use routed to the permissions queue."""
    development = {**AUTO_USE, "use": "development", "product_type": "software"}
    approved = apply(vendor, AUTO_USE, development)  # the flat fee is invoiced
    agreement = accept(agreement_of(approved), vendor, now=NOW)
    waiting = apply(vendor, STAFF_USE)
    session = db.session()
    academic = factories.make_vendor(
        session, organization=factories.make_organization(session, organization_type="academic")
    )
    education = {**AUTO_USE, "use": "education", "quantity": {"students": 30}}
    apply(academic, AUTO_USE, education)  # routed to the permissions queue
    db.session().commit()
    return {"agreement": agreement, "waiting": waiting}


def test_a_vendor_reaches_no_server_error_from_the_portal(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], vendor: Any, records: Any
) -> None:
    seen = crawl(signed_in(client, vendor), "/portal/")
    assert f"/portal/applications/{records['waiting'].id}" in seen
    assert any(path.startswith("/portal/invoices/") for path in seen), "\n".join(sorted(seen))


def test_staff_with_every_role_reach_no_server_error_from_the_console(
    app: Flask, client: FlaskClient, signed_in: Callable[..., FlaskClient], records: Any
) -> None:
    staff = factories.make_staff(db.session(), roles=("licensing", "billing", "admin"))
    seen = crawl(signed_in(client, staff), "/console/", "/")
    assert f"/console/applications/{records['waiting'].id}" in seen, "\n".join(sorted(seen))
    assert any(re.fullmatch(r"/console/permissions/\d+", path) for path in seen)
    assert any(re.fullmatch(r"/console/invoices/\d+", path) for path in seen)
    assert len([path for path in seen if path.startswith("/console/")]) > 10, len(seen)


def test_the_public_reaches_no_server_error(client: FlaskClient, records: Any) -> None:
    seen = crawl(client, "/")
    assert "/estimate" in seen
