"""Round 7: axe-core finds no moderate, serious or critical problem on any page a
user reaches, at a desktop and a phone width.

The pages come from the app's URL map: every GET route outside the API that
answers with a page is visited (the public, a vendor, each staff role, a
permission requester; empty lists and full ones, forms showing their errors,
confirmation pages, the 403, 404 and 409 pages), or is named in `NOT_PAGES`
with the reason it is left out. A new page without a visit fails
`test_every_page_of_the_url_map_is_checked_or_left_out_for_a_reason`.

Round 48 split the walk into parts (`AREAS`): the public's sign-in forms and its
other pages, the portal's applications, records and account pages, the console's
licensing, billing and administration, and the states round 47 added (renewals of a
suspended licensee, a lost dispute's remainder). Each part is a test of its own, on a
server and a world of its own made of the pieces its pages need (`_base` and the
part's `pieces`), so each runs in well under a minute and xdist spreads them over
its workers (no `xdist_group`: the parts share nothing). What the parts walk
together is the committed `accessibility_sweep_pages.txt`, made from round 47's
one-test walk: a visit dropped or added without the list fails
`test_the_parts_walk_every_page_and_state_on_the_swept_list`.

In each part, one browser and one tab per user, reused for both widths; every
problem on every page of the part is reported at once. Round 63 (the sweep took a
quarter of the browser tier): each page, and each page a form sent from it leads
to, is loaded once and checked at one width, then the window is resized to the
other (static/js/scroll-regions.js let catch up, `SCROLL_REGIONS_CAUGHT_UP`) and
checked again, so a form is sent once rather than once a width; a page state
already checked in the part (the same address, width, markup, focus and scroll,
`_STATE`) is not checked again; axe-core is loaded into each tab's pages as they
start (`load_axe_into`) and hands back only its violations. Every line of
`SWEPT_LIST` is still walked, with the same rules and threshold. Round 64: each
person's tab is signed in by its own requests (`sign_in`), not on the form, which
public-sign-in checks: two page loads a person that no check read.

Round 18 brought in the three pages left out before: the card payment pages
(localstripe's Stripe.js stand-in), the development mail viewer (on here), and
Swagger UI, whose own markup's failures are excused by `SWAGGER_UI_EXCEPTIONS`
(each with its reason, and checked to still hold). Their keyboard journeys and
narrow widths: test_accessibility_outside_pages.py. Round 68: Swagger UI, the
heaviest page, was drawn here and twice there; it is swept there alone, in one walk
of its states (as drawn, at both of this sweep's widths, then an operation open), with
this sweep's checks and excuses (NOT_PAGES says so).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.routing import Map

from licensing import db, job_runs
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, Passkey, User
from licensing.accounts.views import BROWSER_COOKIE
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.app import create_app
from licensing.billing import services as billing_services
from licensing.billing.models import CreditNote, Invoice, StripeEvent
from licensing.calendar import office_date
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionLetter
from licensing.ratecards import services as ratecards
from licensing.royalties.periods import reporting_periods
from tests.browser.conftest import (
    accepted_agreement,
    course_term,
    listen_for_csp_violations,
    sign_in,
)
from tests.conftest import DatabaseTemplate, make_config
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE, draft
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.billing.dispute_support import WITHDRAWN, charge_of, deliver_dispute
from tests.integration.billing.stripe_support import (
    deliver_event,
    pay_by_card,
    signature_of,
    stripe_config,
    succeeded_event,
)
from tests.integration.permissions.conftest import request_input, routed_use, send_routed
from tests.integration.pricing.conftest import card_document, example_document
from tests.integration.royalties.conftest import SMALL_SOFTWARE, row
from tests.support import factories
from tests.support.agreements import issued_agreement, make_active_agreement
from tests.support.axe import (
    RUN_WITH_OWN,
    SCROLL_REGIONS_CAUGHT_UP,
    all_findings,
    excused_of,
    load_axe_into,
)
from tests.support.billing import credited
from tests.support.card_years import CardYears
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.first_quarter import TRAVEL_HOUR
from tests.support.remembered_browsers import CHROME_ON_LINUX
from tests.support.reporting_year import filed
from tests.support.servers import LiveServer, LocalStripe
from tests.support.settings import issuing, permission_sla_days
from tests.support.two_step import turn_on

WIDTHS = {"desktop": 1366, "phone": 375}

# GET routes that are not pages a person reads, each with the reason.
NOT_PAGES: dict[str, str] = {
    "static": "the app's CSS, scripts and images",
    "public.favicon": "an icon",
    "health.healthz": "liveness for the load balancer (plain text)",
    "health.readyz": "readiness for the load balancer (plain text)",
    "agreements.agreement_pdf": "a PDF download",
    "billing_documents.invoice_pdf": "a PDF download",
    "billing_documents.credit_note_pdf": "a PDF download",
    "billing_documents.kept_invoice_document": "a PDF download (a kept document, round 46)",
    "billing_documents.linked_invoice_pdf": "a PDF download",
    "billing_documents.linked_credit_note_pdf": "a PDF download",
    "billing_documents.linked_kept_document": "a PDF download (a kept document, round 47)",
    "billing_documents.linked_card_payment_status": "JSON the payment page polls",
    "billing.card_payment_status": "JSON the payment page polls",
    "permissions_console.console_letter": "a PDF download",
    "ratecards_console.download": "a JSON file download (the card, to draft the next from)",
    "permissions_portal.portal_letter": "a PDF download",
    "permissions_public.letter": "a PDF download",
    "royalties.portal_template": "a CSV download",
    "royalties.report_rows": "a CSV download",
    "audit_console.audit_log_csv": "a CSV download",
    "finance_console.monthly_report": "a PDF download",
    "billing.statement_pdf": "a PDF download",
    "billing_console.statement_pdf": "a PDF download",
    "permissions_public.confirm": "redirects to the status page (checked) or a link problem",
    "accounts.verify_email": "redirects to sign-in or shows the link problem page (checked)",
    "api-docs.openapi_swagger_ui": (
        "Swagger UI, the heaviest page: swept in one walk with its other states (as drawn "
        "at 1366 and 375 px, an operation open at 1366 and 320 px, its frame by keyboard), "
        "test_accessibility_outside_pages.py (round 68: it was drawn here and twice there)"
    ),
}


def page_endpoints(url_map: Map) -> set[str]:
    """Endpoints of the GET routes that answer with a page (the API answers JSON)."""
    return {
        rule.endpoint
        for rule in url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and not (rule.rule.startswith("/api/") and rule.endpoint != "api-docs.openapi_swagger_ui")
    }


@dataclass
class World:
    """The records the pages show, made through the real services."""

    vendor: str = ""
    empty_vendor: str = ""
    # A member (not an administrator) of the vendor's organization: its page read-only.
    member: str = ""
    # A billing member of it (round 21): the pages without the steps they may not take.
    billing_member: str = ""
    # The administrator of a suspended organization with an agreement issued to it:
    # its page says why it cannot be accepted instead of offering the form (round 23).
    suspended_vendor: str = ""
    # A vendor with two-step sign-in on: signing in asks for their code (round 25).
    two_step: str = ""
    # A vendor with two-step sign-in on whose tab's browser is remembered (round 28):
    # the password alone signs in, and the two-step page lists the browser.
    remembered: str = ""
    # Cookies a person's tab starts with, by email (the remembered browser's).
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)
    # Administrators of organizations that come to require two-step sign-in while
    # they are signed in without it: the form they send is held (round 27). One a
    # width: once required, their form's page is the set-up's.
    held_vendor: str = ""
    held_vendor_on_phone: str = ""
    licensing: str = ""
    billing: str = ""
    admin: str = ""
    all_roles: str = ""
    # Round 48: the licensee whose card payments' disputes were lost in part.
    disputed_vendor: str = ""
    ids: dict[str, Any] = field(default_factory=dict)
    # Round 48: next year's card, checked against this year's renewals (`_renewals`).
    next_card: dict[str, Any] = field(default_factory=dict)
    localstripe: LocalStripe | None = None
    # Withdraws a draft as if from another tab: its page's form then gets a 409.
    withdraw_elsewhere: Callable[[int], Callable[[], None]] = lambda _id: lambda: None
    # Requires two-step sign-in of the organization of the held vendor (by email),
    # as if its administrator did so in another tab: the form sent next is held (403).
    require_two_step: Callable[[str], Callable[[], None]] = lambda _email: lambda: None


# A part of the world a part of the sweep needs: it adds its records, people and ids.
Piece = Callable[[World, LiveServer], None]


def _first_id(model: Any, *where: Any) -> int:
    found = db.session().scalars(select(model.id).where(*where).order_by(model.id)).first()
    assert found is not None, model
    return int(found)


def _base(world: World, live_server: LiveServer) -> None:
    """What every part's pages show: the two cards, the vendor (Samira Haddad) and the
    four staff, her active agreement, its invoice credited 10.00 and paid 5.00 by wire,
    and the invoice's emailed link."""
    session = db.session()
    ratecards.import_card(example_document(), published_by="tests")
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    vendor = factories.make_vendor(session, full_name="Samira Haddad")
    staff = {
        role: factories.make_staff(session, roles=roles)
        for role, roles in (
            ("licensing", ("licensing",)),
            ("billing", ("billing",)),
            ("admin", ("admin",)),
            ("all", ("licensing", "billing", "admin")),
        )
    }
    session.commit()
    world.vendor = vendor.email
    world.licensing = staff["licensing"].email
    world.billing = staff["billing"].email
    world.admin = staff["admin"].email
    world.all_roles = staff["all"].email
    agreement = make_active_agreement(vendor, staff["licensing"], SMALL_SOFTWARE, now=NOW)
    invoice_id = _first_id(Invoice, Invoice.organization_id == vendor.organization_id)
    credited(invoice_id, "10.00", "Goodwill for a late start")
    wire = billing_services.record_offline_payment(
        invoice_id,
        method="wire",
        amount=Decimal("5.00"),
        reference="WIRE-ACCESS-1",
        actor=Actor.of(accounts.principal_for(staff["billing"])),
    )
    world.ids.update(
        agreement=agreement.id,
        invoice=invoice_id,
        credit_note=_first_id(CreditNote, CreditNote.invoice_id == invoice_id),
        payment=wire.id,
        organization=vendor.organization_id,
        user=vendor.id,
        message=_first_id(OutboxMessage),
        invoice_token=_token_in_mail(rf"/invoice-links/{invoice_id}/"),
    )


