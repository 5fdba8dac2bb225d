"""What stays open with an organization, on the closing confirmation and a closed
organization's console page, is bounded: each kind names its first few records and
counts (and sums) the rest in SQL, linking the full list filtered to the
organization. It read every collectible invoice and every credit note of the
organization, and worked out the refunds owed in Python."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import services as agreement_services
from licensing.agreements.models import Application
from licensing.billing.models import CreditNote, Invoice
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.integration.billing.conftest import activated, send_activation
from tests.support.agreements import issued_agreement
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.pages import confirmation_carried


def _invoices(organization_id: int, count: int) -> list[Invoice]:
    made = [send_activation(activated(organization_id, ("1000.00",))) for _ in range(count)]
    assert all(invoice is not None for invoice in made)
    return [invoice for invoice in made if invoice is not None]


def _words(page: Any) -> str:
    text = re.sub(r"<[^>]+>", " ", html.unescape(page.get_data(as_text=True)))
    return " ".join(text.split())


def _closing(console: FlaskClient, organization_id: int) -> Any:
    asked = console.post(
        f"/console/organizations/{organization_id}/standing",
        data={"action": "close", "reason": "The licensee stopped trading."},
    )
    assert asked.status_code == 200
    return asked


def _path_and_query(url: str) -> str:
    """The path of a link as the page wrote it, and its query when it has one."""
    link = urlsplit(html.unescape(url))
    return f"{link.path}?{link.query}" if link.query else link.path


def _link_after(page: Any, words: str) -> str:
    """The path and query of the link that follows `words` on the page."""
    found = re.search(re.escape(words) + r'\s*<a href="([^"]+)"', page.get_data(as_text=True))
    assert found is not None, words
    link = urlsplit(html.unescape(found.group(1)))
    return f"{link.path}?{link.query}"


def test_the_closing_confirmation_names_five_invoices_and_counts_and_sums_the_rest(
    app: Flask, vendor: Any, other_vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    owed = _invoices(vendor.organization_id, 7)
    (elsewhere,) = _invoices(other_vendor.organization_id, 1)
    console = signed_in(app.test_client(), licensing_staff)

    page = _closing(console, vendor.organization_id)

    text = _words(page)
    for invoice in owed[:5]:
        assert f"Invoice {invoice.number}: 1,000.00 USD to pay" in text
    for invoice in owed[5:]:
        assert f"Invoice {invoice.number}" not in text
    more = "And 2 more invoices to pay: 7,000.00 USD owed on 7 invoices in all."
    assert more in text
    listed = _words(console.get(_link_after(page, more)))
    assert all(invoice.number in listed for invoice in owed)
    assert elsewhere.number not in listed


def test_refunds_owed_are_counted_net_of_refunds_sent_and_the_rest_summed(
    app: Flask, vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    credits = []
    for number, invoice in enumerate(_invoices(vendor.organization_id, 7)):
        paid_offline(invoice.id, "1000.00", f"WIRE-{number}")
        credits.append(credited(invoice.id, "100.00", "Fewer users than estimated"))
    refunded_offline(credits[0].id, "40.00", "WIRE-BACK-0")  # 60.00 still owed
    refunded_offline(credits[1].id, "100.00", "WIRE-BACK-1")  # none owed
    console = signed_in(app.test_client(), licensing_staff)

    text = _words(_closing(console, vendor.organization_id))

    assert f"Credit note {credits[0].number}: 60.00 USD to refund to the licensee." in text
    assert f"Credit note {credits[1].number}" not in text
    for credit in credits[2:6]:
        assert f"Credit note {credit.number}: 100.00 USD to refund" in text
    assert (
        "And 1 more credit note with a refund to send: 560.00 USD to refund on 6 credit "
        "notes in all."
    ) in text
    assert "to pay" not in text  # every invoice is paid


def test_a_closed_organizations_page_loads_none_of_its_invoices_to_say_what_stays_open(
    app: Flask, vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    _invoices(vendor.organization_id, 14)
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    accounts.change_standing(db.session(), organization, "close", reason="Gone", actor=Actor.SYSTEM)
    db.session().commit()
    db.session().expunge_all()  # nothing loaded before counts
    loaded: list[object] = []

    def load(target: object, _context: Any) -> None:
        loaded.append(target)

    for record in (Invoice, CreditNote):
        event.listen(record, "load", load)
    try:
        still_open = accounts.open_business(
            db.session(), vendor.organization_id, office_date(utcnow())
        )
    finally:
        for record in (Invoice, CreditNote):
            event.remove(record, "load", load)

    assert loaded == []
    assert len(still_open) == 6
    console = signed_in(app.test_client(), licensing_staff)
    text = _words(console.get(f"/console/organizations/{vendor.organization_id}"))
    assert "And 9 more invoices to pay: 14,000.00 USD owed on 14 invoices in all." in text


def test_the_licensing_lines_link_the_organizations_own_agreements_and_undecided_applications(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issued = issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    undecided = apply(vendor, STAFF_USE)
    elsewhere = issued_agreement(other_vendor, licensing_staff, AUTO_USE, now=NOW)
    elsewhere_undecided = apply(other_vendor, STAFF_USE)
    monkeypatch.setattr(accounts, "OPEN_NAMED", 0)  # every one counted, none named
    console = signed_in(app.test_client(), licensing_staff)

    page = _closing(console, vendor.organization_id)

    more_agreements = "And 1 more agreement in force or waiting for acceptance."
    agreements = _words(console.get(_link_after(page, more_agreements)))
    assert issued.number in agreements
    assert elsewhere.number not in agreements
    more_applications = "And 1 more application undecided."
    applications = _words(console.get(_link_after(page, more_applications)))
    assert undecided.reference in applications
    assert elsewhere_undecided.reference not in applications


def _filter_form(page: Any) -> str:
    found = re.search(
        r'<form method="get" class="filters".*?</form>', page.get_data(as_text=True), re.S
    )
    assert found is not None
    return found.group(0)


@pytest.mark.parametrize(
    ("path", "records"),
    [
        ("/console/invoices", "invoices"),
        ("/console/agreements", "agreements"),
        ("/console/applications", "applications"),
    ],
)
def test_a_list_narrowed_to_one_organization_says_whose_and_its_filters_keep_it(
    app: Flask, vendor: Any, licensing_staff: Any, signed_in: Any, path: str, records: str
) -> None:
    """The links from what stays open narrow a console list to one organization. The
    list said nothing of it, and choosing a state in its filters widened it to every
    organization's without a word."""
    console = signed_in(app.test_client(), licensing_staff)
    with app.app_context():
        name = db.session().get(Organization, vendor.organization_id).legal_name

    page = console.get(f"{path}?organization={vendor.organization_id}&q=x&page=2")

    assert f"Only {name}\u2019s {records} are listed." in _words(page)
    form = _filter_form(page)
    assert f'<input type="hidden" name="organization" value="{vendor.organization_id}">' in form
    assert _link_after(page, f"{records} are listed.") == f"{path}?q=x"


