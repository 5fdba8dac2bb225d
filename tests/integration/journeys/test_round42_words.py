"""Round 42: stored words in the documents and emails (docs/journeys.md): each PDF
an agreement, its invoices, a credit note and a statement make, read back as text,
and searched whole for a stored identifier or a rule named by its id alone."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import ChainableUndefined, Environment, Undefined
from sqlalchemy import select

from licensing import db
from licensing.access import STAFF_ROLES
from licensing.accounts.states import STANDINGS
from licensing.billing.models import CreditNote
from licensing.billing.states import DISPUTE_STATES, PAYMENT_METHODS
from licensing.config import PROJECT_ROOT
from licensing.exports import base
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from licensing.permissions.models import MEDIA, PURPOSES, ROLES, PermissionLetter
from licensing.permissions.services._common import label as permission_label
from licensing.permissions.states import STATES as PERMISSION_STATES
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.ratecards import queries as ratecard_queries
from tests.integration.permissions.conftest import OFFICE, submit  # noqa: F401
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    DATA_FILE,
    DEVELOPMENT,
    PAYER,
    SMALL_SOFTWARE,
    SOFTWARE,
    active_agreement,
    file_report,
    previewed_csv,
    row,
)
from tests.support.agreements import up_front_invoice
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.stored_words import stored_words


def _rule_ids() -> list[str]:
    card = ratecard_queries.domain_card(ratecard_queries.get(db.session(), "2027.1"))
    return [rule.id for rule in card.rules]


def _pdf(client: FlaskClient, path: str, vendor: Any) -> str:
    answer = client.get(path, headers=bearer(vendor))
    assert answer.status_code == 200, path
    return pdf_text(answer.get_data())


def test_the_documents_and_emails_an_agreement_makes_say_no_stored_word(
    client: FlaskClient,
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Every use the sample card prices, each product and user type it counts, and
    # each delivery: the agreement, its up-front invoice, a royalty invoice for
    # units and for revenue, and the credit note an amendment makes.
    agreement = active_agreement(
        vendor,
        {**SOFTWARE, "product_type": "mobile_app"},
        {**DEVELOPMENT, "product_type": "software", "delivery": "installed"},
        DATA_FILE,
        PAYER,
        SMALL_SOFTWARE,
    )
    rules = _rule_ids()
    documents = {"agreement": _pdf(client, f"/api/v1/agreements/{agreement.id}/pdf", vendor)}
    up_front = up_front_invoice(agreement)
    documents["up-front invoice"] = _pdf(client, f"/api/v1/invoices/{up_front.id}/pdf", vendor)
    first = file_report(
        vendor,
        agreement,
        1,
        [
            row(1, "A", quantity=3000),
            row(3, "B", unit="", revenue="5000.00"),
            row(4, "C", unit="members", quantity=1000),
        ],
    )
    assert first.report is not None
    documents["royalty invoice"] = _pdf(
        client, f"/api/v1/invoices/{first.report.invoice_id}/pdf", vendor
    )
    amended = file_report(
        vendor,
        agreement,
        1,
        [
            row(1, "A", quantity=2900),
            row(3, "B", unit="", revenue="5000.00"),
            row(4, "C", unit="members", quantity=1000),
        ],
        amends=first.report.id,
        reason="Clinic A had 2900 users",
    )
    assert amended.report is not None
    credits = db.session().scalars(select(CreditNote)).all()
    assert credits
    for credit in credits:
        documents[f"credit note {credit.number}"] = _pdf(
            client, f"/api/v1/credit-notes/{credit.id}/pdf", vendor
        )
    portal = signed_in(app.test_client(), vendor)
    statement = portal.get("/portal/statement.pdf?start=2026-11-01&end=2027-12-31")
    assert statement.status_code == 200
    documents["statement"] = pdf_text(statement.get_data())
    console = signed_in(app.test_client(), billing_staff)
    for month in ("2026-11", "2027-04"):
        report = console.get(f"/console/finance/report.pdf?month={month}&currency=USD")
        assert report.status_code == 200
        documents[f"monthly report {month}"] = pdf_text(report.get_data())
    # Every email the steps sent: its subject, its text, and its HTML's text.
    for message in db.session().scalars(select(OutboxMessage)):
        documents[f"email {message.id} {message.template}"] = "\n".join(
            [message.subject, message.body_text, _text_of_html(message.body_html or "")]
        )
        for attachment in message.attachments:
            documents[f"email {message.id} {attachment.filename}"] = pdf_text(attachment.content)
    assert any(name.endswith("invoice_credit_note") for name in documents)
    found = {name: stored_words(text, rules) for name, text in documents.items()}
    assert found == {name: [] for name in documents}


def _text_of_html(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


class _Invented(ChainableUndefined):
    """Whatever a template reads that the test does not vary: text of its own, never
    a stored word (an email's names, amounts and links come from elsewhere)."""

    def __call__(self, *args: Any, **kwargs: Any) -> _Invented:
        return self

    def __str__(self) -> str:
        return "Invented"

    def _compared(self, other: object) -> bool:
        return False

    __lt__ = __le__ = __gt__ = __ge__ = _compared


class _Record:
    """A record whose vocabulary fields are given, and the rest invented."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:
        return _Invented(name=name)


def _lenient(environment: Environment) -> Environment:
    """The app's email environment, with each filter passing an invented value by."""
    overlay = environment.overlay(undefined=_Invented)
    for name, function in environment.filters.items():
        if getattr(function, "jinja_pass_arg", None) is None:
            overlay.filters[name] = lambda value, *args, _f=function, **kwargs: (
                value if isinstance(value, Undefined) else _f(value, *args, **kwargs)
            )
    return overlay


# The vocabulary an email may be given, as its services give it: each stored value.
_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed")
_STATUSES += ("needs_response", "under_review", "charge_refunded", "won", "lost")


def _variants() -> list[dict[str, Any]]:
    """Contexts that between them give every stored value an email can show."""
    variants: list[dict[str, Any]] = []
    for before, after in zip(STANDINGS, STANDINGS[1:] + STANDINGS[:1], strict=True):
        for reader in ("billing", "member"):
            variants.append({"before": before, "after": after, "reader": reader})
    for state, status in zip(DISPUTE_STATES * 3, _STATUSES, strict=False):
        variants.append({"dispute": _Record(state=state, status=status, reason="fraudulent")})
    for method in PAYMENT_METHODS:
        variants.append({"payment": _Record(method=method), "refund": _Record(method=method)})
    for index, state in enumerate(PERMISSION_STATES):
        variants.append(
            {
                "label": permission_label,
                "request": _Record(
                    state=state,
                    purpose=PURPOSES[index % len(PURPOSES)],
                    medium=MEDIA[index % len(MEDIA)],
                    stated_role=ROLES[index % len(ROLES)],
                    organization_type=ORGANIZATION_TYPES[index % len(ORGANIZATION_TYPES)],
                    audience_size=45,
                ),
            }
        )
    for roles in ([role] for role in STAFF_ROLES):
        variants.append({"roles": roles})
    return variants


def test_every_email_template_says_no_stored_word_for_any_value_it_is_given(app: Flask) -> None:
    # Each template under templates/emails, rendered with each stored value an email
    # is given (an organization's standings, a dispute's states and Stripe's
    # statuses, a payment's methods, a permission request's states, purposes, media
    # and roles, staff roles), everything else invented.
    environment = _lenient(app.jinja_env)
    names = sorted(path.name for path in (PROJECT_ROOT / "templates" / "emails").glob("*.*"))
    assert len(names) > 50
    found: dict[str, list[str]] = {}
    with app.test_request_context():
        for name in names:
            template = environment.get_template(f"emails/{name}")
            for context in _variants():
                said = stored_words(template.render(context))
                if said:
                    found.setdefault(name, []).extend(said)
    assert found == {}


@pytest.mark.usefixtures("in_december_2026")  # 2027's days, before 2028
def test_permission_letters_and_emails_say_no_stored_word(
    submit: Any,  # noqa: F811
) -> None:
    # A request of each educational purpose, medium and role the form offers, each
    # asked a question, then granted or denied in turn: the letters and every email.
    purposes = [purpose for purpose in PURPOSES if purpose != "commercial"]
    for index in range(max(len(purposes), len(MEDIA), len(ROLES))):
        request, token = submit(
            requester_email=f"requester{index}@cedar-ridge.example",
            purpose=purposes[index % len(purposes)],
            medium=MEDIA[index % len(MEDIA)],
            role=ROLES[index % len(ROLES)],
        )
        permissions.ask_for_info(request.id, "How many sections will use it?", OFFICE)
        permissions.answer(token, "Two sections.")
        if index % 2:
            permissions.deny(request.id, "The audience is a paying public.", OFFICE)
        else:
            permissions.approve(
                request.id,
                OFFICE,
                conditions=["Show the notice on every slide."],
                valid_from=date(2027, 1, 10),
                valid_until=date(2027, 6, 30),
            )
    documents = {
        f"letter {letter.number}": pdf_text(stored_pdf(letter))
        for letter in db.session().scalars(select(PermissionLetter))
    }
    assert len(documents) == len(purposes)
    for message in db.session().scalars(select(OutboxMessage)):
        documents[f"email {message.id} {message.template}"] = "\n".join(
            [message.subject, message.body_text, _text_of_html(message.body_html or "")]
        )
    found = {name: stored_words(text) for name, text in documents.items()}
    assert found == {name: [] for name in documents}


def test_the_period_page_names_a_rule_in_the_order_its_refusals_do(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # The reportable lines said "(...; rule Installed, hosted and mobile software, per
    # end user, distribution-software)", the refusal below them "(Installed, hosted
    # and mobile software, per end user; rule distribution-software)".
    agreement = active_agreement(vendor, SOFTWARE)
    named = "Installed, hosted and mobile software, per end user; rule distribution-software"
    content = (
        "line,customer_id,customer_name,country,unit,quantity,revenue\n1,A,Clinic A,US,members,3,\n"
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        page = text_of(previewed_csv(client, agreement, 1, content))
    line = page.split("Line 1: ", 1)[1].split(" counts", 1)[0]
    assert line.endswith(f"SaaS for provider users; {named})"), line
    assert f"Line 1's rule ({named}) does not count members" in page
    assert "rule Installed" not in page


def test_the_exports_page_lists_each_datasets_own_choices_and_refuses_another_naming_them(
    app: Flask, signed_in: Any, billing_staff: Any
) -> None:
    # Every dataset's states and date bases were offered whatever the dataset; a wrong
    # pick was refused only after pressing Export. Each dataset's option now lists its
    # own, for the page's script to offer only those; without the script the server's
    # refusal stays, naming the values the dataset takes in the form's words.
    console = signed_in(app.test_client(), billing_staff)
    page = console.get("/console/exports").get_data(as_text=True)
    for name, dataset in base.all_datasets().items():
        assert (
            f'<option value="{name}" data-date-bases="{" ".join(dataset.date_bases)}" '
            f'data-states="{" ".join(dataset.states)}"'  # then, since round 44, the
        ) in page  # fields it does not take (round 44: exports/test_export_fields_taken.py)
    assert 'id="dataset" name="dataset" required data-choices-for' in page
    assert 'name="by" data-choices-of="date-bases"' in page
    assert 'name="state" data-choices-of="states"' in page
    assert '<script src="/static/js/export-choices.js' in page

    refused = console.get("/console/exports?dataset=refunds&state=void&by=issued")
    assert refused.status_code == 422
    text = text_of(refused)
    assert "State Must be one of: pending, succeeded, failed." in text, text
    assert "Dates apply to Must be one of: Day sent, " not in text