def _vendor(world: World) -> User:
    return db.session().scalars(select(User).where(User.email == world.vendor)).one()


def _people(world: World, live_server: LiveServer) -> None:
    """The vendor's colleagues and the other vendors whose pages differ: with no
    records, a member, a billing member, two-step sign-in on (and remembered), held,
    suspended with an agreement waiting; passkeys listed; a reset and an invitation."""
    session = db.session()
    vendor = _vendor(world)
    world.empty_vendor = factories.make_vendor(session).email
    member = factories.make_vendor(session, organization=vendor.organization, role="member")
    world.member = member.email
    world.billing_member = factories.make_vendor(
        session, organization=vendor.organization, role="billing"
    ).email
    with_two_step = factories.make_vendor(session)
    turn_on(with_two_step)
    world.two_step = with_two_step.email
    remembered = factories.make_vendor(session)
    turn_on(remembered)
    world.remembered = remembered.email
    # Round 45: listed passkeys, on the owner's two-step page (the remembered
    # vendor's, the vendor's) and the console's user page with its removal form.
    # Round 47: and the member's, on their administrator's page for removing them.
    for owner in (remembered, vendor, member):
        session.add(
            Passkey(
                user_id=owner.id,
                credential_id=f"sweep-{owner.id}",
                public_key=b"key",
                name="Work laptop",
            )
        )
    session.flush()
    world.cookies[remembered.email] = {
        BROWSER_COOKIE: accounts.remember_browser(remembered.id, CHROME_ON_LINUX, 30)
    }
    world.held_vendor = factories.make_vendor(session).email
    world.held_vendor_on_phone = factories.make_vendor(session).email
    session.commit()
    licensing = db.session().scalars(select(User).where(User.email == world.licensing)).one()
    refused = _refused_acceptance(session, licensing)
    world.suspended_vendor = refused.vendor
    from licensing.accounts.services import invitations, password_reset

    password_reset.request_password_reset(world.empty_vendor)
    principal = Actor.of(accounts.principal_for(vendor))
    invitations.invite_member(
        vendor.organization_id or 0, "new.colleague@northwind.example", principal
    )
    world.ids.update(
        member=member.id,
        refused_acceptance=refused.agreement_id,
        reset_token=_token_in_mail("/reset/"),
        invitation_token=_token_in_mail("/invitations/"),
    )

    def require_two_step(email: str) -> Callable[[], None]:
        def require() -> None:
            with live_server.app.app_context():
                held = db.session().scalars(select(User).where(User.email == email)).one()
                by = Actor.of(accounts.principal_for(held))
                accounts.require_for_organization(by, held.organization_id or 0, True)

        return require

    world.require_two_step = require_two_step


def _applications(world: World, live_server: LiveServer) -> None:
    """An application in review, a draft, and one stale draft a width (withdrawn in
    another tab while its page is open)."""
    principal = Actor.of(accounts.principal_for(_vendor(world)))
    in_review = agreements.create_draft(principal, draft(STAFF_USE))
    agreements.submit(in_review.id, principal, policy=issuing(), attest=True)
    a_draft = agreements.create_draft(principal, draft({**AUTO_USE, "product_name": "Draft"}))
    stale = [
        agreements.create_draft(principal, draft({**AUTO_USE, "product_name": f"Stale {n}"}))
        for n in WIDTHS
    ]
    world.ids.update(
        application=in_review.id,
        draft=a_draft.id,
        **{f"stale-{n}": application.id for n, application in zip(WIDTHS, stale, strict=True)},
    )

    def withdraw_elsewhere(application_id: int) -> Callable[[], None]:
        def withdraw() -> None:
            with live_server.app.app_context():
                agreements.withdraw(application_id, principal)

        return withdraw

    world.withdraw_elsewhere = withdraw_elsewhere


