"""Round 2 of the vendor's journeys: what a vendor tripped on walking from sign-up
to royalty reports (docs/journeys.md, "Round 2")."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlencode

import time_machine
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.pricing.conftest import card_document, example_card  # noqa: F401
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    QUARTERS,
    SMALL_SOFTWARE,
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
    row,
)
from tests.support import factories
from tests.support.agreements import accept, accepted_on_the_page, agreement_of
from tests.support.documents import stored_pdf
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]


def field_value(response: Any, name: str) -> str | None:
    """The value of the text field `name` on the page (None when there is none)."""
    found = re.search(
        rf'<input type="text" id="{re.escape(name)}" name="{re.escape(name)}" value="([^"]*)"',
        response.get_data(as_text=True),
    )
    return html.unescape(found.group(1)) if found else None


def selected(response: Any, name: str) -> str | None:
    """The selected option's value of the select `name`."""
    page = response.get_data(as_text=True)
    select = re.search(rf'<select id="{re.escape(name)}".*?</select>', page, re.S)
    if select is None:
        return None
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(0))
    return html.unescape(chosen.group(1)) if chosen else None


# --- amending a royalty report ---------------------------------------------------------


def test_amending_a_report_starts_from_its_rows_as_filed_rather_than_an_empty_form(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60), row(1, "B", quantity=30)])
    url = f"/portal/royalty-reports/{agreement.id}/{QUARTERS[1].isoformat()}"
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = client.get(url)
    assert [field_value(page, f"rows-{n}-customer_id") for n in (1, 2, 3)] == ["A", "B", ""]
    assert [field_value(page, f"rows-{n}-quantity") for n in (1, 2)] == ["60", "30"]
    assert field_value(page, "rows-1-customer_name") == "Clinic A"
    assert field_value(page, "rows-1-country") == "US"
    assert (selected(page, "rows-1-line"), selected(page, "rows-1-unit")) == ("1", "end_users")
    assert "The form starts with its 2 rows as filed" in text_of(page)
    rows_url = f"/royalty-reports/report/{filed.report.id}/rows.csv"
    assert f"download report {filed.report.reference}'s rows as filed" in text_of(page)
    assert f'href="{rows_url}"' in page.get_data(as_text=True)


