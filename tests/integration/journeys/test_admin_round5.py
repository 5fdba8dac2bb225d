"""Round 5: what a licensing office's administrator tripped on in the first weeks
(adding staff, changing roles, publishing a rate card, reading the audit log)."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import example_document
from tests.support import factories


def _rows(page: str) -> list[str]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in body.split("<tr")[1:]
    ]


def test_the_audit_log_finds_a_staff_members_role_changes_by_their_email_address(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    from licensing import db

    clerk = factories.make_staff(db.session(), roles=("billing",), email="clerk@office.example")
    signed_in(client, admin)
    saved = client.post(
        f"/console/users/{clerk.id}/roles", data={"roles": ["billing", "licensing"]}
    )
    assert saved.status_code == 302

    found = client.get("/console/audit", query_string={"entity_id": "Clerk@Office.example "})
    rows = _rows(found.get_data(as_text=True))
    changed = [row for row in rows if "user.roles_changed" in row]
    assert len(changed) == 1
    assert admin.email in changed[0]
    assert "clerk@office.example" in changed[0]  # the record is named, not "user 7"
    assert f'<a href="/console/users/{clerk.id}">clerk@office.example</a>' in found.get_data(
        as_text=True
    )


def test_a_rate_card_publication_in_the_audit_log_links_to_the_card(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    from licensing.ratecards import services

    document = example_document()
    document["version"] = "2027.9"
    services.import_card(document, published_by=admin.email)
    signed_in(client, admin)
    page = client.get("/console/audit", query_string={"entity_id": "2027.9"}).get_data(as_text=True)
    assert '<a href="/console/rate-cards/2027.9">Rate card 2027.9</a>' in page


def _last_link(path: str) -> str:
    from sqlalchemy import select

    from licensing import db
    from licensing.mail.models import OutboxMessage

    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    found = re.search(rf"http://testserver({path}\S+)", message.body_text)
    assert found
    return found.group(1)


def _last_sign_in(email: str) -> Any:
    from sqlalchemy import select

    from licensing import db
    from licensing.accounts.models import User

    user = db.session().scalars(select(User).where(User.email == email)).one()
    db.session().refresh(user)
    return user.last_sign_in_at


def test_a_new_staff_member_signed_in_by_their_welcome_link_shows_a_last_sign_in(
    app: Any, client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    signed_in(client, admin)
    client.post(
        "/console/users",
        data={"full_name": "Lena Analyst", "email": "lena@office.example", "roles": ["licensing"]},
    )
    newcomer = app.test_client()
    password = "granite-willow-sparrow-64"
    newcomer.post(_last_link("/reset/"), data={"password": password, "confirm": password})
    assert newcomer.get("/console/").status_code == 200  # signed in by the link
    assert _last_sign_in("lena@office.example") is not None


def test_a_colleague_signed_in_by_accepting_an_invitation_shows_a_last_sign_in(
    app: Any, vendor: Any, signed_in: Any
) -> None:
    inviter = signed_in(app.test_client(), vendor)
    inviter.post("/organization/invitations", data={"email": "priya@vendor.example"})
    invitee = app.test_client()
    password = "granite-willow-sparrow-64"
    invitee.post(
        _last_link("/invitations/"),
        data={"full_name": "Priya Raman", "password": password, "confirm": password},
    )
    assert invitee.get("/portal/").status_code == 200
    assert _last_sign_in("priya@vendor.example") is not None


def _languages_shown(page: str) -> str:
    found = re.search(r'name="uses-0-languages"[^>]*value="([^"]*)"', page) or re.search(
        r'value="([^"]*)"[^>]*name="uses-0-languages"', page
    )
    assert found, "no languages field"
    return html.unescape(found.group(1))


def test_a_new_application_offers_english_and_a_saved_draft_keeps_its_languages_when_edited(
    client: FlaskClient, vendor: Any, signed_in: Any, example_card: str
) -> None:
    from licensing import db
    from licensing.agreements.models import Application

    signed_in(client, vendor)
    blank = client.get("/portal/applications/new").get_data(as_text=True)
    assert _languages_shown(blank) == "en"  # was "e, n": the default's letters

    saved = client.post(
        "/portal/applications/new",
        data={
            "term_start": "2027-01-01",
            "term_end": "2027-12-31",
            "uses-0-product_name": "Scrubber",
            "uses-0-use": "translation",
            "uses-0-product_type": "saas",
            "uses-0-user_type": "provider",
            "uses-0-delivery": "hosted",
            "uses-0-territories": "United States",
            "uses-0-languages": "en, fr",
            "uses-0-revenue": "1000",
            "save": "1",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    draft = db.session().query(Application).order_by(Application.id.desc()).first()
    assert draft is not None
    edit = client.get(f"/portal/applications/{draft.id}/edit").get_data(as_text=True)
    assert _languages_shown(edit) == "en, fr"


def test_an_analyst_opens_the_rule_and_card_that_priced_a_use_from_the_review_page(
    client: FlaskClient, vendor: Any, licensing_staff: Any, apply: Any, signed_in: Any
) -> None:
    from tests.integration.agreements.conftest import STAFF_USE

    application = apply(vendor, STAFF_USE)
    signed_in(client, licensing_staff)
    page = client.get(f"/console/applications/{application.id}").get_data(as_text=True)
    assert '<a href="/console/rate-cards/2027.1">2027.1</a>' in page
    rule = re.search(r'<a href="/console/rate-cards/2027\.1#rule-([\w-]+)">\1</a>', page)
    assert rule, "the rule is not linked to its place on the card"
    card = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    assert f'id="rule-{rule.group(1)}"' in card

    vendor_page = signed_in(client, vendor).get(f"/portal/applications/{application.id}")
    assert "/console/rate-cards/" not in vendor_page.get_data(as_text=True)


def test_the_audit_log_finds_who_issued_a_letter_by_the_letter_number(
    client: FlaskClient,
    admin: Any,
    licensing_staff: Any,
    signed_in: Any,
    submit: Any,  # noqa: F811
) -> None:
    from licensing import db
    from licensing.accounts import services as accounts
    from licensing.actors import Actor
    from licensing.permissions import services as permissions
    from licensing.permissions.models import PermissionLetter

    requested, _token = submit()
    staff = Actor.of(accounts.principal_for(licensing_staff))
    permissions.approve(requested.id, staff, conditions="Cite the owner")
    letter = db.session().query(PermissionLetter).one()

    signed_in(client, admin)
    page = client.get("/console/audit", query_string={"entity_id": letter.number})
    rows = _rows(page.get_data(as_text=True))
    approved = [row for row in rows if "permission_request.approved" in row]
    assert len(approved) == 1
    assert licensing_staff.email in approved[0]
    assert letter.number in approved[0]


def test_an_audit_log_page_past_the_last_shows_the_last_page_not_no_event_matches(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    from licensing import db
    from licensing.audit import services as audit

    with db.transaction() as session:
        for size in range(55):
            audit.record(
                session,
                action="widget.resized",
                entity_type="widget",
                entity_id=1,
                before=None,
                after={"size": size},
                actor="tests",
            )
    signed_in(client, admin)
    stale = client.get("/console/audit", query_string={"action": "widget.resized", "page": 9})
    page = stale.get_data(as_text=True)
    assert "55 events, page 2 of 2." in page
    assert "No event matches" not in page
    assert len(_rows(page)) == 5


def test_an_outbox_page_past_the_last_shows_the_last_page(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    from licensing import db
    from licensing.db import utcnow
    from licensing.mail import services as mail

    with db.transaction() as session:
        for number in range(51):
            to = f"reader{number}@example.com"
            mail.enqueue(
                session,
                to=to,
                subject=f"Message {number}",
                template="reset_password",
                context={
                    "user": {"full_name": "Reader", "email": to},
                    "link": "http://x/y",
                    "expires_at": utcnow(),
                },
            )
    signed_in(client, admin)
    page = client.get("/console/outbox", query_string={"page": 7}).get_data(as_text=True)
    assert "No message matches" not in page
    assert ">Newer</a>" in page  # the last page
    assert ">Older</a>" not in page


def test_a_rate_cards_rules_say_whom_they_apply_to_in_words_not_identifiers(
    client: FlaskClient, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    signed_in(client, licensing_staff)
    page = html.unescape(client.get(f"/console/rate-cards/{example_card}").get_data(as_text=True))
    assert (
        "Use: Distribute a product to others (installed or hosted); product type: Software, "
        "SaaS or Mobile app"
    ) in page
    for identifier in ("mobile_app", "internal_use", "data_file", "derivative_work", " saas"):
        assert identifier not in page.split("<h2>Discounts")[0].split("Rules, in order")[1]


def test_the_rate_card_list_says_which_card_a_revision_for_the_same_period_replaces(
    client: FlaskClient, admin: Any, signed_in: Any, example_card: str
) -> None:
    from licensing.ratecards import services

    revision = example_document()
    revision["version"] = "2027.2"
    services.import_card(revision, published_by=admin.email)
    signed_in(client, admin)
    rows = _rows(client.get("/console/rate-cards/").get_data(as_text=True))
    original = next(row for row in rows if row.startswith("> 2027.1"))
    assert "replaced by 2027.2" in original
    assert not any("replaced by" in row for row in rows if row.startswith("> 2027.2"))


def test_a_mid_year_revision_does_not_mark_the_annual_card_replaced(
    client: FlaskClient, admin: Any, signed_in: Any, example_card: str
) -> None:
    from licensing.ratecards import services

    revision = example_document()
    revision["version"] = "2027.7"
    revision["effective_from"] = "2027-07-01"
    services.import_card(revision, published_by=admin.email)
    signed_in(client, admin)
    rows = _rows(client.get("/console/rate-cards/").get_data(as_text=True))
    assert not any("replaced by" in row for row in rows)


def test_an_admin_is_not_offered_to_deactivate_their_own_account(
    client: FlaskClient, admin: Any, licensing_staff: Any, signed_in: Any
) -> None:
    signed_in(client, admin)
    own = client.get(f"/console/users/{admin.id}").get_data(as_text=True)
    assert ">Deactivate</button>" not in own
    assert "You cannot deactivate your own account" in own
    colleague = client.get(f"/console/users/{licensing_staff.id}").get_data(as_text=True)
    assert ">Deactivate</button>" in colleague


def test_a_rate_cards_terms_give_every_amount_with_its_currency(
    client: FlaskClient, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # The terms read "Flat fee of 2500.00" while every other page writes amounts
    # as "2,500.00 USD"; a price finer than a cent keeps its digits.
    signed_in(client, licensing_staff)
    page = client.get(f"/console/rate-cards/{example_card}").get_data(as_text=True)
    terms = " ".join(_rows(page))  # the rules' table
    assert "Flat fee of 2,500.00 USD" in terms
    assert "at 0.045 USD each" in terms
    assert "minimum 5,000.00 USD a year (prorated)" in terms
    amounts = re.findall(r"\d[\d,]*\.\d+(?: [A-Z]{3})?", terms)
    assert amounts
    assert [amount for amount in amounts if not amount.endswith(" USD")] == []


def test_comparing_two_cards_says_each_change_with_every_amount_in_its_currency(
    client: FlaskClient, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # The page listed "Change(kind='changed', subject='rule', ...)", the records'
    # repr, and its sentences gave amounts without their currency.
    from licensing.ratecards import services

    revision = example_document()
    revision["version"] = "2027.2"
    development = next(rule for rule in revision["rules"] if rule["id"] == "development")
    development["model"]["amount"] = "2750.00"
    development["minimum"] = "1000.00"
    services.import_card(revision, published_by="tests")
    signed_in(client, licensing_staff)
    page = client.get(f"/console/rate-cards/compare?old={example_card}&new=2027.2")
    shown = html.unescape(page.get_data(as_text=True))
    changes = shown[
        shown.index('<ul class="changes">') : shown.index(
            "</ul>", shown.index('<ul class="changes">')
        )
    ]
    assert "Change(" not in changes
    assert (
        "Changed rule development: charge now flat fee of 2,750.00 USD a year (prorated) "
        "(was flat fee of 2,500.00 USD a year (prorated)); minimum of 1,000.00 USD a year "
        "added." in changes
    )


def test_comparing_without_two_versions_says_which_one_is_missing(
    client: FlaskClient, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # Each answered 404 "There is no published rate card ''.".
    signed_in(client, licensing_staff)
    nothing = client.get("/console/rate-cards/compare")
    assert nothing.status_code == 422
    assert "Choose two rate cards to compare." in html.unescape(nothing.get_data(as_text=True))
    no_earlier = client.get(f"/console/rate-cards/compare?old=&new={example_card}")
    assert no_earlier.status_code == 422
    assert f"Choose the earlier rate card to compare {example_card} with." in html.unescape(
        no_earlier.get_data(as_text=True)
    )
    unknown = client.get(f"/console/rate-cards/compare?old=1999.1&new={example_card}")
    assert unknown.status_code == 404
    assert (
        f"There is no published rate card '1999.1' to compare with {example_card}: "
        f"the published ones are {example_card}."
    ) in html.unescape(unknown.get_data(as_text=True))
    assert "''" not in html.unescape(no_earlier.get_data(as_text=True))


def test_comparing_a_card_with_itself_says_it_is_the_same_card(
    client: FlaskClient, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # It listed no differences, "The two cards price every use the same way.", as if
    # two cards had been compared.
    signed_in(client, licensing_staff)
    page = client.get(f"/console/rate-cards/compare?old={example_card}&new={example_card}")
    shown = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "The two cards" not in shown
    assert f"Both sides are the same card, {example_card}: choose another version" in shown
