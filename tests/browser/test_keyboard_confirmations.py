"""Round 61 (keyboard61b): a confirmation's way back returns a keyboard user to the
button they pressed, and the page after signing in says where they are.

Confirmations are pages: their Cancel link (`layout/confirm.html`) leads to the page
the action came from with a fragment naming the button (`#void-invoice`), and the
focus is back on it, not at the page's top. Walked by keyboard alone (Tab, Enter,
Space, the arrow keys) in five areas: a vendor's members and application, a
requester's permission request, an invoice in the billing console, a person in the
staff console, and the permission queue's bulk assignment. The rule for every
confirmation (each names its control): `tests/unit/test_confirmation_way_back.py`."""

from __future__ import annotations

from typing import Any

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.permissions.conftest import confirmed_request
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.keyboard import assert_walks_round, choose, press, tab_to, type_into
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def _signs_in(page: Any, email: str) -> str:
    """Signed in by keyboard: the words of what has the focus on the page landed on."""
    page.goto("/sign-in")
    type_into(page, "#email", email)
    type_into(page, "#password", DEFAULT_PASSWORD)
    press(page, "Sign in")
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    return str(page.evaluate("() => document.activeElement.innerText").strip())


def _asks_then_keeps(page: Any, control: str, question: str, cancel: str) -> None:
    """Press the button `#control` (the focus on it), answer its confirmation with the
    way back, and find the focus on that very button again."""
    tab_to(page, css=f"#{control}")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    assert page.evaluate("() => document.activeElement.innerText").strip() == question
    assert_walks_round(page)
    press(page, cancel)
    page.wait_for_function(f"() => document.activeElement.id === {control!r}")
    assert page.url.endswith(f"#{control}")
    # The next Tab goes on from the button, not from the page's top.
    page.keyboard.press("Tab")
    assert page.evaluate(
        "(id) => !!(document.getElementById(id).compareDocumentPosition("
        "document.activeElement) & Node.DOCUMENT_POSITION_FOLLOWING)",
        control,
    )
    page.keyboard.press("Shift+Tab")
    assert_walks_round(page)


def test_a_vendor_who_keeps_a_colleague_and_an_application_is_back_on_the_button_pressed(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        vendor = factories.make_vendor(db.session())
        colleague = factories.make_vendor(db.session(), organization=vendor.organization)
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(Actor.of(principal), draft(STAFF_USE))
        application = agreements.submit(
            application.id, Actor.of(principal), policy=issuing(), attest=True
        )
        email, legal_name = vendor.email, vendor.organization.legal_name
        colleague_id, colleague_name = colleague.id, colleague.full_name

    # The dashboard's heading has the focus: read after the page's title, it says
    # whose dashboard this is.
    assert _signs_in(page, email) == f"Dashboard of {legal_name}"
    assert_walks_round(page)

    page.goto("/organization")
    _asks_then_keeps(
        page,
        f"deactivate-member-{colleague_id}",
        f"Remove {colleague_name}'s access?",
        "Keep their access",
    )
    page.goto(f"/portal/applications/{application.id}")
    _asks_then_keeps(
        page,
        "withdraw-application",
        f"Withdraw application {application.reference}?",
        "Keep the application",
    )


def test_staff_and_a_requester_who_keep_what_they_had_are_back_on_the_button_pressed(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        reference, token = confirmed_request("Cedar Ridge Community College")
        for _ in range(2):
            confirmed_request("Harborlight University")
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("900.00",)))
        assert invoice is not None
        staff = factories.make_staff(db.session(), roles=("billing", "licensing", "admin"))
        db.session().commit()
        staff_email, vendor_id, vendor_name = staff.email, vendor.id, vendor.full_name

    # A requester, with no account: the request's status page.
    page.goto(f"/permissions/status/{token}")
    _asks_then_keeps(
        page, "withdraw-request", f"Withdraw permission request {reference}?", "Keep the request"
    )

    assert _signs_in(page, staff_email) == "Work waiting on the office"
    assert_walks_round(page)

    # Billing: voiding an invoice, its reason typed.
    page.goto(f"/console/invoices/{invoice.id}")
    type_into(page, "#void-reason", "Issued twice by mistake")
    _asks_then_keeps(page, "void-invoice", f"Void invoice {invoice.number}?", "Keep the invoice")

    # The staff console's page of a person.
    page.goto(f"/console/users/{vendor_id}")
    _asks_then_keeps(
        page,
        "sign-out-everywhere",
        f"Sign {vendor_name} out everywhere?",
        "Keep them signed in",
    )

    # The permission queue: requests selected (Space) and given to nobody.
    page.goto("/console/permissions/?q=harborlight&state=open")
    for box in page.locator("input[name=request_ids]").all():
        tab_to(page, css=f"input[name=request_ids][value='{box.get_attribute('value')}']")
        page.keyboard.press("Space")
    choose(page, "#bulk-assignee", "nobody")
    _asks_then_keeps(page, "assign-selected", "Unassign 2 requests?", "Back to the queue")
    # The selection is the page's own again (drawn afresh), the queue as it was.
    assert page.url.split("#")[0].endswith("/console/permissions/?q=harborlight&state=open")
