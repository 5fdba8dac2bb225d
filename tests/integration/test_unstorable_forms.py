"""A NUL typed or pasted into a page form comes back as the form, with the
message beside the field and what was typed kept, and nothing stored; a page
whose view does not show it on its form keeps the generic refusal (naming the
field by its label), and the API its problem document. On both backends."""

from __future__ import annotations

import html
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import ApiToken, Organization, Passkey, User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.limits import shows_on_form
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import (  # noqa: F401 - `apply` is a fixture
    AUTO_USE,
    NOW,
    STAFF_USE,
    apply,
)
from tests.integration.permissions.conftest import request_fields
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories

NUL = "\x00"
MESSAGE = "Contains a character that cannot be stored (a NUL character): remove it."


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"auth_rate_limit": "off"}


def _count(model: type[Any]) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _assert_form_again(response: Any, kept: str) -> str:
    """The form again (422) with the message, what was typed kept (the NUL shown
    as U+FFFD where it was), and no NUL anywhere in the page."""
    page = _page(response)
    assert response.status_code == 422, page[:2000]
    assert response.mimetype == "text/html"
    assert MESSAGE in page
    assert kept in page
    assert NUL not in page
    return page


def _application_form(**overrides: str) -> dict[str, str]:
    fields = {f"uses-0-{name}": str(value) for name, value in STAFF_USE.items()}
    fields.update({"term_start": "2027-01-01", "term_end": "2027-12-31", "uses-0-languages": "en"})
    fields.update(overrides)
    return fields


@pytest.mark.usefixtures("example_card")
def test_a_nul_in_the_application_form_is_the_form_again_with_the_message_by_the_field(
    client: FlaskClient, vendor: Any, signed_in: Any
) -> None:
    signed_in(client, vendor)
    before = _count(Application)
    response = client.post(
        "/portal/applications/new",
        data=_application_form(**{"uses-0-product_name": f"Claims{NUL}Scrubber Pro"}),
    )
    page = _assert_form_again(response, "Claims\ufffdScrubber Pro")
    # Beside use 1's product name: its error paragraph follows the field's id.
    assert 'id="uses-0-product_name-error"' in response.get_data(as_text=True)
    assert MESSAGE in page.split('id="uses-0-product_name-error"', 1)[1][:400]
    assert _count(Application) == before


def test_a_nul_in_the_console_approval_is_the_review_page_with_the_message_by_the_reason(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = apply(vendor, AUTO_USE, STAFF_USE)
    agreements.start_review(
        application.id, Actor.of(accounts.principal_for(licensing_staff)), now=NOW
    )
    signed_in(client, licensing_staff)
    response = client.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-1": "7,500.00", "reason-1": f"pilot{NUL} rate"},
    )
    page = _assert_form_again(response, 'value="pilot\ufffd rate"')
    assert MESSAGE in page.split('id="reason-1-error"', 1)[1][:300]
    assert "7,500.00" in page  # the other fields are kept as well
    refreshed = db.session().get(Application, application.id)
    db.session().refresh(refreshed)
    assert refreshed.state == "in_review"
    assert [version.kind for version in refreshed.quotes] == ["submitted"]


def test_a_nul_in_the_permission_request_form_is_the_form_again_and_nothing_is_stored(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/permissions/request", data=request_fields(institution=f"Cedar{NUL}Ridge")
    )
    page = _assert_form_again(response, 'value="Cedar\ufffdRidge"')
    assert "Lena Ortiz" in page
    assert _count(PermissionRequest) == 0


def test_a_nul_in_sign_up_is_the_form_again_and_no_account_is_made(client: FlaskClient) -> None:
    fields = factories.organization_fields(legal_name=f"Bluefin{NUL} Claims LLC")
    data = {name: value or "" for name, value in fields.items()}
    data.update(
        full_name="Samira Haddad",
        email="samira@bluefin.example",
        password="quiet-meadow-copper-17",
        confirm="quiet-meadow-copper-17",
    )
    users, organizations = _count(User), _count(Organization)
    page = _assert_form_again(client.post("/sign-up", data=data), "Bluefin\ufffd Claims LLC")
    assert "samira@bluefin.example" in page
    assert (_count(User), _count(Organization)) == (users, organizations)


