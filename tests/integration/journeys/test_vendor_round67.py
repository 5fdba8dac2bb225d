"""Round 67 (vendor67): what a vendor still stumbled on after round 66's walk
(docs/journeys.md, "Round 67: what a vendor still stumbles on").

- The estimate priced before signing up lived in the signing-up browser's session
  alone: the confirmation link opened in another browser (a phone, another mail
  client), or after that session ended, led to the dashboard with no estimate. It is
  kept with the new account as its first application (a draft), which confirming
  leads to wherever the link is opened."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.agreements.models import Application
from licensing.mail.models import OutboxMessage
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.pages import text_of

PASSWORD = "a long and unguessable passphrase 7"
ESTIMATE = {
    "organization_type": "commercial",
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "uses-0-use": "distribution",
    "uses-0-product_type": "saas",
    "uses-0-user_type": "provider",
    "uses-0-quantity-end_users": "300",
    "uses-0-description": "Clinic Pad",
}


def _sign_up_from_estimate(client: FlaskClient, email: str) -> Any:
    estimate = client.get(f"/estimate?{urlencode(ESTIMATE)}").get_data(as_text=True)
    found = re.search(r'<a href="([^"]+)">Apply for a license with these uses</a>', estimate)
    assert found, "no link to apply with the estimate's uses"
    fields = factories.organization_fields(legal_name="Kestrel Ward Systems Ltd")
    form: dict[str, Any] = {name: value or "" for name, value in fields.items()}
    form.update(full_name="Odile Marchetti", email=email, password=PASSWORD, confirm=PASSWORD)
    return client.post(html.unescape(found.group(1)), data=form)


def _confirmation_link() -> str:
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    found = re.search(r"http://[^/\s]+(/verify-email/\S+)", message.body_text)
    assert found is not None
    return found.group(1)


def test_the_estimate_is_kept_when_the_confirmation_link_opens_in_another_browser(
    app: Flask,
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    assert _sign_up_from_estimate(client, "odile@kestrelward.example").status_code == 302
    elsewhere = app.test_client()  # the phone the email is read on: no session of the first
    confirmed = elsewhere.get(_confirmation_link())
    assert confirmed.status_code == 302
    assert "/sign-in?next=" in confirmed.headers["Location"]
    signed_in = elsewhere.post(
        confirmed.headers["Location"],
        data={"email": "odile@kestrelward.example", "password": PASSWORD},
    )
    landing = signed_in.headers["Location"]
    assert re.fullmatch(r"/portal/applications/\d+/edit", landing), landing
    form = elsewhere.get(landing).get_data(as_text=True)
    assert 'value="Clinic Pad"' in form
    assert 'value="300"' in form
    # The first browser's sign-in page still carries the estimate's application link:
    # it leads to the same draft, not to a second application.
    again = client.post(
        "/sign-in",
        data={"email": "odile@kestrelward.example", "password": PASSWORD},
    )
    assert again.status_code == 302
    new = client.get(f"/portal/applications/new?{urlencode(ESTIMATE)}")
    assert new.status_code == 302
    assert new.headers["Location"] == landing
    assert "kept as APP-" in text_of(client.get(landing))
    assert db.session().scalar(select(func.count()).select_from(Application)) == 1


def test_signing_up_again_with_an_address_that_has_an_account_keeps_no_estimate(
    client: FlaskClient,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    before = db.session().scalar(select(func.count()).select_from(Application))
    assert _sign_up_from_estimate(client, vendor.email).status_code == 302
    assert db.session().scalar(select(func.count()).select_from(Application)) == before


def test_without_javascript_each_count_says_which_uses_it_is_for(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    # Every use's row showed five counts, none saying for which use; the refusal named
    # the one the rule counts only after a try. Without JavaScript each still shows,
    # its label naming its uses; the form carries what quantity-fields.js reads.
    estimator = client.get("/estimate").get_data(as_text=True)
    signed_in(client, vendor)
    application = client.get("/portal/applications/new").get_data(as_text=True)
    for page in (estimator, application):
        assert "Expected number of members (for distribution)</label>" in page
        assert "Expected number of users (for internal use or education)</label>" in page
        assert "data-units-by-use=" in page
        assert "js/quantity-fields.js" in page
