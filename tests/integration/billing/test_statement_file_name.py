"""Round 55 (polish55): a statement of account's PDF is named by its organization,
the same downloaded on the portal, on the console and attached to its email, where
it carried the organization's row id (`statement-17-USD-...pdf`), which its reader
does not know. A name outside ASCII goes in the download's header as RFC 6266's
`filename*` (UTF-8), with an ASCII `filename` for older clients."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from licensing import db
from licensing.accounts.models import User
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support.monthly_statements import IN_JANUARY, invoice

CALL = datetime(2027, 3, 15, 15, 0, tzinfo=UTC)
QUARTER = {"from": "2027-01-01", "to": "2027-03-15", "currency": "USD"}
NAME = "Société Générale d'Études / Nord"
UNICODE = "statement-société-générale-d-études-nord-USD-2027-01-01-2027-03-15.pdf"
ASCII = "statement-societe-generale-d-etudes-nord-USD-2027-01-01-2027-03-15.pdf"


def _named(vendor: User, legal_name: str) -> int:
    organization = vendor.organization
    organization.legal_name = legal_name
    db.session().flush()
    invoice(organization.id, "1200.00", IN_JANUARY)
    return organization.id


def _disposition(response: TestResponse) -> str:
    assert response.status_code == 200
    return str(response.headers["Content-Disposition"])


def test_the_portal_and_console_downloads_are_named_by_the_organization_in_its_own_script(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    billing_staff: User,
) -> None:
    with time_machine.travel(CALL, tick=False):
        organization_id = _named(vendor, NAME)
        portal = signed_in(app.test_client(), vendor).get(
            "/portal/statement.pdf", query_string=QUARTER
        )
        console = signed_in(app.test_client(), billing_staff).get(
            f"/console/organizations/{organization_id}/statement.pdf", query_string=QUARTER
        )
    expected = f"attachment; filename=\"{ASCII}\"; filename*=UTF-8''{urllib.parse.quote(UNICODE)}"
    assert _disposition(portal) == expected
    assert _disposition(console) == expected
    assert f"statement-{organization_id}-" not in expected


def test_an_ascii_name_has_no_filename_star_and_punctuation_never_reaches_the_header(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    with time_machine.travel(CALL, tick=False):
        _named(vendor, 'Northwind "Labs"; Inc.\\/ ')
        portal = signed_in(app.test_client(), vendor).get(
            "/portal/statement.pdf", query_string=QUARTER
        )
    assert _disposition(portal) == (
        'attachment; filename="statement-northwind-labs-inc-USD-2027-01-01-2027-03-15.pdf"'
    )


def test_a_name_with_no_latin_letters_keeps_its_own_and_an_ascii_fallback_without_them(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    with time_machine.travel(CALL, tick=False):
        _named(vendor, "株式会社 東京")
        portal = signed_in(app.test_client(), vendor).get(
            "/portal/statement.pdf", query_string=QUARTER
        )
    unicode_name = "statement-株式会社-東京-USD-2027-01-01-2027-03-15.pdf"
    assert _disposition(portal) == (
        'attachment; filename="statement-USD-2027-01-01-2027-03-15.pdf"; '
        f"filename*=UTF-8''{urllib.parse.quote(unicode_name)}"
    )


def test_the_emailed_statement_attaches_the_pdf_under_the_same_name(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User, billing_staff: User
) -> None:
    with time_machine.travel(CALL, tick=False):
        organization_id = _named(vendor, NAME)
        clerk = signed_in(app.test_client(), billing_staff)
        asked = "&".join(f"{name}={value}" for name, value in QUARTER.items())
        answer = clerk.post(f"/console/organizations/{organization_id}/statement/email?{asked}")
    assert answer.status_code == 302
    message = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "statement_of_account"))
        .one()
    )
    [attachment] = message.attachments
    assert attachment.filename == UNICODE
    # As a mail client reads it (RFC 2231 in the MIME part).
    [part] = mail._email(message, "office@example.org").iter_attachments()
    assert part.get_filename() == UNICODE
