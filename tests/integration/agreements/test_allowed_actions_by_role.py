"""Round 57: an application's and an agreement's `allowed_actions` are the steps
their reader may take now, for every state and every reader who may read them: each
step listed is accepted when they take it, each other refused (403 or 409). Billing
staff were offered `terminate` and `accept` (the state's rule alone), licensing staff
the vendor's `withdraw` and the service's `expire`, a reviewer who escalated an
application the decision a second reviewer takes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, draft
from tests.integration.pricing.conftest import card_document
from tests.support import factories
from tests.support.agreements import accept, issued_agreement
from tests.support.allowed_steps import (
    WORDS,
    Made,
    Reader,
    attempt,
    check_state,
    in_turn,
    token_reader,
)
from tests.support.card_years import CardYears
from tests.support.settings import issuing
from tests.support.uses import STAFF_USE


@dataclass(frozen=True)
class Days:
    """The module's days, from the office's today (round 64): every term is next
    year's card's (`CardYears`: from a month on, a year long), published with the
    example's rules; applications returned or rejected `past` (60 days ago) are past
    their deadline (`RESUBMIT_BUSINESS_DAYS`) and window (`RECONSIDERATION_DAYS`), as
    those of 2 November 2026 were; and agreements are expired 15 days after the term.
    Before, the term was 2027's on the example card (2027's alone): a time bomb, since
    from 2028 the term was over at submission and waited for staff."""

    years: CardYears
    past: datetime

    @classmethod
    def of_now(cls) -> Days:
        now = utcnow()
        return cls(CardYears.around(office_date(now)), now - timedelta(days=60))

    @property
    def term(self) -> tuple[date, date]:
        return self.years.next_from, self.years.next_to

    @property
    def after_the_term(self) -> datetime:
        return datetime.combine(self.years.next_to + timedelta(days=15), time(15), tzinfo=UTC)

    def card(self) -> dict[str, Any]:
        first, last = self.term
        return card_document(
            version=self.years.next_version,
            title=f"Royalty schedule from {first}",
            effective_from=first.isoformat(),
            effective_to=last.isoformat(),
        )


# The module runs on one worker: its records, made once a module and backend on
# `module_connection` (4 to 5 s on SQLite in a loaded CI, 1.5 s on PostgreSQL), were
# made again on each worker its tests were handed to (round 64's CI spread them over
# both; round 65 groups it).
pytestmark = pytest.mark.xdist_group("allowed_actions_by_role")

APPLICATION_STEPS = (
    attempt("/submit", "submit", "resubmit", body={"attest": True}),
    attempt("/withdraw", "withdraw"),
    attempt("/reconsideration", "request_reconsideration", body={"reason": WORDS}),
    attempt("/review", "start_review", body={}),
    attempt("/return", "return", body={"reason": WORDS}),
    attempt("/escalate", "escalate", body={"reason": WORDS}),
    attempt("/approve", "approve", body={}),
    attempt("/reject", "reject", body={"reason": WORDS}),
    attempt("/reconsideration/grant", "grant_reconsideration", body={}),
    attempt("/reconsideration/deny", "deny_reconsideration", body={"reason": WORDS}),
)


def _acceptance(agreement: dict[str, Any]) -> dict[str, Any]:
    return {
        "signer_name": "Robin Castellanos",
        "signer_title": "Chief Executive",
        "authority_confirmed": True,
        "pdf_sha256": db.session().get(Agreement, agreement["id"]).pdf_sha256,
    }


AGREEMENT_STEPS = (
    attempt("/acceptance", "accept", body=_acceptance),
    attempt("/termination", "terminate", body={"reason": WORDS}),
    attempt("/reissue", "reissue", body={"reason": WORDS}),
)

# The readers of applications (billing members and billing staff read none) and of
# agreements (every user of the organization, licensing and billing staff).
APPLICATION_READERS = ("administrator", "member", "licensing staff", "admin", "read-only token")
AGREEMENT_READERS = (*APPLICATION_READERS, "billing member", "billing staff")


class Office:
    """A vendor's organization with a user of each role, the office's staff, and
    applications and agreements made in each state through the services."""

    def __init__(self, vendor: User, licensing_staff: User, days: Days) -> None:
        session = db.session()
        self.days = days
        self.vendor = vendor
        self.organization_id = vendor.organization_id
        self.member = factories.make_vendor(
            session, session.get(Organization, vendor.organization_id)
        )
        self.billing_member = factories.make_vendor(
            session, session.get(Organization, vendor.organization_id), role="billing"
        )
        self.licensing_staff = licensing_staff
        self.reviewing_staff = factories.make_staff(session)
        self.admin = factories.make_staff(session, roles=("admin",))
        self.billing_staff = factories.make_staff(session, roles=("billing",))

    @classmethod
    def of(cls, user_ids: dict[str, int], days: Days) -> Office:
        """The office the module made (`user_ids`), read in this test's session."""
        office = cls.__new__(cls)
        office.days = days
        session = db.session()
        for attribute, user_id in user_ids.items():
            setattr(office, attribute, session.get(User, user_id))
        office.organization_id = office.vendor.organization_id
        return office

    def user_ids(self) -> dict[str, int]:
        return {name: user.id for name, user in vars(self).items() if isinstance(user, User)}

    @property
    def reviewer(self) -> Actor:
        return Actor.of(accounts.principal_for(self.reviewing_staff))

    @property
    def office(self) -> Actor:
        return Actor.of(accounts.principal_for(self.admin))

    def reader(self, name: str) -> Reader:
        users = {
            "administrator": self.vendor,
            "member": self.member,
            "billing member": self.billing_member,
            "licensing staff": self.licensing_staff,
            "billing staff": self.billing_staff,
            "admin": self.admin,
        }
        if name == "read-only token":
            return token_reader(name, self.admin, read_only=True)
        return token_reader(name, users[name])

    @property
    def actor(self) -> Actor:
        return Actor.of(accounts.principal_for(self.vendor))

    def standing(self, action: str) -> None:
        accounts.change_organization_standing(
            self.organization_id, action, reason=WORDS, actor=self.office
        )

    # --- applications --------------------------------------------------------------

    def draft(self) -> int:
        return services.create_draft(self.actor, draft(STAFF_USE, term=self.days.term)).id

    def submitted(self, *, now: Any = None) -> int:
        application = draft(STAFF_USE, term=self.days.term)
        application_id = services.create_draft(self.actor, application, now=now).id
        return services.submit(
            application_id, self.actor, policy=issuing(), attest=True, now=now
        ).id

    def in_review(self, *, now: Any = None) -> int:
        application_id = self.submitted(now=now)
        services.start_review(application_id, self.reviewer, now=now)
        return application_id

    def escalated(self) -> int:
        """Escalated by the licensing staff reader: a second reviewer decides it."""
        application_id = self.in_review()
        escalator = Actor.of(accounts.principal_for(self.licensing_staff))
        services.escalate(application_id, WORDS, escalator)
        return application_id

    def returned(self, *, now: Any = None) -> int:
        application_id = self.in_review(now=now)
        services.return_for_information(application_id, WORDS, self.reviewer, now=now)
        return application_id

    def lapsed(self) -> int:
        application_id = self.returned(now=self.days.past)
        services.expire(now=self.days.past + timedelta(days=14))
        return application_id

    def approved(self) -> int:
        application_id = self.in_review()
        services.approve(application_id, self.reviewer, policy=issuing())
        return application_id

    def rejected(self, *, now: Any = None) -> int:
        application_id = self.in_review(now=now)
        services.reject(application_id, WORDS, self.reviewer, now=now)
        return application_id

    def withdrawn(self) -> int:
        application_id = self.submitted()
        services.withdraw(application_id, self.actor)
        return application_id

    def reconsideration_requested(self) -> int:
        application_id = self.rejected()
        services.request_reconsideration(application_id, WORDS, self.actor)
        return application_id

    # --- agreements ----------------------------------------------------------------

    def issued(self) -> Agreement:
        return issued_agreement(
            self.vendor, self.licensing_staff, DEVELOPMENT_USE, term=self.days.term
        )

    def active(self) -> Agreement:
        agreement = self.issued()
        accept(agreement, self.vendor)
        return agreement

    def terminated(self) -> Agreement:
        agreement = self.issued()
        services.terminate(agreement.id, WORDS, self.reviewer)
        return agreement

    def expired(self) -> Agreement:
        agreement = issued_agreement(
            self.vendor, self.licensing_staff, AUTO_USE, term=self.days.term
        )
        accept(agreement, self.vendor)
        services.expire(now=self.days.after_the_term)
        return agreement


