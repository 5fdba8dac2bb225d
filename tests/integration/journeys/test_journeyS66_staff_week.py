"""Round 66: a licensing analyst's and a billing clerk's first week, walked fresh
(docs/journeys.md, "Round 66: licensing and billing staff's week, walked fresh
(journeyS66)"): what the pages said only after a step was taken, or in words staff
read two ways."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE
from tests.integration.pricing.conftest import corrected_example
from tests.integration.royalties.conftest import row
from tests.support.agreements import issued_agreement, make_active_agreement, up_front_invoice
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.pages import text_of
from tests.support.rate_card_checks import checked_page
from tests.support.reporting_year import filed
from tests.support.settings import issuing
from tests.support.uses import STAFF_USE


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_check_says_whose_licensees_publishing_a_correction_emails_before_it_is_published(
    client: FlaskClient,
    signed_in: Any,
    admin: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    # The check's page said what 2027.1 priced keeps its prices; that publishing
    # emails those licensees came only in the message after the button.
    active = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    waiting = issued_agreement(vendor, licensing_staff, AUTO_USE)
    signed_in(client, admin)
    page = _words(checked_page(client, corrected_example()))
    assert (
        "Publishing it emails the licensees of 2 agreements on 2027.1 that their rate card "
        f"was corrected: {active.number}, {waiting.number}. Their fees do not change; an "
        "agreement still awaiting acceptance can then be reissued on 2027.2 from its page."
    ) in page
    # What the button then does is what the page said.
    published = ratecards.import_card(corrected_example(), published_by="tests")
    assert set(published.agreements_told) == {active.number, waiting.number}


def test_the_check_of_a_correction_no_agreement_is_on_says_it_emails_no_licensee(
    client: FlaskClient, signed_in: Any, admin: Any, example_card: str
) -> None:
    signed_in(client, admin)
    page = _words(checked_page(client, corrected_example()))
    assert "Publishing it emails no licensee: no agreement awaiting acceptance or accepted" in (
        page
    )


def test_licensing_staff_read_on_the_rate_cards_page_that_admins_publish(
    client: FlaskClient, signed_in: Any, licensing_staff: Any, admin: Any
) -> None:
    signed_in(client, licensing_staff)
    page = _words(text_of(client.get("/console/rate-cards/")))
    assert "Publishing a rate card is for admins: send an admin the card's file (JSON)" in page
    signed_in(client, admin)
    assert "Publishing a rate card is for admins" not in text_of(client.get("/console/rate-cards/"))


def test_an_approvals_changed_amount_reads_as_the_quote_table_with_its_currency(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    # "Changed amount of use 1 from 8000.00 to 5500.00" under a table saying 8,000.00.
    principal = accounts.principal_for(vendor)
    draft = agreements.ApplicationDraft.from_fields(
        {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": (STAFF_USE,)}
    )
    made = agreements.create_draft(Actor.of(principal), draft)
    agreements.submit(made.id, Actor.of(principal), policy=issuing(), attest=True)
    reviewer = Actor.of(accounts.principal_for(licensing_staff))
    agreements.approve(
        made.id,
        reviewer,
        policy=issuing(),
        modifications=agreements.Modifications(
            lines=[agreements.LineChange(0, Decimal("5500.00"), "Agreed on the call")],
            term_end=date(2027, 6, 30),
            term_reason="A pilot of six months",
        ),
    )
    signed_in(client, licensing_staff)
    console = _words(text_of(client.get(f"/console/applications/{made.id}")))
    said = "Changed the amount of use 1 from 8,000.00 USD to 5,500.00 USD: Agreed on the call"
    assert said in console
    assert (
        "Changed the last day of the term from December 31, 2027 to June 30, 2027: "
        "A pilot of six months"
    ) in console
    signed_in(client, vendor)
    assert said in _words(text_of(client.get(f"/portal/applications/{made.id}")))


def test_the_refund_form_says_a_wire_needs_its_reference_before_it_is_sent(
    client: FlaskClient, signed_in: Any, vendor: Any, billing_staff: Any, invoice_for: Any
) -> None:
    # The field read as optional ("Reference", no mark) and a wire without one came
    # back refused, at the foot of a long page.
    invoice = invoice_for(vendor, amounts=("400.00",))
    paid_offline(invoice.id, "400.00", "WIRE-1")
    credited(invoice.id, "100.00", "Billed at the wrong tier")
    signed_in(client, billing_staff)
    page = _words(text_of(client.get(f"/console/invoices/{invoice.id}")))
    assert (
        "Reference Required for a wire, ACH or check: the bank's reference or the check "
        "number (none for a refund to the card)."
    ) in page


def test_an_agreements_history_reads_its_whole_trail_each_event_naming_its_record(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    example_card: str,
) -> None:
    # Its page's history held the agreement's three events (issued, accepted, a
    # reminder); billing staff may not open the audit log, so what happened under it
    # (its invoices, payments, credit notes, refunds, royalty reports) had no trail.
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, DEVELOPMENT_USE)
    invoice = up_front_invoice(agreement)
    paid_offline(invoice.id, str(invoice.total), "WIRE-7")
    credit = credited(invoice.id, "100.00", "Billed at the wrong tier")
    refunded_offline(credit.id, "100.00", "OUT-7")
    report = filed(
        vendor,
        agreement.id,
        date(2027, 1, 1),
        [row(1, "A", quantity=3000)],
        now=datetime(2027, 4, 2, 15, tzinfo=UTC),
    ).report
    signed_in(client, billing_staff)
    page = _words(text_of(client.get(f"/console/agreements/{agreement.id}")))
    history = page.split("What happened to this agreement and under it")[1]
    for said in (
        f"Application submitted: {agreement.application.reference}",
        "Agreement issued",
        "Agreement accepted",
        f"Invoice finalized: {invoice.number}",
        f"Payment recorded: Wire payment of {invoice.number} (WIRE-7)",
        f"Credit note issued: {credit.number}",
        f"Refund recorded: Wire refund of 100.00 USD of {credit.number}",
        f"Royalty report submitted: {report.reference}",
    ):
        assert said in history, said
