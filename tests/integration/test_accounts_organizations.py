"""Organization profiles and standing: pages, API, state machine, audit and notices."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.countries import unknown_country
from licensing.accounts.forms import ContactForm, OrganizationForm
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.errors import Conflict, IllegalTransition, InvalidInput, PermissionDenied
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer

PROBLEM = "application/problem+json"


def _organization(user: User) -> Organization:
    found = db.session().get(Organization, user.organization_id, populate_existing=True)
    assert found is not None
    return found


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


# --- standing: the service ------------------------------------------------------------


def test_each_allowed_standing_step_moves_the_organization_and_is_audited(
    app: Flask, vendor: User
) -> None:
    organization = _organization(vendor)
    session = db.session()
    steps = [
        ("mark_pending_payment", "pending_payment"),
        ("payment_received", "active"),
        ("suspend", "suspended"),
        ("reinstate", "active"),
        ("close", "closed"),
    ]
    for action, expected in steps:
        before = organization.standing
        services.change_standing(
            session, organization, action, reason=f"because {action}", actor=Actor.SYSTEM
        )
        assert organization.standing == expected
        event = _events("organization.standing_changed")[-1]
        assert event.before_data == {"standing": before}
        assert event.after_data == {"standing": expected}
        assert event.note == f"because {action}"
    session.commit()


def test_an_illegal_standing_step_is_refused_naming_the_allowed_ones(
    app: Flask, vendor: User
) -> None:
    organization = _organization(vendor)
    with pytest.raises(IllegalTransition) as refused:
        services.change_standing(
            db.session(), organization, "payment_received", reason=None, actor=Actor.SYSTEM
        )
    assert refused.value.allowed == ["close", "mark_pending_payment", "suspend"]
    assert organization.standing == "active"


@pytest.mark.parametrize("action", ["suspend", "close", "mark_pending_payment"])
def test_serious_standing_changes_need_a_reason(app: Flask, vendor: User, action: str) -> None:
    organization = _organization(vendor)
    with pytest.raises(InvalidInput) as refused:
        services.change_standing(
            db.session(), organization, action, reason="  ", actor=Actor.SYSTEM
        )
    assert "reason" in refused.value.errors
    db.session().rollback()
    assert _organization(vendor).standing == "active"


def test_a_standing_change_emails_the_members_and_billing_contact(app: Flask, vendor: User) -> None:
    organization = _organization(vendor)
    services.change_standing(
        db.session(), organization, "suspend", reason="Unpaid since May", actor=Actor.SYSTEM
    )
    messages = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "standing_changed")
    )
    # One message for those who file and pay, one for those who only pay.
    assert sorted(message.to for message in messages) == [
        [organization.billing_email],
        [vendor.email],
    ]
    for message in messages:
        assert "suspended" in message.subject
        assert "Unpaid since May" in message.body_text


@pytest.mark.parametrize(
    ("standing", "good", "phrase"),
    [
        ("applying", True, None),
        ("active", True, None),
        ("pending_payment", False, "overdue invoice"),
        ("suspended", False, "suspended"),
        ("closed", False, "closed"),
    ],
)
def test_good_standing_and_the_reason_an_organization_is_blocked(
    app: Flask, standing: str, good: bool, phrase: str | None
) -> None:
    organization = factories.make_organization(db.session(), standing=standing)
    assert services.organization_in_good_standing(organization) is good
    reason = services.standing_block_reason(organization)
    if good:
        assert reason is None
        services.ensure_good_standing(organization)
    else:
        assert reason is not None
        assert phrase in reason
        assert organization.legal_name in reason
        with pytest.raises(Conflict, match=phrase):
            services.ensure_good_standing(organization)


# --- standing: the console and the API ---------------------------------------------------


def test_licensing_staff_change_the_standing_on_the_console_with_a_reason(
    app: Flask, vendor: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    url = f"/console/organizations/{vendor.organization_id}"
    page = client.get(url).get_data(as_text=True)
    assert '<option value="suspend">' in page
    response = client.post(f"{url}/standing", data={"action": "suspend", "reason": "Audit pending"})
    assert response.status_code == 302
    assert _organization(vendor).standing == "suspended"
    # Round 34: the message says whom it emailed (staff asked "did they hear?").
    contact = _organization(vendor).billing_email
    assert f"is now suspended. We emailed 2 addresses: {vendor.email}, {contact}." in client.get(
        url
    ).get_data(as_text=True)
    event = _events("organization.standing_changed")[-1]
    assert event.actor == licensing_staff.email
    assert event.actor_user_id == licensing_staff.id
    assert event.note == "Audit pending"
    assert event.request_id
    assert event.client_ip == "127.0.0.1"
    history = client.get(url).get_data(as_text=True)
    assert "Audit pending" in history


def test_the_console_explains_a_missing_reason_beside_the_field(
    app: Flask, vendor: User, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), billing_staff)
    response = client.post(
        f"/console/organizations/{vendor.organization_id}/standing",
        data={"action": "mark_pending_payment", "reason": ""},
    )
    assert response.status_code == 422
    assert 'id="reason-error"' in response.get_data(as_text=True)
    assert _organization(vendor).standing == "active"


def test_the_api_changes_standing_and_answers_409_for_an_illegal_step(
    client: FlaskClient, vendor: User, billing_staff: User
) -> None:
    headers = bearer(billing_staff)
    url = f"/api/v1/organizations/{vendor.organization_id}/standing"
    done = client.post(
        url, json={"action": "mark_pending_payment", "reason": "INV overdue"}, headers=headers
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["standing"] == "pending_payment"
    assert done.get_json()["good_standing"] is False
    # Round 34: whom it emailed, as round 33's organization steps answer it.
    organization_id = vendor.organization_id
    contact = _organization(vendor).billing_email
    assert done.get_json()["recipients"] == [
        {"email": vendor.email, "audience": "member", "organization_id": organization_id},
        {"email": contact, "audience": "billing_contact", "organization_id": organization_id},
    ]
    assert done.get_json()["emailed_summary"] == (f"emailed 2 addresses: {vendor.email}, {contact}")
    illegal = client.post(url, json={"action": "activate"}, headers=headers)
    assert illegal.status_code == 409
    assert illegal.mimetype == PROBLEM
    body = illegal.get_json()
    assert body["state"] == "pending_payment"
    # Round 58: the caller's own steps, as the organization read by them lists them
    # (`close` and `suspend` are licensing staff's; it listed them to billing staff).
    assert body["allowed_actions"] == ["payment_received"]
    unknown = client.post(url, json={"action": "promote"}, headers=headers)
    assert unknown.status_code == 422
    assert "action" in unknown.get_json()["errors"]


def test_vendors_cannot_change_standing(client: FlaskClient, vendor: User) -> None:
    response = client.post(
        f"/api/v1/organizations/{vendor.organization_id}/standing",
        json={"action": "suspend", "reason": "x"},
        headers=bearer(vendor),
    )
    assert response.status_code == 403
    assert _organization(vendor).standing == "active"


def test_staff_list_organizations_by_standing(
    client: FlaskClient, licensing_staff: User, app: Flask
) -> None:
    suspended = factories.make_organization(db.session(), standing="suspended")
    factories.make_organization(db.session(), standing="active")
    response = client.get(
        "/api/v1/organizations",
        query_string={"standing": "suspended"},
        headers=bearer(licensing_staff),
    )
    assert [item["id"] for item in response.get_json()] == [suspended.id]
    page = signed_in_page(app, licensing_staff, "/console/organizations?standing=suspended")
    assert suspended.legal_name in page


def signed_in_page(app: Flask, user: User, path: str) -> str:
    client = app.test_client()
    client.post("/sign-in", data={"email": user.email, "password": factories.DEFAULT_PASSWORD})
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- profiles ---------------------------------------------------------------------------


def test_a_vendor_updates_the_address_and_only_the_changes_are_audited(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    organization = _organization(vendor)
    form = {
        name: getattr(organization, name) or ""
        for name in (
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "billing_contact_name",
            "billing_email",
            "tax_id",
        )
    }
    form["city"] = "Salem"
    response = client.post("/organization/profile", data=form)
    assert response.status_code == 302
    assert _organization(vendor).city == "Salem"
    event = _events("organization.updated")[-1]
    assert event.before_data == {"city": "Portland"}
    assert event.after_data == {"city": "Salem"}


def test_a_vendor_may_not_change_the_legal_name_or_type(client: FlaskClient, vendor: User) -> None:
    response = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"legal_name": "Renamed Corp", "organization_type": "nonprofit"},
        headers=bearer(vendor),
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"legal_name", "organization_type"}
    assert _organization(vendor).organization_type == "commercial"


def test_licensing_staff_correct_the_legal_name(
    client: FlaskClient, vendor: User, licensing_staff: User
) -> None:
    response = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"legal_name": "Northwind Health Software LLC", "organization_type": "nonprofit"},
        headers=bearer(licensing_staff),
    )
    assert response.status_code == 200
    assert response.get_json()["organization_type"] == "nonprofit"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"country": "ZZ"}, "country"),
        ({"billing_email": "nope"}, "billing_email"),
        ({"city": "C" * 101}, "city"),
        ({"city": ""}, "city"),
        ({"organization_type": "guild"}, "organization_type"),
    ],
)
def test_bad_profile_changes_are_422_and_change_nothing(
    client: FlaskClient, vendor: User, change: dict[str, str], path: str
) -> None:
    before = _organization(vendor).snapshot()
    response = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}", json=change, headers=bearer(vendor)
    )
    assert response.status_code == 422
    assert path in response.get_json()["errors"]
    assert _organization(vendor).snapshot() == before


def test_the_dashboard_shows_the_standing_and_what_waits_on_the_vendor(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    services.change_standing(
        db.session(),
        _organization(vendor),
        "mark_pending_payment",
        reason="INV overdue",
        actor=Actor.SYSTEM,
    )
    db.session().commit()
    page = signed_in(app.test_client(), vendor).get("/portal/").get_data(as_text=True)
    assert "pending payment" in page
    assert "An overdue invoice or royalty report is holding up new applications" in page
    assert "What is waiting on whom" in page


def test_the_me_endpoint_describes_the_caller(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    mine = client.get("/api/v1/me", headers=bearer(vendor)).get_json()
    assert mine["user"]["email"] == vendor.email
    assert mine["organization"]["id"] == vendor.organization_id
    staff = client.get("/api/v1/me", headers=bearer(admin)).get_json()
    assert staff["user"]["roles"] == ["admin"]
    assert staff["organization"] is None


def test_the_console_asks_for_a_change_and_refuses_one_the_standing_does_not_allow(
    app: Flask, vendor: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    url = f"/console/organizations/{vendor.organization_id}/standing"
    nothing = client.post(url, data={"action": "", "reason": "x"})
    assert nothing.status_code == 422
    assert "Choose the change to make." in nothing.get_data(as_text=True)
    stale = client.post(url, data={"action": "reinstate", "reason": "x"})
    assert stale.status_code == 409  # an illegal step, not a mistyped field
    assert (
        "An organization that is active cannot be reinstated: of the steps you may take, it "
        "can only be closed or suspended." in stale.get_data(as_text=True)
    )  # round 58 (refusal58): not "marked pending payment", billing's step
    assert _organization(vendor).standing == "active"


def test_a_standing_change_is_audited_as_the_actor_who_made_it(
    app: Flask, vendor: User, licensing_staff: User
) -> None:
    services.change_organization_standing(
        _organization(vendor).id,
        "suspend",
        reason="Cheque bounced",
        actor=Actor.of(services.principal_for(licensing_staff)),
    )
    event = _events("organization.standing_changed")[-1]
    assert (event.actor, event.actor_user_id) == (licensing_staff.email, licensing_staff.id)
    assert (event.before_data, event.after_data) == (
        {"standing": "active"},
        {"standing": "suspended"},
    )


def test_a_standing_change_by_a_batch_job_is_audited_as_the_system(
    app: Flask, vendor: User
) -> None:
    services.change_standing(
        db.session(), _organization(vendor), "suspend", reason="Batch", actor=Actor.SYSTEM
    )
    event = _events("organization.standing_changed")[-1]
    assert (event.actor, event.actor_user_id) == ("system", None)


def test_only_licensing_or_billing_staff_change_a_standing_whichever_edge_calls(
    app: Flask, vendor: User
) -> None:
    before = len(_events("organization.standing_changed"))
    with pytest.raises(PermissionDenied):
        services.change_organization_standing(
            _organization(vendor).id,
            "suspend",
            reason="Not mine to do",
            actor=Actor.of(services.principal_for(vendor)),
        )
    assert _organization(vendor).standing == "active"
    assert len(_events("organization.standing_changed")) == before


# --- standing: who takes which step -------------------------------------------------------


def _actor(user: User) -> Actor:
    return Actor.of(services.principal_for(user))


@pytest.mark.parametrize(
    ("role", "action", "taken_by"),
    [
        ("licensing", "mark_pending_payment", "billing"),
        ("billing", "suspend", "licensing"),
        ("billing", "close", "licensing"),
    ],
)
def test_a_standing_step_of_another_role_is_refused_by_the_service_naming_the_role(
    app: Flask, vendor: User, role: str, action: str, taken_by: str
) -> None:
    staff = factories.make_staff(db.session(), roles=(role,))
    before = len(_events("organization.standing_changed"))
    with pytest.raises(PermissionDenied) as refused:
        services.change_organization_standing(
            vendor.organization_id or 0, action, reason="Not my step", actor=_actor(staff)
        )
    assert f"Only {taken_by} staff (or an admin) may" in refused.value.detail
    assert _organization(vendor).standing == "active"
    assert len(_events("organization.standing_changed")) == before


def test_billing_staff_hold_and_release_payment_and_licensing_staff_suspend_and_reinstate(
    app: Flask, vendor: User, billing_staff: User, licensing_staff: User
) -> None:
    organization_id = vendor.organization_id or 0
    billing, licensing = _actor(billing_staff), _actor(licensing_staff)
    services.change_organization_standing(
        organization_id, "mark_pending_payment", reason="INV overdue", actor=billing
    )
    # Each step: first by the other role (refused, naming the role), then by its own.
    for action, own, other, role in (
        ("payment_received", billing, licensing, "billing"),
        ("suspend", licensing, billing, "licensing"),
        ("reinstate", licensing, billing, "licensing"),
    ):
        with pytest.raises(PermissionDenied, match=f"Only {role} staff .* may"):
            services.change_organization_standing(organization_id, action, reason="x", actor=other)
        services.change_organization_standing(organization_id, action, reason="x", actor=own)
    assert _organization(vendor).standing == "active"


@pytest.mark.parametrize("roles", [("admin",), ("licensing", "billing")])
def test_an_admin_or_someone_with_both_roles_takes_every_standing_step(
    app: Flask, vendor: User, roles: tuple[str, ...]
) -> None:
    actor = _actor(factories.make_staff(db.session(), roles=roles))
    organization_id = vendor.organization_id or 0
    for action in ("mark_pending_payment", "payment_received", "suspend", "reinstate"):
        services.change_organization_standing(organization_id, action, reason="x", actor=actor)
    assert _organization(vendor).standing == "active"


def test_an_illegal_standing_step_stays_a_409_whoever_asks(
    app: Flask, vendor: User, billing_staff: User
) -> None:
    # Billing staff do not reinstate, but an active organization cannot be reinstated
    # at all: the state's answer comes first.
    with pytest.raises(IllegalTransition):
        services.change_organization_standing(
            vendor.organization_id or 0, "reinstate", reason=None, actor=_actor(billing_staff)
        )


def test_the_batch_hold_for_payment_still_works_as_the_system(app: Flask, vendor: User) -> None:
    held = services.hold_for_overdue([vendor.organization_id or 0], lambda _s, _id: "INV overdue")
    assert held == [_organization(vendor).legal_name]
    assert _organization(vendor).standing == "pending_payment"


def test_the_api_refuses_another_roles_standing_step_with_a_403_naming_the_role(
    client: FlaskClient, vendor: User, licensing_staff: User
) -> None:
    url = f"/api/v1/organizations/{vendor.organization_id}/standing"
    refused = client.post(
        url, json={"action": "mark_pending_payment", "reason": "x"}, headers=bearer(licensing_staff)
    )
    assert refused.status_code == 403
    assert refused.mimetype == PROBLEM
    assert "Only billing staff (or an admin) may mark" in refused.get_json()["detail"]
    assert _organization(vendor).standing == "active"


def test_the_console_offers_only_the_callers_standing_steps_and_says_who_takes_the_others(
    app: Flask,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    url = f"/console/organizations/{vendor.organization_id}"
    billing_page = signed_in(app.test_client(), billing_staff).get(url).get_data(as_text=True)
    assert '<option value="mark_pending_payment">' in billing_page
    assert '<option value="suspend">' not in billing_page
    assert '<option value="close">' not in billing_page
    assert "Licensing staff close its account or suspend it." in billing_page
    licensing_page = signed_in(app.test_client(), licensing_staff).get(url).get_data(as_text=True)
    assert '<option value="suspend">' in licensing_page
    assert '<option value="mark_pending_payment">' not in licensing_page
    assert "Billing staff mark it pending payment." in licensing_page


def test_the_console_refuses_another_roles_standing_step_with_a_403_and_says_whose_it_is(
    app: Flask, vendor: User, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), billing_staff)
    url = f"/console/organizations/{vendor.organization_id}/standing"
    # Closing is asked about first, but not when the caller's role does not close.
    for data in ({"action": "close", "reason": "Ended"}, {"action": "suspend", "reason": "x"}):
        refused = client.post(url, data=data)
        assert refused.status_code == 403
        page = refused.get_data(as_text=True)
        assert "Only licensing staff (or an admin) may" in html.unescape(page)
        assert 'id="action-error"' in page
    assert _organization(vendor).standing == "active"


def test_a_role_without_any_step_now_is_told_who_takes_them(
    app: Flask,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    client = signed_in(app.test_client(), billing_staff)
    services.change_organization_standing(
        vendor.organization_id or 0, "suspend", reason="Audit", actor=_actor(licensing_staff)
    )
    url = f"/console/organizations/{vendor.organization_id}"
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert "Change the standing</button>" not in page
    assert "Your role takes none of the steps its standing allows now." in page
    assert "Licensing staff close its account or reinstate it." in page
    refused = client.post(f"{url}/standing", data={"action": "reinstate"})
    assert refused.status_code == 403
    assert "Only licensing staff (or an admin) may reinstate" in html.unescape(
        refused.get_data(as_text=True)
    )
    assert _organization(vendor).standing == "suspended"


@pytest.mark.parametrize("country", ["ZZ", "USA", "u"])
def test_a_bad_country_gets_one_message_creating_or_updating_on_the_api_and_pages(
    app: Flask,
    vendor: User,
    licensing_staff: User,
    signed_in: Callable[..., FlaskClient],
    country: str,
) -> None:
    # Creating said "Use the two-letter ISO 3166-1 code, such as US." for a code
    # of the wrong length and updating "Length must be 2.": one sentence now.
    expected = unknown_country(country)
    organization = _organization(vendor)
    fields = {
        name: value or ""
        for name, value in factories.organization_fields(legal_name="Bluefin LLC").items()
    }
    signup = app.test_client().post(
        "/api/v1/signups",
        json={
            "email": "samira@bluefin.example",
            "password": "quiet-meadow-copper-17",
            "full_name": "Samira Haddad",
            "organization": {**{k: v for k, v in fields.items() if v}, "country": country},
        },
    )
    update = app.test_client().patch(
        f"/api/v1/organizations/{organization.id}",
        json={"country": country},
        headers=bearer(vendor),
    )
    for response, path in ((signup, "organization.country"), (update, "country")):
        assert response.status_code == 422
        assert response.get_json()["errors"][path] == [expected]

    sign_up_page = app.test_client().post(
        "/sign-up",
        data={
            **fields,
            "country": country,
            "full_name": "Samira Haddad",
            "email": "samira@bluefin.example",
            "password": "quiet-meadow-copper-17",
            "confirm": "quiet-meadow-copper-17",
        },
    )
    contact = {name: fields[name] for name in ContactForm.FIELDS}
    profile_page = signed_in(app.test_client(), vendor).post(
        "/organization/profile", data={**contact, "country": country}
    )
    console_page = signed_in(app.test_client(), licensing_staff).post(
        f"/console/organizations/{organization.id}/profile",
        data={**{name: fields[name] for name in OrganizationForm.FIELDS}, "country": country},
    )
    for page in (sign_up_page, profile_page, console_page):
        assert page.status_code == 422
        assert escape(expected) in page.get_data(as_text=True)
    assert _organization(vendor).country == "US"
