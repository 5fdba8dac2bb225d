"""Round 49: the move's form (a vendor user's console page, *Move to another
organization*) offered every organization not closed in one select, thousands for
an office with years of licensees. It offers at most 20 (the first by name, or
those a search by part of the name or the id finds), says how many match, and the
page runs the same statements at 10 and 100 organizations."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import queries
from licensing.accounts.models import Organization, User
from tests.support import factories
from tests.support.statements import statements_for

SignIn = Callable[..., FlaskClient]
REASON = "Joined them as a consultant."


def _offered(markup: str) -> list[str]:
    """The organizations the move's select offers, by name."""
    select = re.search(r'<select[^>]*id="move-organization".*?</select>', markup, re.S)
    assert select is not None, markup[:2000]
    return [
        name
        for value, name in re.findall(r'<option[^>]*value="(\d*)"[^>]*>([^<]*)<', select[0])
        if value
    ]


def _organizations(count: int, prefix: str = "Acme") -> list[Organization]:
    session = db.session()
    made = [
        factories.make_organization(session, legal_name=f"{prefix} {index:03d} Health")
        for index in range(count)
    ]
    session.commit()
    return made


def test_the_move_offers_the_first_twenty_by_name_and_a_search_reaches_any_other(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    session = db.session()
    person = factories.make_vendor(session, vendor.organization, role="member")
    _organizations(30)
    closed = factories.make_organization(session, legal_name="Acme 999 Closed", standing="closed")
    session.commit()
    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/users/{person.id}").get_data(as_text=True)
    offered = _offered(page)
    assert len(offered) == queries.DESTINATIONS_OFFERED
    assert offered == sorted(offered, key=str.lower)
    assert vendor.organization.legal_name not in offered
    assert "Acme 028 Health" not in offered
    assert "The first 20 of" in page
    assert "find another by part of its name or its id" in page

    # The 29th by name is not offered; a search by part of its name finds it.
    found = console.get(f"/console/users/{person.id}?move_search=acme+028").get_data(as_text=True)
    assert _offered(found) == ["Acme 028 Health"]
    assert "1 organization matches “acme 028”" in " ".join(found.split())
    # So does its id, typed (with or without "#"), and a closed one is found by neither.
    target = session.query(Organization).filter_by(legal_name="Acme 028 Health").one()
    by_id = console.get(f"/console/users/{person.id}?move_search=%23{target.id}")
    assert "Acme 028 Health" in _offered(by_id.get_data(as_text=True))
    assert (
        _offered(
            console.get(f"/console/users/{person.id}?move_search=Closed").get_data(as_text=True)
        )
        == []
    )
    assert closed.legal_name not in _offered(page)
    # A search that matches more than 20 says so.
    many = console.get(f"/console/users/{person.id}?move_search=ACME").get_data(as_text=True)
    assert len(_offered(many)) == 20
    assert "30 organizations match “ACME”: the first 20 by name" in " ".join(many.split())
    # `%` and `_` are letters in the search, not patterns.
    assert (
        _offered(console.get(f"/console/users/{person.id}?move_search=%25").get_data(as_text=True))
        == []
    )

    # The form posts the search with it: a refused move (no reason) shows the same
    # choices, the choice kept, even one beyond the first 20 of the page.
    action = re.search(r'action="([^"]*/organization[^"]*)"', found)
    assert action is not None
    refused = console.post(action[1].replace("&amp;", "&"), data={"organization": str(target.id)})
    assert refused.status_code == 422
    markup = refused.get_data(as_text=True)
    assert _offered(markup) == ["Acme 028 Health"]
    assert re.search(
        rf'<option selected value="{target.id}"|<option[^>]*value="{target.id}"[^>]*selected',
        markup,
    )
    # And the move to it is made, confirmed.
    moved = console.post(
        action[1].replace("&amp;", "&"),
        data={"organization": str(target.id), "reason": REASON, "confirmed": "yes"},
    )
    assert moved.status_code == 302
    assert db.session().get(User, person.id, populate_existing=True).organization_id == target.id


def test_the_user_page_runs_the_same_statements_at_10_and_100_organizations(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    session = db.session()
    person = factories.make_vendor(session, vendor.organization, role="member")
    _organizations(10)
    console = signed_in(app.test_client(), admin)
    url = f"/console/users/{person.id}"
    at_10 = statements_for(app, console, url)
    ten = _offered(console.get(url).get_data(as_text=True))
    _organizations(90, prefix="Zenith")
    at_100 = statements_for(app, console, url)
    assert at_100 == at_10
    assert len(_offered(console.get(url).get_data(as_text=True))) == 20
    assert len(ten) == 10  # every one but the person's own


def test_a_refused_move_offers_only_organizations_the_account_may_move_to(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    # Round 50: a refused move offered its choice again even when closed (the move
    # refuses a closed one), inviting the same refusal; it offers only open ones.
    session = db.session()
    person = factories.make_vendor(session, vendor.organization, role="member")
    (open_one,) = _organizations(1)
    closed = factories.make_organization(session, legal_name="Acme Closed", standing="closed")
    session.commit()
    console = signed_in(app.test_client(), admin)
    url = f"/console/users/{person.id}/organization"
    to_closed = console.post(
        url, data={"organization": str(closed.id), "reason": REASON, "confirmed": "yes"}
    )
    assert to_closed.status_code == 409
    offered = _offered(to_closed.get_data(as_text=True))
    assert closed.legal_name not in offered
    assert open_one.legal_name in offered
    # A closed one chosen and another field refused (no reason): not offered either.
    no_reason = console.post(url, data={"organization": str(closed.id)})
    assert no_reason.status_code == 422
    assert closed.legal_name not in _offered(no_reason.get_data(as_text=True))
    # An open one chosen is offered again, selected (round 49).
    kept = console.post(url, data={"organization": str(open_one.id)})
    assert _offered(kept.get_data(as_text=True)) == [open_one.legal_name]
    assert re.search(
        rf'<option selected value="{open_one.id}"|<option[^>]*value="{open_one.id}"[^>]*selected',
        kept.get_data(as_text=True),
    )
    assert db.session().get(User, person.id, populate_existing=True).organization_id == (
        vendor.organization_id
    )