def _application(office: Office, make: Callable[[], int]) -> Callable[[], str]:
    return lambda: f"/api/v1/applications/{make()}"


def _agreement(office: Office, make: Callable[[], int]) -> Callable[[], str]:
    return lambda: f"/api/v1/agreements/{make()}"


# How many records of each state the module makes (round 63): one each reader reads,
# and one for each step the reader allowed most may take in it; a test wanting more
# makes them (`in_turn`). Those `services.expire` makes come first: it lapses every
# returned application past its deadline and expires every agreement past its term.
MADE = {
    "lapsed": 1,
    "expired": 1,
    "draft": 3,  # submit, withdraw
    "submitted": 5,  # approve, reject, return, start_review
    "in_review": 4,  # approve, reject, return (escalate)
    "escalated": 4,  # approve, reject, return
    "returned": 3,  # resubmit, withdraw
    "returned_late": 2,  # withdraw
    "approved": 1,
    "rejected": 2,  # request_reconsideration
    "rejected_late": 1,
    "reconsideration_requested": 3,  # deny, grant
    "withdrawn": 1,
    "held_draft": 1,  # read once the organization is held; its one step, withdraw
    "suspended_submitted": 5,  # read once the organization is suspended
    "issued": 3,  # accept, terminate
    "active": 2,  # terminate
    "terminated": 1,
    "suspended_issued": 3,
}


