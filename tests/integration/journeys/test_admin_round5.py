"""Round 5: what a licensing office's administrator tripped on in the first weeks
(adding staff, changing roles, publishing a rate card, reading the audit log)."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

from tests.integration.pricing.conftest import example_document
from tests.support import factories


def _rows(page: str) -> list[str]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in body.split("<tr")[1:]
    ]


def test_the_audit_log_finds_a_staff_members_role_changes_by_their_email_address(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    from licensing import db

    clerk = factories.make_staff(db.session(), roles=("billing",), email="clerk@office.example")
    signed_in(client, admin)
    saved = client.post(
        f"/console/users/{clerk.id}/roles", data={"roles": ["billing", "licensing"]}
    )
    assert saved.status_code == 302

    found = client.get("/console/audit", query_string={"entity_id": "Clerk@Office.example "})
    rows = _rows(found.get_data(as_text=True))
    changed = [row for row in rows if "user.roles_changed" in row]
    assert len(changed) == 1
    assert admin.email in changed[0]
    assert "clerk@office.example" in changed[0]  # the record is named, not "user 7"
    assert f'<a href="/console/users/{clerk.id}">clerk@office.example</a>' in found.get_data(
        as_text=True
    )


def test_a_rate_card_publication_in_the_audit_log_links_to_the_card(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    from licensing.ratecards import services

    document = example_document()
    document["version"] = "2027.9"
    services.import_card(document, published_by=admin.email)
    signed_in(client, admin)
    page = client.get("/console/audit", query_string={"entity_id": "2027.9"}).get_data(as_text=True)
    assert '<a href="/console/rate-cards/2027.9">rate card 2027.9</a>' in page