def _royalties(world: World, live_server: LiveServer) -> None:
    """The agreement's first period reported, on the day it may first be (its own
    periods, round 50: not the integration tests' 2027 `QUARTERS` and `AFTER`)."""
    agreement = db.session().get(Agreement, world.ids["agreement"])
    assert agreement is not None
    assert agreement.term_start is not None
    assert agreement.term_end is not None
    first = reporting_periods(agreement.term_start, agreement.term_end)[0]
    filing = filed(
        _vendor(world),
        agreement.id,
        first.start,
        [row(1, "A", quantity=100)],
        now=datetime.combine(first.first_filing_day, TRAVEL_HOUR),
    )
    assert filing.report is not None
    world.ids.update(report=filing.report.id, period=first.start.isoformat())


def _permissions(world: World, live_server: LiveServer) -> None:
    """A use routed to the permissions queue and approved (its letter), and a public
    educational request, confirmed."""
    vendor = _vendor(world)
    licensing = db.session().scalars(select(User).where(User.email == world.licensing)).one()
    # The course's days from the office's today (round 49: asked for 2027, its default
    # grant had ended from 1 January 2028, "The end of validity must follow its start").
    first, last = course_term()
    routed = send_routed(
        routed_use(
            vendor.organization_id or 0,
            vendor.organization.legal_name,
            term_start=first,
            term_end=last,
        )
    )
    permissions.approve(routed.id, Actor.of(accounts.principal_for(licensing)))
    confirmed = _confirmed(permissions.submit_request(request_input()).requester_email)
    world.ids.update(
        routed=routed.id,
        letter=_first_id(PermissionLetter, PermissionLetter.request_id == routed.id),
        public=confirmed.id,
        status_token=permissions.status_token(confirmed),
    )


def _failed_job(world: World, live_server: LiveServer) -> None:
    """`invoices overdue` ran two nights ago, then failed last night."""
    night = db.utcnow() - timedelta(days=2)
    for n, outcome in enumerate(
        (
            "0 overdue invoice(s); 0 reminder(s) sent",
            "failed: OperationalError: could not connect to server\nIs it running?",
        )
    ):
        at, run = night + timedelta(days=n), f"a{n:011x}"
        job_runs.started("invoices overdue", at, run)
        job_runs.finished(
            "invoices overdue", at + timedelta(seconds=42), ok=n == 0, outcome=outcome, run_id=run
        )


def _renewals(world: World, live_server: LiveServer) -> None:
    """Round 48: this year's card (ending a month from today, `CardYears`) and two of
    its agreements, one of an organization suspended since: a renewal due marked
    *suspended*, and next year's card to check (its effect marks the suspended one).
    Its own cards, so no `_base`: 2027.1 could be this year's or next year's."""
    years = CardYears.around(office_date(db.utcnow()))
    ratecards.import_card(
        card_document(
            version=years.this_version,
            effective_from=years.this_from.isoformat(),
            effective_to=years.this_to.isoformat(),
        ),
        published_by="tests",
    )
    session = db.session()
    staff = factories.make_staff(session, roles=("licensing", "billing", "admin"))
    licensees = [factories.make_vendor(session) for _ in range(2)]
    session.commit()
    world.all_roles = staff.email
    for n, licensee in enumerate(licensees):
        accepted_agreement(
            licensee,
            agreements.ApplicationDraft.from_fields(
                {
                    "term_start": years.this_from,
                    "term_end": years.this_to,
                    "uses": ({**AUTO_USE, "product_name": f"Scrubber {n + 1}"},),
                }
            ),
        )
    suspended = db.session().get(Organization, licensees[1].organization_id)
    accounts.change_standing(
        db.session(), suspended, "suspend", reason="The office is auditing.", actor=Actor.SYSTEM
    )
    db.session().commit()
    world.next_card = card_document(
        version=years.next_version,
        effective_from=years.next_from.isoformat(),
        effective_to=years.next_to.isoformat(),
    )


def _remainders(world: World, live_server: LiveServer) -> None:
    """Round 47's flagged card payments (299.99 received on a 300.00 invoice) whose
    charge the bank disputed for 100.00 and won: one to accept the remainder of, one
    whose remainder was accepted. Paid through localstripe, Stripe's events
    delivered signed to the webhook."""
    assert world.localstripe is not None
    session = db.session()
    licensee = factories.make_vendor(session)
    session.commit()
    world.disputed_vendor = licensee.email
    webhook = live_server.app.test_client()
    payments = []
    for n in range(2):
        invoice = send_activation(activated(licensee.organization_id or 0, ("300.00",)))
        assert invoice is not None
        payment = pay_by_card(invoice, licensee, world.localstripe)
        succeeded = copy.deepcopy(succeeded_event(world.localstripe, payment))
        succeeded["data"]["object"]["amount_received"] = 29999
        db.session().commit()
        assert deliver_event(webhook, succeeded).get_json()["outcome"].startswith("flagged")
        charge = charge_of(world.localstripe, payment)
        for kind, status in (("created", "needs_response"), ("closed", "lost")):
            deliver_dispute(
                webhook,
                payment,
                charge,
                kind,
                status,
                amount=10000,
                moved=(WITHDRAWN,),
                dispute_id=f"du_sweep{n}",
            )
        payments.append(payment.id)
        world.ids[f"remainder_invoice_{n}"] = invoice.id
    # Round 58 (replay58): a failed Stripe event's own page, with its two steps.
    broken = {
        "id": "evt_sweep_broken",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_sweep_broken", "amount": 100, "currency": "usd"}},
    }
    assert deliver_event(webhook, broken).status_code == 400
    # Round 59 (stripeevents59): a signed delivery that is no event, counted on the list.
    unread = b"<not an event>"
    assert (
        webhook.post("/webhooks/stripe", data=unread, headers=signature_of(unread)).status_code
        == 400
    )
    world.ids["stripe_event"] = (
        db.session()
        .scalars(select(StripeEvent.id).where(StripeEvent.event_id == broken["id"]))
        .one()
    )
    billing = db.session().scalars(select(User).where(User.email == world.billing)).one()
    billing_services.accept_remainder(
        payments[1],
        note="The bank kept its part; the rest is ours.",
        actor=Actor.of(accounts.principal_for(billing)),
    )
    world.ids.update(remainder_payment_0=payments[0], remainder_payment_1=payments[1])


