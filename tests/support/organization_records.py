"""One record of every kind a vendor route takes an id of, owned by one
organization: what the route walk (`tests/integration/test_routes.py`) fills each
route's arguments with, to ask for another organization's records by their real
ids (round 61, attack61).

`records_of(owner, staff)` answers `{argument name: id}`, one key for each
argument name of a vendor's route (`agreement_id`, `invoice_id`, ...; a route's
`period_start` is a day, the first quarter of the agreement's term). A route with
an argument not named here fails the walk until a record of its kind is added."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Passkey, RememberedBrowser, User
from licensing.actors import Actor
from licensing.billing.models import KeptPdf
from licensing.db import utcnow
from licensing.permissions.services import decisions
from tests.integration.agreements.conftest import NOW
from tests.integration.permissions.conftest import routed_use, send_routed
from tests.integration.royalties.conftest import QUARTERS, SMALL_SOFTWARE, file_quarter, row
from tests.support import factories
from tests.support.agreements import make_active_agreement, up_front_invoice
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.factories import bearer
from tests.support.passkeys import b64url

# Ids no record has (one for each argument of a route, so that an answer naming one
# tells which): the answers every other organization's ids must match.
MISSING = 999_900
# A route argument that names no record: the day a royalty period starts.
PERIOD_START = "period_start"


def records_of(app: Flask, owner: User, staff: User) -> dict[str, Any]:
    """A record of each kind, owned by `owner`'s organization (its up-front invoice
    paid, credited and refunded; a quarter reported; a colleague, an invitation, an
    API token, a passkey and a remembered browser of the owner's; a permission
    request granted with its letter; the invoice's and the credit note's kept PDFs)."""
    session = db.session()
    organization = owner.organization
    assert organization is not None
    by_owner = Actor.of(accounts.principal_for(owner))
    agreement = make_active_agreement(owner, staff, SMALL_SOFTWARE, now=NOW)
    invoice = up_front_invoice(agreement)
    filing = file_quarter(owner, agreement.id, 1, [row(1, "A", quantity=3000)])
    assert filing.report is not None
    payment = paid_offline(invoice.id, str(invoice.balance_due), f"W-{owner.id}")
    credit = credited(invoice.id, "20.00", "A seat removed")
    refund = refunded_offline(credit.id, "20.00", f"R-{owner.id}")
    # The credit note's PDF is kept when first drawn.
    drawn = app.test_client().get(f"/api/v1/credit-notes/{credit.id}/pdf", headers=bearer(owner))
    assert drawn.status_code == 200
    colleague = factories.make_vendor(session, organization=organization, role="member")
    invitation = accounts.invite_member(
        organization.id, f"newcomer-{owner.id}@bluefin.example", by_owner
    )
    token, _secret = accounts.create_api_token(owner.id, "their program", actor=by_owner)
    passkey = Passkey(
        user_id=owner.id,
        credential_id=b64url(f"credential-{owner.id}".encode()),
        public_key=b"k",
        name="Laptop",
    )
    browser = RememberedBrowser(
        user_id=owner.id,
        token_hash=f"{owner.id:064d}",
        label="Chrome on Linux",
        expires_at=utcnow() + timedelta(days=30),
    )
    session.add_all([passkey, browser])
    session.flush()
    routed = send_routed(
        routed_use(
            organization.id,
            organization.legal_name,
            application_id=900_000 + owner.id,
            requester_email=owner.email,
            requester_name=owner.full_name,
            requester_user_id=owner.id,
        )
    )
    # At the records' instant, as the rest: its grant runs the term asked for (2027's),
    # which from 2028 on would end before a grant made today starts.
    granted = decisions.approve(routed.id, Actor.of(accounts.principal_for(staff)), now=NOW)
    kept = {
        name: session.scalars(select(KeptPdf.id).where(column == record_id)).first()
        for name, column, record_id in (
            ("invoice", KeptPdf.invoice_id, invoice.id),
            ("credit_note", KeptPdf.credit_note_id, credit.id),
        )
    }
    assert None not in kept.values(), kept
    return {
        "agreement_id": agreement.id,
        "application_id": agreement.application_id,
        "browser_id": browser.id,
        "credit_note_id": credit.id,
        "invitation_id": invitation.id,
        "invoice_id": invoice.id,
        "letter_id": granted.letters[0].id,
        "organization_id": organization.id,
        "passkey_id": passkey.id,
        "payment_id": payment.id,
        "refund_id": refund.id,
        "report_id": filing.report.id,
        "request_id": granted.id,
        "token_id": token.id,
        "user_id": colleague.id,
        PERIOD_START: QUARTERS[1].isoformat(),
        # A credit note's documents are its own kept PDFs, not its invoice's.
        "_credit_note_document_id": kept["credit_note"],
        "document_id": kept["invoice"],
    }


def document_of(rule: str, records: dict[str, Any]) -> Any:
    """The `document_id` a route takes: a credit note's under a credit note."""
    if "<int:credit_note_id>" in rule:
        return records["_credit_note_document_id"]
    return records["document_id"]