def test_a_report_too_long_for_the_form_is_amended_from_its_rows_as_filed_in_a_file(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    many = [row(1, f"C{n}", quantity=1) for n in range(101)]
    filed = file_report(vendor, agreement, 1, many)
    url = f"/portal/royalty-reports/{agreement.id}/{QUARTERS[1].isoformat()}"
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = client.get(url)
    assert field_value(page, "rows-1-customer_id") == ""
    text = text_of(page)
    assert "has 101 rows, more than the form takes" in text
    rows_url = f"/royalty-reports/report/{filed.report.id}/rows.csv"
    assert f'href="{rows_url}"' in page.get_data(as_text=True)


# --- submitting an application -----------------------------------------------------------


def test_an_application_approved_at_submission_says_so_and_names_the_agreement_to_accept(
    client: FlaskClient, signed_in: SignIn, vendor: Any, apply: Any
) -> None:
    application = apply(vendor, AUTO_USE, submit=False)
    signed_in(client, vendor)
    page = client.post(
        f"/portal/applications/{application.id}/submit",
        data={"attest": "yes"},
        follow_redirects=True,
    )
    text = text_of(page)
    assert application.state == "approved"
    assert (
        f"{application.reference} is approved and agreement CPT-2027-000001 is issued: "
        "read it and accept it below." in text
    )
    assert "The application is submitted." not in text


def test_an_application_submitted_for_review_says_who_acts_next(
    client: FlaskClient, signed_in: SignIn, vendor: Any, apply: Any
) -> None:
    application = apply(vendor, AUTO_USE, STAFF_USE, submit=False)
    signed_in(client, vendor)
    page = client.post(
        f"/portal/applications/{application.id}/submit",
        data={"attest": "yes"},
        follow_redirects=True,
    )
    assert (
        f"{application.reference} is submitted. Licensing staff review it before it is "
        "approved; we email you when they decide." in text_of(page)
    )


def test_a_use_sent_to_the_permissions_queue_is_named_when_the_application_is_submitted(
    client: FlaskClient, signed_in: SignIn, apply: Any
) -> None:
    session = db.session()
    academic = factories.make_vendor(
        session, organization=factories.make_organization(session, organization_type="academic")
    )
    education = {**AUTO_USE, "use": "education", "quantity": {"students": 40}}
    application = apply(academic, AUTO_USE, education, submit=False)
    signed_in(client, academic)
    page = client.post(
        f"/portal/applications/{application.id}/submit",
        data={"attest": "yes"},
        follow_redirects=True,
    )
    assert (
        "Use 2 went to the educational permissions queue as a permission request "
        "(see Permissions): no license fee." in text_of(page)
    )


# --- the royalty report page -------------------------------------------------------------


def test_a_filed_report_says_in_words_how_it_was_filed(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    typed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    nil = file_report(vendor, agreement, 2, [])
    with time_machine.travel(AFTER[3], tick=False):
        signed_in(client, vendor)
        typed_page = text_of(client.get(f"/portal/royalty-reports/report/{typed.report.id}"))
        nil_page = text_of(client.get(f"/portal/royalty-reports/report/{nil.report.id}"))
    assert f"by {vendor.name_and_email} (typed in the form, 1 row)" in typed_page
    assert f"by {vendor.name_and_email} (a nil report: no rows)" in nil_page
    assert "FORM" not in typed_page + nil_page


def test_a_filed_report_links_its_agreement(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        page = client.get(f"/portal/royalty-reports/report/{filed.report.id}")
    agreement_link = f'<a href="/portal/agreements/{agreement.id}">{agreement.number}</a>'
    assert agreement_link in page.get_data(as_text=True)


# --- accepting an agreement ----------------------------------------------------------------


def _accept_on_the_page(client: FlaskClient, agreement: Agreement) -> str:
    return text_of(accepted_on_the_page(client, agreement))


def test_accepting_an_agreement_names_the_invoice_issued_for_what_is_due_up_front(
    client: FlaskClient, signed_in: SignIn, vendor: Any, apply: Any
) -> None:
    agreement = agreement_of(apply(vendor, SMALL_SOFTWARE))
    signed_in(client, vendor)
    page = accepted_on_the_page(client, agreement)
    invoice = db.session().scalars(select(Invoice)).one()
    assert (
        f"Agreement {agreement.number} is accepted and active. Invoice {invoice.number} "
        "is issued for 815.00 USD due up front: pay it by card or by wire, ACH or check "
        "from its page." in text_of(page)
    )
    # Round 66: the invoice it names is linked ("pay it from Invoices" opened nothing).
    link = f'<a href="/portal/invoices/{invoice.id}">{invoice.number}</a>'
    assert link in page.get_data(as_text=True)


def test_accepting_an_agreement_with_nothing_due_up_front_says_royalties_follow_reports(
    client: FlaskClient, signed_in: SignIn, vendor: Any, apply: Any
) -> None:
    agreement = agreement_of(apply(vendor, SOFTWARE))
    signed_in(client, vendor)
    text = _accept_on_the_page(client, agreement)
    assert db.session().scalars(select(Invoice)).all() == []
    assert (
        f"Agreement {agreement.number} is accepted and active. Nothing is due up front: "
        "royalties on usage are invoiced when you file your royalty reports." in text
    )
    invoices = text_of(client.get("/portal/invoices"))
    assert "An invoice is issued when an agreement becomes active, and" not in invoices
    assert (
        "No invoices yet. An invoice is issued when an agreement with fees due up front "
        "becomes active, and when a royalty report has royalties due." in invoices
    )


# --- held at pending payment ---------------------------------------------------------------


def test_an_organization_held_for_an_overdue_report_is_told_which_report_not_an_invoice(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)  # nothing due up front: no invoice
    organization = db.session().get(Organization, vendor.organization_id)
    with time_machine.travel(datetime(2027, 6, 15, 15, 0, tzinfo=UTC), tick=False):
        accounts.change_standing(
            db.session(),
            organization,
            "mark_pending_payment",
            reason="the first quarter's report is overdue",
            actor=Actor.SYSTEM,
        )
        signed_in(client, vendor)
        dashboard = text_of(client.get("/portal/"))
        refused = text_of(client.get("/portal/applications/new", follow_redirects=True))
    overdue = (
        f"the royalty report of {agreement.number} for January 1, 2027 to March 31, 2027 was "
        "due April 30, 2027"
    )
    address = mail.sender_address()
    for page in (dashboard, refused):
        assert overdue in page
        assert "has an overdue invoice" not in page
        assert f"contact the licensing office's billing team at {address}." in page
    assert "An overdue invoice or royalty report is holding up new applications" in dashboard


# --- renewal ---------------------------------------------------------------------------------


def test_an_agreement_superseded_by_its_renewal_still_reports_its_last_periods(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    old = active_agreement(vendor, SOFTWARE)
    file_report(vendor, old, 1, [row(1, "A", quantity=60)])
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    renewing = datetime(2027, 11, 16, 15, 0, tzinfo=UTC)  # renewed before the term ends
    draft = agreements.start_renewal(old.id, vendor_actor, now=renewing)
    renewal = agreements.submit(draft.id, vendor_actor, policy=issuing(), attest=True, now=renewing)
    assert renewal.state == "approved"
    accept(agreement_of(renewal), vendor, now=renewing)
    # The old agreement covers the rest of its term; the renewal takes over after it.
    agreements.expire(now=AFTER[4])
    db.session().refresh(old)
    assert old.state == "superseded"
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        listed = text_of(client.get("/portal/royalty-reports"))
        filed = client.post(
            f"/portal/royalty-reports/{old.id}/{QUARTERS[2].isoformat()}",
            data={"mode": "nil", "action": "submit", "attest": "yes"},
        )
    assert f"{old.number} 2027-04-01 to 2027-06-30" in listed
    assert filed.status_code == 302, text_of(filed)


# --- working in words -----------------------------------------------------------------------


def test_a_royalty_reports_working_and_its_invoice_read_units_as_words(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=2600)])
    invoice = db.session().scalars(select(Invoice).where(Invoice.number == filed.invoice_number))
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        report = text_of(client.get(f"/portal/royalty-reports/report/{filed.report.id}"))
        invoiced = text_of(client.get(f"/portal/invoices/{invoice.one().id}"))
    for page in (report, invoiced):
        assert "usage to date 2,600 end users" in page  # grouped since round 12
        assert "end_users" not in page


# --- from an estimate to a first application -------------------------------------------


ESTIMATE = {
    "organization_type": "commercial",
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "uses-0-use": "distribution",
    "uses-0-product_type": "saas",
    "uses-0-user_type": "provider",
    "uses-0-quantity-end_users": "300",
    "uses-0-description": "Clinic Pad",
}


def test_a_visitor_who_signs_up_from_an_estimate_lands_on_an_application_with_its_uses(
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    estimate = client.get(f"/estimate?{urlencode(ESTIMATE)}").get_data(as_text=True)
    found = re.search(r'<a href="([^"]+)">Apply for a license with these uses</a>', estimate)
    assert found, "no link to apply with the estimate's uses"
    sign_up_url = html.unescape(found.group(1))
    assert sign_up_url.startswith("/sign-up?next=")
    fields = factories.organization_fields(legal_name="Bluefin Claims Analytics LLC")
    form = {name: value or "" for name, value in fields.items()}
    password = "a long and unguessable passphrase 7"
    form.update(
        full_name="Samira Haddad",
        email="samira@bluefin.example",
        password=password,
        confirm=password,
    )
    signed_up = client.post(sign_up_url, data=form)
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    verify = re.search(r"http://[^/\s]+(/verify-email/\S+)", message.body_text)
    assert verify is not None
    verified = client.get(verify.group(1))
    for redirect_ in (signed_up, verified):
        assert redirect_.status_code == 302
        assert "/sign-in?next=" in redirect_.headers["Location"]
    signed_in = client.post(
        verified.headers["Location"],
        data={"email": "samira@bluefin.example", "password": password},
    )
    assert signed_in.status_code == 302
    landing = signed_in.headers["Location"]
    # Round 67: the estimate is kept with the account, as its first application.
    assert re.fullmatch(r"/portal/applications/\d+/edit", landing), landing
    application_form = client.get(landing).get_data(as_text=True)
    assert 'value="Clinic Pad"' in application_form


def test_an_agreement_with_a_renewal_under_way_offers_to_continue_it_not_to_renew_again(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    # Within 90 days of the term's end, when *Renew* is offered (round 52).
    with time_machine.travel(datetime(2027, 11, 15, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, vendor)
        before = client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True)
        renewed = client.post(f"/portal/agreements/{agreement.id}/renew")
        assert renewed.status_code == 302
        after = client.get(f"/portal/agreements/{agreement.id}")
    assert "Renew for the next rate card year" in before
    assert "Renew for the next rate card year" not in after.get_data(as_text=True)
    draft_url = renewed.headers["Location"].removesuffix("/edit")
    draft = f"APP-{int(draft_url.rsplit('/', 1)[1]):06d}"
    assert f"{draft} renews this agreement (draft): continue it" in text_of(after)
    assert f'href="{draft_url}"' in after.get_data(as_text=True)


def test_the_periods_list_shows_an_amendments_due_as_a_change_with_its_credit_notes(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    lowered = lowered_by_amendment(file_report, vendor, agreement)
    assert lowered.credit_notes
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        listed = text_of(client.get("/portal/royalty-reports"))
    assert f"{lowered.report.total_due:,.2f}"[1:] in listed  # the amount, without its sign
    assert "less by amendment)" in listed  # round 52: the period as amended, and the change
    assert f"credit note {lowered.credit_notes[0]}" in listed


# --- sign-up ------------------------------------------------------------------------------


def test_the_sign_up_error_summary_lists_the_fields_in_the_order_of_the_page(
    client: FlaskClient,
) -> None:
    page = client.post("/sign-up", data={}).get_data(as_text=True)
    summary = page[page.index("Please correct the following") :]
    labels = ["Legal name of the organization", "Type of organization", "Address", "City"]
    positions = [summary.index(f"{label}: This field is required.") for label in labels]
    assert positions == sorted(positions)


# --- the error summary's words -------------------------------------------------------------


SEP = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "


def test_a_product_name_too_long_and_a_long_answer_are_named_by_their_labels(
    client: FlaskClient, vendor: Any, signed_in: SignIn, apply: Any
) -> None:
    signed_in(client, vendor)
    form = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        **{f"uses-0-{k}": str(v) for k, v in STAFF_USE.items() if k != "languages"},
        "uses-0-languages": "en",
        "uses-0-product_name": "z" * 3000,
    }
    long_name = text_of(client.post("/portal/applications/new", data=form))
    application = apply(vendor, STAFF_USE)
    staff = Actor.of(accounts.principal_for(factories.make_staff(db.session())))
    agreements.start_review(application.id, staff)
    agreements.return_for_information(application.id, "Split revenue by country.", staff)
    long_answer = text_of(
        client.post(
            f"/portal/applications/{application.id}/submit",
            data={"attest": "yes", "response": "y" * 5000},
        )
    )
    assert f"Use 1{SEP}Product name: At most 200 characters." in long_name
    assert "Your answer to the licensing office: At most 4,000 characters." in long_answer


def test_switching_between_sign_in_and_sign_up_keeps_where_the_visitor_was_going(
    client: FlaskClient,
) -> None:
    going = "/portal/applications/new?uses-0-use=distribution"
    sign_in_page = client.get("/sign-in", query_string={"next": going}).get_data(as_text=True)
    sign_up_page = client.get("/sign-up", query_string={"next": going}).get_data(as_text=True)
    carried = "next=/portal/applications/new?uses-0-use%3Ddistribution"
    assert f'href="/sign-up?{carried}"' in sign_in_page
    assert f'href="/sign-in?{carried}"' in sign_up_page
    foreign = client.get("/sign-in", query_string={"next": "https://evil.example/"})
    assert 'href="/sign-up"' in foreign.get_data(as_text=True)


def test_a_priced_application_names_the_rate_card_it_was_priced_with(
    client: FlaskClient, signed_in: SignIn, vendor: Any, apply: Any
) -> None:
    application = apply(vendor, AUTO_USE)
    draft = apply(vendor, AUTO_USE, submit=False)
    signed_in(client, vendor)
    priced = text_of(client.get(f"/portal/applications/{application.id}"))
    unpriced = text_of(client.get(f"/portal/applications/{draft.id}"))
    assert "Rate card 2027.1 (the card in effect on the start date)" in priced
    # A draft names the card its estimate is priced on (round 18: a renewal names
    # no version, so its page said only "the card in effect on the start date").
    assert "Rate card 2027.1 (the card in effect on the start date, submitted today)" in unpriced


def test_a_suspended_organization_is_told_how_to_reach_the_licensing_office(
    client: FlaskClient, signed_in: SignIn, vendor: Any, app: Any
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    accounts.change_standing(
        db.session(),
        organization,
        "suspend",
        reason="Unlicensed redistribution",
        actor=Actor.SYSTEM,
    )
    signed_in(client, vendor)
    dashboard = text_of(client.get("/portal/"))
    address = parseaddr(app.config["LICENSING"].mail_from)[1]
    assert (
        f"{organization.legal_name}'s account is suspended, so it cannot apply for licenses "
        "or accept agreements until licensing staff reinstate it. "
        f"Contact the licensing office at {address} (or reply to any of its emails)."
    ) in dashboard
    # The standing panel says it; the row of what waits on whom points to it (round
    # 60: both said it, the hold twice).
    assert dashboard.count(f"Contact the licensing office at {address}") == 1
    assert (
        "Your organization's account is suspended Why, since when and what settles it: "
        "the Standing panel above."
    ) in dashboard
    profile = text_of(client.get("/organization"))
    assert f"to correct them, contact the licensing office at {address}" in profile


# --- the agreement a vendor reads before accepting ------------------------------------------


def test_the_agreement_pdf_names_uses_and_units_in_words(vendor: Any, apply: Any) -> None:
    agreement = agreement_of(apply(vendor, AUTO_USE))  # SaaS, 2500 end users
    text = " ".join(
        " ".join(page.extract_text().split())
        for page in PdfReader(io.BytesIO(stored_pdf(agreement))).pages
    )
    assert "SaaS for provider users" in text
    assert "2,500 end users, graduated" in text  # grouped as on the page (round 12)
    assert "end_users" not in text
    assert "saas for" not in text


def test_an_application_with_a_use_sent_to_the_permissions_queue_links_its_requests(
    client: FlaskClient, signed_in: SignIn, apply: Any
) -> None:
    session = db.session()
    academic = factories.make_vendor(
        session, organization=factories.make_organization(session, organization_type="academic")
    )
    education = {**AUTO_USE, "use": "education", "quantity": {"students": 40}}
    application = apply(academic, AUTO_USE, education)
    signed_in(client, academic)
    page = client.get(f"/portal/applications/{application.id}")
    assert (
        "Use 2 went to the educational permissions queue as a permission request, decided "
        "by the licensing office with a letter: see Permissions" in text_of(page)
    )
    assert 'href="/portal/permissions/"' in page.get_data(as_text=True)


# --- payments in words -------------------------------------------------------------------


def test_an_offline_payment_is_named_in_words_on_the_invoice_and_in_the_email(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Any,
) -> None:
    invoice = invoice_for(vendor, ("900.00",))
    staff = Actor.of(accounts.principal_for(billing_staff))
    billing.record_offline_payment(
        invoice.id, method="check", amount=Decimal("900.00"), reference="CHK 1042", actor=staff
    )
    signed_in(client, vendor)
    page = text_of(client.get(f"/portal/invoices/{invoice.id}"))
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert "Check succeeded 900.00 USD CHK 1042" in page
    assert "CHECK" not in page
    assert "(check, reference CHK 1042)" in message.body_text