def _make_world(live_server: LiveServer, area: Area, localstripe: LocalStripe) -> World:
    """The records the area's pieces make (after `_base`, unless it makes its own),
    through the real services."""
    world = World(localstripe=localstripe)
    with live_server.app.app_context():
        for piece in ((_base,) if area.base else ()) + area.pieces:
            piece(world, live_server)
    return world


@dataclass(frozen=True)
class RefusedAcceptance:
    vendor: str  # the suspended organization's administrator
    agreement_id: int  # issued to it before the suspension


def _refused_acceptance(session: Any, licensing_staff: Any) -> RefusedAcceptance:
    """An organization suspended with an agreement issued to it and not accepted."""
    held = factories.make_vendor(session, full_name="Ines Duarte")
    session.commit()
    waiting = issued_agreement(held, licensing_staff, AUTO_USE, now=NOW)
    accounts.change_standing(
        session,
        held.organization,
        "suspend",
        reason="The office is auditing its reports.",
        actor=Actor.SYSTEM,
    )
    session.commit()
    return RefusedAcceptance(held.email, waiting.id)


def _confirmed(email: str) -> Any:
    from tests.integration.permissions.conftest import last_mail

    found = re.search(r"/permissions/confirm/(\S+)", last_mail(email).body_text)
    assert found
    raw = found.group(1)
    return permissions.confirm_email(raw, sla_days=permission_sla_days())


def _token_in_mail(prefix: str) -> str:
    """The token of the newest emailed link whose path starts with `prefix`."""
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.body_text.contains(prefix))
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    )
    assert message is not None, prefix
    found = re.search(rf"{prefix}([^/\s]+)", message.body_text)
    assert found, prefix
    return found.group(1)


@dataclass
class Visit:
    """A page to check: its address, and what to do there first (fill a form)."""

    path: str
    status: int = 200
    # Steps taken from the page (send a form), each with the status its answer must
    # have; the page each step leads to is checked too.
    steps: tuple[tuple[Callable[[Any], int], int], ...] = ()
    widths: tuple[str, ...] = tuple(WIDTHS)
    # What to wait for before checking: a part a script draws (the card).
    ready: str = ""
    # Findings excused on this page, each with its reason (third-party markup).
    excused: dict[str, str] = field(default_factory=dict)


class Step:
    """A step taken from a page (a form sent), named for the sweep's list of what it
    walks (`SWEPT_LIST`)."""

    def __init__(self, label: str, act: Callable[[Any], int]) -> None:
        self.label = label
        self.act = act

    def __call__(self, tab: Any) -> int:
        return self.act(tab)


def _submit(
    button: str, first: Callable[[], None] = lambda: None, **values: str
) -> Callable[[Any], int]:
    """Send the page's form with `button`, its fields as they stand but for `values`
    (by element id), after `first` happened elsewhere."""

    def act(tab: Any) -> int:
        first()
        for element_id, value in values.items():
            tab.fill(f"#{element_id}", value)
        with tab.expect_navigation() as navigation:
            tab.get_by_role("button", name=button).first.click()
        tab.wait_for_load_state()
        return int(navigation.value.status)

    return Step(_step_label(button, first, values), act)


def _step_label(button: str, first: Callable[[], None], values: dict[str, str]) -> str:
    label = f"send {button!r}"
    if values:
        label += f" with {','.join(sorted(values))}"
    if first.__name__ != "<lambda>":
        label += f" after {first.__name__} elsewhere"
    return label


def _check_card(document: dict[str, Any]) -> Step:
    """Check `document` without publishing it, uploaded on the rate cards page; its
    effect must mark a renewal of a suspended licensee (the state walked)."""

    def act(tab: Any) -> int:
        tab.get_by_label("Rate card file (JSON)").set_input_files(
            {
                "name": "next.json",
                "mimeType": "application/json",
                "buffer": json.dumps(document).encode(),
            }
        )
        with tab.expect_navigation() as navigation:
            tab.get_by_role("button", name="Check without publishing").click()
        tab.wait_for_load_state()
        assert "licensee suspended: nothing drawn until reinstated" in tab.inner_text("main")
        return int(navigation.value.status)

    return Step("check next year's card", act)


def _send_passkey_form(tab: Any) -> int:
    """The sign-in page's passkey form posted with no answer (its script sends the
    browser's; the sweep has no authenticator): the refusal beside the button."""
    with tab.expect_navigation() as navigation:
        tab.evaluate("() => document.querySelector('form[data-passkey=\"sign-in\"]').submit()")
    tab.wait_for_load_state()
    return int(navigation.value.status)


# The sweep in parts (round 48): each part walks one area's pages in a test of its
# own, on a server and world of its own made of the pieces it needs, so that no part
# runs long and xdist spreads the parts over its workers. What each visits: the
# functions below; together, exactly `SWEPT_LIST`
# (test_the_parts_walk_every_page_and_state_on_the_swept_list).
Visits = dict[str, list[Visit]]  # who (an email, or "" for the public): their visits


def _public_sign_in(world: World) -> Visits:
    """Signing in, up, resetting a password, an invitation: forms and their refusals."""
    i = world.ids
    return {
        "": [
            Visit("/sign-in"),
            Visit("/sign-in", steps=((_submit("Sign in"), 422),)),
            # A passkey refused, beside its button (round 45).
            Visit("/sign-in", steps=((_send_passkey_form, 422),)),
            # The right password of an account with two-step sign-in: its code's page,
            # which the next two visits check (the step waits 5 minutes, in this tab).
            Visit(
                "/sign-in",
                steps=((_submit("Sign in", email=world.two_step, password=DEFAULT_PASSWORD), 200),),
            ),
            Visit("/sign-in/code"),
            Visit("/sign-in/code", steps=((_submit("Sign in"), 422),)),
            Visit("/sign-up"),
            Visit("/sign-up", steps=((_submit("Create the account"), 422),)),
            Visit("/reset"),
            Visit(f"/reset/{i['reset_token']}"),
            Visit(f"/reset/{i['reset_token']}", steps=((_submit("Save the password"), 422),)),
            Visit("/reset/not-a-real-token", 400),
            Visit("/verify-email"),
            Visit(f"/invitations/{i['invitation_token']}"),
            Visit(
                f"/invitations/{i['invitation_token']}",
                steps=((_submit("Create my account"), 422),),
            ),
            Visit("/invitations/not-a-real-token", 400),
        ]
    }


def _public_pages(world: World) -> Visits:
    """The public's other pages: the estimate, a permission request, an invoice's
    emailed link and its card payment, the mail viewer, the 404 (Swagger UI: NOT_PAGES)."""
    i = world.ids
    return {
        "": [
            Visit("/"),
            Visit("/estimate"),
            Visit("/estimate?use=development&uses-0-quantity-end_users=-5"),
            Visit("/permissions/request"),
            Visit("/permissions/request", steps=((_submit("Send the request"), 422),)),
            Visit("/permissions/request/sent"),
            Visit(f"/permissions/status/{i['status_token']}"),
            Visit("/permissions/status/not-a-real-token", 404),
            Visit(f"/invoice-links/{i['invoice']}/{i['invoice_token']}"),
            Visit(
                f"/invoice-links/{i['invoice']}/{i['invoice_token']}/pay",
                ready="#card-element input",
            ),
            Visit("/dev/mail/"),
            Visit("/no-such-page", 404),
        ]
    }


