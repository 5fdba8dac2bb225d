"""Round 60 (agreements60): what round 59 left of agreements past their term
(docs/journeys.md, "Round 60: agreements past their term, chasing expired licences,
security values"). An agreement the expiry run left `active` past its term was on no
list or queue; nothing recorded that the office chased an expired licence; a held
organization's dashboard said the hold twice; and members' lockout and password values
were shown to every staff reader."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db, job_pages
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, AgreementContact
from licensing.audit.models import AuditEvent
from licensing.web import health
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support.agreements import make_active_agreement
from tests.support.factories import DEFAULT_PASSWORD, bearer
from tests.support.pages import text_of

SignIn = Callable[[FlaskClient, Any], FlaskClient]
PAST_TERM = "/console/agreements/past-term"
PAST_TERM_ROW = "Agreements still active past their term"
EXPIRED = "/console/agreements/expired-unrenewed"


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"auth_rate_limit": "off"}


def _at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


def _ended(vendor: Any, staff: Any, end: date) -> Agreement:
    return make_active_agreement(vendor, staff, AUTO_USE, now=NOW, term=(date(2027, 1, 1), end))


def _page(app: Flask, signed_in: SignIn, user: Any, url: str, moment: datetime) -> Any:
    with time_machine.travel(moment, tick=False):
        return signed_in(app.test_client(), user).get(url)


def _numbers(text: str) -> list[str]:
    return re.findall(r"CPT-\d{4}-\d{6}", text)


# --- 1. active past its term -------------------------------------------------------------


@pytest.fixture
def left_active(
    app: Flask, example_card: str, vendor: Any, licensing_staff: Any
) -> dict[str, Agreement]:
    """Two agreements whose terms ended on 2027-10-31 and 2027-11-02, and one ending
    2027-12-31; no expiry run since."""
    found = {
        "first": _ended(vendor, licensing_staff, date(2027, 10, 31)),
        "second": _ended(vendor, licensing_staff, date(2027, 11, 2)),
        "running": _ended(vendor, licensing_staff, date(2027, 12, 31)),
    }
    db.session().commit()
    return found


def test_agreements_the_run_left_active_past_their_term_are_on_the_home_and_a_list(
    app: Flask,
    signed_in: SignIn,
    licensing_staff: Any,
    billing_staff: Any,
    left_active: dict[str, Agreement],
) -> None:
    moment = _at(date(2027, 11, 6))
    home = text_of(_page(app, signed_in, licensing_staff, "/console/", moment))
    assert (
        f"{PAST_TERM_ROW} The first has been past its term since November 1, 2027 "
        "(5 days ago): the hourly expiry run has not ended them, so they are on neither the "
        "renewals due nor the agreements expired without a renewal, and their licensees are "
        "asked nothing. 2 2 not ended by the expiry run"
    ) in home, home
    raw = _page(app, signed_in, billing_staff, "/console/", moment).get_data(as_text=True)
    assert f'href="{PAST_TERM}">{PAST_TERM_ROW}</a>' in raw
    listed = _page(app, signed_in, billing_staff, PAST_TERM, moment)
    assert listed.status_code == 200
    page = text_of(listed)
    first, second = left_active["first"].number, left_active["second"].number
    assert _numbers(page) == [first, second], page
    assert (
        f"{first} {left_active['first'].organization.legal_name} 2027-10-31 Past its term "
        "since November 1, 2027 (5 days)."
    ) in page
    # Once the run has ended them, the home says nothing of it and the list is empty.
    agreements.expire(now=moment)
    home = text_of(_page(app, signed_in, licensing_staff, "/console/", moment))
    assert PAST_TERM_ROW not in home
    assert "No agreement is still active past its term: the expiry run is keeping up." in (
        text_of(_page(app, signed_in, licensing_staff, PAST_TERM, moment))
    )


def test_the_hour_the_run_is_due_is_not_yet_behind(
    app: Flask, signed_in: SignIn, licensing_staff: Any, left_active: dict[str, Agreement]
) -> None:
    # The first term ended on October 31: the run was due by 06:00 UTC on November 1,
    # and is allowed its hour and the jobs' grace (15 minutes) beyond it.
    early = text_of(_page(app, signed_in, licensing_staff, "/console/", _at(date(2027, 11, 1), 7)))
    assert PAST_TERM_ROW not in early
    later = text_of(_page(app, signed_in, licensing_staff, "/console/", _at(date(2027, 11, 1), 8)))
    assert f"{PAST_TERM_ROW} The first has been past its term since November 1, 2027 (today)" in (
        later
    )


def test_the_operator_reads_that_the_expiry_run_is_behind(
    app: Flask, signed_in: SignIn, admin: Any, left_active: dict[str, Agreement]
) -> None:
    moment = _at(date(2027, 11, 6))
    jobs = text_of(_page(app, signed_in, admin, "/console/jobs", moment))
    assert (
        "The expiry run is behind ( /readyz : expiry: behind ): 2 agreements are still "
        "active past their term , the first term having ended on October 31, 2027."
    ) in jobs, jobs
    raw = _page(app, signed_in, admin, "/console/jobs", moment).get_data(as_text=True)
    assert f'<a href="{PAST_TERM}">' in raw
    home = text_of(_page(app, signed_in, admin, "/console/", moment))
    assert (
        "The expiry run is behind: 2 agreements are still active past their term, the first "
        "ended on October 31, 2027: the expiry run (`licensing applications expire`) has not "
        "ended them"
    ) in home, home
    # Admins open the list the Jobs page links.
    assert _page(app, signed_in, admin, PAST_TERM, moment).status_code == 200
    # `/readyz`'s note (its write probe is a test of its own: here, the note alone, in
    # the test's transaction).
    with time_machine.travel(moment, tick=False):
        body = job_pages.expiry_readiness()
    assert body == {
        "status": "degraded",
        "expiry": "behind",
        "expiry_detail": (
            "2 agreements are still active past their term, the first ended on 2027-10-31: "
            "the expiry run (`licensing applications expire`) has not ended them"
        ),
    }
    assert job_pages.expiry_readiness in health._NOTES  # what `/readyz` adds
    agreements.expire(now=moment)
    with time_machine.travel(moment, tick=False):
        assert job_pages.expiry_readiness() == {}


def test_vendors_may_not_open_the_past_term_list(
    client: FlaskClient, signed_in: SignIn, vendor: Any
) -> None:
    assert signed_in(client, vendor).get(PAST_TERM).status_code == 403


# --- 2. chasing an expired licence ---------------------------------------------------------


@pytest.fixture
def expired(
    app: Flask, example_card: str, vendor: Any, other_vendor: Any, licensing_staff: Any
) -> dict[str, Agreement]:
    """Three agreements expired at the end of their terms in 2027, unrenewed."""
    found = {
        "first": _ended(vendor, licensing_staff, date(2027, 9, 30)),
        "second": _ended(other_vendor, licensing_staff, date(2027, 10, 15)),
        "third": _ended(vendor, licensing_staff, date(2027, 10, 31)),
    }
    db.session().commit()
    agreements.expire(now=_at(date(2027, 11, 1)))
    return found


def _record(
    app: Flask, signed_in: SignIn, staff: Any, agreement: Agreement, moment: datetime, **data: str
) -> Any:
    with time_machine.travel(moment, tick=False):
        return signed_in(app.test_client(), staff).post(
            f"/console/agreements/{agreement.id}/contacts", data=data
        )


def _contacts() -> int:
    return int(db.session().scalar(select(func.count()).select_from(AgreementContact)) or 0)


def test_staff_record_a_contact_shown_on_the_list_and_the_agreements_history(
    app: Flask,
    signed_in: SignIn,
    licensing_staff: Any,
    billing_staff: Any,
    expired: dict[str, Agreement],
) -> None:
    moment = _at(date(2027, 11, 20))
    done = _record(
        app,
        signed_in,
        billing_staff,
        expired["second"],
        moment,
        contacted_on="2027-11-18",
        how="phone",
        note="Spoke to the licensing lead: renewing next week",
    )
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    listed = text_of(_page(app, signed_in, licensing_staff, EXPIRED, moment))
    name = f"{billing_staff.full_name} ({billing_staff.email})"
    assert f"2027-11-18, by phone, by {name} 2 days ago." in listed, listed
    assert listed.count("Not chased Record a contact") == 2
    page = text_of(
        _page(
            app, signed_in, licensing_staff, f"/console/agreements/{expired['second'].id}", moment
        )
    )
    assert (
        f"Last chased on November 18, 2027, by phone, by {name}: Spoke to the licensing lead: "
        "renewing next week."
    ) in page, page
    assert "Agreement licensee contacted" in page
    assert "Spoke to the licensing lead: renewing next week" in page
    event = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "agreement.licensee_contacted"))
        .one()
    )
    assert event.entity_id == str(expired["second"].id)
    assert event.actor_user_id == billing_staff.id
    after = event.after_data
    assert (after["contacted_on"], after["how"]) == ("2027-11-18", "phone")


def test_the_list_filters_and_sorts_by_when_each_licence_was_last_chased(
    app: Flask, signed_in: SignIn, licensing_staff: Any, expired: dict[str, Agreement]
) -> None:
    moment = _at(date(2027, 11, 30))
    for name, day in (("first", "2027-11-10"), ("first", "2027-11-25"), ("third", "2027-11-05")):
        response = _record(
            app, signed_in, licensing_staff, expired[name], moment, contacted_on=day, how="email"
        )
        assert response.status_code == 302
    numbers = {name: agreement.number for name, agreement in expired.items()}

    def listed(query: str) -> list[str]:
        response = _page(app, signed_in, licensing_staff, f"{EXPIRED}?{query}", moment)
        assert response.status_code == 200, query
        return _numbers(text_of(response))

    # The longest ended first, as before; the last contact of the first is the 25th.
    assert listed("") == [numbers["first"], numbers["second"], numbers["third"]]
    assert listed("chased=never") == [numbers["second"]]
    # Chased more than 14 days ago: the third (November 5), not the first (November 25).
    assert listed("chased=over&days=14") == [numbers["third"]]
    assert listed("chased=over&days=2") == [numbers["first"], numbers["third"]]
    # Not chased first, then the longest ago.
    assert listed("sort=chased") == [numbers["second"], numbers["third"], numbers["first"]]
    refused = _page(app, signed_in, licensing_staff, f"{EXPIRED}?chased=over&days=0", moment)
    assert refused.status_code == 422
    assert "Days since the last contact takes a whole number of days from 1 to 3650" in (
        text_of(refused)
    )
    assert _numbers(text_of(refused)) == []
    assert _page(app, signed_in, licensing_staff, f"{EXPIRED}?sort=x", moment).status_code == 422
    twice = _page(app, signed_in, licensing_staff, f"{EXPIRED}?chased=never&chased=over", moment)
    assert twice.status_code == 400


def test_a_contact_in_the_future_or_on_an_agreement_in_force_is_refused_and_nothing_stored(
    app: Flask,
    signed_in: SignIn,
    licensing_staff: Any,
    vendor: Any,
    expired: dict[str, Agreement],
) -> None:
    moment = _at(date(2027, 11, 20))
    future = _record(
        app,
        signed_in,
        licensing_staff,
        expired["first"],
        moment,
        contacted_on="2027-11-21",
        how="letter",
        note="Sent",
    )
    assert future.status_code == 422
    page = text_of(future)
    assert (
        "Day of the contact: The day of the contact is after today (November 20, 2027): record a "
        "contact once it is made." in (page)
    )
    unknown = _record(
        app, signed_in, licensing_staff, expired["first"], moment, contacted_on="", how="fax"
    )
    assert unknown.status_code == 422
    assert "Give the day of the contact (YYYY-MM-DD)." in text_of(unknown)
    assert (
        "Choose how the licensee was contacted: by email, by phone, by letter, in a meeting."
        in (text_of(unknown))
    )
    active = _ended(vendor, licensing_staff, date(2027, 12, 31))
    db.session().commit()
    in_force = _record(
        app, signed_in, licensing_staff, active, moment, contacted_on="2027-11-20", how="email"
    )
    assert in_force.status_code == 409
    assert "is active; only a licence that expired after being in force is chased." in (
        text_of(in_force)
    )
    # A vendor may not record one.
    refused = signed_in(app.test_client(), vendor).post(
        f"/console/agreements/{expired['first'].id}/contacts",
        data={"contacted_on": "2027-11-20", "how": "email"},
    )
    assert refused.status_code == 403
    assert _contacts() == 0
    # A NUL in the note comes back beside it, as every page form's (last: the refusal
    # stays in the test's app context).
    nul = _record(
        app,
        signed_in,
        licensing_staff,
        expired["first"],
        moment,
        contacted_on="2027-11-20",
        how="email",
        note="Left a message\x00",
    )
    assert nul.status_code == 422
    assert "Contains a character that cannot be stored (a NUL character): remove it." in (
        text_of(nul)
    )
    assert _contacts() == 0


# --- 3. the held organization's dashboard ------------------------------------------------------


def test_a_held_organizations_dashboard_says_the_hold_once_and_points_to_it(
    client: FlaskClient, signed_in: SignIn, vendor: Any, billing_staff: Any
) -> None:
    accounts.change_organization_standing(
        vendor.organization_id,
        "mark_pending_payment",
        reason="The March check bounced",
        actor=Actor.of(accounts.principal_for(billing_staff)),
    )
    db.session().commit()
    dashboard = text_of(signed_in(client, vendor).get("/portal/"))
    assert dashboard.count("The March check bounced") == 1, dashboard
    assert dashboard.count("held since") == 1
    assert (
        "An overdue invoice or royalty report is holding up new applications Why, since when "
        "and what settles it: the Standing panel above."
    ) in dashboard


# --- 4. members' lockout and password values ------------------------------------------------


@pytest.fixture
def locked(app: Flask, vendor: Any, admin: Any) -> Any:
    """The vendor locked out after five failed sign-ins in a row."""
    client = app.test_client()
    for _ in range(accounts.LOCKOUT_THRESHOLD):
        client.post("/sign-in", data={"email": vendor.email, "password": "not-the-password"})
    db.session().expire_all()
    assert vendor.locked_until is not None
    return vendor


@pytest.mark.parametrize("role", ["licensing_staff", "billing_staff"])
def test_staff_without_the_admin_role_read_a_lockout_without_its_values(
    request: pytest.FixtureRequest, app: Flask, signed_in: SignIn, locked: Any, role: str
) -> None:
    staff = request.getfixturevalue(role)
    client = signed_in(app.test_client(), staff)
    page = text_of(client.get(f"/console/organizations/{locked.organization_id}"))
    assert "sign-in locked after failed attempts" in page, page
    assert "locked until" not in page
    # The history lists the lockout, its values and note withheld.
    assert "User locked" in page
    assert "Shown to administrators" in page
    assert "failed sign-in attempts in a row" not in page
    assert "passwords, lockouts and sign-outs by the office" in page
    answer = app.test_client().get(f"/api/v1/users/{locked.id}", headers=bearer(staff))
    assert answer.status_code == 200
    assert answer.get_json()["locked"] is True
    assert answer.get_json()["locked_until"] is None


def test_an_admin_and_the_member_read_until_when(
    app: Flask, signed_in: SignIn, locked: Any, admin: Any
) -> None:
    client = signed_in(app.test_client(), admin)
    page = text_of(client.get(f"/console/organizations/{locked.organization_id}"))
    assert "sign-in locked until" in page, page
    assert "failed sign-in attempts in a row" in page
    assert "Shown to administrators" not in page
    until = locked.locked_until.isoformat()
    for reader in (admin, locked):
        answer = app.test_client().get(f"/api/v1/users/{locked.id}", headers=bearer(reader))
        assert answer.get_json()["locked_until"] == until, reader
        assert answer.get_json()["locked"] is True


def test_a_password_change_is_withheld_from_staff_but_admins(
    app: Flask, signed_in: SignIn, vendor: Any, licensing_staff: Any, admin: Any
) -> None:
    accounts.change_password(
        Actor.of(accounts.principal_for(vendor)), DEFAULT_PASSWORD, "Quiet-Harbour-Lamp-1912"
    )
    db.session().commit()
    staff = text_of(
        signed_in(app.test_client(), licensing_staff).get(
            f"/console/organizations/{vendor.organization_id}"
        )
    )
    assert "User password changed" in staff
    assert "Shown to administrators" in staff
    shown = text_of(
        signed_in(app.test_client(), admin).get(f"/console/organizations/{vendor.organization_id}")
    )
    assert "User password changed" in shown
    assert "Shown to administrators" not in shown
