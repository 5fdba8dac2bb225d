"""Round 57 (billingwords57): the console's organization search found an organization
by its legal name only. A clerk with a caller on the phone knows the caller's name or
address, not the licensee's legal name: the search now finds an organization by one of
its people's name or address too (in any case and script, as names are searched
elsewhere), says which of its people matched, a page at a time; staff only."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import queries, views
from licensing.accounts.models import User
from tests.support import factories
from tests.support.statements import sent_by


def _rows(client: FlaskClient, search: str, **more: str) -> list[str]:
    answer = client.get("/console/organizations", query_string={"q": search, **more})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    if "<tbody>" not in page:
        return []
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in body.split("<tr>")[1:]
    ]


def test_a_members_name_or_address_in_any_case_finds_the_organization_and_says_whom(
    app: Flask, signed_in: Any, billing_staff: Any
) -> None:
    session = db.session()
    harbor = factories.make_organization(session, legal_name="Harborlight Analytics LLC")
    factories.make_vendor(
        session, organization=harbor, full_name="Imogen Hart", email="imogen.hart@harbor.example"
    )
    factories.make_vendor(
        session, organization=harbor, full_name="Ravi Okafor", email="ravi@harbor.example"
    )
    school = factories.make_organization(session, legal_name="École de santé du Léman")
    factories.make_vendor(
        session, organization=school, full_name="Zoë Müller", email="zoe.muller@leman.example"
    )
    # An organization whose own name has the searched text, and no such person.
    named = factories.make_organization(session, legal_name="Hartwell Devices Inc.")
    factories.make_vendor(session, organization=named, full_name="Tom Lee")
    clerk = signed_in(app.test_client(), billing_staff)

    # By part of a name, in another case: the person's organization, and whom.
    rows = _rows(clerk, "IMOGEN")
    assert len(rows) == 1
    assert rows[0].startswith("Harborlight Analytics LLC Imogen Hart (imogen.hart@harbor.example)")
    # By part of an address.
    [row] = _rows(clerk, "ravi@harbor")
    assert "Harborlight Analytics LLC Ravi Okafor (ravi@harbor.example)" in row
    assert "Imogen" not in row
    # Beyond ASCII, in another case, as names are folded everywhere.
    [row] = _rows(clerk, "ZOË MÜLLER")
    assert row.startswith("École de santé du Léman Zoë Müller (zoe.muller@leman.example)")
    # A legal name still finds its organization, and one matched by a person with it.
    rows = _rows(clerk, "hart")
    assert [row.split(" ")[0] for row in rows] == ["Harborlight", "Hartwell"]
    assert "Imogen Hart (imogen.hart@harbor.example)" in rows[0]
    assert "none: the name matched" in rows[1]
    # Without a search, no column of people found.
    page = clerk.get("/console/organizations").get_data(as_text=True)
    assert "Members found" not in page


def test_a_search_names_three_people_an_organization_counts_the_rest_and_marks_the_deactivated(
    app: Flask, signed_in: Any, licensing_staff: Any, admin: Any
) -> None:
    session = db.session()
    office = factories.make_organization(session, legal_name="Tidewater Health Records")
    people = [
        factories.make_vendor(
            session, organization=office, full_name=f"Casey Reyes {n}", email=f"c{n}@tide.example"
        )
        for n in range(5)
    ]
    gone = session.get(User, people[0].id)
    assert gone is not None
    gone.is_active = False
    session.commit()
    [row] = _rows(signed_in(app.test_client(), licensing_staff), "casey reyes")
    assert (
        "Casey Reyes 0 (c0@tide.example), deactivated; Casey Reyes 1 (c1@tide.example); "
        "Casey Reyes 2 (c2@tide.example); and 2 more"
    ) in row
    # Admins open the person's page from it; other staff read the name (the users'
    # pages are an admin's).
    answer = signed_in(app.test_client(), admin).get(
        "/console/organizations", query_string={"q": "casey reyes"}
    )
    assert f'href="/console/users/{people[1].id}"' in answer.get_data(as_text=True)
    answer = signed_in(app.test_client(), licensing_staff).get(
        "/console/organizations", query_string={"q": "casey reyes"}
    )
    assert f'href="/console/users/{people[1].id}"' not in answer.get_data(as_text=True)


def test_people_found_are_read_in_one_statement_for_the_page_and_the_list_pages(
    app: Flask, signed_in: Any, billing_staff: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = db.session()
    for n in range(queries.MEMBERS_NAMED + 2):
        office = factories.make_organization(session, legal_name=f"Quayside Labs {n:02d}")
        for m in range(n + 1):
            factories.make_vendor(
                session,
                organization=office,
                full_name=f"Noor Haddad {m}",
                email=f"noor{m}.{n}@quay.example",
            )
    clerk = signed_in(app.test_client(), billing_staff)
    clerk.get("/console/organizations", query_string={"q": "noor haddad"})  # warm
    with sent_by(app) as statements:
        rows = _rows(clerk, "noor haddad")
    assert len(rows) == queries.MEMBERS_NAMED + 2
    # The fifth organization has five people found: three named, two counted.
    assert "Noor Haddad 2 (noor2.4@quay.example); and 2 more" in rows[-1]
    people_reads = [sql for sql in statements if "row_number()" in sql.lower()]
    assert len(people_reads) == 1
    # A page at a time, the search kept by the pager's links.
    monkeypatch.setattr(views, "ACCOUNTS_PER_PAGE", 2)
    answer = clerk.get("/console/organizations", query_string={"q": "noor haddad"})
    page = html.unescape(answer.get_data(as_text=True))
    assert "Organizations 1\u20132 of 5 · page 1 of 3" in page
    assert 'href="/console/organizations?q=noor+haddad&amp;page=2"' in answer.get_data(as_text=True)
    second = _rows(clerk, "noor haddad", page="2")
    assert second == rows[2:4]


def test_vendors_may_not_search_organizations_by_their_people(
    app: Flask, signed_in: Any, vendor: Any, other_vendor: Any
) -> None:
    answer = signed_in(app.test_client(), vendor).get(
        "/console/organizations", query_string={"q": other_vendor.email}
    )
    assert answer.status_code == 403
    assert other_vendor.email not in answer.get_data(as_text=True)


def test_a_search_given_twice_or_too_long_is_refused_beside_its_field_nothing_listed(
    app: Flask, signed_in: Any, billing_staff: Any, vendor: Any
) -> None:
    clerk = signed_in(app.test_client(), billing_staff)
    answer = clerk.get(f"/console/organizations?q={vendor.email}&q=other")
    assert answer.status_code == 400
    page = html.unescape(answer.get_data(as_text=True))
    assert "Name, or a member's name or email" in page
    assert vendor.email not in page.split('id="q"')[1].split("</form>")[1]
    answer = clerk.get("/console/organizations", query_string={"q": "x" * 201})
    assert answer.status_code == 400