def _portal_applications(world: World) -> Visits:
    """A vendor's applications: new, saved, refused, submitted, withdrawn elsewhere."""
    i = world.ids
    return {
        world.vendor: [
            Visit("/portal/"),
            Visit("/portal/applications"),
            Visit(f"/portal/applications/{i['application']}"),
            Visit("/portal/applications/new"),
            # Saved (a draft may be incomplete): the application's page with a status message.
            Visit("/portal/applications/new", steps=((_submit("Save the draft"), 200),)),
            Visit(
                "/portal/applications/new",
                steps=(
                    (
                        _submit("Save the draft", term_start="2027-12-31", term_end="2027-01-01"),
                        422,
                    ),
                ),
            ),
            Visit(f"/portal/applications/{i['draft']}/edit"),
            # Submitted without the attestation: the application's page with its message.
            Visit(
                f"/portal/applications/{i['draft']}",
                steps=((_submit("Submit for pricing and review"), 422),),
            ),
            # Refused with a message (role=alert): a submitted application cannot be edited.
            Visit(f"/portal/applications/{i['application']}/edit"),
            *(
                Visit(
                    f"/portal/applications/{i[f'stale-{width}']}",
                    steps=(
                        (_submit("Withdraw the application"), 200),  # are you sure?
                        (
                            _submit(
                                "Withdraw the application",
                                world.withdraw_elsewhere(i[f"stale-{width}"]),
                            ),
                            409,
                        ),
                    ),
                    widths=(width,),
                )
                for width in WIDTHS
            ),
            Visit("/portal/applications/999999", 404),
        ]
    }


def _portal_records(world: World) -> Visits:
    """A vendor's agreements, invoices (and paying one), statement, permissions and
    royalty reports; the same lists empty; a billing member's and a suspended
    organization's differences."""
    i = world.ids
    return {
        world.vendor: [
            Visit("/portal/agreements"),
            Visit(f"/portal/agreements/{i['agreement']}"),
            Visit("/portal/invoices"),
            # Overdue only (round 50): the reminder's link.
            Visit("/portal/invoices?overdue=1"),
            Visit(f"/portal/invoices/{i['invoice']}"),
            Visit(f"/portal/invoices/{i['invoice']}/pay", ready="#card-element input"),
            Visit("/portal/statement"),
            Visit("/portal/statement?to=31/12/2026", 422),
            Visit("/portal/permissions/"),
            Visit(f"/portal/permissions/{i['routed']}"),
            Visit("/portal/royalty-reports"),
            # periods62: only the periods still owed on.
            Visit("/portal/royalty-reports?state=owing"),
            Visit(f"/portal/royalty-reports/{i['agreement']}/{i['period']}"),
            Visit(f"/portal/royalty-reports/report/{i['report']}"),
        ],
        world.empty_vendor: [
            Visit("/portal/"),
            Visit("/portal/applications"),
            Visit("/portal/agreements"),
            Visit("/portal/invoices"),
            Visit("/portal/invoices?overdue=1"),
            Visit("/portal/royalty-reports"),
            Visit("/portal/permissions/"),
        ],
        # The two pages whose parts differ for a billing member (the same templates
        # are visited at both widths above); desktop only, to keep the sweep short.
        world.billing_member: [
            Visit("/portal/", widths=("desktop",)),
            Visit(f"/portal/agreements/{i['agreement']}", widths=("desktop",)),
        ],
        # The paragraph that takes the acceptance form's place (`#accept-refused`).
        world.suspended_vendor: [
            Visit(f"/portal/agreements/{i['refused_acceptance']}", ready="#accept-refused")
        ],
    }


def _portal_account(world: World) -> Visits:
    """The organization's and the person's own pages, the vendor refused the console;
    a member's, a remembered browser's and a held form's."""
    i = world.ids
    return {
        world.vendor: [
            Visit("/organization"),
            # A member's passkeys, their administrator's removal form refused without a
            # reason, and its confirmation (round 47).
            Visit(f"/organization/members/{i['member']}/passkeys"),
            Visit(
                f"/organization/members/{i['member']}/passkeys",
                steps=((_submit("Remove the passkeys"), 422),),
            ),
            # Sent with a reason: the confirmation naming the passkey, what ends and the
            # reason (round 48; not confirmed, so the phone's walk finds it again).
            Visit(
                f"/organization/members/{i['member']}/passkeys",
                steps=(
                    (
                        _submit(
                            "Remove the passkeys", **{"passkey-removal-reason": "Left on a train."}
                        ),
                        200,
                    ),
                ),
            ),
            Visit(f"/organizations/{i['organization']}"),
            Visit("/account/"),
            Visit("/account/", steps=((_submit("Change the password"), 422),)),
            Visit("/account/tokens"),
            Visit("/account/two-step/", steps=((_submit("Turn two-step sign-in on"), 422),)),
            Visit("/console/", 403),
        ],
        world.member: [Visit("/organization")],
        # Two-step sign-in on, with this browser remembered: the list of browsers.
        world.remembered: [Visit("/account/two-step/")],
        # The held page (a form sent once two-step sign-in is required, 403), with
        # the fields it sends again: one person a width (see `World.held_vendor`).
        **{
            email: [
                Visit(
                    "/organization",
                    steps=(
                        (
                            _submit(
                                "Send the invitation",
                                world.require_two_step(email),
                                email="newcomer@northwind.example",
                            ),
                            403,
                        ),
                    ),
                    widths=(width,),
                )
            ]
            for width, email in zip(
                WIDTHS, (world.held_vendor, world.held_vendor_on_phone), strict=True
            )
        },
    }


def _console_licensing(world: World) -> Visits:
    """The licensing office's console: applications, agreements, permissions, rate
    cards, royalty reports; a licensing officer's home and refusal."""
    i = world.ids
    return {
        world.all_roles: [
            Visit("/console/"),
            Visit("/console/applications"),
            Visit(f"/console/applications/{i['application']}"),
            Visit(
                f"/console/applications/{i['application']}",
                steps=((_submit("Add the note"), 422),),
            ),
            Visit("/console/applications/reconsideration-open"),
            Visit("/console/agreements"),
            Visit(f"/console/agreements/{i['agreement']}"),
            Visit("/console/agreements/renewals-due"),
            # Round 59 (expired59): the licences that ended without a renewal.
            Visit("/console/agreements/expired-unrenewed"),
            # Round 60 (agreements60): those the expiry run left active past their term.
            Visit("/console/agreements/past-term"),
            Visit("/console/permissions/"),
            Visit(f"/console/permissions/{i['routed']}"),
            Visit(f"/console/permissions/{i['public']}"),
            Visit("/console/rate-cards/"),
            Visit("/console/rate-cards/2027.1"),
            Visit("/console/rate-cards/compare?old=2027.1&new=2028.1"),
            Visit("/console/royalty-reports"),
            Visit(f"/console/royalty-reports/{i['report']}"),
        ],
        world.licensing: [Visit("/console/"), Visit("/console/users", 403)],
    }


