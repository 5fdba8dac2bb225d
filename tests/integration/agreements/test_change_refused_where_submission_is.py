"""Round 58 (refusal58): a change the vendor's page no longer offers, an application
that could not then be submitted (a returned one past its deadline, a held
organization's draft), is refused by the edit page and `PUT /api/v1/applications/{id}`
too, with the page's sentence, by the same check (`step_checks.may_change`)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.errors import Conflict
from tests.integration.agreements.conftest import AUTO_USE, NOW, draft
from tests.support import factories
from tests.support.settings import issuing
from tests.support.uses import STAFF_USE

BODY = {
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "uses": [{**AUTO_USE, "product_name": "Changed Pro"}],
}


class Vendor:
    def __init__(self, vendor: User, licensing_staff: User) -> None:
        self.vendor = vendor
        self.actor = Actor.of(accounts.principal_for(vendor))
        self.reviewer = Actor.of(accounts.principal_for(licensing_staff))
        admin = factories.make_staff(db.session(), roles=("admin",))
        self.office = Actor.of(accounts.principal_for(admin))

    def returned(self, *, now: Any = None) -> int:
        application_id = services.create_draft(self.actor, draft(STAFF_USE), now=now).id
        services.submit(application_id, self.actor, policy=issuing(), attest=True, now=now)
        services.start_review(application_id, self.reviewer, now=now)
        services.return_for_information(application_id, "More, please.", self.reviewer, now=now)
        return application_id

    def held(self) -> None:
        accounts.change_organization_standing(
            self.vendor.organization_id,
            "mark_pending_payment",
            reason="Invoice unpaid.",
            actor=self.office,
        )


@pytest.fixture
def vendor_office(app: Flask, vendor: User, licensing_staff: User, example_card: str) -> Vendor:
    return Vendor(vendor, licensing_staff)


def _product(application_id: int) -> str:
    db.session().expire_all()
    application = db.session().get(Application, application_id)
    assert application is not None
    return application.uses[0].product_name


def _refused_on_api_and_page(
    app: Flask,
    office: Vendor,
    application_id: int,
    signed_in: Callable[..., FlaskClient],
) -> tuple[dict[str, Any], str, str]:
    before = _product(application_id)
    api = app.test_client().put(
        f"/api/v1/applications/{application_id}",
        json=BODY,
        headers=factories.bearer(office.vendor),
    )
    assert api.status_code == 409, api.get_json()
    page = signed_in(app.test_client(), office.vendor)
    shown = page.get(f"/portal/applications/{application_id}/edit")
    assert shown.status_code == 409
    posted = page.post(
        f"/portal/applications/{application_id}/edit",
        data={"term_start": "2027-01-01", "term_end": "2027-12-31"},
    )
    assert posted.status_code == 409
    assert _product(application_id) == before  # nothing changed by either
    return api.get_json(), shown.get_data(as_text=True), posted.get_data(as_text=True)


def _said(page: str) -> str:
    """The page's text, its tags left out (a day is a `<time>` in words)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def _as_pages_say(detail: str) -> list[str]:
    """The detail's parts around each ISO day, which pages say in words (days58)."""
    return re.split(r"\d{4}-\d{2}-\d{2}", detail)


def test_a_returned_application_past_its_deadline_is_not_changed_by_the_api_nor_its_edit_page(
    app: Flask, vendor_office: Vendor, signed_in: Callable[..., FlaskClient]
) -> None:
    application_id = vendor_office.returned(now=NOW)  # its deadline: two weeks on
    application = db.session().get(Application, application_id)
    assert application is not None
    assert application.resubmit_by is not None
    problem, shown, posted = _refused_on_api_and_page(app, vendor_office, application_id, signed_in)
    detail = problem["detail"]
    assert detail.startswith(
        f"{application.reference} cannot be changed now: it could not then be submitted. "
        f"The deadline to resubmit {application.reference} passed "
    ), detail
    assert "Start a new application." in detail
    assert detail.endswith("You may still withdraw it.")
    assert problem["deadline"].startswith(application.resubmit_by.date().isoformat())
    for page in (shown, posted):  # the same sentence, and no form to fill in
        assert all(part in _said(page) for part in _as_pages_say(detail)), _said(page)
        assert 'name="term_start"' not in page