def test_an_invoice_list_narrowed_to_an_organization_that_does_not_exist_says_so(
    app: Flask, vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    _invoices(vendor.organization_id, 1)
    console = signed_in(app.test_client(), licensing_staff)

    page = console.get("/console/invoices?organization=999999")

    text = _words(page)
    assert "No organization has the number 999999, so no invoices are listed." in text
    assert "INV-" not in text
    assert _link_after(page, "so no invoices are listed.") == "/console/invoices?"


def test_filtering_a_list_narrowed_to_an_organization_lists_only_its_records(
    app: Flask, vendor: Any, other_vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    (own,) = _invoices(vendor.organization_id, 1)
    (elsewhere,) = _invoices(other_vendor.organization_id, 1)
    console = signed_in(app.test_client(), licensing_staff)

    # What the filter form sends: its hidden organization with the state chosen.
    page = console.get(f"/console/invoices?organization={vendor.organization_id}&state={own.state}")

    listed = _words(page)
    assert own.number in listed
    assert elsewhere.number not in listed
    assert elsewhere.number in _words(console.get(f"/console/invoices?state={own.state}"))


def test_the_invoices_to_pay_link_lists_the_organizations_invoices_to_pay_not_its_paid_ones(
    app: Flask, vendor: Any, licensing_staff: Any, billing_staff: Any, signed_in: Any
) -> None:
    # Years of paid invoices buried the two the line counted: the link listed every
    # invoice of the organization, newest first.
    paid = _invoices(vendor.organization_id, 3)
    for number, invoice in enumerate(paid):
        paid_offline(invoice.id, "1000.00", f"WIRE-{number}")
    owed = _invoices(vendor.organization_id, 6)
    console = signed_in(app.test_client(), licensing_staff)

    page = _closing(console, vendor.organization_id)

    more = "And 1 more invoice to pay: 6,000.00 USD owed on 6 invoices in all."
    link = _link_after(page, more)
    assert "The organization's invoices to pay" in _words(page)
    for staff in (console, signed_in(app.test_client(), billing_staff)):
        listed = staff.get(link)
        text = _words(listed)
        assert all(invoice.number in text for invoice in owed)
        assert not any(invoice.number in text for invoice in paid)
        # The filter form keeps both: the organization and "with a balance to pay".
        form = _filter_form(listed)
        assert 'name="to_pay" value="1" checked' in form
        assert f'name="organization" value="{vendor.organization_id}"' in form


def test_the_agreements_link_lists_those_in_force_or_waiting_not_those_that_ended(
    app: Flask,
    example_card: Any,
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    signed_in: Any,
) -> None:
    # It listed every agreement the organization ever had, ended ones among them.
    ended = issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    agreement_services.terminate(ended.id, "Issued in error.", Actor.SYSTEM, now=NOW)
    waiting = [issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW) for _ in range(6)]
    console = signed_in(app.test_client(), licensing_staff)

    page = _closing(console, vendor.organization_id)

    link = _link_after(page, "And 1 more agreement in force or waiting for acceptance.")
    assert "The organization's agreements in force or waiting for acceptance" in _words(page)
    for staff in (console, signed_in(app.test_client(), billing_staff)):
        listed = _words(staff.get(link))
        assert all(agreement.number in listed for agreement in waiting)
        assert ended.number not in listed


def _record_link(page: Any, label: str) -> str:
    """The path and query of the list's link whose text is `label` (a record's)."""
    found = re.search(
        r'<a href="([^"]+)">' + re.escape(label) + "</a>", page.get_data(as_text=True)
    )
    assert found is not None, label
    return _path_and_query(found.group(1))


def _link_back(page: Any, label: str) -> str:
    """The path and query of the eyebrow's link back to the list, named `label`."""
    found = re.search(
        r'<p class="eyebrow">Staff console · <a href="([^"]+)">' + re.escape(label) + "</a>",
        page.get_data(as_text=True),
    )
    assert found is not None, label
    return _path_and_query(found.group(1))


def test_a_record_opened_from_a_list_narrowed_to_its_organization_links_back_to_that_list(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    """The record page's link back to its list returned to every organization's."""
    (invoice,) = _invoices(vendor.organization_id, 1)
    agreement = issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    application = apply(vendor, STAFF_USE)
    console = signed_in(app.test_client(), licensing_staff)
    narrowed = f"organization={vendor.organization_id}"

    for path, label, back in (
        ("/console/invoices", invoice.number, "Invoices"),
        ("/console/agreements", agreement.number, "Agreements"),
        ("/console/applications", application.reference, "Applications"),
    ):
        listed = console.get(f"{path}?{narrowed}")
        record = _record_link(listed, label)
        assert record.endswith(f"?{narrowed}")
        assert _link_back(console.get(record), back) == f"{path}?{narrowed}"
        # Opened from the unnarrowed list, or naming another organization (a record
        # in no such list), the link back lists every organization's.
        plain = record.partition("?")[0]
        assert _link_back(console.get(plain), back) == path
        elsewhere = f"{plain}?organization={other_vendor.organization_id}"
        assert _link_back(console.get(elsewhere), back) == path


def _form_action(page: Any, path_end: str) -> str:
    """The path and query a form of the page posts to, whose path ends `path_end`."""
    for action in re.findall(r'<form method="post" action="([^"]+)"', page.get_data(as_text=True)):
        if urlsplit(html.unescape(action)).path.endswith(path_end):
            return _path_and_query(action)
    raise AssertionError(path_end)


def _after(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return _path_and_query(response.headers["Location"])


def test_an_action_on_a_record_opened_from_a_narrowed_list_returns_to_it_still_narrowed(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    admin: Any,
    signed_in: Any,
) -> None:
    """After a payment recorded, a note or a termination, the record page came back
    without `?organization=ID`, and its link back listed every organization's."""
    (invoice,) = _invoices(vendor.organization_id, 1)
    agreement = issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    application = apply(vendor, STAFF_USE)
    console = signed_in(app.test_client(), admin)
    narrowed = f"organization={vendor.organization_id}"

    for path, label, back, action, data in (
        (
            "/console/invoices",
            invoice.number,
            "Invoices",
            "/payments",
            {"method": "wire", "amount": "100.00", "reference": "WIRE-77"},
        ),
        ("/console/applications", application.reference, "Applications", "/notes", {"body": "Hi"}),
        (
            "/console/agreements",
            agreement.number,
            "Agreements",
            "/terminate",
            {"reason": "The licensee asked."},
        ),
    ):
        record = _record_link(console.get(f"{path}?{narrowed}"), label)
        posted_to = _form_action(console.get(record), action)
        assert posted_to.endswith(f"?{narrowed}")
        answer = console.post(posted_to, data=data)
        if 'name="confirmation"' in answer.get_data(as_text=True):  # asked first: confirm
            confirming = {**data, "confirmed": "yes", "confirmation": confirmation_carried(answer)}
            answer = console.post(posted_to, data=confirming)
        returned = _after(answer)
        assert returned == record
        assert _link_back(console.get(returned), back) == f"{path}?{narrowed}"


def test_a_confirmations_way_back_keeps_the_narrowing(
    app: Flask, vendor: Any, other_vendor: Any, admin: Any, signed_in: Any
) -> None:
    (invoice,) = _invoices(vendor.organization_id, 1)
    console = signed_in(app.test_client(), admin)
    record = f"/console/invoices/{invoice.id}?organization={vendor.organization_id}"
    void = _form_action(console.get(record), "/void")
    asked = console.post(void, data={"void-reason": "Issued in error."})
    assert asked.status_code == 200
    # Round 61 (keyboard61b): the way back names the button pressed, to return the focus.
    assert f'href="{html.escape(record)}#void-invoice"' in asked.get_data(as_text=True)
    # Another organization's id is not the record's: it is not carried.
    elsewhere = f"/console/invoices/{invoice.id}?organization={other_vendor.organization_id}"
    assert _form_action(console.get(elsewhere), "/void") == f"/console/invoices/{invoice.id}/void"