def test_a_nul_in_a_name_the_form_has_no_field_for_is_in_its_summary(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/permissions/request", data={**request_fields(), f"extra{NUL}": "x", "comment": f"a{NUL}"}
    )
    page = _assert_form_again(response, "Lena Ortiz")
    assert f"Comment: {MESSAGE}" in page
    assert _count(PermissionRequest) == 0


def test_a_page_whose_view_does_not_show_it_on_its_form_keeps_the_generic_refusal(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    # No page reads a typed text from request.form itself any more: a choice
    # (the assignee) with a NUL forced into it gets the generic page.
    application = apply(vendor, STAFF_USE)
    signed_in(client, licensing_staff)
    response = client.post(
        f"/console/applications/{application.id}/assign", data={"assignee_id": f"7{NUL}"}
    )
    page = _page(response)
    assert response.status_code == 422
    assert "Go back (your browser keeps what you typed)" in page
    assert "in: Assigned to." in page  # the field by its label, not its raw key
    assert MESSAGE not in page
    refreshed = db.session().get(Application, application.id)
    db.session().refresh(refreshed)
    assert refreshed.assignee_id is None


def test_the_api_keeps_its_problem_document(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/permission-requests",
        data=request_fields(institution=f"Cedar{NUL}Ridge"),
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["detail"] == (
        "These fields contain a character that cannot be stored (NUL or a lone surrogate): "
        "institution. Remove it and try again."
    )
    assert "institution" in body["errors"]


def test_a_nul_in_the_query_of_a_declared_page_keeps_the_generic_refusal(
    client: FlaskClient,
) -> None:
    response = client.post(
        f"/permissions/request?from=a{NUL}", data=request_fields(institution=f"Cedar{NUL}Ridge")
    )
    assert response.status_code == 422
    assert "in: From, Institution. Go back" in _page(response)
    assert _count(PermissionRequest) == 0


def test_a_nul_in_a_search_names_the_search_on_the_refusal(
    client: FlaskClient, billing_staff: Any, signed_in: Any
) -> None:
    signed_in(client, billing_staff)
    response = client.get("/console/invoices", query_string={"q": f"a{NUL}"})
    assert response.status_code == 422
    assert "in: Search. Go back" in _page(response)


def test_every_page_form_derives_from_the_base_that_shows_the_message(app: Flask) -> None:
    from flask_wtf import FlaskForm

    from licensing.web.forms import PageForm

    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    strays = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in subclasses(FlaskForm)
        if cls.__module__.startswith("licensing.") and not issubclass(cls, PageForm)
    }
    assert strays == set()


# Every page endpoint that takes a POST, by what a NUL in its form gets. A new
# form must be put in one of the two, so none is left out silently.
SHOWN_ON_FORM = {
    "agreements.accept",
    "agreements.submit",
    "agreements_console.terminate",
    "agreements_console.reissue",
    "agreements_console.review",
    "agreements_console.add_note",
    # Round 60: the contact chasing an expired licence (its note).
    "agreements_console.record_contact",
    "agreements.request_reconsideration",
    "accounts.accept_invitation",
    "accounts.invite",
    "accounts.resend_verification",
    "accounts.reset",
    "accounts.reset_password",
    "accounts.sign_in",
    "accounts.sign_up",
    "accounts.tokens",
    "accounts.update_profile",
    "accounts_console.change_standing",
    "accounts_console.update_organization",
    "accounts_console.users",
    "agreements.edit_application",
    "agreements.new_application",
    "agreements_console.approve",
    "billing_console.credit_note",
    "billing_console.give_back_payment",
    "billing_console.record_payment",
    "billing_console.refund",
    "billing_console.return_refund",
    "billing_console.mark_stripe_event_looked_at",
    "billing_console.mark_delivery_looked_at",
    "billing_console.mark_intent_looked_at",
    "billing_console.withdraw_unknown_intents",
    "billing_console.reverse_payment",
    "billing_console.move_payment",
    "billing_console.uncollectible",
    "billing_console.void",
    "billing_console.withdraw_links",
    "permissions_console.approve",
    "permissions_console.ask",
    "permissions_console.deny",
    "permissions_console.note",
    "permissions_public.answer",
    "permissions_public.new_request",
    "permissions_public.reconsideration",
    "profile.change_email",
    "profile.change_name",
    "profile.change_password",
    "royalties.console_report",
    "royalties.portal_period",
    "estimator.estimate",
    "accounts.sign_in_code",
    "accounts_console.turn_off_two_step",
    "accounts_console.move_user",
    "accounts_console.remove_passkeys",
    "accounts.remove_member_passkeys",
    "two_step.confirm",
    "two_step.confirm_password",
    "two_step.turn_off",
    "passkeys.add",
    "passkeys.sign_in",
}
BUTTON = "a button or a choice, no text typed"
GENERIC_REFUSAL = {
    "accounts.change_member_role": BUTTON,
    "accounts.require_two_step": BUTTON,
    "two_step.new_recovery_codes": BUTTON,
    "two_step.forget_browser": BUTTON,
    "two_step.forget_all_browsers": BUTTON,
    "passkeys.remove": BUTTON,
    # The page's script asks for a ceremony's options (JSON): nothing typed is sent.
    "passkeys.add_options": BUTTON,
    "passkeys.sign_in_options": BUTTON,
    "accounts.deactivate_member": BUTTON,
    "accounts.restore_member": BUTTON,
    "accounts.revoke_invitation": BUTTON,
    "accounts.revoke_token": BUTTON,
    "accounts.sign_out": BUTTON,
    "accounts_console.change_member_role_for_organization": BUTTON,
    "accounts_console.set_active": BUTTON,
    "accounts_console.set_roles": BUTTON,
    "accounts_console.unlock": BUTTON,
    "accounts_console.forget_browsers": BUTTON,
    "accounts_console.sign_out_user": BUTTON,
    "agreements.renew": BUTTON,
    "agreements.withdraw": BUTTON,
    "agreements_console.assign": BUTTON,
    "agreements_console.bulk_assign": BUTTON,
    "billing.card_payment": BUTTON,
    "billing_console.accept_payment": "its panel lists the refusal (one textarea per payment)",
    "billing_console.accept_remainder": "its panel lists the refusal (one textarea per payment)",
    "billing_console.resend_statement": BUTTON,
    # Round 58 (replay58): a failed Stripe event applied again, its confirmation a button.
    "billing_console.apply_stripe_event_again": BUTTON,
    # Round 53: the statement shown, its days and currency in the query (a NUL there
    # is refused as any query's), the form a button.
    "billing_console.email_statement": BUTTON,
    "billing_documents.linked_card_payment": BUTTON,
    "mail_console.retry": BUTTON,
    "mail_console.send_now": BUTTON,
    "permissions_console.assign": BUTTON,
    "permissions_console.bulk_assign": BUTTON,
    "permissions_console.start_review": BUTTON,
    "permissions_public.withdraw": BUTTON,
    "ratecards_console.publish": "a file upload (its content is checked as JSON)",
    "ratecards_console.publish_checked": "a button: the checked card, in canonical JSON",
}


def test_every_page_form_post_is_listed_by_whether_its_form_shows_the_message(
    app: Flask,
) -> None:
    page_posts = {
        rule.endpoint: shows_on_form(app.view_functions[rule.endpoint])
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith(("/api/", "/webhooks/"))
    }
    assert SHOWN_ON_FORM.isdisjoint(GENERIC_REFUSAL)
    assert set(page_posts) == SHOWN_ON_FORM | set(GENERIC_REFUSAL)
    assert {endpoint for endpoint, shown in page_posts.items() if shown} == SHOWN_ON_FORM


@pytest.mark.parametrize(
    ("path", "fields", "kept"),
    [
        ("/account/name", {"full_name": f"Dana{NUL} Whitfield"}, "Dana\ufffd Whitfield"),
        ("/account/tokens", {"name": f"CI{NUL} pipeline"}, "CI\ufffd pipeline"),
        ("/account/passkeys", {"name": f"Work{NUL} laptop"}, "Work\ufffd laptop"),
    ],
    ids=["profile name", "API token", "passkey name"],
)
def test_other_declared_forms_show_the_message_too(
    client: FlaskClient,
    vendor: Any,
    signed_in: Any,
    path: str,
    fields: dict[str, str],
    kept: str,
) -> None:
    signed_in(client, vendor)
    name_before, tokens_before = db.session().get(User, vendor.id).full_name, _count(ApiToken)
    _assert_form_again(client.post(path, data=fields), kept)
    assert db.session().get(User, vendor.id).full_name == name_before
    assert _count(ApiToken) == tokens_before
    assert _count(Passkey) == 0


def test_a_nul_in_a_passkeys_answer_on_the_sign_in_page_is_the_message_with_nobody_signed_in(
    client: FlaskClient,
) -> None:
    response = client.post("/sign-in/passkey", data={"credential": f'{{"id": "a{NUL}"}}'})
    page = _page(response)
    assert response.status_code == 422
    assert MESSAGE in page
    assert NUL not in page
    with client.session_transaction() as session:
        assert "_user_id" not in session


@pytest.mark.usefixtures("example_card")
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("name", "value", "kept"),
    [
        ("uses-0-description", f"EHR{NUL} module", "EHR\ufffd module"),
        ("uses-0-revenue", f"12{NUL}00", "12\ufffd00"),
    ],
    ids=["description", "revenue"],
)
def test_a_nul_in_the_estimator_is_the_form_again_with_the_message_by_the_field(
    client: FlaskClient, method: str, name: str, value: str, kept: str
) -> None:
    # It gave the generic refusal page, by link (the query) and by post alike.
    fields = {**_application_form(), "organization_type": "commercial", name: value}
    if method == "GET":
        response = client.get("/estimate", query_string=fields)
    else:
        response = client.post("/estimate", data=fields)
    page = _assert_form_again(response, kept)
    assert "Estimated total" not in page
    field_at = page.index(f'name="{name}"')
    assert MESSAGE in page[field_at - 1500 : field_at + 1500]


