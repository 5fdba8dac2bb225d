"""An organization's record: creating it and changing its profile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from licensing import calendar, db, terminal
from licensing.accounts import queries
from licensing.accounts.models import Organization
from licensing.accounts.services._common import (
    STAFF_ONLY,
    _clean_organization,
    _refuse,
    acting_colleague,
)
from licensing.accounts.services.roles import locked_organization, require_administrator
from licensing.accounts.states import APPLYING, CLOSED
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.limits import is_storable, record_id
from licensing.links import links
from licensing.mail import services as mail
from licensing.signals import (
    ChangedBillingContact,
    MovedInvoiceLinks,
    billing_contact_changed,
    billing_contact_changing,
)


def create_organization(
    session: Session, *, signing_up: bool = False, **fields: Any
) -> Organization:
    """A new organization in standing `applying`, in the caller's transaction, audited
    `organization.created` by the request's caller; `signing_up`, stored alone: the
    person signing it up audits it once their account exists (`registration.sign_up`),
    so the event names them by it, as every other event does (round 59: it named an
    address with no account).

    `fields` are the profile fields (`Organization.PROFILE_FIELDS`); raises
    `InvalidInput` with every field's problem at once.
    """
    clean, errors = _clean_organization(fields)
    _refuse(errors)
    organization = Organization(**clean, standing=APPLYING, created_at=utcnow())
    if signing_up:
        session.add(organization)
        session.flush()
    else:
        audit.record_new(session, organization, "organization.created", actor=None)
    return organization


@dataclass(frozen=True)
class ProfileSaved:
    """An organization's profile saved, and whom that emailed: the old and the new
    billing contact when the billing email changed (round 33: the page said only
    "saved", the API nothing of the email)."""

    organization: Organization
    emailed: tuple[str, ...] = ()

    @property
    def emailed_summary(self) -> str:
        if not self.emailed:
            return "emailed nobody: the billing contact's address did not change"
        old, new = self.emailed
        return f"emailed the old and the new billing contact: {old}, {new}"


def update_organization(
    organization_id: int, changes: Mapping[str, Any], actor: Actor
) -> ProfileSaved:
    """Change profile fields. An organization's administrators change its contact
    and address fields (members are refused, told whom to ask); licensing staff
    change any field, including legal name and type. Whom it emailed."""
    if not actor.is_vendor:
        actor.require_role("licensing")
    with db.transaction() as session:
        organization = queries.get_owned(session, Organization, organization_id, actor)
        require_administrator(session, organization.id, actor)
        clean, errors = _clean_organization(changes, partial=True, stored=organization)
        if actor.is_vendor:
            for name in STAFF_ONLY:
                if name in changes and clean.get(name, getattr(organization, name)) != getattr(
                    organization, name
                ):
                    errors[name] = [
                        "Only the licensing office can change this; contact them to correct it."
                    ]
        _refuse(errors)
        if clean.get("billing_email", organization.billing_email) != organization.billing_email:
            # Billing locks the organization's invoices before its row is written: a
            # payment settling one locks the invoice, then the organization (round 54:
            # the other way round, the two deadlocked on PostgreSQL).
            billing_contact_changing.send(organization.id, session=session)
        # Round 57: locked before it is written, as every step that writes it: written
        # unlocked, the row went to the database with the first event and was held
        # while the save waited for the log, and a role change holding the log
        # deadlocked with it (`tests/integration/accounts/test_profile_lock_order.py`;
        # the log's head is locked at commit since round 58).
        organization = locked_organization(session, organization.id)
        before_snapshot = organization.snapshot()
        for name, value in clean.items():
            setattr(organization, name, value)
        before, after = audit.changed_fields(before_snapshot, organization.snapshot())
        if after:
            audit.record_event(
                session,
                "organization.updated",
                organization.id,
                before=before,
                after=after,
                actor=actor,
            )
        if "billing_email" in after:
            _tell_billing_contacts(session, organization, before_snapshot, actor)
            emailed = (str(before_snapshot["billing_email"]), organization.billing_email)
            return ProfileSaved(organization, emailed)
        return ProfileSaved(organization)


def _changed_by(session: Session, actor: Actor) -> str:
    """Who changed the billing contact, for the email: "Name (address)" for a vendor
    user, the office for staff."""
    colleague = acting_colleague(session, actor)
    if colleague is not None:
        return colleague.name_and_email
    return actor.name if actor.is_vendor else f"The {mail.OFFICE_NAME}"


def _tell_billing_contacts(
    session: Session, organization: Organization, before: Mapping[str, Any], actor: Actor
) -> None:
    """Invoices and reminders now go to another address: both the old address and
    the new one are told (a typo'd address, or a change nobody expected, is found
    before an invoice goes unread). The links to invoices emailed to the old address
    stop working and the new one is sent its own, by billing, in this transaction."""
    old_email = str(before["billing_email"])
    change = ChangedBillingContact(organization.id, old_email, organization.billing_email)
    answers = billing_contact_changed.send(change, session=session, actor=actor)
    moved = [answer for _, answer in answers if isinstance(answer, MovedInvoiceLinks)]
    mail.enqueue(
        session,
        to=[old_email, organization.billing_email],
        subject=f"Billing contact of {organization.legal_name} changed",
        template="billing_contact_changed",
        context={
            "organization": organization,
            "old_name": before["billing_contact_name"],
            "old_email": old_email,
            # Round 58: named as the other emails about colleagues name them, not by
            # the login address alone ("x@... changed the billing contact").
            "changed_by": _changed_by(session, actor),
            "changed_on": calendar.moment_text(utcnow()),
            "portal_url": links().vendor_dashboard(),
            "withdrawn": [number for answer in moved for number in answer.withdrawn],
            "resent": [number for answer in moved for number in answer.resent],
        },
    )


def organization_named(text: str) -> int:
    """The id of the organization `text` names, for the commands that take one (round
    50: they took an id alone, and staff know organizations by name): its id (`42` or
    `#42`, unchecked: the step refuses an unknown one as it did), else its legal name
    (`organization_by_name`)."""
    given = text.strip()
    if not given:
        raise InvalidInput.for_field("organization", "Name the organization: its legal name or id.")
    number = record_id(given.removeprefix("#"))
    if number is not None:
        return number  # the step's own check says when there is none (as before)
    return organization_by_name(given)


def organization_by_name(name: str) -> int:
    """The id of the one organization whose legal name is `name`, in any case and script
    (`accounts.models.name_key`): the commands' lookup (`organization_named`) and the
    API's `organization` beside an id (round 51), so both refuse in the same words.
    Several of that name, or none, is `InvalidInput` on `organization` listing the
    candidates with their ids (the first `queries.NAMED_AT_MOST` by name: those of that
    name, or whose name contains it), so the caller gives the id or the exact name."""
    given = name.strip()
    if not given:
        raise InvalidInput.for_field("organization", "Name the organization: its legal name or id.")
    if not is_storable(given):
        # Round 51: a byte of the terminal's that is not UTF-8 (Python reads it as a
        # lone surrogate) was a UnicodeEncodeError's traceback, on PostgreSQL a NUL a
        # DataError's: no legal name holds either.
        raise InvalidInput.for_field(
            "organization",
            "The name holds a character no legal name has (a byte that is not UTF-8, "
            "or a NUL): type it again in UTF-8, or give the id.",
        )
    with db.transaction() as session:
        named = queries.organizations_named(session, given)
    if named.exact and named.total == 1:
        return named.found[0][0]
    candidates = _candidates(named)
    if named.exact:
        raise InvalidInput.for_field(
            "organization",
            f"{named.total} organizations are named “{terminal.shown(given)}”: {candidates}. "
            "Give the id.",
        )
    if not named.found:
        raise InvalidInput.for_field(
            "organization",
            f"No organization is named “{terminal.shown(given)}”, nor has a name containing it. "
            "Give its legal name or its id.",
        )
    raise InvalidInput.for_field(
        "organization",
        f"No organization is named “{terminal.shown(given)}” exactly; {named.total} "
        f"{'has a name' if named.total == 1 else 'have names'} containing it: "
        f"{candidates}. Give the legal name exactly or the id.",
    )


def _candidates(named: queries.NamedOrganizations) -> str:
    """The candidates as a list: `Acme Inc. (id 3); Acme Inc. (id 9, closed); and 4 more`
    (a semicolon between them: a legal name may hold a comma)."""
    listed = [
        f"{terminal.shown(legal_name)} (id {number}{', ' + standing if standing == CLOSED else ''})"
        for number, legal_name, standing in named.found
    ]
    more = named.total - len(listed)
    return "; ".join(listed) + (f"; and {more} more" if more else "")