def _console_billing(world: World) -> Visits:
    """Billing's console: invoices, payments, disputes, statements, the finance
    dashboard, exports, organizations; a billing clerk's home and refusal."""
    i = world.ids
    return {
        world.all_roles: [
            Visit("/console/exports"),
            Visit("/console/finance/"),
            Visit("/console/invoices"),
            # Each filter given twice: refused beside its field.
            Visit("/console/invoices?q=a&q=b&state=paid&state=open&overdue=1&overdue=1", 400),
            # Round 50: those a bank's dispute holds, and that filter refused beside it.
            Visit("/console/invoices?held=1"),
            Visit("/console/invoices?held=1&held=1", 400),
            # Round 58: an aging row's invoices on a day, and a day the list cannot read.
            Visit("/console/invoices?owing_on=2027-03-31&aging=1_30&currency=USD"),
            Visit("/console/invoices?from=2027-01&to=2027-03&state=invoiced&currency=USD"),
            Visit("/console/invoices?owed_back_on=soon", 422),
            Visit("/console/finance/?from=2027-13-01", 400),
            # Round 60 (linesfig60): the invoice lines behind revenue by classification,
            # and a kind the list does not offer refused beside its field.
            Visit("/console/finance/lines?from=2027-01&to=2027-12&currency=USD&kind=license"),
            Visit("/console/finance/lines?kind=rent", 422),
            Visit(f"/console/invoices/{i['invoice']}"),
            Visit("/console/invoices/overdue"),
            Visit("/console/disputes"),
            # Round 49: every card payment to review, the invoice list's newest 10 linked.
            Visit("/console/payments/to-review"),
            # Round 56 (refundlist56): every refund in one place, and a month refused.
            Visit("/console/refunds"),
            Visit("/console/refunds?month=2027-13", 422),
            Visit("/console/billing/statements-changed"),
            Visit(f"/console/payments/{i['payment']}"),
            # Round 56: a credit note's own page.
            Visit(f"/console/credit-notes/{i['credit_note']}"),
            # Round 57 (creditlist57): every credit note in one place, and a range refused.
            Visit("/console/credit-notes"),
            Visit("/console/credit-notes?from=2027-05&to=2027-03", 422),
            # Round 57 (payments57): every payment in one place, and a state refused.
            Visit("/console/payments"),
            Visit("/console/payments?state=lost", 422),
            # Round 58 (stripeevents58): every Stripe event, and a kind refused.
            Visit("/console/stripe-events"),
            Visit("/console/stripe-events?kind=lost", 422),
            # Round 59 (stripeevents59): the events about one Stripe id.
            Visit("/console/stripe-events?q=pi_sweep_broken"),
            # Round 60 (stripe60): every delivery not read (the world has one), and a
            # day refused.
            Visit("/console/stripe-events/unreadable"),
            Visit("/console/stripe-events/unreadable?day=2027-13-01", 422),
            # Round 61 (payments61): a range of days, and one backwards.
            Visit("/console/stripe-events/unreadable?from=2027-03-01&to=2027-03-31"),
            Visit("/console/stripe-events/unreadable?from=2027-03-31&to=2027-03-01", 422),
            Visit("/console/organizations"),
            Visit(f"/console/organizations/{i['organization']}"),
            Visit(f"/console/organizations/{i['organization']}/statement"),
            # The range backwards: the form with the field's message.
            Visit(
                f"/console/organizations/{i['organization']}/statement"
                "?from=2026-12-01&to=2026-11-01",
                422,
            ),
        ],
        world.billing: [Visit("/console/"), Visit("/console/applications", 403)],
    }


def _console_admin(world: World) -> Visits:
    """The administrator's console: the audit log, the outbox, the jobs, the users
    (a person's passkeys); the staff's own account pages; an admin's home."""
    i = world.ids
    return {
        world.all_roles: [
            Visit("/console/audit"),
            Visit("/console/audit?actor=nobody-at-all"),
            Visit("/console/outbox"),
            Visit(f"/console/outbox/{i['message']}"),
            Visit("/console/jobs"),
            Visit("/console/jobs/outbox%20send"),
            # A job whose last run failed: its row highlighted with its error (round 48).
            Visit(
                "/console/jobs/invoices%20overdue",
                ready="text=OperationalError: could not connect to server",
            ),
            Visit("/console/users"),
            Visit(f"/console/users/{i['user']}"),
            # The office's removal of a person's passkeys without a reason (round 45).
            Visit(f"/console/users/{i['user']}", steps=((_submit("Remove the passkeys"), 422),)),
            Visit("/account/"),
            Visit("/account/tokens"),
            # Setting up two-step sign-in: the QR code, the key in groups, the code's form.
            Visit("/account/two-step/"),
        ],
        world.admin: [Visit("/console/")],
    }


def _console_renewals(world: World) -> Visits:
    """Round 48: a suspended licensee among the renewals due (its badge and
    sentence), and next year's card checked (its effect marks the renewal)."""
    return {
        world.all_roles: [
            Visit("/console/agreements/renewals-due", ready="td .badge.state-suspended"),
            Visit("/console/rate-cards/", steps=((_check_card(world.next_card), 200),)),
        ]
    }


def _billing_remainders(world: World) -> Visits:
    """Round 48: a flagged payment whose dispute of part of it was lost, with the
    *Accept the remainder* panel on the console's payment and invoice pages; one
    whose remainder was accepted, there and on the licensee's invoice page."""
    i = world.ids
    offered = "form[action$='/accept-remainder'] textarea"
    accepted = "text=was accepted on"  # the Received row, in staff's words
    return {
        world.all_roles: [
            Visit("/console/"),
            Visit("/console/invoices"),
            Visit(f"/console/payments/{i['remainder_payment_0']}", ready=offered),
            Visit(f"/console/invoices/{i['remainder_invoice_0']}", ready=offered),
            Visit(f"/console/payments/{i['remainder_payment_1']}", ready=accepted),
            Visit(f"/console/invoices/{i['remainder_invoice_1']}"),
            # Round 58 (replay58): a failed Stripe event, Apply again and Mark looked at.
            Visit(f"/console/stripe-events/{i['stripe_event']}"),
        ],
        world.disputed_vendor: [
            Visit(f"/portal/invoices/{i['remainder_invoice_0']}"),
            Visit(
                f"/portal/invoices/{i['remainder_invoice_1']}",
                ready="text=left counts against the invoice",  # the licensee's words
            ),
        ],
    }


@dataclass(frozen=True)
class Area:
    """A part of the sweep: the world's pieces it needs (after `_base`), its visits."""

    pieces: tuple[Piece, ...]
    visits: Callable[[World], Visits]
    base: bool = True