@pytest.mark.usefixtures("example_card")
@pytest.mark.parametrize("path", ["/estimate", "/portal/applications/new"])
def test_a_nul_under_the_name_of_a_forms_list_of_uses_is_the_form_again_not_a_server_error(
    client: FlaskClient, path: str, vendor: Any, signed_in: Any
) -> None:
    # Round 52: `uses` is the rows' list, not an input; the message was set on its
    # `data`, which a list cannot take (an AttributeError, a 500). Nothing stored.
    signed_in(client, vendor)
    before = _count(Application)
    fields = {**_application_form(), "organization_type": "commercial", "uses": f"x{NUL}"}
    response = client.post(path, data=fields)
    page = _assert_form_again(response, "2027-12-31")
    assert f"Uses: {MESSAGE}" in page
    assert _count(Application) == before


def test_a_nul_in_the_estimators_path_keeps_the_generic_refusal(client: FlaskClient) -> None:
    response = client.get(f"/estimate{NUL}")
    assert response.status_code in (404, 422)
    assert MESSAGE not in _page(response)


@pytest.mark.parametrize("index", ["\u00b2", "\u0661"])
def test_a_nul_under_a_field_name_with_other_digits_is_named_not_a_server_error(
    client: FlaskClient, index: str, vendor: Any, signed_in: Any
) -> None:
    # The refusal names the field by its label, reading "uses.2" as "Use 3": a
    # superscript two passed str.isdigit() and int() refused it (a 500). Signed
    # in: an anonymous caller of a route that needs one is sent to sign in first.
    signed_in(client, vendor)
    response = client.post("/sign-out", data={f"uses.{index}.note": f"x{NUL}"})
    assert response.status_code == 422
    assert "Go back (your browser keeps what you typed)" in _page(response)