@dataclass
class Prepared:
    """What the module made once: the office's people and records in each state, by
    id. Each of the 30 tests had made all of them again (15-30 s of a CI run)."""

    users: dict[str, int]
    made: dict[str, list[int]]
    days: Days

    def builder(self, office: Office, state: str) -> Callable[[], int]:
        """Ids of the module's records in `state`, then ones `office` makes now."""
        take = in_turn(self.made[state], lambda: Made(_make(office, state)))
        return lambda: take().id


def _make(office: Office, state: str) -> int:
    """A record made now in `state` (a name of `MADE`), by its id."""
    makers: dict[str, Callable[[], Any]] = {
        "returned_late": lambda: office.returned(now=office.days.past),
        "rejected_late": lambda: office.rejected(now=office.days.past),
        "held_draft": office.draft,
        "suspended_submitted": office.submitted,
        "suspended_issued": office.issued,
    }
    made = makers[state]() if state in makers else getattr(office, state)()
    return made if isinstance(made, int) else made.id


@pytest.fixture(scope="module")
def prepared_office(database_template: DatabaseTemplate, module_connection: Connection) -> Prepared:
    with app_in_transaction(database_template.url, {}, module_connection, keep=True):
        days = Days.of_now()
        ratecards.import_card(days.card(), published_by="tests")
        session = db.session()
        office = Office(factories.make_vendor(session), factories.make_staff(session), days)
        made = {state: [_make(office, state) for _ in range(n)] for state, n in MADE.items()}
        return Prepared(office.user_ids(), made, days)


@pytest.fixture
def office(app: Flask, prepared_office: Prepared) -> Office:
    return Office.of(prepared_office.users, prepared_office.days)


@pytest.fixture
def made(office: Office, prepared_office: Prepared) -> Callable[[str], Callable[[], int]]:
    """`made(state)`: a builder of the module's records in `state` (`Prepared`)."""
    return functools.partial(prepared_office.builder, office)


