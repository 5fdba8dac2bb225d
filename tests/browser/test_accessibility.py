"""What the page-by-page sweep (test_accessibility_pages.py) found, each checked on the
page where it was found: scrolling tables reached by keyboard, links that say what they
download, refusals announced as alerts and tied to their fields, the focus ring's
contrast, refused forms' titles, and the statements' pages (axe, serious or worse, on
each). Round 68: axe on the main pages as the public, a vendor and staff see them is
the sweep's alone (it checks each of those states at both widths)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.app import create_app
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.ratecards import services as ratecards
from tests.browser.conftest import sign_in
from tests.conftest import DatabaseTemplate, make_config
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.axe import (
    assert_accessible,
    luminance,
    own_findings,
)
from tests.support.servers import LiveServer, SMTPServer
from tests.support.settings import issuing

# Round 63: each test built a server and a database of its own (about a second of
# set-up and shut-down apiece) and made again the same vendor, invoice, statement
# and application. Now the tests that only read pages share one server and the
# people and records `_Shared` makes once; a test that changes what another reads
# (a statement sent again, a payment recorded) is marked `_own_server` and gets a
# server and database of its own, as before. Each test keeps its own browser
# context. The module runs on one worker (`xdist_group`), so it is all made once.
pytestmark = pytest.mark.xdist_group("accessibility")

Test = TypeVar("Test", bound=Callable[..., None])


def _own_server(test: Test) -> Test:
    """A test that changes what other tests read: a server and database of its own."""
    test.own_server = True  # type: ignore[attr-defined]
    return test


def _served(template: DatabaseTemplate, smtp_server: SMTPServer) -> Iterator[LiveServer]:
    """The app on a fresh SQLite database, served on a loopback port, as the
    browser tests' `live_server`: CSRF on, mail sent. Sign-ins are not counted
    against the rate limit: a module's tests sign in more than ten times a minute."""
    config = make_config(
        template.new_url(),
        smtp_url=smtp_server.url,
        send_mail_after_request=True,
        overrides={},
        auth_rate_limit="off",
    )
    server = LiveServer(create_app(config)).start()
    server.app.config["LICENSING"] = dataclasses.replace(
        server.app.config["LICENSING"], public_url=server.url
    )
    yield server
    server.stop()
    server.app.extensions["licensing.db"].engine.dispose()


@pytest.fixture(scope="module")
def shared_server(
    sqlite_template: DatabaseTemplate, smtp_server: SMTPServer
) -> Iterator[LiveServer]:
    yield from _served(sqlite_template, smtp_server)


@pytest.fixture
def live_server(
    request: pytest.FixtureRequest, sqlite_template: DatabaseTemplate, smtp_server: SMTPServer
) -> Iterator[LiveServer]:
    """The module's shared server, or for an `_own_server` test a server of its own."""
    if getattr(request.function, "own_server", False):
        yield from _served(sqlite_template, smtp_server)
    else:
        yield request.getfixturevalue("shared_server")


NOVEMBER_20 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class _Shared:
    """What the read-only tests look at: a vendor with an invoice issued on
    November 20 and November's statement emailed to them, another vendor's
    application submitted (on the example card), and billing and licensing staff."""

    vendor_email: str
    invoice: Invoice
    applicant_email: str
    submitted_id: int
    staff: dict[str, str]


def _made(app: Flask) -> _Shared:
    with app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(
            activated(vendor.organization_id or 0, ("900.00",), at=NOVEMBER_20)
        )
        assert invoice is not None
        run = billing.send_monthly_statements(
            date(2026, 11, 1), now=datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
        )
        assert len(run.sent) == 1
        applicant_email, submitted_id = _submitted_application()
        staff = {
            role: factories.make_staff(db.session(), roles=(role,)).email
            for role in ("billing", "licensing")
        }
        return _Shared(vendor.email, invoice, applicant_email, submitted_id, staff)


@pytest.fixture(scope="module")
def _made_once(shared_server: LiveServer) -> _Shared:
    return _made(shared_server.app)


@pytest.fixture
def shared(live_server: LiveServer, _made_once: _Shared) -> _Shared:
    return _made_once


# Round 68: three tests ran axe (serious or worse) on pages the sweep checks at both
# widths with moderate or worse (test_accessibility_pages.py, its lines in
# accessibility_sweep_pages.txt): the public home, estimator, sign-in, the estimator
# with a bad quantity and a refused sign-in (its public parts); a vendor's dashboard
# and invoice (vendor); the console and an invoice for staff (admin, all_roles). They
# walked those pages a second time for the same check, and are gone. So is the finance
# page's `landmark-unique` check (round 7): the sweep's run of axe on /console/finance/
# (all_roles, both widths) reports it, a moderate finding.