def test_a_nul_in_the_offices_reason_for_removing_passkeys_is_the_form_with_nothing_removed(
    app: Flask, vendor: Any, admin: Any, signed_in: Any
) -> None:
    """Round 45: the console's removal of a person's passkeys."""
    from tests.support.passkeys import add_passkey, authenticator

    assert add_passkey(signed_in(app.test_client(), vendor), authenticator()).status_code == 302
    office = signed_in(app.test_client(), admin)
    response = office.post(
        f"/console/users/{vendor.id}/passkeys/remove",
        data={"passkey": "all", "reason": f"Lost{NUL} phone"},
    )
    _assert_form_again(response, "Lost\ufffd phone")
    assert _count(Passkey) == 1


def test_a_nul_in_an_administrators_reason_for_removing_a_members_passkeys_is_the_form(
    app: Flask, vendor: Any, signed_in: Any
) -> None:
    """Round 47: an organization's administrator removes a member's passkeys."""
    from tests.support import factories
    from tests.support.passkeys import add_passkey, authenticator

    member = factories.make_vendor(db.session(), vendor.organization)
    assert add_passkey(signed_in(app.test_client(), member), authenticator()).status_code == 302
    administrator = signed_in(app.test_client(), vendor)
    for confirmed in ("", "yes"):
        response = administrator.post(
            f"/organization/members/{member.id}/passkeys/remove",
            data={"passkey": "all", "reason": f"Lost{NUL} laptop", "confirmed": confirmed},
        )
        _assert_form_again(response, "Lost\ufffd laptop")
    assert _count(Passkey) == 1


