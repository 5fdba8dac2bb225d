"""Round 51: the PDFs stored in rows (an agreement's, about 51 KB; a decision
letter's; an invoice's kept PDF; an outbox attachment's own copy) are read only
where they are served, attached, sent or checked. Every list, page, API answer and
scheduled run that shows or walks those rows reads them without their bytes, and a
row read without them refuses to give them (raiseload) rather than load them
silently one by one."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.exc import InvalidRequestError

from licensing import db
from licensing.agreements import queries
from licensing.agreements.models import Agreement, ImmutableRecordChanged
from licensing.audit.seals import verify_documents
from licensing.mail import services as mail
from licensing.mail.models import OutboxAttachment
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionLetter
from tests.integration.permissions.conftest import OFFICE, submit  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support import factories
from tests.support.agreements import up_front_invoice
from tests.support.documents import downloaded_pdf, outbox_copy, stored_pdf
from tests.support.statements import sent_by

# A statement that reads stored bytes: the column, qualified by its table, in a SELECT.
BYTES = re.compile(
    r"\b(agreements\.pdf|permission_letters\.pdf|kept_pdfs\.pdf|outbox_attachments\.content)\b"
)


def _reading_bytes(statements: list[str]) -> list[str]:
    """The SELECTs that name stored bytes: a list's count too (round 51, count51: it
    counts its entities' keys, `db.counted`, where its subquery named every column of
    the row, the bytes among them, which a subquery the database cannot flatten, with
    a LIMIT, DISTINCT or GROUP BY, would read for every row)."""
    found = []
    for statement in statements:
        text = " ".join(statement.split())
        if text.upper().startswith("SELECT") and BYTES.search(text):
            found.append(text)
    return found


@pytest.fixture
def records(
    app: Flask,
    vendor: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
    submit: Callable[..., Any],  # noqa: F811
) -> dict[str, int]:
    """Two active agreements with their up-front invoices (kept PDFs), a permission
    request granted with its letter (emailed, the letter named), and an email
    carrying a PDF of its own (a report's)."""
    first = active_agreement(vendor, SMALL_SOFTWARE)
    active_agreement(vendor, SMALL_SOFTWARE)
    request, _ = submit()
    permissions.approve(request.id, OFFICE)
    with db.transaction() as session:
        message = mail.enqueue(
            session,
            to="finance@northwind.example",
            subject="The monthly report",
            template="reset_password",
            context={"user": {"full_name": "Robin"}, "link": "http://x/y", "expires_at": None},
            attachments=[mail.Attachment("report.pdf", "application/pdf", b"%PDF-1.4 report")],
        )
        message_id = message.id
    letter_id = (
        db.session()
        .scalars(select(PermissionLetter.id).where(PermissionLetter.request_id == request.id))
        .one()
    )
    db.session().commit()
    return {
        "agreement": first.id,
        "invoice": up_front_invoice(first).id,
        "organization": vendor.organization_id,
        "request": request.id,
        "letter": letter_id,
        "message": message_id,
    }


def test_no_page_api_answer_or_run_that_shows_these_rows_reads_their_pdfs(
    app: Flask,
    vendor: Any,
    admin: Any,
    records: dict[str, int],
    signed_in: Callable[..., FlaskClient],
) -> None:
    agreement, request = records["agreement"], records["request"]
    staff = signed_in(app.test_client(), admin)
    portal = signed_in(app.test_client(), vendor)
    api = app.test_client()
    as_admin = factories.bearer(admin)
    asked: list[tuple[FlaskClient, str, dict[str, Any]]] = [
        *(
            (staff, url, {})
            for url in (
                "/console/",
                "/console/agreements",
                f"/console/agreements/{agreement}",
                "/console/agreements/renewals-due",
                f"/console/organizations/{records['organization']}",
                f"/console/invoices/{records['invoice']}",
                "/console/royalty-reports",
                "/console/finance/",
                "/console/permissions/",
                f"/console/permissions/{request}",
                "/console/outbox",
                f"/console/outbox/{records['message']}",
                # Every other list page (count51: their counts, too).
                "/console/applications",
                "/console/applications/reconsideration-open",
                "/console/organizations",
                "/console/users",
                f"/console/users/{admin.id}",
                "/console/rate-cards/",
                "/console/invoices",
                "/console/payments/to-review",
                "/console/refunds",
                "/console/payments",
                "/console/disputes",
                "/console/billing/statements-changed",
                "/console/audit",
                "/console/jobs",
                "/console/jobs/invoices%20overdue",
                "/console/exports",
            )
        ),
        *(
            (portal, url, {})
            for url in (
                "/portal/",
                "/portal/agreements",
                f"/portal/agreements/{agreement}",
                "/portal/invoices",
                "/portal/royalty-reports",
                "/portal/applications",
                "/portal/permissions/",
                "/portal/statement",
                "/organization",
                "/account/tokens",
            )
        ),
        *(
            (api, url, {"headers": as_admin})
            for url in (
                "/api/v1/agreements",
                f"/api/v1/agreements/{agreement}",
                "/api/v1/permission-requests",
                f"/api/v1/permission-requests/{request}",
                "/api/v1/outbox-messages",
                f"/api/v1/outbox-messages/{records['message']}",
                # Every other API list (count51: their counts, too).
                "/api/v1/applications",
                "/api/v1/audit-events",
                "/api/v1/credit-notes",
                "/api/v1/disputes",
                "/api/v1/disputes/unmatched",
                "/api/v1/exports",
                "/api/v1/exports/downloads",
                "/api/v1/invoices",
                "/api/v1/jobs",
                "/api/v1/jobs/invoices%20overdue/runs",
                "/api/v1/organizations",
                f"/api/v1/organizations/{records['organization']}/members",
                f"/api/v1/organizations/{records['organization']}/invitations",
                f"/api/v1/organizations/{records['organization']}/statements/sent",
                "/api/v1/payments",
                "/api/v1/rate-cards",
                "/api/v1/tokens",
                "/api/v1/users",
                f"/api/v1/invoices/{records['invoice']}/documents",
                f"/api/v1/invoices/{records['invoice']}/payments",
                f"/api/v1/invoices/{records['invoice']}/credit-notes",
                f"/api/v1/agreements/{agreement}/royalty-reports",
            )
        ),
        (api, "/api/v1/agreements", {"headers": factories.bearer(vendor)}),
    ]
    runner = app.test_cli_runner()
    with sent_by(app) as statements:
        for client, url, kwargs in asked:
            response = client.get(url, **kwargs)
            assert response.status_code == 200, (url, response.status_code)
        for command in (
            ["applications", "expire"],
            ["reports", "remind"],
            ["invoices", "overdue"],
            ["permissions", "expire"],
        ):
            result = runner.invoke(args=command)
            assert result.exit_code == 0, (command, result.output)
    assert len(statements) > len(asked)
    assert _reading_bytes(statements) == []


def test_the_pdfs_are_still_served_byte_for_byte_and_read_only_there(
    app: Flask,
    vendor: Any,
    admin: Any,
    records: dict[str, int],
    signed_in: Callable[..., FlaskClient],
) -> None:
    agreement = db.session().get(Agreement, records["agreement"])
    assert agreement is not None
    issued = stored_pdf(agreement)
    assert hashlib.sha256(issued).hexdigest() == agreement.pdf_sha256
    portal = signed_in(app.test_client(), vendor)
    with sent_by(app) as statements:
        page = downloaded_pdf(portal, f"/portal/agreements/{agreement.id}/agreement.pdf")
    assert page == issued
    assert len(_reading_bytes(statements)) == 1  # the one statement that serves them
    api = downloaded_pdf(
        app.test_client(),
        f"/api/v1/agreements/{agreement.id}/pdf",
        headers=factories.bearer(vendor),
    )
    assert api == issued
    letter = db.session().get(PermissionLetter, records["letter"])
    assert letter is not None
    staff = signed_in(app.test_client(), admin)
    served = staff.get(f"/console/permissions/{records['request']}/letters/{letter.id}")
    assert served.status_code == 200
    assert served.get_data() == stored_pdf(letter)
    assert hashlib.sha256(served.get_data()).hexdigest() == letter.sha256


def test_a_row_read_without_its_pdf_refuses_to_give_it_or_to_take_new_bytes(
    app: Flask, records: dict[str, int]
) -> None:
    session = db.session()
    session.expire_all()
    agreement = queries.get_agreement(session, records["agreement"])
    with pytest.raises(InvalidRequestError, match="raiseload"):
        _ = agreement.pdf
    # The immutability guard sees new bytes set on a row read without the old ones.
    agreement.pdf = b"%PDF-1.4 forged"
    with pytest.raises(ImmutableRecordChanged, match="pdf never changes"):
        session.flush()
    session.rollback()
    letter = session.get(PermissionLetter, records["letter"])
    assert letter is not None
    with pytest.raises(InvalidRequestError, match="raiseload"):
        _ = letter.pdf
    # An attachment gives its bytes through `content`, which reads them by themselves.
    (attachment,) = session.scalars(
        select(OutboxAttachment).where(OutboxAttachment.message_id == records["message"])
    )
    with pytest.raises(InvalidRequestError, match="raiseload"):
        _ = attachment.stored
    assert attachment.content == outbox_copy(attachment) == b"%PDF-1.4 report"


def test_audit_verify_still_hashes_every_stored_pdf_and_catches_one_rewritten(
    app: Flask, records: dict[str, int]
) -> None:
    session = db.session()
    report = verify_documents(session)
    assert report.ok, report.problems
    assert report.documents >= 4  # two agreements, their invoices, the letter
    assert report.kept >= 2
    for model, row_id, label in (
        (Agreement, records["agreement"], "agreement"),
        (PermissionLetter, records["letter"], "permission letter"),
    ):
        with session.begin_nested() as edit:
            session.execute(
                update(model).where(model.id == row_id).values(pdf=b"%PDF-1.4 rewritten")
            )
            session.expire_all()
            problems = verify_documents(session).problems
            edit.rollback()
        assert any(
            problem.startswith(label) and "issued content no longer matches" in problem
            for problem in problems
        ), problems