@pytest.mark.parametrize("role", APPLICATION_READERS)
def test_an_applications_allowed_actions_are_the_steps_its_reader_may_take_in_every_state(
    client: FlaskClient, office: Office, made: Callable[[str], Callable[[], int]], role: str
) -> None:
    """Each state's applications are the module's (`Prepared`), made once through the
    services as `Office` makes them."""
    reader = office.reader(role)
    states: list[tuple[str, str, Callable[[], int]]] = [
        ("draft", "draft", made("draft")),
        ("submitted", "submitted", made("submitted")),
        ("in_review", "in_review", made("in_review")),
        ("escalated", "escalated", made("escalated")),
        ("returned", "returned", made("returned")),
        ("returned, its deadline passed", "returned", made("returned_late")),
        ("approved", "approved", made("approved")),
        ("rejected", "rejected", made("rejected")),
        ("rejected, its window closed", "rejected", made("rejected_late")),
        (
            "reconsideration_requested",
            "reconsideration_requested",
            made("reconsideration_requested"),
        ),
        ("withdrawn", "withdrawn", made("withdrawn")),
        ("lapsed", "lapsed", made("lapsed")),
    ]
    for name, state, make in states:
        reader.seen[name] = check_state(
            client, reader, state, _application(office, make), APPLICATION_STEPS
        )
    # Held pending payment, it submits nothing; suspended, nothing of its is approved.
    draft_id = made("held_draft")()
    office.standing("mark_pending_payment")
    reader.seen["draft, held"] = check_state(
        client, reader, "draft", lambda: f"/api/v1/applications/{draft_id}", APPLICATION_STEPS[:2]
    )
    office.standing("payment_received")
    office.standing("suspend")
    reader.seen["submitted, suspended"] = check_state(
        client,
        reader,
        "submitted",
        _application(office, made("suspended_submitted")),
        APPLICATION_STEPS,
    )

    expected = {
        "administrator": {
            "draft": ["submit", "withdraw"],
            "submitted": ["withdraw"],
            "returned": ["resubmit", "withdraw"],
            "returned, its deadline passed": ["withdraw"],
            "rejected": ["request_reconsideration"],
            "rejected, its window closed": [],
            "draft, held": ["withdraw"],
            "submitted, suspended": ["withdraw"],
        },
        "licensing staff": {
            "draft": [],
            "submitted": ["approve", "reject", "return", "start_review"],
            "escalated": ["return"],  # it escalated it: a second reviewer decides
            "returned": [],
            "reconsideration_requested": ["deny_reconsideration", "grant_reconsideration"],
            "submitted, suspended": ["reject", "return", "start_review"],
        },
        "admin": {
            "escalated": ["approve", "reject", "return"],
            "withdrawn": [],
        },
        "read-only token": {name: [] for name in reader.seen},
    }
    expected["member"] = expected["administrator"]
    for name, steps in expected.get(role, {}).items():
        assert reader.seen[name] == steps, (role, name)
    # Round 58: a refused step's 409 lists what reading it lists (`check_state`): a
    # vendor submitting a submitted application was told `approve`, `reject`...
    if role in ("administrator", "member"):
        assert reader.told["submitted"] == ["withdraw"]


# The vendor's application page's presses, by the step each takes; *Change the
# application* stands for a submission (round 58: it was shown beside a refusal).
VENDOR_PRESSES = {
    "submit": 'action="/portal/applications/{id}/submit"',
    "withdraw": 'action="/portal/applications/{id}/withdraw"',
    "request_reconsideration": 'action="/portal/applications/{id}/reconsideration"',
    "change": 'href="/portal/applications/{id}/edit"',
}


