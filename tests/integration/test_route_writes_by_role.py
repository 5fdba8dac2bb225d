"""Round 66 (roles66): every write a role is admitted to, walked.

`test_routes.py` walks the refusals (each role refused a route it is not declared
for, another organization's ids answered as ids no record has). This walks the other
half: every state-changing route (POST, PUT, PATCH, DELETE; pages and API) asked once
by every caller the service has (a signed-out visitor; an organization's
administrator, member and billing member; licensing, billing and admin staff; on the
API each by a write token, and a read-only token), with a well-formed minimal body
on a record the caller may act on. A caller the route's declaration refuses gets its
refusal (401 or 403 on the API, the sign-in page or 403 on pages); a caller it admits
gets anything but 401, 403 or 500 (a 4xx about the body, a 404, a 409 about the
record's state: the gate let them through to the service). Each request runs in a
savepoint rolled back after it, so each caller finds the records as the module made
them.

`WALK` has an entry for every write route: how to ask it (`Write`), or why every
caller is refused by design (`RefusedToAll`). A route in the URL map without an
entry fails `test_every_write_route_has_an_entry_in_the_walk` until one is added."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import Connection, select

from licensing import access, db
from licensing.accounts import services as accounts_services
from licensing.accounts.models import Passkey, RememberedBrowser, User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.api.base import ANY_BODY, BODY_ATTRIBUTE, NOBODY
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from licensing.permissions.models import PermissionRequest
from licensing.permissions.services import review as permission_review
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.finance.conftest import issue
from tests.integration.permissions.conftest import confirmed_request, routed_use, send_routed
from tests.integration.pricing.conftest import (
    card_document,
    example_card,  # noqa: F401 - the fixture
)
from tests.integration.royalties.conftest import SMALL_SOFTWARE, row
from tests.support import factories
from tests.support.agreements import issued_agreement
from tests.support.card_years import CardYears
from tests.support.organization_records import document_of, records_of
from tests.support.passkeys import b64url
from tests.support.settings import issuing
from tests.support.uses import STAFF_USE

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WORDS = "Walked by every role (round 66)."
PASSWORD = factories.DEFAULT_PASSWORD

Records = Mapping[str, Any]
Body = Mapping[str, Any] | Callable[[Records], Mapping[str, Any]] | None


# Who may take a step (README, *Accounts, roles and the audit trail*; the vendor
# roles' table in docs/accounts.md; the staff roles' in the README's sections): the
# walk's callers each admits. An admin holds every staff role; an API token acts
# with its owner's (a read-only one only on `STORES_NOTHING`).
VISITOR = "a signed-out visitor"
ADMINISTRATOR = "an administrator"
MEMBER = "a member"
BILLING_MEMBER = "a billing member"
LICENSING_STAFF = "licensing staff"
BILLING_STAFF = "billing staff"
ADMIN = "an admin"
READ_ONLY = "an administrator's read-only token"

ADMINISTRATORS = (ADMINISTRATOR,)
LICENSING_WORK = (ADMINISTRATOR, MEMBER)
VENDORS = (ADMINISTRATOR, MEMBER, BILLING_MEMBER)
LICENSING = (LICENSING_STAFF, ADMIN)
BILLING = (BILLING_STAFF, ADMIN)
OFFICE = (LICENSING_STAFF, BILLING_STAFF, ADMIN)
ADMINS = (ADMIN,)
ADMINISTRATORS_OR_LICENSING = (ADMINISTRATOR, *LICENSING)
SIGNED_IN = (*VENDORS, *OFFICE)
ANYONE = (VISITOR, *SIGNED_IN)

# The writes that store nothing, which a read-only token may send (`access.stores_nothing`).
STORES_NOTHING = frozenset(
    {
        "POST /api/v1/quotes",
        "POST /api/v1/rate-cards/checks",
        "POST /api/v1/agreements/<int:agreement_id>/royalty-reports/<period_start>/preview",
    }
)


@dataclass(frozen=True)
class Write:
    """One write route: who may take it (`who`), and how the walk asks it: its body
    (JSON on the API, a form on pages), made from the module's records where it
    names one; and, for a path argument, which of the records it names where not
    the argument's own (a draft application to submit, an open invoice to pay).
    An admitted caller's step goes ahead (2xx or 3xx) unless `note` says what it is
    answered instead (a 404, 409 or other 4xx: the record's state, a link's token
    never stored) and why the walk leaves it so."""

    who: tuple[str, ...]
    body: Body = None
    ids: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    def body_for(self, records: Records) -> Mapping[str, Any] | None:
        return self.body(records) if callable(self.body) else self.body


@dataclass(frozen=True)
class RefusedToAll:
    """A route every caller is refused by its view whatever its declaration admits,
    by design: the walk asks it as every caller and expects 403 from each."""

    reason: str


# --- the bodies ------------------------------------------------------------------------


def _application(records: Records) -> dict[str, Any]:
    return {
        "term_start": records["term_start"],
        "term_end": records["term_end"],
        "uses": [AUTO_USE],
    }


def _application_form(records: Records) -> dict[str, str]:
    fields = {f"uses-0-{name}": str(value) for name, value in STAFF_USE.items()}
    fields.update(
        {
            "term_start": records["term_start"],
            "term_end": records["term_end"],
            "uses-0-languages": "en",
        }
    )
    return fields


def _acceptance(records: Records) -> dict[str, Any]:
    return {
        "signer_name": "Robin Castellanos",
        "signer_title": "Chief Executive",
        "authority_confirmed": True,
        "pdf_sha256": records["issued_pdf_sha256"],
    }


def _acceptance_form(records: Records) -> dict[str, str]:
    return {**_acceptance(records), "authority_confirmed": "yes"}


def _report(records: Records) -> dict[str, Any]:
    """An amendment of the quarter reported (the next has not ended)."""
    return {
        "attest": True,
        "amends": records["report_id"],
        "reason": WORDS,
        "rows": [row(1, "A", quantity=3100)],
    }


def _report_form(records: Records) -> dict[str, str]:
    typed = {f"rows-1-{column}": str(value) for column, value in row(1, "A", quantity=3100).items()}
    return {
        "mode": "rows",
        "action": "submit",
        "attest": "yes",
        "amends": str(records["report_id"]),
        "reason": WORDS,
        **typed,
    }


def _organization_form(records: Records) -> dict[str, str]:
    return {
        "legal_name": records["organization_name"],
        "organization_type": "commercial",
        "address_line1": "12 Harbour Road",
        "city": "Portland",
        "country": "US",
        "billing_contact_name": "Casey Lund",
        "billing_email": "accounts@northwind.example",
    }


def _permission_request(records: Records) -> dict[str, Any]:
    return {
        "requester_name": "Lena Ortiz",
        "requester_email": "lena.ortiz@cedar-ridge.example",
        "institution": "Cedar Ridge Community College",
        "role": "faculty",
        "organization_type": "academic",
        "purpose": "course_materials",
        "purpose_detail": "Slides for the medical billing certificate course, unit 4.",
        "content_requested": "The section guidelines for evaluation and management services.",
        "medium": "lms",
        "audience_size": 45,
        "duration": "One semester",
        "noncommercial": True,
    }


def _permission_form(records: Records) -> dict[str, Any]:
    return {**_permission_request(records), "audience_size": "45", "noncommercial": "y"}


def _staff_user(records: Records) -> dict[str, Any]:
    return {
        "email": "new.clerk@licensing-office.example",
        "full_name": "Sam Ito",
        "roles": ["billing"],
    }


def _offline_payment(records: Records) -> dict[str, Any]:
    return {
        "method": "wire",
        "amount": "10.00",
        "reference": "W-66",
        "received_on": records["today"],
    }


def _returned(records: Records) -> dict[str, str]:
    """A reversal's or a refund's return: why, and the day (today: the money moved today)."""
    return {"reason": WORDS, "returned_on": records["today"]}


def _prefixed(prefix: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A console form's fields under its prefix (a record's row among others)."""
    return {f"{prefix}-{name}": value for name, value in fields.items()}


