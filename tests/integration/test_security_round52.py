"""Round 52's security review of what round 51 added (docs/security.md, "Round 52"):
each finding's test, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from tests.support import factories
from tests.support.pages import text_of

# A right-to-left override, then an isolate: a terminal lays out what follows them
# reversed, so "(id 31)" could read as another organization's id.
OVERRIDE, ISOLATE, POP = "\u202e", "\u2067", "\u2069"


def test_a_command_naming_an_organization_escapes_a_names_bidirectional_controls(
    app: Flask, vendor: Any
) -> None:
    """Round 51 escaped C0 and C1 controls in the names a lookup lists; a legal name may
    still hold U+202E and the other bidirectional controls (one line, no control
    character), which the operator's terminal obeyed, reordering the list."""
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization)
    factories.make_organization(session, legal_name="Harbor Analytics LLC")
    # Round 55 refuses these controls where a name is typed (no document's font draws
    # them); a name stored before then still holds them, as this one is written.
    stored = factories.make_organization(session, legal_name="Harbor CLL x")
    stored.legal_name = f"Harbor {OVERRIDE}CLL {ISOLATE}x{POP}"
    session.commit()
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["users", "move", clerk.email, "--to", "harbor", "--reason", "r"])
    assert listed.exit_code == 2
    assert not {OVERRIDE, ISOLATE, POP} & set(listed.output)
    assert "Harbor \\u202eCLL \\u2067x\\u2069 (id" in listed.output


@pytest.mark.parametrize("path", ["/console/organizations", "/console/users"])
def test_a_console_search_longer_than_the_apis_is_refused_beside_the_field_not_a_500(
    client: FlaskClient, admin: Any, signed_in: Any, path: str
) -> None:
    """Round 52's page sweep: a search of 100,000 characters was a 500 on SQLite ("LIKE
    or GLOB pattern too complex"); the API's `q` takes 200. The page is refused beside
    its search field, listing nothing."""
    factories.make_organization(db.session(), legal_name="Harbor Analytics LLC")
    signed_in(client, admin)
    response = client.get(path, query_string={"q": "x" * 100_000})
    assert response.status_code == 400
    page = text_of(response)
    assert "At most 200 characters." in page
    assert "Harbor Analytics LLC" not in page
    assert client.get(path, query_string={"q": "h" * 200}).status_code == 200
