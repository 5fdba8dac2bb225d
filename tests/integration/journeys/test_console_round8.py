"""Round 8's console filters and labels, and the console's small defects
(docs/journeys.md, "Round 8: console filters and labels")."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts import views as account_views
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements import views as agreement_views
from licensing.agreements.models import Application
from licensing.arguments import field_message, message
from licensing.audit import views as audit_views
from licensing.billing import services as billing
from licensing.billing import views as billing_views
from licensing.exports import views as export_views
from licensing.finance import views as finance_views
from licensing.mail import views as mail_views
from licensing.permissions import views as permission_views
from licensing.royalties import views as royalty_views
from licensing.words import USE_LABELS
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.integration.billing.conftest import activated, send_activation
from tests.support.markup import duplicate_ids
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]

# Each filtered console page, who may open it, its one map of its filters' labels,
# and the id of each filter's control (by parameter name) where it is not the name.
LABELLED_PAGES = [
    ("billing_staff", "/console/exports", export_views.FIELD_LABELS, {}),
    (
        "billing_staff",
        "/console/finance/",
        finance_views.FILTER_LABELS,
        {name: f"filter-{name}" for name in finance_views.FILTER_LABELS},
    ),
    ("admin", "/console/audit", audit_views.FILTER_LABELS, {}),
    ("licensing_staff", "/console/applications", agreement_views.QUEUE_FILTER_LABELS, {}),
    ("licensing_staff", "/console/permissions/", permission_views.QUEUE_FILTER_LABELS, {}),
    ("licensing_staff", "/console/royalty-reports", royalty_views.QUEUE_FILTERS, {}),
    ("licensing_staff", "/console/organizations", account_views.ORGANIZATION_FILTERS, {}),
    ("admin", "/console/users", account_views.USER_FILTERS, {}),
    ("admin", "/console/outbox", mail_views.OUTBOX_FILTERS, {}),
    ("billing_staff", "/console/invoices", billing_views.INVOICE_LIST_FILTERS, {}),
]


def _labels(page: str) -> dict[str, str]:
    """Each `<label for=...>`'s text, by the control's id; a legend under `legend`."""
    found = {
        ident: html.unescape(text)
        for ident, text in re.findall(r'<label for="([^"]+)">([^<]*)</label>', page)
    }
    for text in re.findall(r"<legend>([^<]*)</legend>", page):
        found.setdefault("legend", html.unescape(text))
    return found


@pytest.mark.parametrize(("who", "url", "labels", "ids"), LABELLED_PAGES)
def test_each_filtered_console_page_labels_its_filters_from_its_one_map(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    signed_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
    who: str,
    url: str,
    labels: dict[str, str],
    ids: dict[str, str],
) -> None:
    # The map named a field in a refusal ("Search takes one value ...") while the
    # template wrote the same label again: a label changed in one place only would
    # have the page and its refusals disagree. The form's labels now come from the map.
    for name in labels:
        monkeypatch.setitem(labels, name, f"Relabelled {name}")
    page = signed_in(client, request.getfixturevalue(who)).get(url)
    assert page.status_code == 200, url
    shown = _labels(page.get_data(as_text=True))
    for name in labels:
        ident = ids.get(name, name)
        wanted = f"Relabelled {name}"
        assert shown.get(ident) == wanted or shown.get("legend") == wanted, (url, name, shown)


def test_the_exports_summary_names_each_field_by_its_label(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    # The summary above the form read "As of: ..." and "By: ..." for the fields
    # labelled "Balances as of" (round 59; "Receivables as of") and "Dates apply to".
    page = signed_in(client, billing_staff).get(
        "/console/exports?dataset=invoices&as_of=someday&by=sometime"
    )
    assert page.status_code == 422
    summary = text_of(page).split("Please correct the following", 1)[1].split("Dataset", 1)[0]
    assert "Balances as of: " in summary  # "Receivables as of" until round 59
    assert "Dates apply to: " in summary
    assert "As of:" not in summary.replace("Balances as of:", "")
    assert "By:" not in summary


def test_page_given_twice_is_refused_in_the_words_of_the_filters(
    client: FlaskClient, signed_in: SignIn, vendor: Any
) -> None:
    # "Give page once: it takes one value, and it was given 2 times.": the API's
    # words, naming the address's parameter, where every filter names its label.
    response = signed_in(client, vendor).get("/portal/applications?page=2&page=1")
    assert response.status_code == 400
    assert field_message("Page", 2) in text_of(response)
    assert message("page", 2) not in text_of(response)


# --- an assignee nobody is ------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["987654", "99999999999999999999"])
def test_the_application_queue_says_an_assignee_id_names_nobody_rather_than_listing_nothing(
    apply: Callable[..., Application],
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    raw: str,
) -> None:
    # `?assignee=987654` listed no application and said nothing, as if no one had
    # any: the id is nobody the filter offers.
    application = apply(vendor, STAFF_USE)
    staff = signed_in(client, licensing_staff)
    assert application.reference in text_of(staff.get("/console/applications"))
    page = staff.get(f"/console/applications?assignee={raw}")
    assert page.status_code == 422
    text = text_of(page)
    assert "No one who may be assigned has the id" in text
    assert "choose an assignee from the list" in text
    assert "Nothing is listed until the filters above are corrected." in text
    assert application.reference not in text
    markup = page.get_data(as_text=True)
    assert 'aria-describedby="assignee-error"' in markup  # tied to its field
    assert duplicate_ids(markup) == []
    # A reviewer's id still lists what is theirs (nothing here), without a word.
    mine = staff.get(f"/console/applications?assignee={licensing_staff.id}")
    assert mine.status_code == 200
    assert "No one who may be assigned" not in text_of(mine)


def test_the_permission_queue_says_an_assignee_id_names_nobody(
    client: FlaskClient, signed_in: SignIn, licensing_staff: Any
) -> None:
    staff = signed_in(client, licensing_staff)
    page = staff.get("/console/permissions/?assignee=987654")
    assert page.status_code == 422
    text = text_of(page)
    assert "No one who may be assigned has the id 987654" in text
    assert "Nothing is listed until the filters above are corrected." in text
    assert staff.get(f"/console/permissions/?assignee={licensing_staff.id}").status_code == 200


# --- the royalty queue's example number ------------------------------------------------------


def test_the_royalty_queue_s_agreement_example_is_this_year_s_number(
    client: FlaskClient,
    signed_in: SignIn,
    licensing_staff: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The placeholder read "CPT-2027-" whatever the year.
    monkeypatch.setattr(royalty_views, "utcnow", lambda: datetime(2031, 3, 2, 15, 0, tzinfo=UTC))
    page = signed_in(client, licensing_staff).get("/console/royalty-reports")
    assert 'placeholder="CPT-2031-"' in page.get_data(as_text=True)


# --- the priced uses' words -----------------------------------------------------------------


def test_the_priced_uses_name_each_use_as_the_application_form_does(
    apply: Callable[..., Application],
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    # The table of priced uses read "distribution" under the product: the stored
    # name, lower case, where the form and the estimate say the use in words.
    application = apply(vendor, STAFF_USE)
    wanted = f'<span class="muted">{html.escape(USE_LABELS["distribution"])}</span>'
    console = signed_in(client, licensing_staff).get(f"/console/applications/{application.id}")
    assert wanted in console.get_data(as_text=True)
    client.get("/sign-out")
    portal = signed_in(FlaskClient(client.application), vendor)
    own = portal.get(f"/portal/applications/{application.id}")
    assert wanted in own.get_data(as_text=True)


# --- why an organization is held --------------------------------------------------------------


def test_an_organization_held_for_an_overdue_invoice_says_which_and_since_when(
    app: Flask,
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    # Held "pending payment" by the overdue run, the organization's pages showed
    # only the badge: which invoice, and since when, was in a history note.
    invoice = send_activation(
        activated(vendor.organization_id, ("900.00",), at=datetime(2026, 6, 1, 15, 0, tzinfo=UTC))
    )
    assert invoice is not None
    billing.process_overdue(standing_days=30)
    organization = vendor.organization
    db.session().refresh(organization)
    assert organization.standing == "pending_payment"
    console = text_of(
        signed_in(client, licensing_staff).get(f"/console/organizations/{organization.id}")
    )
    assert re.search(
        rf"Held since [A-Z][a-z]+ \d{{1,2}}, \d{{4}}: "
        rf"invoice {invoice.number} is \d+ days overdue\.",
        console,
    ), console
    client.get("/sign-out")
    portal = signed_in(FlaskClient(app), vendor)
    own = text_of(portal.get("/organization"))
    assert "Held since" in own
    assert f"invoice {invoice.number} is" in own
    dashboard = text_of(portal.get("/portal/"))
    assert f"invoice {invoice.number} is" in dashboard
    # The standing's reason, a service's message, in words on the page (round 58).
    assert re.search(r"until that is settled \(held since [A-Z][a-z]+ \d+, \d{4}\)\.", dashboard)


def test_an_organization_held_by_staff_shows_the_reason_they_gave(
    client: FlaskClient, signed_in: SignIn, vendor: Any, licensing_staff: Any, billing_staff: Any
) -> None:
    reason = "The March check bounced; waiting for a transfer"
    accounts.change_organization_standing(
        vendor.organization_id,
        "mark_pending_payment",
        reason=reason,
        actor=Actor.of(accounts.principal_for(billing_staff)),
    )
    console = text_of(
        signed_in(client, licensing_staff).get(f"/console/organizations/{vendor.organization_id}")
    )
    assert f"{reason}." in console.split("Held since", 1)[1]


# --- approval amounts ----------------------------------------------------------------------


def _approved_with(
    application: Application, typed: str, licensing_staff: Any, staff: FlaskClient
) -> TestResponse:
    """The console's approval form posted with `typed` as use 1's new amount, once
    `licensing_staff` has started the review."""
    agreements.start_review(
        application.id, Actor.of(accounts.principal_for(licensing_staff)), now=NOW
    )
    return staff.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-0": typed, "reason-0": "Agreed with the vendor"},
    )


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("-5", "The amount must be 0 or more."),
        ("-0.01", "The amount must be 0 or more."),
        ("1250.125", 'Use at most 2 decimal places, such as "1250.00".'),
        ("1250.00001", 'Use at most 2 decimal places, such as "1250.00".'),
        (
            "123456789012345",
            "The amount is too large: at most 14 digits before the decimal point",
        ),
        ("lots", 'Enter an amount such as "1250.00".'),
    ],
)
def test_an_approval_amount_is_refused_with_what_is_wrong_with_it(
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
    app: Flask,
    typed: str,
    said: str,
) -> None:
    # "-0" was approved as an amount (round 50 reads it as 0, as the API does); too
    # many decimals or too many digits read only 'Enter an amount such as "1250.00".'.
    application = apply(vendor, STAFF_USE)
    refused = _approved_with(
        application, typed, licensing_staff, signed_in(app.test_client(), licensing_staff)
    )
    assert refused.status_code == 422
    page = html.unescape(refused.get_data(as_text=True))
    error = page[page.index('id="amount-0-error"') :].split("</p>")[0]
    assert said in error
    db.session().expire_all()
    assert db.session().get(Application, application.id).state == "in_review"  # type: ignore[union-attr]


def test_the_api_reads_minus_zero_as_zero_and_never_writes_a_signed_zero(
    apply: Callable[..., Application], client: FlaskClient, vendor: Any, licensing_staff: Any
) -> None:
    # "-0" is zero, which "non-negative" admits (the contracts' word for amounts):
    # it is read without its sign, so no "-0.00" is stored or shown.
    from tests.support.factories import bearer

    application = apply(vendor, STAFF_USE)
    agreements.start_review(
        application.id, Actor.of(accounts.principal_for(licensing_staff)), now=NOW
    )
    answer = client.post(
        f"/api/v1/applications/{application.id}/approve",
        json={"lines": [{"line": 0, "amount": "-0", "reason": "Agreed"}]},
        headers=bearer(licensing_staff),
    )
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200, body
    assert '"to":"0.00"' in body.replace(" ", "")
    assert '"-0' not in body


@pytest.mark.parametrize("typed", ["-0", "-0.00", "-0.0"])
def test_the_approval_form_reads_minus_zero_as_zero_as_the_api_does(
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
    app: Flask,
    typed: str,
) -> None:
    # Round 8 refused "-0" here as below zero while the API approved it as 0.00
    # (above); round 50 reads it as the API does, and stores no signed zero.
    application = apply(vendor, STAFF_USE)
    approved = _approved_with(
        application, typed, licensing_staff, signed_in(app.test_client(), licensing_staff)
    )
    assert approved.status_code == 302, approved.get_data(as_text=True)
    db.session().expire_all()
    found = db.session().get(Application, application.id)
    assert found is not None
    assert found.state == "approved"
    from tests.support.factories import bearer

    body = (
        app.test_client()
        .get(f"/api/v1/applications/{application.id}", headers=bearer(licensing_staff))
        .get_data(as_text=True)
    )
    assert '"-0' not in body
    assert '"to":"0.00"' in body.replace(" ", "")