def test_a_nul_in_the_passkeys_a_removal_confirmation_named_is_the_form_with_nothing_removed(
    app: Flask, vendor: Any, signed_in: Any
) -> None:
    """Round 54: the confirming post carries the passkeys it named (round 55: signed, in
    `confirmation`)."""
    from tests.support.passkeys import add_passkey, authenticator

    member = factories.make_vendor(db.session(), vendor.organization)
    assert add_passkey(signed_in(app.test_client(), member), authenticator()).status_code == 302
    (shown,) = db.session().scalars(select(Passkey.id).where(Passkey.user_id == member.id))
    response = signed_in(app.test_client(), vendor).post(
        f"/organization/members/{member.id}/passkeys/remove",
        data={
            "passkey": "all",
            "reason": "Lost laptop",
            "confirmed": "yes",
            "confirmation": f"{shown}{NUL}",
        },
    )
    _assert_form_again(response, "Lost laptop")
    assert _count(Passkey) == 1


def test_a_nul_in_what_a_closing_confirmation_listed_is_the_form_with_nothing_closed(
    apply: Any,  # noqa: F811 - the fixture
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    """Round 54: the confirming post carries what closing ends (round 55: signed, in
    `confirmation`)."""
    listed = apply(vendor, STAFF_USE)
    signed_in(client, licensing_staff)
    response = client.post(
        f"/console/organizations/{vendor.organization_id}/standing",
        data={
            "action": "close",
            "reason": "Stopped trading",
            "confirmed": "yes",
            "confirmation": f"application:{listed.id}{NUL}",
        },
    )
    _assert_form_again(response, "Stopped trading")
    db.session().expire_all()
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    assert organization.standing == "active"
    assert db.session().get(Application, listed.id).state == "submitted"  # type: ignore[union-attr]


def test_a_nul_in_the_contact_a_links_withdrawal_named_is_the_form_with_nothing_withdrawn(
    client: FlaskClient, vendor: Any, billing_staff: Any, signed_in: Any
) -> None:
    """Round 54: the confirming post carries the billing contact it named."""
    from licensing.billing.models import InvoiceLinkRevocation
    from tests.integration.billing.conftest import activated, send_activation

    invoice = send_activation(activated(vendor.organization_id, ("100.00",)))
    assert invoice is not None
    signed_in(client, billing_staff)
    response = client.post(
        f"/console/invoices/{invoice.id}/link-withdrawals",
        data={
            "links-reason": "Forwarded",
            "confirmed": "yes",
            "confirmation": f"{vendor.organization.billing_email}{NUL}",
        },
    )
    _assert_form_again(response, "Forwarded")
    assert _count(InvoiceLinkRevocation) == 0


def test_a_nul_in_a_card_refunds_confirmation_is_the_form_with_nothing_refunded(
    client: FlaskClient, vendor: Any, billing_staff: Any, signed_in: Any
) -> None:
    """Round 54: the card refund's confirming post carries its signed `confirmation`."""
    from decimal import Decimal

    from licensing.billing import services as billing
    from licensing.billing.models import Refund
    from tests.integration.billing.conftest import activated, send_activation
    from tests.support.billing import paid_offline
    from tests.support.factories import billing_clerk

    invoice = send_activation(activated(vendor.organization_id, ("100.00",)))
    assert invoice is not None
    paid_offline(invoice.id, "100.00", "W-1")
    credit = billing.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Seat removed", actor=billing_clerk()
    )
    signed_in(client, billing_staff)
    prefix = f"refund-{credit.id}-"
    response = client.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={
            f"{prefix}method": "wire",
            f"{prefix}amount": "40.00",
            f"{prefix}reference": "RF-1",
            "confirmed": "yes",
            "confirmation": f"signed{NUL}",
        },
    )
    _assert_form_again(response, "RF-1")
    assert _count(Refund) == 0


