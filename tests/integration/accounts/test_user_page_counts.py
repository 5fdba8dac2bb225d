"""Round 47: the console's page of a vendor's administrator says when they are the
last active administrator of an organization with other active users (deactivating
them is refused). It read every member of the organization to know; it counts them
in SQL, so the page runs the same statements at 3 and at 30 members."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import ADMINISTRATOR, MEMBER
from licensing.accounts import queries
from tests.support import factories
from tests.support.statements import statements_for

KEEPS = 'id="keeps-organization"'  # the sentence, beside the deactivation it refuses


def test_the_last_administrator_is_counted_not_read_member_by_member(
    app: Flask,
    vendor: Any,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def every_member(*args: Any) -> None:
        raise AssertionError("the user page read every member of the organization")

    monkeypatch.setattr(queries, "members", every_member)
    session = db.session()
    organization = vendor.organization
    client = signed_in(app.test_client(), admin)
    url = f"/console/users/{vendor.id}"
    # Alone, the administrator may be deactivated (nobody is left to keep it for).
    assert KEEPS not in client.get(url).get_data(as_text=True)

    colleague = factories.make_vendor(session, organization, role=MEMBER)
    assert KEEPS in client.get(url).get_data(as_text=True)
    colleague.is_active = False
    session.commit()
    assert KEEPS not in client.get(url).get_data(as_text=True)
    colleague.is_active = True
    colleague.organization_role = ADMINISTRATOR
    session.commit()
    assert KEEPS not in client.get(url).get_data(as_text=True)
    colleague.organization_role = MEMBER
    session.commit()

    factories.make_vendor(session, organization, role=MEMBER)  # three members
    at_3 = statements_for(app, client, url)
    for _ in range(27):
        factories.make_vendor(session, organization, role=MEMBER)
    assert statements_for(app, client, url) == at_3
    assert KEEPS in client.get(url).get_data(as_text=True)
