"""Signals between feature packages.

Applications, billing and the permissions queue are separate packages; where
one's change must cause another's (an agreement becoming active is invoiced, a
use the rate card routes to the permissions queue becomes a permission
request), the first sends a signal and the second connects a receiver. Receivers
run synchronously inside the sender's transaction (`session` is passed with
every signal), so the whole change commits or rolls back as one.

Payloads are plain frozen data, not ORM objects, so a receiver depends on this
module only, never on another package's models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from blinker import Namespace

_signals = Namespace()


@dataclass(frozen=True)
class UpFrontCharge:
    """An amount due when an agreement becomes active: a line's fixed part
    (flat fees and any minimum-royalty lift, already prorated) from the quote
    snapshot, with the working that explains it."""

    line_index: int
    description: str
    amount: Decimal
    working: str


@dataclass(frozen=True)
class ActivatedAgreement:
    agreement_id: int
    number: str
    organization_id: int
    currency: str
    activated_at: datetime
    term_start: date
    term_end: date
    # The card that priced it; None where licensing staff priced it by hand (round 67).
    rate_card_version: str | None
    payment_terms_days: int
    late_fee_monthly_percent: Decimal
    charges: tuple[UpFrontCharge, ...]


@dataclass(frozen=True)
class RoutedUse:
    """A proposed use that the rate card routes to the permissions queue."""

    application_id: int
    application_reference: str
    organization_id: int
    organization_name: str
    organization_type: str
    requester_name: str
    requester_email: str
    line_index: int
    product_name: str
    description: str
    use: str
    product_type: str
    user_type: str
    delivery: str
    audience_size: int | None
    term_start: date
    term_end: date
    explanation: str
    # The signed-in user who submitted the application: the request follows their
    # address and name (None: only the address given is known).
    requester_user_id: int | None = None


agreement_activated = _signals.signal(
    "agreement-activated",
    doc="sent(ActivatedAgreement, session=Session) when a licensee accepts and the "
    "agreement becomes active",
)

use_routed_to_permissions = _signals.signal(
    "use-routed-to-permissions",
    doc="sent(RoutedUse, session=Session) for each use of a submitted application "
    "that the rate card routes to permission_request",
)


@dataclass(frozen=True)
class WithdrawnReviewer:
    """A staff member who may no longer be given reviews (deactivated, or holding
    neither the licensing nor the admin role any more), and why, in words for the
    audit log ("pat@office.example was deactivated")."""

    user_id: int
    why: str


reviewer_withdrawn = _signals.signal(
    "reviewer-withdrawn",
    doc="sent(WithdrawnReviewer, session=Session, actor=Actor) when a staff member can "
    "no longer review: the work assigned to them goes back to its queue, unassigned",
)


reviewer_withdrawing = _signals.signal(
    "reviewer-withdrawing",
    doc="sent(WithdrawnReviewer, session=Session) by a step about to withdraw a reviewer, "
    "before its first audit event: the work assigned to them is locked now, as every "
    "step on it locks it before auditing (the lock order, round 55); "
    "`reviewer_withdrawn` follows",
)


@dataclass(frozen=True)
class ChangedBillingContact:
    """An organization's billing contact moved to another email address: the links
    emailed to the old one must stop opening its invoices."""

    organization_id: int
    old_email: str
    new_email: str


@dataclass(frozen=True)
class MovedInvoiceLinks:
    """What billing did about a changed billing contact, for the email that tells
    both addresses: the invoices (numbers) whose links sent to the old address no
    longer work, and those of them still to pay, whose new links went to the new one."""

    withdrawn: tuple[str, ...]
    resent: tuple[str, ...]


billing_contact_changing = _signals.signal(
    "billing-contact-changing",
    doc="sent(organization id, session=Session) before an organization's new billing "
    "email is written: billing locks the organization's invoices first, in the lock "
    "order (an invoice, then its organization: round 54)",
)

billing_contact_changed = _signals.signal(
    "billing-contact-changed",
    doc="sent(ChangedBillingContact, session=Session, actor=Actor) when an organization's "
    "billing email changes; billing's receiver answers a MovedInvoiceLinks",
)


@dataclass(frozen=True)
class ClosedOrganization:
    """An organization whose account was just closed (final), and the reason staff
    gave, for the audit notes of what closing ends with it."""

    organization_id: int
    legal_name: str
    reason: str | None
    # What the closing confirmation listed of what closing ends (round 54): the keys
    # `accounts.ended_by_closing` gave ("application:12"), or None when nothing was
    # shown (the command line, the API). A receiver refuses (`Conflict`) to end a
    # record of its own kind that is not among them: it appeared after the
    # confirmation, and closing would end it unlisted.
    shown: frozenset[str] | None = None


@dataclass(frozen=True)
class ClosingOrganization:
    """An organization staff are about to close (its standing not yet changed)."""

    organization_id: int


organization_closing = _signals.signal(
    "organization-closing",
    doc="sent(ClosingOrganization, session=Session) by a closing before its first audit "
    "event: what `organization_closed` will end is locked now, as every step on it "
    "locks it before auditing (the lock order, round 55)",
)


organization_closed = _signals.signal(
    "organization-closed",
    doc="sent(ClosedOrganization, session=Session, actor=Actor) when an organization's "
    "account is closed: its undecided applications, which no one may approve any more, "
    "are withdrawn (round 48)",
)


@dataclass(frozen=True)
class PublishedCard:
    """A rate card just published (not a re-import of one published before): its
    version and period, for what a correction of earlier cards' days must tell."""

    version: str
    effective_from: date
    effective_to: date


rate_card_published = _signals.signal(
    "rate-card-published",
    doc="sent(PublishedCard) once a new rate card version is stored and committed (round "
    "62: inside its transaction until then), and again to finish a telling stopped "
    "part-way: agreements' receiver emails, in units of work of its own, the licensees "
    "of the agreements whose term it now prices in place of their card (a correction, "
    "round 61) not told of it yet, and answers the numbers emailed and those told "
    "without an email (a second correction pricing their uses alike)",
)
