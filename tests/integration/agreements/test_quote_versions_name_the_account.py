"""Round 58: a quote version kept only the address of who made it, and the review page
named whoever holds that address now: a vendor whose address changed and was then
taken by a colleague had their quote named after the colleague. A version keeps the
account's id (`created_by_id`, agreements_0010) and is named by it; a version made
before keeps its address and is named by it, as before."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.accounts.models import User
from licensing.agreements.models import Application, QuoteVersion
from tests.integration.agreements.conftest import STAFF_USE
from tests.support import factories

SignIn = Callable[..., FlaskClient]


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_quote_version_names_its_maker_after_their_address_passed_to_someone_else(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
) -> None:
    application = apply(vendor, STAFF_USE)
    session = db.session()
    version = session.get(Application, application.id).quotes[-1]  # type: ignore[union-attr]
    assert version.created_by_id == vendor.id
    recorded, maker = vendor.email, f"{vendor.full_name} ({vendor.email})"
    # The vendor's address changes, and a colleague is given the old one.
    moved = session.get(User, vendor.id)
    assert moved is not None
    moved.email = f"moved.{recorded}"
    session.commit()
    newcomer = factories.make_vendor(
        session, organization=moved.organization, email=recorded, full_name="Ines Newcombe"
    )
    client = signed_in(app.test_client(), licensing_staff)
    path = f"/console/applications/{application.id}"
    words = _words(client.get(path).get_data(as_text=True))
    assert f"by {maker}" in words
    assert f"by {newcomer.full_name}" not in words

    # A version made before agreements_0010 kept no account: named by its address, as
    # before (the one who holds it now).
    session.execute(
        update(QuoteVersion).where(QuoteVersion.id == version.id).values(created_by_id=None)
    )
    session.commit()
    words = _words(client.get(path).get_data(as_text=True))
    assert f"by {newcomer.full_name} ({recorded})" in words