def test_a_held_organizations_draft_is_not_changed_by_the_api_nor_its_edit_page(
    app: Flask, vendor_office: Vendor, signed_in: Callable[..., FlaskClient]
) -> None:
    application_id = services.create_draft(vendor_office.actor, draft()).id
    vendor_office.held()
    problem, shown, posted = _refused_on_api_and_page(app, vendor_office, application_id, signed_in)
    detail = problem["detail"]
    reference = db.session().get(Application, application_id).reference  # type: ignore[union-attr]
    assert detail.startswith(
        f"{reference} cannot be changed now: it could not then be submitted. "
    ), detail
    assert "is held pending payment" in detail
    # The application page says why it is not submitted in the same words, no *Change*.
    client = signed_in(app.test_client(), vendor_office.vendor)
    application_page = client.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    why = detail.split("it could not then be submitted. ", 1)[1].removesuffix(
        " You may still withdraw it."
    )
    assert all(part in _said(application_page) for part in _as_pages_say(why))
    assert f'href="/portal/applications/{application_id}/edit"' not in application_page
    for page in (shown, posted):
        assert all(part in _said(page) for part in _as_pages_say(detail)), _said(page)
        assert 'name="term_start"' not in page


def test_a_returned_application_within_its_deadline_and_a_draft_in_good_standing_still_change(
    app: Flask, vendor_office: Vendor, signed_in: Callable[..., FlaskClient]
) -> None:
    returned = vendor_office.returned()
    drafted = services.create_draft(vendor_office.actor, draft()).id
    headers = factories.bearer(vendor_office.vendor)
    page = signed_in(app.test_client(), vendor_office.vendor)
    for application_id in (returned, drafted):
        changed = app.test_client().put(
            f"/api/v1/applications/{application_id}", json=BODY, headers=headers
        )
        assert changed.status_code == 200, changed.get_json()
        assert _product(application_id) == "Changed Pro"
        form = page.get(f"/portal/applications/{application_id}/edit")
        assert form.status_code == 200
        assert 'name="term_start"' in form.get_data(as_text=True)


def test_the_deadline_passed_an_hour_before_the_lapse_run_refuses_the_change(
    app: Flask, vendor_office: Vendor
) -> None:
    """Between the deadline and the hourly run that lapses it, the application is still
    `returned`: the change is refused with the deadline, as its submission is."""
    application_id = vendor_office.returned(now=NOW)
    application = db.session().get(Application, application_id)
    assert application is not None
    assert application.resubmit_by is not None
    late = application.resubmit_by + timedelta(minutes=5)
    with pytest.raises(Conflict) as refused:
        services.update_draft(application_id, vendor_office.actor, draft(), now=late)
    assert "cannot be changed now" in str(refused.value)
    assert application.state == "returned"


def test_a_409_says_the_callers_own_steps_in_its_sentence_as_its_allowed_actions_lists_them(
    app: Flask, vendor_office: Vendor, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 58 (refusal58): a vendor submitting a submitted application was told it
    "can only be approved, escalated, rejected, returned or taken into review" beside
    `allowed_actions: ["withdraw"]`; the sentence now says the caller's own steps, on
    the API and on the page."""
    application_id = services.create_draft(vendor_office.actor, draft(STAFF_USE)).id
    services.submit(application_id, vendor_office.actor, policy=issuing(), attest=True)
    api = app.test_client().post(
        f"/api/v1/applications/{application_id}/submit",
        json={"attest": True},
        headers=factories.bearer(vendor_office.vendor),
    )
    assert api.status_code == 409
    problem = api.get_json()
    assert problem["allowed_actions"] == ["withdraw"]
    assert problem["detail"] == (
        "An application that is submitted cannot be submitted: of the steps you may take, "
        "it can only be withdrawn."
    )
    page = signed_in(app.test_client(), vendor_office.vendor).post(
        f"/portal/applications/{application_id}/submit", data={"attest": "yes"}
    )
    assert page.status_code == 409
    assert problem["detail"] in _said(page.get_data(as_text=True))