def test_the_vendors_application_page_offers_the_presses_its_allowed_actions_list_in_every_state(
    app: Flask,
    office: Office,
    made: Callable[[str], Callable[[], int]],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 58: the page's presses are the steps the API lists to the same vendor,
    state by state: no *Change the application* beside a submission refused (past
    its deadline, the organization held), nor on an application nobody changes. The
    applications are the module's (`Prepared`)."""
    api, page = app.test_client(), signed_in(app.test_client(), office.vendor)
    headers = factories.bearer(office.vendor)
    states: list[tuple[str, Callable[[], int]]] = [
        ("draft", made("draft")),
        ("submitted", made("submitted")),
        ("in review", made("in_review")),
        ("returned", made("returned")),
        ("lapsed", made("lapsed")),
        ("returned, its deadline passed", made("returned_late")),
        ("approved", made("approved")),
        ("rejected", made("rejected")),
        ("rejected, its window closed", made("rejected_late")),
        ("reconsideration requested", made("reconsideration_requested")),
        ("withdrawn", made("withdrawn")),
    ]
    built = [(name, make()) for name, make in states]
    held = made("held_draft")()  # read once the organization is held (below)
    offered: dict[str, list[str]] = {}
    for name, application_id in [*built, ("draft, held", held)]:
        if name == "draft, held":
            office.standing("mark_pending_payment")
        listed = api.get(f"/api/v1/applications/{application_id}", headers=headers).get_json()
        shown = page.get(f"/portal/applications/{application_id}").get_data(as_text=True)
        presses = sorted(
            step
            for step, markup in VENDOR_PRESSES.items()
            if markup.format(id=application_id) in shown
        )
        steps = sorted(
            "submit" if step == "resubmit" else step for step in listed["allowed_actions"]
        )
        submits = "submit" in steps
        assert presses == sorted(steps + ["change"] * submits), (name, presses, steps)
        offered[name] = presses
    assert offered["returned"] == ["change", "submit", "withdraw"]
    assert offered["returned, its deadline passed"] == ["withdraw"]  # it had *Change*
    assert offered["draft, held"] == ["withdraw"]
    assert offered["rejected"] == ["request_reconsideration"]
    assert offered["rejected, its window closed"] == []


def test_billing_staff_and_billing_members_read_no_application(
    client: FlaskClient, office: Office, made: Callable[[str], Callable[[], int]]
) -> None:
    url = f"/api/v1/applications/{made('submitted')()}"
    for role in ("billing staff", "billing member"):
        assert client.get(url, headers=dict(office.reader(role).headers)).status_code == 403


@pytest.mark.parametrize("role", AGREEMENT_READERS)
def test_an_agreements_allowed_actions_are_the_steps_its_reader_may_take_in_every_state(
    client: FlaskClient, office: Office, made: Callable[[str], Callable[[], int]], role: str
) -> None:
    """Each state's agreements are the module's (`Prepared`)."""
    reader = office.reader(role)
    states: list[tuple[str, str, Callable[[], int]]] = [
        ("issued", "issued", made("issued")),
        ("active", "active", made("active")),
        ("terminated", "terminated", made("terminated")),
        ("expired", "expired", made("expired")),
    ]
    for name, state, make in states:
        reader.seen[name] = check_state(
            client, reader, state, _agreement(office, make), AGREEMENT_STEPS
        )
    # Suspended, the organization accepts nothing; the office may still terminate.
    office.standing("suspend")
    reader.seen["issued, suspended"] = check_state(
        client, reader, "issued", _agreement(office, made("suspended_issued")), AGREEMENT_STEPS
    )

    expected = {
        "administrator": {"issued": ["accept"], "active": [], "issued, suspended": []},
        "billing member": {"issued": [], "active": []},
        "licensing staff": {"issued": ["terminate"], "active": ["terminate"], "expired": []},
        "billing staff": {"issued": [], "active": [], "issued, suspended": []},
        "admin": {"issued": ["terminate"], "issued, suspended": ["terminate"]},
        "read-only token": {name: [] for name in reader.seen},
    }
    expected["member"] = expected["administrator"]
    for name, steps in expected.get(role, {}).items():
        assert reader.seen[name] == steps, (role, name)