# --- Round 7: what the page-by-page sweep (test_accessibility_pages.py) found ------


def _submitted_application() -> tuple[str, int]:
    """A vendor's email and an application of theirs submitted (in review or
    approved), on the example card, published here: in an app context."""
    ratecards.import_card(example_document(), published_by="tests")
    vendor = factories.make_vendor(db.session())
    principal = Actor.of(accounts.principal_for(vendor))
    submitted = agreements.create_draft(principal, draft(STAFF_USE))
    agreements.submit(submitted.id, principal, policy=issuing(), attest=True)
    return vendor.email, submitted.id


def test_on_a_phone_a_table_that_scrolls_sideways_can_be_reached_by_keyboard(
    page: Any, shared: _Shared
) -> None:
    # A table with no link in it scrolled inside its own box on a phone, but
    # nothing in it took the focus: a keyboard user could not scroll to its
    # right-hand columns (axe: scrollable-region-focusable, serious).
    sign_in(page, shared.applicant_email)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"/portal/applications/{shared.submitted_id}")
    assert_accessible(page)
    scrolling = page.evaluate(_SCROLLING_BOXES)
    assert all(tabindex == "0" for tabindex in scrolling), scrolling


# The tabindex of each table or table box on the page that scrolls.
_SCROLLING_BOXES = """
() => [...document.querySelectorAll("main table, main .table-scroll")]
  .filter((box) => box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1)
  .filter((box) => ["auto", "scroll"].includes(getComputedStyle(box).overflowX))
  .map((box) => box.getAttribute("tabindex"))
"""


def test_the_console_invoice_s_pdf_link_says_what_it_downloads(page: Any, shared: _Shared) -> None:
    # The link read only "PDF": out of context (a screen reader's list of links)
    # it did not say which document.
    sign_in(page, shared.staff["billing"])
    page.goto(f"/console/invoices/{shared.invoice.id}")
    link = page.get_by_role("link", name="Download the invoice PDF")
    assert link.get_attribute("href") == f"/invoices/{shared.invoice.id}.pdf"
    assert not [finding for finding in own_findings(page) if finding.startswith("link-text")]


def test_a_refusal_flashed_after_a_redirect_is_an_alert_and_news_a_status(
    page: Any, shared: _Shared
) -> None:
    # Every flash sat in one role=status region: a refusal ("can no longer be
    # changed") was announced politely, if at all, like good news. (The draft it
    # saves is the applicant's own and no other test counts drafts.)
    sign_in(page, shared.applicant_email)
    page.goto("/portal/applications/new")
    page.get_by_role("button", name="Save the draft").click()
    page.wait_for_load_state()
    assert "is saved as a draft" in page.inner_text(".flashes[role=status]")
    page.goto(f"/portal/applications/{shared.submitted_id}/edit")
    assert "can no longer be changed" in page.inner_text(".flashes[role=alert]")
    assert page.locator(".flashes[role=status]").count() == 0


def test_an_application_s_refused_forms_tie_each_message_to_its_field(
    page: Any, shared: _Shared
) -> None:
    # The application pages' hand-written fields (the attestation, the staff's
    # review, note and approval forms, the acceptance) showed their messages
    # beside the field, but the field neither named the message
    # (aria-describedby) nor said it was invalid: a screen reader, on the
    # field, read no error. (Every form is refused but the draft's own save.)
    sign_in(page, shared.applicant_email)
    page.goto("/portal/applications/new")
    page.get_by_role("button", name="Save the draft").click()
    page.get_by_role("button", name="Submit for pricing and review").click()
    page.wait_for_load_state()
    assert page.locator(".has-error").count() >= 1
    assert [f for f in own_findings(page) if f.startswith("error-")] == []
    assert page.get_attribute("#attest", "aria-invalid") == "true"
    page.context.clear_cookies()
    sign_in(page, shared.staff["licensing"])
    page.goto(f"/console/applications/{shared.submitted_id}")
    page.get_by_role("button", name="Add the note").click()
    page.wait_for_load_state()
    assert page.get_attribute("#body", "aria-describedby") == "body-error"
    page.fill("#amount-0", "not a number")
    page.get_by_role("button", name="Approve and issue the agreement").click()
    page.wait_for_load_state()
    assert page.get_attribute("#amount-0", "aria-invalid") == "true"
    assert [f for f in own_findings(page) if f.startswith("error-")] == []