AREAS: dict[str, Area] = {
    "public-sign-in": Area((_people,), _public_sign_in),
    "public-pages": Area((_permissions,), _public_pages),
    "portal-applications": Area((_applications,), _portal_applications),
    "portal-records": Area((_people, _permissions, _royalties), _portal_records),
    "portal-account": Area((_people,), _portal_account),
    "console-licensing": Area((_applications, _permissions, _royalties), _console_licensing),
    "console-billing": Area((), _console_billing),
    "console-admin": Area((_people, _failed_job), _console_admin),
    "console-renewals": Area((_renewals,), _console_renewals, base=False),
    "billing-remainders": Area((_remainders,), _billing_remainders),
}

# What the parts walk together, a line a visit and width: who, the width, the status
# the page answers, its address with the world's ids named, the forms sent from it,
# and (round 49) what it waits for before checking and the findings it excuses.
# Made from round 47's one-test sweep; a part may add to it, never drop from it.
SWEPT_LIST = Path(__file__).with_name("accessibility_sweep_pages.txt")


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    # Eight people sign in and forms are sent empty twice each, all from one address.
    # Card payments through localstripe (the pay pages) and the development mail
    # viewer are on, so their pages are visited too.
    return {
        "auth_rate_limit": "200 per minute",
        "quote_rate_limit": "off",
        "dev_mail_viewer": True,
        **stripe_config(localstripe),
    }