def test_a_nul_in_a_refund_returns_confirmation_is_the_form_with_nothing_recorded(
    client: FlaskClient, vendor: Any, billing_staff: Any, signed_in: Any
) -> None:
    """Round 55: the confirming post of an offline refund's return by the bank carries
    its signed `confirmation`."""
    from decimal import Decimal

    from licensing.audit.models import AuditEvent
    from licensing.billing import services as billing
    from licensing.calendar import office_date
    from licensing.db import utcnow
    from tests.integration.billing.conftest import activated, send_activation
    from tests.support.billing import paid_offline, refunded_offline
    from tests.support.factories import billing_clerk

    invoice = send_activation(activated(vendor.organization_id, ("100.00",)))
    assert invoice is not None
    paid_offline(invoice.id, "100.00", "W-1")
    credit = billing.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Seat removed", actor=billing_clerk()
    )
    refund_id = refunded_offline(credit.id, "40.00", "RF-1").id
    signed_in(client, billing_staff)
    prefix = f"return-{refund_id}-"
    response = client.post(
        f"/console/refunds/{refund_id}/return",
        data={
            f"{prefix}reason": "Bounced back",
            f"{prefix}returned_on": office_date(utcnow()).isoformat(),
            "confirmed": "yes",
            "confirmation": f"signed{NUL}",
        },
    )
    _assert_form_again(response, "Bounced back")
    returned = (
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "refund.returned")
    )
    assert db.session().scalar(returned) == 0


def test_a_nul_in_a_stripe_events_looked_at_note_is_the_form_with_nothing_marked(
    client: FlaskClient, billing_staff: Any, signed_in: Any
) -> None:
    """Round 58 (replay58): the note a failed Stripe event is marked looked at with."""
    from licensing.billing.models import StripeEvent

    stored = StripeEvent(
        event_id="evt_nul_note", event_type="payment_intent.succeeded", received_at=db.utcnow()
    )
    stored.said("failed: the event is not what its type says. Nothing was applied")
    db.session().add(stored)
    db.session().commit()
    signed_in(client, billing_staff)
    response = client.post(
        f"/console/stripe-events/{stored.id}/looked-at",
        data={"looked_at-note": f"Resent{NUL} by hand", "confirmed": "yes"},
    )
    _assert_form_again(response, "by hand")
    db.session().expire_all()
    assert db.session().get(StripeEvent, stored.id).kind == "failed"  # type: ignore[union-attr]