def _reason(records: Records) -> dict[str, str]:
    return {"reason": WORDS}


def _rate_card(records: Records) -> dict[str, Any]:
    """The example card as a version for a year no other card covers (five on)."""
    year = date.fromisoformat(records["today"]).year + 5
    return card_document(
        version=f"{year}.1",
        title=f"Royalty schedule {year}",
        effective_from=f"{year}-01-01",
        effective_to=f"{year}-12-31",
    )


def _standing(records: Records) -> dict[str, str]:
    """Each staff role its own step (README, Accounts): billing staff hold an
    organization for payment, licensing staff (and admins) suspend it."""
    action = "mark_pending_payment" if records["caller"] == "billing staff" else "suspend"
    return {"action": action, "reason": WORDS}


def _refund(records: Records) -> dict[str, Any]:
    return {"method": "wire", "amount": "1.00", "reference": "R-66", "sent_on": records["today"]}


# A use as a quote prices it: what it is, not the application's words about the product.
_QUOTED_USE = {
    name: value
    for name, value in AUTO_USE.items()
    if name not in ("product_name", "description", "delivery", "territories")
}

# --- every write route, and how it is asked ------------------------------------------------

_NO_TWO_STEP = "Nobody here has two-step sign-in on: the page says so (an error message)."

WALK: dict[str, Write | RefusedToAll] = {
    # Accounts: a person's own account (any signed-in user; a passkey, remembered browser
    # or token in the path is the caller's own, `Caller.own`).
    "POST /account/email": Write(
        SIGNED_IN, {"new_email": "changed@northwind.example", "current_password": PASSWORD}
    ),
    "POST /account/name": Write(SIGNED_IN, {"full_name": "Robin Castellanos"}),
    "POST /account/passkeys": Write(
        SIGNED_IN,
        {"name": "Laptop", "credential": "{}"},
        note="A passkey's ceremony cannot be made here: answered about its credential.",
    ),
    "POST /account/passkeys/<int:passkey_id>/remove": Write(SIGNED_IN, {"password": PASSWORD}),
    "POST /account/passkeys/options": Write(SIGNED_IN, {"password": PASSWORD}),
    "POST /account/password": Write(
        SIGNED_IN,
        {
            "current_password": PASSWORD,
            "new_password": "a new passphrase for round 66",
            "confirm": "a new passphrase for round 66",
        },
    ),
    "POST /account/tokens": Write(
        SIGNED_IN, {"name": "walk", "scope": "read", "expires_in": "30", "password": PASSWORD}
    ),
    "POST /account/tokens/<int:token_id>/revoke": Write(SIGNED_IN),
    "POST /account/two-step/browsers/<int:browser_id>/forget": Write(SIGNED_IN),
    "POST /account/two-step/browsers/forget": Write(
        SIGNED_IN,
    ),
    "POST /account/two-step/confirm": Write(
        SIGNED_IN, {"code": "000000"}, note="No authenticator here: answered about the code."
    ),
    "POST /account/two-step/off": Write(
        SIGNED_IN, {"password": PASSWORD, "code": "000000"}, note=_NO_TWO_STEP
    ),
    "POST /account/two-step/password": Write(SIGNED_IN, {"password": PASSWORD}),
    "POST /account/two-step/recovery-codes": Write(
        SIGNED_IN, {"password": PASSWORD}, note=_NO_TWO_STEP
    ),
    "POST /sign-out": Write(
        SIGNED_IN,
    ),
    # Accounts: signing in and up (anyone).
    "POST /sign-in": Write(ANYONE, lambda r: {"email": r["member_email"], "password": PASSWORD}),
    "POST /sign-in/code": Write(
        ANYONE, {"code": "000000"}, note="Nobody half signed in: sent to sign in."
    ),
    "POST /sign-in/passkey": Write(
        ANYONE,
        {"credential": "{}"},
        note="No passkey ceremony here: answered about the credential.",
    ),
    "POST /sign-in/passkey/options": Write(
        ANYONE,
    ),
    "POST /sign-up": Write(
        ANYONE,
        {
            "full_name": "Noor Haddad",
            "email": "noor.haddad@saltmarsh.example",
            "password": "a long passphrase of round 66",
            "confirm": "a long passphrase of round 66",
            "legal_name": "Saltmarsh Health Software",
            "organization_type": "commercial",
            "address_line1": "3 Quay Street",
            "city": "Portland",
            "country": "US",
            "billing_contact_name": "Noor Haddad",
            "billing_email": "noor.haddad@saltmarsh.example",
        },
    ),
    "POST /api/v1/signups": Write(
        ANYONE,
        {
            "email": "ines.varga@saltmarsh.example",
            "password": "a long passphrase of round 66",
            "full_name": "Ines Varga",
            "organization": {
                "legal_name": "Saltmarsh Analytics",
                "organization_type": "commercial",
                "address_line1": "3 Quay Street",
                "city": "Portland",
                "country": "US",
                "billing_contact_name": "Ines Varga",
                "billing_email": "ines.varga@saltmarsh.example",
            },
        },
    ),
    "POST /verify-email": Write(ANYONE, lambda r: {"email": r["member_email"]}),
    "POST /reset": Write(ANYONE, lambda r: {"email": r["member_email"]}),
    "POST /reset/<token>": Write(
        ANYONE,
        {"password": "a new passphrase for round 66", "confirm": "a new passphrase for round 66"},
        note="A reset link's token is emailed, never stored: an unknown one, answered 400.",
    ),
    "POST /invitations/<token>": Write(
        ANYONE,
        {"full_name": "Dana Reyes", "password": "a long passphrase of round 66"},
        note="An invitation's token is emailed, never stored: an unknown one, answered 400.",
    ),
    # Accounts: the organization's administrators.
    "POST /organization/invitations": Write(
        ADMINISTRATORS, {"email": "colleague@northwind.example", "role": "member"}
    ),
    "POST /organization/invitations/<int:invitation_id>/revoke": Write(
        ADMINISTRATORS,
    ),
    "POST /organization/members/<int:user_id>/deactivate": Write(
        ADMINISTRATORS, {"confirmed": "yes"}
    ),
    "POST /organization/members/<int:user_id>/passkeys/remove": Write(
        ADMINISTRATORS,
        {"passkey": "all", "reason": WORDS},
        ids={"user_id": "colleague_with_passkey"},
    ),
    "POST /organization/members/<int:user_id>/restore": Write(
        ADMINISTRATORS, ids={"user_id": "removed_colleague"}
    ),
    "POST /organization/members/<int:user_id>/role": Write(ADMINISTRATORS, {"role": "billing"}),
    "POST /organization/profile": Write(ADMINISTRATORS, _organization_form),
    "POST /organization/two-step": Write(ADMINISTRATORS, {"required": "yes"}),
    "POST /api/v1/organizations/<int:organization_id>/invitations": Write(
        ADMINISTRATORS, {"email": "colleague@northwind.example", "role": "member"}
    ),
    "DELETE /api/v1/invitations/<int:invitation_id>": Write(
        ADMINISTRATORS,
    ),
    "POST /api/v1/organizations/<int:organization_id>/members/<int:user_id>/remove-passkeys": Write(
        ADMINISTRATORS, {"reason": WORDS}, ids={"user_id": "colleague_with_passkey"}
    ),
    "POST /api/v1/organizations/<int:organization_id>/two-step": Write(
        ADMINISTRATORS, {"required": True}
    ),
    "PATCH /api/v1/organizations/<int:organization_id>": Write(
        ADMINISTRATORS_OR_LICENSING, {"city": "Salem"}
    ),
    "PATCH /api/v1/users/<int:user_id>": Write(ADMINISTRATORS_OR_LICENSING, {"role": "billing"}),
    # Accounts: the API's own tokens and passkeys (any signed-in user).
    "POST /api/v1/tokens": RefusedToAll(
        "A token may not make tokens (README, Accounts): they are made signed in, on the "
        "API tokens page; the API reads bearer tokens alone, so nobody is admitted."
    ),
    "DELETE /api/v1/tokens/<int:token_id>": Write(SIGNED_IN),
    "DELETE /api/v1/me/passkeys/<int:passkey_id>": Write(SIGNED_IN),
    # Accounts: the office.
    "POST /console/organizations/<int:organization_id>/members/<int:user_id>/role": Write(
        LICENSING, {"role": "billing"}
    ),
    "POST /console/organizations/<int:organization_id>/profile": Write(
        LICENSING, _organization_form
    ),
    "POST /console/organizations/<int:organization_id>/standing": Write(OFFICE, _standing),
    "POST /api/v1/organizations/<int:organization_id>/standing": Write(OFFICE, _standing),
    "POST /console/users": Write(
        ADMINS,
        {"full_name": "Sam Ito", "email": "new.clerk@licensing-office.example", "roles": "billing"},
    ),
    "POST /api/v1/users": Write(ADMINS, _staff_user),
    "POST /console/users/<int:user_id>/active": Write(ADMINS, {"active": "no", "reason": WORDS}),
    "POST /console/users/<int:user_id>/browsers/forget": Write(ADMINS, {"reason": WORDS}),
    "POST /console/users/<int:user_id>/organization": Write(
        ADMINS, lambda r: {"organization": str(r["other_organization_id"]), "reason": WORDS}
    ),
    "POST /api/v1/users/<int:user_id>/move": Write(
        ADMINS,
        lambda r: {
            "organization_id": r["other_organization_id"],
            "expected_organization_id": r["organization_id"],
            "reason": WORDS,
        },
    ),
    "POST /console/users/<int:user_id>/passkeys/remove": Write(
        ADMINS, {"passkey": "all", "reason": WORDS}, ids={"user_id": "colleague_with_passkey"}
    ),
    "POST /api/v1/users/<int:user_id>/remove-passkeys": Write(
        ADMINS, {"reason": WORDS}, ids={"user_id": "colleague_with_passkey"}
    ),
    "POST /console/users/<int:user_id>/roles": Write(
        ADMINS, {"roles": "billing"}, ids={"user_id": "staff_clerk"}
    ),
    "POST /console/users/<int:user_id>/sign-out": Write(
        ADMINS,
    ),
    "POST /api/v1/users/<int:user_id>/sign-out": Write(
        ADMINS,
    ),
    "POST /console/users/<int:user_id>/two-step/off": Write(
        ADMINS, {"reason": WORDS}, note=_NO_TWO_STEP
    ),
    "POST /console/users/<int:user_id>/unlock": Write(
        ADMINS,
    ),
    "POST /api/v1/users/<int:user_id>/unlock": Write(
        ADMINS,
    ),
    "POST /api/v1/users/<int:user_id>/forget-browsers": Write(
        ADMINS,
    ),
    "POST /console/outbox/<int:message_id>/retry": Write(
        ADMINS, note="The message was never sent and failed: answered 409 where it is not failed."
    ),
    "POST /api/v1/outbox-messages/<int:message_id>/retry": Write(
        ADMINS, note="The message has not failed: answered 409."
    ),
    "POST /console/outbox/send": Write(
        ADMINS, note="No SMTP server here: the page says nothing was sent."
    ),
    # Applications and agreements: the organization's licensing work.
    "POST /portal/applications/new": Write(LICENSING_WORK, _application_form),
    "POST /portal/applications/<int:application_id>/edit": Write(
        LICENSING_WORK, _application_form, ids={"application_id": "draft_application"}
    ),
    "POST /portal/applications/<int:application_id>/submit": Write(
        LICENSING_WORK, {"attest": "yes"}, ids={"application_id": "draft_application"}
    ),
    "POST /portal/applications/<int:application_id>/withdraw": Write(
        LICENSING_WORK, ids={"application_id": "queued_application"}
    ),
    "POST /portal/applications/<int:application_id>/reconsideration": Write(
        LICENSING_WORK, {"reason": WORDS}, ids={"application_id": "rejected_application"}
    ),
    "POST /portal/agreements/<int:agreement_id>/accept": Write(
        LICENSING_WORK, _acceptance_form, ids={"agreement_id": "issued_agreement"}
    ),
    "POST /portal/agreements/<int:agreement_id>/renew": Write(
        LICENSING_WORK, note="The agreement is not in its renewal window: answered by the page."
    ),
    "POST /portal/royalty-reports/<int:agreement_id>/<period_start>": Write(
        LICENSING_WORK, _report_form
    ),
    "POST /api/v1/applications": Write(LICENSING_WORK, _application),
    "PUT /api/v1/applications/<int:application_id>": Write(
        LICENSING_WORK, _application, ids={"application_id": "draft_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/submit": Write(
        LICENSING_WORK, {"attest": True}, ids={"application_id": "draft_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/withdraw": Write(
        LICENSING_WORK, ids={"application_id": "queued_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/reconsideration": Write(
        LICENSING_WORK, {"reason": WORDS}, ids={"application_id": "rejected_application"}
    ),
    "POST /api/v1/agreements/<int:agreement_id>/acceptance": Write(
        LICENSING_WORK, _acceptance, ids={"agreement_id": "issued_agreement"}
    ),
    "POST /api/v1/agreements/<int:agreement_id>/renewal": Write(
        LICENSING_WORK, note="The agreement is not in its renewal window: answered 409."
    ),
    "POST /api/v1/agreements/<int:agreement_id>/royalty-reports/<period_start>": Write(
        LICENSING_WORK, _report
    ),
    "POST /api/v1/agreements/<int:agreement_id>/royalty-reports/<period_start>/preview": Write(
        LICENSING_WORK, _report
    ),
    # Applications and agreements: the licensing office.
    "POST /console/applications/<int:application_id>/review": Write(
        LICENSING, {"action": "start_review"}, ids={"application_id": "queued_application"}
    ),
    "POST /console/applications/<int:application_id>/approve": Write(
        LICENSING, ids={"application_id": "reviewed_application"}
    ),
    "POST /console/applications/<int:application_id>/assign": Write(
        LICENSING,
        lambda r: {"assignee_id": str(r["licensing_staff_id"])},
        ids={"application_id": "queued_application"},
    ),
    "POST /console/applications/<int:application_id>/notes": Write(
        LICENSING, {"body": WORDS}, ids={"application_id": "queued_application"}
    ),
    "POST /console/applications/assign": Write(
        LICENSING,
        lambda r: {
            "application_ids": str(r["queued_application"]),
            "assignee_id": str(r["licensing_staff_id"]),
        },
    ),
    "POST /console/agreements/<int:agreement_id>/contacts": Write(
        OFFICE,
        lambda r: {"contacted_on": r["today"], "how": "phone", "note": WORDS},
        note="Contacts are recorded for a licence expired unrenewed: this one is active, 409.",
    ),
    "POST /console/agreements/<int:agreement_id>/reissue": Write(
        LICENSING,
        {"reissue-reason": WORDS},
        ids={"agreement_id": "issued_agreement"},
        note="No corrected rate card to reissue it on: answered 409.",
    ),
    "POST /console/agreements/<int:agreement_id>/terminate": Write(LICENSING, {"reason": WORDS}),
    "POST /api/v1/applications/<int:application_id>/review": Write(
        LICENSING, {}, ids={"application_id": "queued_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/approve": Write(
        LICENSING, {}, ids={"application_id": "reviewed_application"}
    ),
    "PUT /api/v1/applications/<int:application_id>/assignee": Write(
        LICENSING,
        lambda r: {"assignee_id": r["licensing_staff_id"]},
        ids={"application_id": "queued_application"},
    ),
    "POST /api/v1/applications/<int:application_id>/notes": Write(
        LICENSING, {"body": WORDS}, ids={"application_id": "queued_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/return": Write(
        LICENSING, _reason, ids={"application_id": "reviewed_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/escalate": Write(
        LICENSING, _reason, ids={"application_id": "reviewed_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/reject": Write(
        LICENSING, _reason, ids={"application_id": "reviewed_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/reconsideration/grant": Write(
        LICENSING, {}, ids={"application_id": "reconsidering_application"}
    ),
    "POST /api/v1/applications/<int:application_id>/reconsideration/deny": Write(
        LICENSING, _reason, ids={"application_id": "reconsidering_application"}
    ),
    "POST /api/v1/agreements/<int:agreement_id>/termination": Write(LICENSING, _reason),
    "POST /api/v1/agreements/<int:agreement_id>/reissue": Write(
        LICENSING,
        _reason,
        ids={"agreement_id": "issued_agreement"},
        note="No corrected rate card to reissue it on: answered 409.",
    ),
    # Invoices, payments, credit notes and refunds: billing staff.
    "POST /console/invoices/<int:invoice_id>/payments": Write(
        BILLING, _offline_payment, ids={"invoice_id": "open_invoice"}
    ),
    "POST /console/invoices/<int:invoice_id>/credit-notes": Write(
        BILLING, {"amount": "1.00", "reason": WORDS}, ids={"invoice_id": "open_invoice"}
    ),
    "POST /console/invoices/<int:invoice_id>/link-withdrawals": Write(
        BILLING, {"links-reason": WORDS}, ids={"invoice_id": "open_invoice"}
    ),
    "POST /console/invoices/<int:invoice_id>/uncollectible": Write(
        BILLING, {"uncollectible-reason": WORDS}, ids={"invoice_id": "open_invoice"}
    ),
    "POST /console/invoices/<int:invoice_id>/void": Write(
        BILLING, {"void-reason": WORDS}, ids={"invoice_id": "open_invoice"}
    ),
    "POST /console/credit-notes/<int:credit_note_id>/refunds": Write(
        BILLING,
        lambda r: _prefixed(f"refund-{r['credit_note_id']}", _refund(r)),
        note="The credit note is refunded in full: answered about the amount.",
    ),
    "POST /console/refunds/<int:refund_id>/return": Write(
        BILLING, lambda r: _prefixed(f"return-{r['refund_id']}", _returned(r))
    ),
    "POST /console/payments/<int:payment_id>/accept": Write(
        BILLING, {"accept-reason": WORDS}, note="The payment is not flagged: answered 422 or 409."
    ),
    "POST /console/payments/<int:payment_id>/accept-remainder": Write(
        BILLING,
        {"remainder-reason": WORDS},
        note="The payment is not flagged: answered 422 or 409.",
    ),
    "POST /console/payments/<int:payment_id>/give-back": Write(
        BILLING,
        {"give_back-reason": WORDS},
        note="The payment is not flagged: answered 422 or 409.",
    ),
    "POST /console/payments/<int:payment_id>/reversal": Write(
        BILLING, lambda r: _prefixed(f"reverse-{r['payment_id']}", _returned(r))
    ),
    "POST /console/payments/<int:payment_id>/move": Write(
        BILLING,
        lambda r: _prefixed(
            f"move-{r['payment_id']}", {"to_invoice": "INV-1999-000001", "reason": WORDS}
        ),
        note="No such invoice to move it to: answered 422 beside the field.",
    ),
    "POST /console/organizations/<int:organization_id>/statement/email": Write(
        BILLING,
    ),
    "POST /console/organizations/<int:organization_id>/statements/<int:sent_id>/resend": Write(
        BILLING, note="No statement was sent: answered 404."
    ),
    "POST /api/v1/invoices": Write(
        BILLING,
        lambda r: {
            "organization_id": r["organization_id"],
            "lines": [{"description": "Annual development fee", "amount": "100.00"}],
        },
    ),
    "PATCH /api/v1/invoices/<int:invoice_id>": Write(
        BILLING, {"memo": WORDS}, ids={"invoice_id": "draft_invoice"}
    ),
    "POST /api/v1/invoices/<int:invoice_id>/finalize": Write(
        BILLING, ids={"invoice_id": "draft_invoice"}
    ),
    "POST /api/v1/invoices/<int:invoice_id>/void": Write(
        BILLING, _reason, ids={"invoice_id": "open_invoice"}
    ),
    "POST /api/v1/invoices/<int:invoice_id>/link-withdrawals": Write(
        BILLING, _reason, ids={"invoice_id": "open_invoice"}
    ),
    "POST /api/v1/invoices/<int:invoice_id>/mark-uncollectible": Write(
        BILLING, _reason, ids={"invoice_id": "open_invoice"}
    ),
    "POST /api/v1/invoices/<int:invoice_id>/payments": Write(
        BILLING, _offline_payment, ids={"invoice_id": "open_invoice"}
    ),
    "POST /api/v1/invoices/<int:invoice_id>/credit-notes": Write(
        BILLING, {"amount": "1.00", "reason": WORDS}, ids={"invoice_id": "open_invoice"}
    ),
    "POST /api/v1/credit-notes/<int:credit_note_id>/refunds": Write(
        BILLING, _refund, note="The credit note is refunded in full: answered about the amount."
    ),
    "POST /api/v1/refunds/<int:refund_id>/return": Write(BILLING, _returned),
    "POST /api/v1/payments/<int:payment_id>/reversal": Write(BILLING, _returned),
    "POST /api/v1/payments/<int:payment_id>/move": Write(
        BILLING,
        {"to_invoice": "INV-1999-000001", "reason": WORDS},
        note="No such invoice to move it to: answered 422 beside the field.",
    ),
    "POST /api/v1/payments/<int:payment_id>/accept": Write(
        BILLING, _reason, note="The payment is not flagged: answered 409."
    ),
    "POST /api/v1/payments/<int:payment_id>/accept-remainder": Write(
        BILLING, _reason, note="The payment is not flagged: answered 409."
    ),
    "POST /api/v1/payments/<int:payment_id>/give-back": Write(
        BILLING, _reason, note="The payment is not flagged: answered 409."
    ),
    "POST /api/v1/organizations/<int:organization_id>/statement/email": Write(BILLING, {}),
    "POST /api/v1/organizations/<int:organization_id>/statements/sent/<int:sent_id>/resend": Write(
        BILLING, note="No statement was sent: answered 404."
    ),
    # Card payments (Stripe is not configured in the integration tier: answered 409).
    "POST /portal/invoices/<int:invoice_id>/card-payments": Write(
        VENDORS,
        ids={"invoice_id": "open_invoice"},
        note="Stripe is off here: card payments answer 409.",
    ),
    "POST /invoice-links/<int:invoice_id>/<token>/card-payments": Write(
        ANYONE,
        ids={"invoice_id": "open_invoice"},
        note="An invoice link's token is emailed, never stored: an unknown one, answered 404.",
    ),
    "POST /webhooks/stripe": Write(
        ANYONE, {}, note="Stripe's signature cannot be made without its secret: answered 400."
    ),
    # The Stripe events the office looks at: billing staff.
    "POST /console/stripe-events/<int:event_id>/apply-again": Write(
        BILLING, {"apply_again-note": WORDS}, note="No Stripe event is stored here: answered 404."
    ),
    "POST /console/stripe-events/<int:event_id>/looked-at": Write(
        BILLING, {"looked_at-note": WORDS}, note="No Stripe event is stored here: answered 404."
    ),
    "POST /console/stripe-events/unknown-intents/<intent>/looked-at": Write(
        BILLING,
        {"intent-note": WORDS},
        note="No unknown PaymentIntent is stored here: answered 404 or 409.",
    ),
    "POST /console/stripe-events/unknown-intents/withdraw": Write(
        BILLING,
        {"withdraw-intents": "pi_walked66", "withdraw-reason": WORDS},
        note="No unknown PaymentIntent is stored here: answered about it.",
    ),
    "POST /console/stripe-events/unreadable/<digest>/looked-at": Write(
        BILLING,
        {"delivery-note": WORDS},
        note="No unreadable delivery is stored here: answered 404 or 409.",
    ),
    # Royalty reports: the office.
    "POST /console/royalty-reports/<int:report_id>": Write(
        OFFICE, {"action": "request_correction", "note": WORDS}
    ),
    "POST /api/v1/royalty-reports/<int:report_id>/review": Write(
        OFFICE, {"action": "request_correction", "note": WORDS}
    ),
    # Rate cards: admins.
    "POST /console/rate-cards/": Write(
        ADMINS, lambda r: {"card": (io.BytesIO(json.dumps(_rate_card(r)).encode()), "card.json")}
    ),
    "POST /console/rate-cards/checked": Write(
        ADMINS, note="Publishes the card the page checked, named by its check: none here, 4xx."
    ),
    "POST /api/v1/rate-cards": Write(ADMINS, _rate_card),
    "POST /api/v1/rate-cards/checks": Write(ADMINS, _rate_card),
    # Prices (anyone).
    "POST /estimate": Write(
        ANYONE, lambda r: {**_application_form(r), "organization_type": "commercial"}
    ),
    "POST /api/v1/quotes": Write(
        ANYONE,
        lambda r: {
            "organization_type": "commercial",
            "term": {"start": r["term_start"], "end": r["term_end"]},
            "uses": [_QUOTED_USE],
        },
    ),
    # Educational permission requests: the public.
    "POST /permissions/request": Write(ANYONE, _permission_form),
    "POST /permissions/status/<token>/answer": Write(ANYONE, {"body": WORDS}),
    "POST /permissions/status/<token>/reconsideration": Write(
        ANYONE, {"body": WORDS}, note="The request is not denied: answered 409."
    ),
    "POST /permissions/status/<token>/withdraw": Write(ANYONE, {"reason": WORDS}),
    "POST /api/v1/permission-requests": Write(ANYONE, _permission_request),
    "POST /api/v1/permission-confirmations": Write(
        ANYONE,
        {"token": "walked66"},
        note="A confirmation's token is emailed, never stored: an unknown one, answered 422.",
    ),
    "POST /api/v1/permission-status/<token>/answers": Write(ANYONE, {"body": WORDS}),
    "POST /api/v1/permission-status/<token>/reconsideration": Write(
        ANYONE, {"body": WORDS}, note="The request is not denied: answered 409."
    ),
    "POST /api/v1/permission-status/<token>/withdrawal": Write(ANYONE, {"reason": WORDS}),
    # Educational permission requests: the licensing office.
    "POST /console/permissions/<int:request_id>/review": Write(
        LICENSING, ids={"request_id": "queued_request"}
    ),
    "POST /console/permissions/<int:request_id>/approve": Write(
        LICENSING,
        lambda r: {"permitted_use": WORDS, "valid_from": r["today"], "valid_until": r["term_end"]},
        ids={"request_id": "queued_request"},
    ),
    "POST /console/permissions/<int:request_id>/ask": Write(
        LICENSING, {"message": WORDS}, ids={"request_id": "queued_request"}
    ),
    "POST /console/permissions/<int:request_id>/deny": Write(
        LICENSING, {"reason": WORDS}, ids={"request_id": "queued_request"}
    ),
    "POST /console/permissions/<int:request_id>/assign": Write(
        LICENSING,
        lambda r: {"assignee_id": str(r["licensing_staff_id"])},
        ids={"request_id": "queued_request"},
    ),
    "POST /console/permissions/<int:request_id>/notes": Write(
        LICENSING, {"body": WORDS}, ids={"request_id": "queued_request"}
    ),
    "POST /console/permissions/assign": Write(
        LICENSING,
        lambda r: {
            "request_ids": str(r["queued_request"]),
            "assignee_id": str(r["licensing_staff_id"]),
        },
    ),
    "POST /api/v1/permission-requests/<int:request_id>/actions": Write(
        LICENSING, {"action": "start_review"}, ids={"request_id": "queued_request"}
    ),
    "POST /api/v1/permission-requests/<int:request_id>/notes": Write(
        LICENSING, {"body": WORDS}, ids={"request_id": "queued_request"}
    ),
    "POST /api/v1/permission-requests/assignments": Write(
        LICENSING,
        lambda r: {"request_ids": [r["queued_request"]], "assignee_id": r["licensing_staff_id"]},
    ),
}


# --- the callers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """One way in: who (None: a signed-out visitor), their write token's headers on the
    API, their signed-in client on pages (None: the API alone), and the records that
    are theirs (a passkey, a remembered browser, the token they call with)."""

    name: str
    principal: access.Principal | None
    headers: dict[str, str]
    pages: FlaskClient | None
    own: dict[str, int] = field(default_factory=dict)


def _own_records(person: User, token_id: int) -> dict[str, int]:
    """A passkey and a remembered browser of `person`'s, and their token's id."""
    session = db.session()
    passkey = Passkey(
        user_id=person.id,
        credential_id=b64url(f"walk-{person.id}".encode()),
        public_key=b"k",
        name="Laptop",
    )
    browser = RememberedBrowser(
        user_id=person.id,
        token_hash=f"{person.id + 6600:064d}",
        label="Firefox on Linux",
        expires_at=utcnow() + timedelta(days=30),
    )
    session.add_all([passkey, browser])
    session.commit()
    return {"passkey_id": passkey.id, "browser_id": browser.id, "token_id": token_id}


def _callers(
    app: Flask, people: dict[str, User], signed_in: Callable[..., FlaskClient]
) -> list[Caller]:
    callers = [Caller("a signed-out visitor", None, {}, app.test_client())]
    for name, person in people.items():
        token, secret = accounts_services.create_api_token(
            person.id, "walk", actor=Actor.SYSTEM, scope="write"
        )
        callers.append(
            Caller(
                name,
                accounts_services.principal_for(person),
                {"Authorization": f"Bearer {secret}"},
                signed_in(app.test_client(), person),
                _own_records(person, token.id),
            )
        )
    administrator = people["an administrator"]
    token, secret = accounts_services.create_api_token(
        administrator.id, "read only", actor=Actor.SYSTEM, scope="read"
    )
    callers.append(
        Caller(
            "an administrator's read-only token",
            accounts_services.principal_for(administrator, token=token),
            {"Authorization": f"Bearer {secret}"},
            None,
            {**callers[1].own, "token_id": token.id},
        )
    )
    return callers


# --- the module's records --------------------------------------------------------------


def _draft_invoice(app: Flask, clerk: User, organization_id: int) -> int:
    """A manual invoice drafted by billing staff (as its API makes one)."""
    drafted = app.test_client().post(
        "/api/v1/invoices",
        json={
            "organization_id": organization_id,
            "lines": [{"description": "Annual development fee", "amount": "100.00"}],
        },
        headers=factories.bearer(clerk),
    )
    assert drafted.status_code == 201, drafted.get_json()
    return int(drafted.get_json()["id"])


def _records(app: Flask, people: dict[str, User]) -> dict[str, Any]:
    """`records_of`'s records of the administrator's organization (an active
    agreement, its invoice paid, credited and refunded, a quarter reported, a
    colleague, an invitation, a permission request granted), and a record in the
    state each step starts from: a draft application, one waiting for review and one
    under review, an agreement waiting for acceptance, an open invoice, a permission
    request in the office's queue, a removed colleague, and a confirmed public
    request's status token."""
    administrator = people["an administrator"]
    licensing_staff = people["licensing staff"]
    session = db.session()
    organization = administrator.organization
    assert organization is not None
    records = records_of(app, administrator, licensing_staff)
    vendor = Actor.of(accounts_services.principal_for(administrator))
    reviewer = Actor.of(accounts_services.principal_for(licensing_staff))

    # What the walk applies for is next year's, on a card of its own (the example card
    # is 2027's alone): the walk's steps run at the real time, on any day.
    years = CardYears.around(office_date(utcnow()))
    term = (years.next_from, years.next_to)
    ratecards.import_card(
        card_document(
            version=f"{years.next_from.year}.66",
            title=f"Royalty schedule from {years.next_from}",
            effective_from=years.next_from.isoformat(),
            effective_to=years.next_to.isoformat(),
        ),
        published_by="tests",
    )

    def application(use: dict[str, Any], *, submit: bool) -> int:
        made = agreements.create_draft(
            vendor,
            agreements.ApplicationDraft.from_fields(
                {"term_start": term[0], "term_end": term[1], "uses": [use]}
            ),
        )
        if submit:
            agreements.submit(made.id, vendor, policy=issuing(), attest=True)
        return made.id

    reviewed = application(STAFF_USE, submit=True)
    agreements.start_review(reviewed, reviewer)
    rejected, reconsidering = (
        application(STAFF_USE, submit=True),
        application(STAFF_USE, submit=True),
    )
    for made in (rejected, reconsidering):  # today: inside the window to ask again
        agreements.start_review(made, reviewer)
        agreements.reject(made, WORDS, reviewer)
    agreements.request_reconsideration(reconsidering, WORDS, vendor)
    issued = issued_agreement(administrator, licensing_staff, SMALL_SOFTWARE, term=term)
    colleague = session.get(User, records["user_id"])
    session.add(
        Passkey(
            user_id=colleague.id,
            credential_id=b64url(f"walk-{colleague.id}".encode()),
            public_key=b"k",
            name="Phone",
        )
    )
    session.commit()
    removed = factories.make_vendor(session, organization=organization, role="member")
    accounts_services.set_user_active(removed.id, False, vendor)
    queued = send_routed(
        routed_use(
            organization.id,
            organization.legal_name,
            application_id=950_000 + administrator.id,
            requester_email=administrator.email,
            requester_name=administrator.full_name,
            requester_user_id=administrator.id,
        )
    )
    public = confirmed_request("Cedar Ridge Community College")
    asked = session.scalars(
        select(PermissionRequest.id).order_by(PermissionRequest.id.desc())
    ).first()
    permission_review.ask_for_info(asked, WORDS, reviewer)
    other = factories.make_vendor(session)
    message = session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).first()
    return {
        **records,
        "draft_application": application(AUTO_USE, submit=False),
        "queued_application": application(STAFF_USE, submit=True),
        "reviewed_application": reviewed,
        "rejected_application": rejected,
        "reconsidering_application": reconsidering,
        "issued_agreement": issued.id,
        "issued_pdf_sha256": issued.pdf_sha256,
        "open_invoice": issue(organization.id, "100.00", office_date(utcnow())).id,
        "term_start": term[0].isoformat(),
        "term_end": term[1].isoformat(),
        "draft_invoice": _draft_invoice(app, people["billing staff"], organization.id),
        "today": office_date(utcnow()).isoformat(),
        "queued_request": queued.id,
        "status_token": public[1],
        "colleague_with_passkey": colleague.id,
        "removed_colleague": removed.id,
        "staff_clerk": people["billing staff"].id,
        "licensing_staff_id": licensing_staff.id,
        "other_organization_id": other.organization_id,
        "organization_name": organization.legal_name,
        "member_email": people["a member"].email,
        "message_id": message,
        "event_id": 1,
        "sent_id": 1,
        "intent": "pi_walked66",
        "digest": "0" * 64,
    }


# --- the walk ------------------------------------------------------------------------------


def _write_routes(app: Flask) -> dict[str, Any]:
    """Every write route of the URL map, as `WALK` names it ("POST /rule"), with its rule."""
    return {
        f"{method} {rule.rule}": rule
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) & WRITES)
    }


def test_every_write_route_has_an_entry_in_the_walk(app: Flask) -> None:
    """A new write route fails here until `WALK` says how to ask it (or why nobody
    is admitted); an entry for a route that has gone fails too."""
    routes = set(_write_routes(app))
    assert sorted(routes - set(WALK)) == [], "add these to WALK"
    assert sorted(set(WALK) - routes) == [], "these are no longer routes"


def test_a_route_refused_to_every_caller_is_documented_so(app: Flask) -> None:
    """`RefusedToAll`'s routes are those marked `refuses_whatever_is_sent`, and the API
    document says nobody may call them (it said "any signed-in user, vendor or
    staff" of `POST /api/v1/tokens`, from its declaration, then that every caller
    is refused)."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    routes = _write_routes(app)
    marked = {
        key
        for key, rule in routes.items()
        if getattr(app.view_functions[rule.endpoint], BODY_ATTRIBUTE, None) == ANY_BODY
    }
    assert marked == {key for key, entry in WALK.items() if isinstance(entry, RefusedToAll)}
    for key in marked:
        method, rule = key.split(" ", 1)
        operation = document["paths"][_ARGUMENT.sub(r"{\1}", rule)][method.lower()]
        assert operation["description"].endswith(f"Who may call it: {NOBODY}."), key


def _declared(declaration: access.Access, caller: Caller, method: str, on_api: bool) -> int | None:
    """The status the declaration answers `caller` with, or None when it admits them
    (as `access.enforce` decides)."""
    if declaration.public and not (on_api and caller.principal is not None):
        return None
    if caller.principal is None:
        return 401 if on_api else 302
    if not declaration.admits(caller.principal):
        return 403
    if on_api and access.read_only_token_refusal(method, declaration, caller.principal):
        return 403
    return None


def _written(key: str, entry: Write | RefusedToAll, caller: Caller, on_api: bool) -> bool:
    """Whether `WALK` says `caller` may take the step."""
    if isinstance(entry, RefusedToAll):
        return False
    if caller.name == READ_ONLY:
        return ADMINISTRATOR in entry.who and key in STORES_NOTHING
    return caller.name in entry.who


def _walked(declaration: access.Access, on_api: bool, callers: list[Caller]) -> list[Caller]:
    """The callers a route is asked by: every one, but on a public page the visitor
    and one signed-in person (the gate admits a public route before it looks for a
    caller, so the others ask it as they do) and on the public API the visitor and
    the administrator's tokens (a token is a caller there: a read-only one is
    refused writes)."""
    walked = [caller for caller in callers if (caller.pages is not None) or on_api]
    if not declaration.public:
        return walked
    kept = (VISITOR, ADMINISTRATOR, READ_ONLY) if on_api else (VISITOR, ADMINISTRATOR)
    return [caller for caller in walked if caller.name in kept]


@contextmanager
def _undone(app: Flask, client: FlaskClient) -> Iterator[None]:
    """A request whose every change is rolled back after it (a savepoint on the
    test's connection, around the request's own), and whose cookies are put back:
    each caller finds the module's records, and stays signed in, as made."""
    connection: Connection = app.extensions["licensing.db"].sessionmaker.kw["bind"]
    cookies = dict(client._cookies)
    _close_session()
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        _close_session()
        if savepoint.is_active:
            savepoint.rollback()
        client._cookies.clear()
        client._cookies.update(cookies)


def _close_session() -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def _path(rule: Any, entry: Write | RefusedToAll, records: Records, caller: Caller) -> str:
    ids = entry.ids if isinstance(entry, Write) else {}

    def value(name: str) -> str:
        if name in ids:
            return str(records[ids[name]])
        if name in caller.own:
            return str(caller.own[name])
        if name == "document_id":
            return str(document_of(rule.rule, records))
        if name == "token":
            return records["status_token"] if "permission" in rule.rule else "walked66"
        return str(records[name])

    return _ARGUMENT.sub(lambda found: value(found.group(1)), rule.rule)


_ARGUMENT = __import__("re").compile(r"<(?:[^:<>]+:)?([^<>]+)>")


# What `_answer` gives for a page's redirect carrying an error message: not the
# step taken, as a 4xx is not.
FLASHED_ERROR = 399


def _answer(
    app: Flask, client: FlaskClient, method: str, path: str, on_api: bool, caller: Caller, body: Any
) -> tuple[int, str, str]:
    """The status, `Location` and text of one request, or 500 and the exception's
    words for one raised (the test app propagates what a server answers 500)."""
    with _undone(app, client):
        try:
            if on_api:
                response = client.open(path, method=method, headers=caller.headers, json=body)
            else:
                response = client.open(path, method=method, data=body)
        except Exception as error:
            return 500, "", repr(error)
        text = response.get_data(as_text=True)
        if response.mimetype == "text/html":  # the page's title and its messages
            text = " ".join(_SAID.findall(text))
        status = response.status_code
        if not on_api and 300 <= status < 400:
            # A page that refuses a step may say so on the page it redirects to.
            with client.session_transaction() as kept:
                flashed = [said for kind, said in kept.get("_flashes", []) if kind == "error"]
            if flashed:
                return FLASHED_ERROR, response.headers.get("Location", ""), " ".join(flashed)
        return status, response.headers.get("Location", ""), text


_SAID = __import__("re").compile(
    r"<title>[^<]*</title>|class=\"[^\"]*(?:error|flash)[^\"]*\"[^>]*>[^<]*"
)


@pytest.fixture
def config_changes() -> dict[str, Any]:
    # The sign-in, sign-up and public request forms share one rate limit.
    return {"auth_rate_limit": "off"}


@pytest.mark.usefixtures("example_card")
def test_every_write_route_admits_exactly_the_roles_it_declares(
    app: Flask,
    vendor: User,
    licensing_staff: User,
    billing_staff: User,
    admin: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Every write route of `WALK`, every caller, once: refused where the declaration
    refuses (401 or 403 on the API, the sign-in page or 403 on pages), and let
    through to the service where it admits (anything but 401, 403 or 500; a page
    not sent to sign in)."""
    session = db.session()
    people = {
        "an administrator": vendor,
        "a member": factories.make_vendor(session, organization=vendor.organization, role="member"),
        "a billing member": factories.make_vendor(
            session, organization=vendor.organization, role="billing"
        ),
        "licensing staff": licensing_staff,
        "billing staff": billing_staff,
        "an admin": admin,
    }
    records = _records(app, people)
    callers = _callers(app, people, signed_in)
    api = app.test_client()
    disagreeing: list[str] = []
    wrong: list[str] = []
    for key, rule in sorted(_write_routes(app).items()):
        method = key.split(" ", 1)[0]
        entry = WALK[key]
        declaration = access.declaration_for(app, rule.endpoint)
        assert declaration is not None, key
        on_api = rule.rule.startswith("/api/")
        if declaration.stores_nothing != (key in STORES_NOTHING):
            disagreeing.append(f"{key}: stores_nothing is {declaration.stores_nothing}")
        for caller in _walked(declaration, on_api, callers):
            client = api if on_api else caller.pages
            assert client is not None
            where = f"{key} by {caller.name}"
            declared = _declared(declaration, caller, method, on_api)
            admitted = _written(key, entry, caller, on_api)
            if (declared is None) != admitted and not isinstance(entry, RefusedToAll):
                said = "admits" if declared is None else "refuses"
                disagreeing.append(f"{where}: the declaration {said}, WALK does not")
            body = (
                entry.body_for({**records, "caller": caller.name})
                if isinstance(entry, Write)
                else None
            )
            status, location, text = _answer(
                app, client, method, _path(rule, entry, records, caller), on_api, caller, body
            )
            sent_to_sign_in = status == 302 and "/sign-in?next=" in location
            said = f"{where}: answered {status} {location} {text[:300]}"
            if admitted:
                assert isinstance(entry, Write)
                # A public page may send anyone on to sign in (a reset asked for).
                refused = status in (401, 403) or (sent_to_sign_in and not declaration.public)
                if refused or status >= 500:
                    wrong.append(f"admitted, {said}")
                elif status >= FLASHED_ERROR and not entry.note:
                    wrong.append(f"admitted, the step not taken and no note says why: {said}")
            elif declared is not None:
                if status != declared or (declared == 302 and not sent_to_sign_in):
                    wrong.append(f"refused with {declared}, {said}")
            elif isinstance(entry, RefusedToAll) and status not in (401, 403):
                wrong.append(f"refused by its view, {said}")
    assert not disagreeing + wrong, "\n".join(disagreeing + wrong)