def test_the_keyboard_focus_ring_stands_out_from_the_page(page: Any) -> None:
    # The ring was 3 px of light yellow (#ffbf47) on a white and pale grey page:
    # 1.6:1, below the 3:1 WCAG 1.4.11 asks of what shows where the focus is.
    page.goto("/")
    for _ in range(3):  # past the skip link (yellow itself) to the header's links
        page.keyboard.press("Tab")
    ring = page.evaluate(
        """() => {
          const style = getComputedStyle(document.activeElement);
          return {colour: style.outlineColor, width: parseFloat(style.outlineWidth),
                  page: getComputedStyle(document.body).backgroundColor};
        }"""
    )
    lighter, darker = sorted((luminance(ring["colour"]), luminance(ring["page"])), reverse=True)
    assert (lighter + 0.05) / (darker + 0.05) >= 3, ring
    assert ring["width"] >= 2, ring


def test_a_form_that_comes_back_refused_says_so_in_the_page_title(page: Any) -> None:
    # A refused sign-in came back titled "Sign in · CPT Licensing Office", as
    # before: a screen reader, which reads the title first, did not say it failed.
    page.goto("/sign-in")
    assert page.title() == "Sign in · CPT Licensing Office"
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.title() == "Error: Sign in · CPT Licensing Office"
    assert page.locator(".error-summary").count() == 1


# --- Round 25: the statement of account ---------------------------------------------


def test_the_statement_of_account_and_its_refused_form_have_no_serious_problem(
    page: Any, shared: _Shared
) -> None:
    sign_in(page, shared.vendor_email)
    page.goto("/portal/statement?from=2026-11-01&to=2026-11-30")
    assert page.get_by_role("cell", name=shared.invoice.number or "").count() == 1
    assert_accessible(page)
    page.goto("/portal/statement?from=2026-11-30&to=2026-11-01")
    assert page.title().startswith("Error: Statement of account")
    assert_accessible(page)
    # The message is tied to its field.
    described = page.get_by_label("From").get_attribute("aria-describedby")
    assert described == "from-error"


# --- Round 26: statements sent ----------------------------------------------------------


@_own_server  # sends a statement again
def test_the_statements_sent_on_an_organizations_page_have_no_serious_problem(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id or 0
        staff_email = factories.make_staff(db.session(), roles=("billing",)).email
        issued = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
        assert send_activation(activated(organization_id, ("900.00",), at=issued))
        run = billing.send_monthly_statements(
            date(2026, 11, 1), now=datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
        )
        assert len(run.sent) == 1
    sign_in(page, staff_email)
    page.goto(f"/console/organizations/{organization_id}")
    resend = page.get_by_role("button", name="Send again: the 2026-11 statement in USD")
    assert resend.count() == 1
    assert_accessible(page)
    resend.click()
    page.wait_for_load_state()
    assert page.get_by_text("The November 2026 statement (USD) of").count() == 1
    assert_accessible(page)


# --- Round 27: the statements emailed, on the portal -----------------------------------


def test_the_portals_list_of_statements_emailed_has_no_serious_problem(
    page: Any, shared: _Shared
) -> None:
    sign_in(page, shared.vendor_email)
    page.goto("/portal/statement")
    month = page.get_by_role("link", name="2026-11 statement in USD")
    assert month.count() == 1
    assert_accessible(page)
    month.click()
    page.wait_for_load_state()
    assert (
        page.get_by_role("heading", name="November 1, 2026 to November 30, 2026, USD").count() == 1
    )


# --- Round 28: the statements changed since sent ----------------------------------------


@_own_server  # records a payment and sends a statement again
def test_the_statements_changed_since_sent_and_their_send_again_have_no_serious_problem(
    page: Any, live_server: LiveServer
) -> None:
    """A wire received in November recorded after November's statement went: the
    office-wide list has it, billing staff send it again from there and the list empties."""
    with live_server.app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id or 0
        staff_email = factories.make_staff(db.session(), roles=("billing",)).email
        issued = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
        invoice = send_activation(activated(organization_id, ("900.00",), at=issued))
        assert invoice is not None
        run = billing.send_monthly_statements(
            date(2026, 11, 1), now=datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
        )
        assert len(run.sent) == 1
        billing.record_offline_payment(  # recorded now, after the statement went
            invoice.id,
            method="wire",
            amount=invoice.total,
            reference="W-LATE",
            received_on=date(2026, 11, 28),
            actor=factories.staff_actor(("billing",)),
        )
    sign_in(page, staff_email)
    page.goto("/console/billing/statements-changed")
    resend = page.get_by_role("button", name=re.compile("Send again: the 2026-11 statement in USD"))
    assert resend.count() == 1
    why = page.get_by_role("cell", name=re.compile("Payment received: 900.00 USD dated 2026-11-28"))
    assert why.count() == 1
    assert_accessible(page)
    resend.click()
    page.wait_for_load_state()
    assert page.get_by_text("Every statement sent still reads as it was sent.").count() == 1
    assert_accessible(page)