def test_a_nul_in_a_stripe_deliverys_looked_at_note_is_the_form_with_nothing_marked(
    client: FlaskClient, billing_staff: Any, signed_in: Any
) -> None:
    """Round 60 (stripe60): the note a signed delivery not read is marked looked at with."""
    from licensing.audit import services as audit
    from licensing.audit.models import AuditEvent
    from licensing.billing.models import UNREADABLE_ACTION, UNREADABLE_LOOKED_AT_ACTION

    digest = "ab" * 32
    audit.record_event(
        db.session(),
        UNREADABLE_ACTION,
        digest,
        after={"bytes": 3, "start": "abc", "why": "not JSON"},
        actor=None,
    )
    db.session().commit()
    signed_in(client, billing_staff)
    response = client.post(
        f"/console/stripe-events/unreadable/{digest}/looked-at",
        data={"delivery-note": f"Resent{NUL} by hand", "confirmed": "yes"},
    )
    _assert_form_again(response, "by hand")
    marks = select(func.count()).where(AuditEvent.action == UNREADABLE_LOOKED_AT_ACTION)
    assert db.session().scalar(marks) == 0


def test_a_nul_in_an_unknown_payment_intents_looked_at_note_is_the_form_with_nothing_marked(
    client: FlaskClient, billing_staff: Any, signed_in: Any
) -> None:
    """Round 61 (payments61): the note a PaymentIntent Stripe does not know is marked
    looked at with."""
    from licensing.audit.models import AuditEvent
    from licensing.billing.models import UNKNOWN_INTENT_LOOKED_AT_ACTION

    _reported_unknown("pi_another_accounts")
    signed_in(client, billing_staff)
    response = client.post(
        "/console/stripe-events/unknown-intents/pi_another_accounts/looked-at",
        data={"intent-note": f"Checked{NUL} by hand", "confirmed": "yes"},
    )
    _assert_form_again(response, "by hand")
    marks = select(func.count()).where(AuditEvent.action == UNKNOWN_INTENT_LOOKED_AT_ACTION)
    assert db.session().scalar(marks) == 0


def test_a_nul_in_the_reason_reports_are_withdrawn_for_is_the_form_with_nothing_withdrawn(
    client: FlaskClient, billing_staff: Any, signed_in: Any
) -> None:
    """Round 65 (ops65): the reason the reports of PaymentIntents Stripe did not know are
    withdrawn with, for the jobs to ask Stripe again."""
    from licensing.audit.models import AuditEvent
    from licensing.billing.models import UNKNOWN_INTENT_WITHDRAWN_ACTION

    _reported_unknown("pi_another_accounts")
    signed_in(client, billing_staff)
    response = client.post(
        "/console/stripe-events/unknown-intents/withdraw",
        data={"withdraw-reason": f"Keys{NUL} mended", "confirmed": "yes"},
    )
    _assert_form_again(response, "mended")
    withdrawn = select(func.count()).where(AuditEvent.action == UNKNOWN_INTENT_WITHDRAWN_ACTION)
    assert db.session().scalar(withdrawn) == 0


def _reported_unknown(intent: str) -> None:
    """A job's report that Stripe does not know the PaymentIntent `intent` (round 61)."""
    from licensing.audit import services as audit
    from licensing.billing.models import UNKNOWN_INTENT_ACTION

    audit.record_event(
        db.session(),
        UNKNOWN_INTENT_ACTION,
        intent,
        after={"stripe_payment_intent_id": intent, "why": "No such"},
        actor=None,
    )
    db.session().commit()
