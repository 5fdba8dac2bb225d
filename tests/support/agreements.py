"""Agreement steps many tests take to arrange what they test: finding the
agreement an application was issued, and accepting it as its vendor would."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.agreements.services.renewal import window_opens
from licensing.billing import queries as billing_queries
from licensing.billing.models import Invoice
from licensing.calendar import OFFICE_TIMEZONE
from tests.support.factories import bearer
from tests.support.settings import issuing

# The contract's example card's year, the term integration tests apply for.
TERM_2027 = (date(2027, 1, 1), date(2027, 12, 31))


def agreement_of(application: Application) -> Agreement:
    """The agreement issued when `application` was approved (its reissue, once one
    replaced it on a corrected rate card: round 55)."""
    return (
        db.session()
        .scalars(
            select(Agreement).where(
                Agreement.application_id == application.id, Agreement.state != "replaced"
            )
        )
        .one()
    )


def accept(
    agreement: Agreement,
    vendor: Any,
    *,
    now: datetime | None = None,
    signer_name: str = "Robin Castellanos",
) -> Agreement:
    """`agreement` accepted by `vendor` on the PDF they were shown, with authority
    confirmed: active, and billing told (its up-front invoice issued)."""
    given = agreements.AcceptanceInput(
        signer_name=signer_name,
        signer_title="Chief Executive",
        authority_confirmed=True,
        pdf_sha256=agreement.pdf_sha256,
        ip_address="198.51.100.7",
        user_agent="pytest",
    )
    return agreements.accept(agreement.id, Actor.of(accounts.principal_for(vendor)), given, now=now)


def accepted_on_the_page(client: Any, agreement: Agreement) -> Any:
    """`agreement` accepted on its page by the vendor signed in on `client` (the
    test client), on its PDF's digest; the page the acceptance leads to."""
    return client.post(
        f"/portal/agreements/{agreement.id}/accept",
        data={
            "signer_name": "Robin Castellanos",
            "signer_title": "Chief Executive",
            "authority_confirmed": "yes",
            "pdf_sha256": agreement.pdf_sha256,
        },
        follow_redirects=True,
    )


def accepted_through_the_api(client: Any, agreement: Agreement, vendor: Any) -> Any:
    """`POST /api/v1/agreements/{id}/acceptance` by `vendor`, on its PDF's digest."""
    return client.post(
        f"/api/v1/agreements/{agreement.id}/acceptance",
        json={
            "signer_name": "Robin Castellanos",
            "signer_title": "Chief Executive",
            "authority_confirmed": True,
            "pdf_sha256": agreement.pdf_sha256,
        },
        headers=bearer(vendor),
    )


def accepted_with_invoice(
    application: Application, vendor: Any, *, now: datetime | None = None
) -> tuple[Agreement, Invoice | None]:
    """The agreement issued for `application`, accepted by `vendor`, and its
    up-front invoice (None where it has none)."""
    agreement = accept(agreement_of(application), vendor, now=now)
    return agreement, upfront_invoice(agreement)


def upfront_invoice(agreement: Agreement) -> Invoice | None:
    """The invoice issued when `agreement` was accepted (None where it has none)."""
    return billing_queries.upfront_invoice(db.session(), agreement.id)


def make_active_agreement(
    vendor: Any,
    staff: Any,
    *uses: dict[str, Any],
    now: datetime | None = None,
    term: tuple[date, date] = TERM_2027,
) -> Agreement:
    """An agreement for `uses` (2027 unless `term` says otherwise), applied for by
    `vendor`, approved (by `staff` where the card sends it to review) and accepted:
    active, its up-front invoice issued."""
    agreement = issued_agreement(vendor, staff, *uses, now=now, term=term)
    accept(agreement, vendor, now=now)
    return agreement


def issued_agreement(
    vendor: Any,
    staff: Any,
    *uses: dict[str, Any],
    now: datetime | None = None,
    term: tuple[date, date] = TERM_2027,
) -> Agreement:
    """An agreement for `uses` (2027 unless `term` says otherwise), applied for by
    `vendor` and approved (by `staff` where the card sends it to review): issued,
    waiting for acceptance."""
    principal = accounts.principal_for(vendor)
    term_start, term_end = term
    draft = agreements.ApplicationDraft.from_fields(
        {"term_start": term_start, "term_end": term_end, "uses": uses}
    )
    application = agreements.create_draft(Actor.of(principal), draft, now=now)
    application = agreements.submit(
        application.id, Actor.of(principal), policy=issuing(), attest=True, now=now
    )
    if application.state != "approved":
        reviewer = Actor.of(accounts.principal_for(staff))
        agreements.start_review(application.id, reviewer, now=now)
        agreements.approve(application.id, reviewer, policy=issuing(), now=now)
    return agreement_of(application)


def up_front_invoice(agreement: Agreement) -> Invoice:
    """The up-front invoice an agreement's activation issued."""
    return (
        db.session()
        .scalars(
            select(Invoice).where(
                Invoice.source_type == "agreement", Invoice.source_id == agreement.id
            )
        )
        .one()
    )


def renewal_window(agreement: Agreement) -> datetime:
    """Noon at the office on the first day a renewal of `agreement` may be drawn
    (round 53: the service and the API hold the page's window, 90 days before the
    term ends), for a test that draws one."""
    return datetime.combine(window_opens(agreement), time(12), tzinfo=OFFICE_TIMEZONE)