@pytest.fixture
def tabs(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """One tab for the part's people, each in turn, in one browser context (round 66:
    a context each, some 0.3 s of Chromium and the driver a person; round 67: a tab
    each, a renderer started and Playwright's set-up of a page, 0.3 to 0.5 s a person:
    21 people a sweep, 10 tabs now). Between two people the context's cookies are cleared
    and the person's own added (the remembered browser's), and the tab's
    `sessionStorage` on this server is emptied: what a person's pages see of the
    browser is their own cookies and an empty `sessionStorage`, as in a new tab of a
    context of their own (the service keeps nothing else in the browser:
    `error-summary.js` keeps a way back in the tab's `sessionStorage`; signed-in pages
    are answered `no-store`). axe-core is loaded into every page the context opens,
    once."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": WIDTHS["desktop"], "height": 800}
    )
    context.set_default_timeout(15_000)
    load_axe_into(context)
    tab = context.new_page()
    # Round 68: the tab is watched for Content-Security-Policy violations, as every
    # test's `page` is: the sweep loads every page, in each of its states, as each
    # person, so it is test_security_headers.py's walk of the public pages and of
    # each person's menu too (that module loaded them again for this one check).
    violations = listen_for_csp_violations(tab)

    def open_as(email: str, cookies: dict[str, str] | None = None) -> Any:
        if tab.url != "about:blank":
            # Every visit's page is this server's (the pay page's card in a frame of
            # its own): its storage is the one the last person's pages wrote to.
            assert tab.url.startswith(live_server.url + "/"), tab.url
            tab.evaluate("() => sessionStorage.clear()")
        context.clear_cookies()
        context.add_cookies(
            [
                {"name": name, "value": value, "url": live_server.url}
                for name, value in (cookies or {}).items()
            ]
        )
        if email:
            # Round 64: signed in by the tab's own requests (`sign_in`), not on the
            # form: the form and the page it lands on were drawn for each person,
            # two pages a person that no check read (public-sign-in checks the form).
            sign_in(tab, email)
        return tab

    open_as.csp_violations = violations  # type: ignore[attr-defined]
    yield open_as
    context.close()


def _check(tab: Any, visit: Visit, checked: set[str]) -> str | None:
    """The visit's page loaded once, at the tab's width where the visit has it, and
    checked at each of its widths (`_at_each_width`); then each step sent from it, and
    the page it leads to checked likewise."""
    widths = sorted(visit.widths, key=lambda name: WIDTHS[name] != _width(tab))
    if _width(tab) != WIDTHS[widths[0]]:
        tab.set_viewport_size({"width": WIDTHS[widths[0]], "height": 800})
    response = tab.goto(visit.path)
    if response is None or response.status != visit.status:
        return f"{visit.path}: answered {response and response.status}, not {visit.status}"
    if visit.ready:
        tab.wait_for_selector(visit.ready)
    problems = [_at_each_width(tab, widths, visit.excused, checked)]
    for step, expected in visit.steps:
        if (status := step(tab)) != expected:
            return f"{visit.path}: a form on it answered {status}, not {expected}"
        widths.reverse()  # the step's page opens at the width the last check left
        problems.append(_at_each_width(tab, widths, visit.excused, checked))
    found = "\n".join(problem for problem in problems if problem)
    return found or None


def _width(tab: Any) -> int:
    return int(tab.viewport_size["width"])


def _at_each_width(tab: Any, widths: list[str], excused: dict[str, str], checked: set[str]) -> str:
    """The page as it is now checked at each of `widths` in turn, the window resized
    between (round 63: not loaded again a width), unless a state the same in every
    respect was already checked in this part (`_STATE`)."""
    problems = []
    for name in widths:
        if _width(tab) != WIDTHS[name]:
            tab.set_viewport_size({"width": WIDTHS[name], "height": 800})
            tab.wait_for_function(SCROLL_REGIONS_CAUGHT_UP)
        # Round 65: the state, and unless it was checked, axe's and the own checks'
        # findings, in one round trip rather than three.
        state, found = tab.evaluate(_STATE_THEN_FINDINGS, sorted(checked))
        if found == "checked":
            continue
        checked.add(state)
        if problem := _problems(tab, excused, found):
            problems.append(f"[{name}] {problem}")
    return "\n".join(problems)


# What axe and the sweep's own checks read of a page, as one digest: the address,
# the width, the markup as it stands (the CSRF token, new each answer, left out),
# which element has the focus and where the window is scrolled. Two states alike in
# all of these get the same findings, so the second is not checked again: a page
# loaded only to send a form from it, as an earlier visit left it, is checked once a
# part (32 of SWEPT_LIST's 314 lines send a form from a page another line checks).
_STATE = r"""
async () => {
  const copy = document.documentElement.cloneNode(true);
  for (const token of copy.querySelectorAll("input[name=csrf_token]")) {
    token.setAttribute("value", "");
  }
  const active = document.activeElement;
  const state = [location.href, innerWidth, innerHeight, scrollX, scrollY,
    active ? [...document.querySelectorAll("*")].indexOf(active) : -1, copy.outerHTML].join("\n");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(state));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
"""


_STATE_THEN_FINDINGS = f"""
async (checked) => {{
  const state = await ({_STATE.strip()})();
  return [state, checked.includes(state) ? "checked" : await ({RUN_WITH_OWN})()];
}}
"""


def _problems(tab: Any, excused: dict[str, str], found: list[Any] | None) -> str:
    """The findings taken with the state (`found`, None where the page had no axe
    yet: taken again once it has) less those `excused`, as one problem."""
    every_violation, own = (found[0], found[1]) if found is not None else all_findings(tab)
    _, lines = excused_of(every_violation, own, excused)
    found = "\n".join(line for line in lines if line)
    return f"{tab.url}:\n{found}" if found else ""


@pytest.mark.parametrize("area", AREAS)
def test_every_page_a_user_reaches_has_no_moderate_or_worse_accessibility_problem(
    area: str, tabs: Callable[..., Any], live_server: LiveServer, localstripe: LocalStripe
) -> None:
    world = _make_world(live_server, AREAS[area], localstripe)
    problems: list[str] = []
    checked: set[str] = set()  # the page states checked so far (`_STATE`)
    for email, visits in AREAS[area].visits(world).items():
        tab = tabs(email, world.cookies.get(email))
        for visit in visits:
            if problem := _check(tab, visit, checked):
                problems.append(problem)
    if violations := tabs.csp_violations:  # type: ignore[attr-defined]
        problems.append("Content-Security-Policy violations:\n" + "\n".join(violations))
    assert not problems, "\n".join(problems)


def _endpoint(adapter: Any, path: str) -> str:
    try:
        endpoint, _ = adapter.match(path.split("?", 1)[0], method="GET")
    except Exception:
        return ""
    return str(endpoint)


# Every id the parts' visits name.
IDS = (
    "agreement",
    "application",
    "draft",
    "stale-desktop",
    "stale-phone",
    "invoice",
    "credit_note",
    "payment",
    "report",
    "period",
    "routed",
    "letter",
    "public",
    "organization",
    "user",
    "member",
    "message",
    "refused_acceptance",
    "status_token",
    "invoice_token",
    "reset_token",
    "invitation_token",
    "remainder_invoice_0",
    "remainder_invoice_1",
    "remainder_payment_0",
    "remainder_payment_1",
    "stripe_event",
)


def _stand_in_world(ids: dict[str, Any]) -> World:
    """A world of stand-ins: each person's email is their field's name (a distinct
    one for every person: two alike would be one key of an area's visits, and the
    second's visits would silently replace the first's, as round 21's billing member,
    left empty, replaced the anonymous visitor's); the ids `ids`."""
    world = World(**{person.name: person.name for person in fields(World) if person.type == "str"})
    world.ids = ids

    def withdraw_elsewhere(_id: int) -> Callable[[], None]:
        def withdraw() -> None: ...

        return withdraw

    def require_two_step(_email: str) -> Callable[[], None]:
        def require() -> None: ...

        return require

    world.withdraw_elsewhere = withdraw_elsewhere
    world.require_two_step = require_two_step
    return world


def _swept(world: World) -> list[tuple[str, Visit]]:
    """Who visits what, over every part."""
    return [
        (who, visit)
        for area in AREAS.values()
        for who, visits in area.visits(world).items()
        for visit in visits
    ]


def _label(step: Callable[[Any], int]) -> str:
    return step.label if isinstance(step, Step) else step.__name__


def _swept_line(who: str, width: str, visit: Visit) -> str:
    """A visit's line on `SWEPT_LIST`: who, the width, the status, the address, then
    where the visit has them the forms it sends, what it waits for before checking
    (`wait for <selector>`) and the findings it excuses (`excusing <rule>, ...`).
    Round 49: a changed selector or excuse showed nowhere in the list."""
    return "\t".join(
        part
        for part in (
            who or "public",
            width,
            str(visit.status),
            visit.path,
            " > ".join(f"{_label(step)} -> {status}" for step, status in visit.steps),
            f"wait for {visit.ready}" if visit.ready else "",
            f"excusing {', '.join(sorted(visit.excused))}" if visit.excused else "",
        )
        if part
    )


def _swept_lines(world: World) -> list[str]:
    """`SWEPT_LIST`'s lines for the parts' visits (ids as `{name}`)."""
    return sorted(
        _swept_line(who, width, visit) for who, visit in _swept(world) for width in visit.widths
    )


def test_the_parts_walk_every_page_and_state_on_the_swept_list() -> None:
    listed = SWEPT_LIST.read_text(encoding="utf-8").splitlines()
    walked = _swept_lines(_stand_in_world({name: f"{{{name}}}" for name in IDS}))
    dropped = sorted(set(listed) - set(walked))
    assert not dropped, f"on {SWEPT_LIST.name} and walked by no part: {dropped}"
    unlisted = sorted(set(walked) - set(listed))
    assert not unlisted, f"walked and not on {SWEPT_LIST.name} (add them): {unlisted}"


def test_a_visit_s_line_names_what_it_waits_for_and_the_findings_it_excuses() -> None:
    visit = Visit("/api/v1/docs", ready="#swagger-ui-container .opblock")
    waiting = "public\tphone\t200\t/api/v1/docs\twait for #swagger-ui-container .opblock"
    assert _swept_line("", "phone", visit) == waiting
    # Another selector, or an excuse added, is another line: the list test fails.
    assert _swept_line("", "phone", Visit("/api/v1/docs", ready="#swagger-ui")) != waiting
    excusing = Visit(visit.path, ready=visit.ready, excused={"th-scope": "", "region": ""})
    assert _swept_line("", "phone", excusing) == f"{waiting}\texcusing region, th-scope"
    sent = Visit("/sign-in", 200, ((Step("send 'Sign in' empty", lambda _tab: 422), 422),))
    assert _swept_line("", "desktop", sent) == (
        "public\tdesktop\t200\t/sign-in\tsend 'Sign in' empty -> 422"
    )


@pytest.fixture
def url_map(sqlite_template: DatabaseTemplate) -> Iterator[Map]:
    """The app's routes, which are the same on either backend (round 63: the test ran
    on PostgreSQL too, starting its server for the routes alone)."""
    application = create_app(make_config(sqlite_template.url))
    yield application.url_map
    application.extensions["licensing.db"].engine.dispose()


def test_every_page_of_the_url_map_is_checked_or_left_out_for_a_reason(url_map: Map) -> None:
    endpoints = page_endpoints(url_map)
    stale = {name for name in NOT_PAGES if name not in endpoints and not name.startswith("dev_")}
    assert not stale, f"NOT_PAGES names routes that no longer exist: {sorted(stale)}"
    world = _stand_in_world(dict.fromkeys(IDS, 1))
    world.ids.update(period="2027-01-01")
    world.ids.update(
        dict.fromkeys(("status_token", "invoice_token", "reset_token", "invitation_token"), "t")
    )
    adapter = url_map.bind("localhost")
    visited = {_endpoint(adapter, visit.path) for _, visit in _swept(world) if visit.status == 200}
    missing = endpoints - visited - set(NOT_PAGES)
    assert not missing, (
        f"pages no accessibility check visits: {sorted(missing)}; add a Visit to a part of "
        "tests/browser/test_accessibility_pages.py or a reason in NOT_PAGES"
    )
