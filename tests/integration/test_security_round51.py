"""Round 51: a security review of what round 50 added (docs/security.md, "Round 51:
what round 50 added, reviewed"). Each fix's test fails without it; the others pin
what was checked and found right, so the next review knows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import OneTimeToken, Organization, name_key, sort_key
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.audit.models import AuditEvent
from licensing.errors import InvalidInput
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.factories import bearer
from tests.support.hosts import run_as_hosts
from tests.support.long_cards import card_2028
from tests.support.mounted import returned_to
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]

# --- the term of a license ------------------------------------------------------------

# 2027-09-01, 15:00 UTC: the first half of 2027 is over.
SEPTEMBER = datetime(2027, 9, 1, 15, 0, tzinfo=UTC)
HALF = (date(2027, 1, 1), date(2027, 6, 30))
OVER = "The term ended on June 30, 2027, before today: approving it licenses past use only"

# An open-ended card (to 9999-12-31) in effect from 2026: any term inside it is priced.
OPEN_FROM_2026 = {**card_2028(), "version": "2026.9", "effective_from": "2026-01-01"}
THE_CALENDARS_END = "The term must end by December 31, 9998"  # on pages, in words
A_HUNDRED_YEARS = "A license term runs at most 100 years (36,525 days)"


def _submitted(
    vendor: Any, use: dict[str, Any], now: datetime, term: tuple[date, date]
) -> Application:
    """An application of `use` for `term` submitted at `now`, waiting for staff."""
    actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(actor, draft(use, term=term), now=now)
    with time_machine.travel(now, tick=False):
        submitted = agreements.submit(application.id, actor, policy=issuing(), attest=True, now=now)
    assert submitted.state == "submitted"
    return submitted


def test_the_refused_approval_forms_sentence_reads_only_a_term_that_can_be_issued(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    """Round 50's refused form words its sentence for the term it asked for; a term
    to the calendar's last quarter there was a 500 ("year 10000 is out of range", its
    quarters counted past 9999-12-31), and "20270101", which no field reads as a day,
    was read as one. Such a term now leaves the submitted term's sentence."""
    application = _submitted(vendor, AUTO_USE, SEPTEMBER, HALF)
    with time_machine.travel(SEPTEMBER, tick=False):
        signed_in(client, licensing_staff)
        for start, end in (
            ("2027-01-01", "9999-12-31"),
            ("2027-01-01", "9999-10-01"),
            ("20270101", "20270630"),
            ("2027-01-01", "9998-12-31"),  # longer than a term may run
        ):
            refused = client.post(
                f"/console/applications/{application.id}/approve",
                data={"term_start": start, "term_end": end, "term_reason": ""},
            )
            assert refused.status_code == 422, (start, end, refused.status_code)
            assert OVER in text_of(refused), (start, end)


def test_a_vendor_is_told_at_once_that_a_term_runs_at_most_a_hundred_years_to_9998(
    client: FlaskClient, signed_in: SignIn, vendor: Any
) -> None:
    """On an open-ended card a vendor could ask for a term to 9999-12-31: submitting it
    was a 500 (its last reports' due dates in the year 10000), and one to 9998 made its
    agreement at submission with 32,000 quarterly reports in the PDF (46 seconds of a
    worker, 1.5 MB) and as many reporting periods at acceptance. The draft's page, the
    API and the submission of a draft saved before refuse it, naming the bound."""
    ratecards.import_card(OPEN_FROM_2026, published_by="tests")
    with time_machine.travel(NOW, tick=False):
        signed_in(client, vendor)
        form = {
            "term_start": "2026-01-01",
            "term_end": "9999-12-31",
            **{f"uses-0-{name}": str(value) for name, value in STAFF_USE.items()},
            "uses-0-languages": "en",
        }
        page = client.post("/portal/applications/new", data=form)
        assert page.status_code == 422
        assert THE_CALENDARS_END in text_of(page)
        api = client.application.test_client().post(
            "/api/v1/applications",
            json={
                "term_start": "2026-01-01",
                "term_end": "9998-09-30",
                "uses": [AUTO_USE],
            },
            headers=bearer(vendor),
        )
        assert api.status_code == 422, api.get_data(as_text=True)
        assert A_HUNDRED_YEARS in api.get_data(as_text=True)
        assert db.session().scalar(select(func.count()).select_from(Application)) == 0
        # A draft saved with such a term before the bound: its submission is refused.
        principal = accounts.principal_for(vendor)
        draft = agreements.ApplicationDraft.from_fields(
            {"term_start": date(2026, 1, 1), "term_end": date(2026, 12, 31), "uses": (AUTO_USE,)}
        )
        application = agreements.create_draft(Actor.of(principal), draft, now=NOW)
        db.session().execute(
            update(Application)
            .where(Application.id == application.id)
            .values(term_end=date(9999, 12, 31))
        )
        submitted = client.post(
            f"/portal/applications/{application.id}/submit", data={"attest": "yes"}
        )
    assert submitted.status_code == 422, submitted.status_code
    assert THE_CALENDARS_END in text_of(submitted)
    assert db.session().scalar(select(func.count()).select_from(Agreement)) == 0


def test_staff_cannot_approve_a_term_longer_than_a_hundred_years(
    vendor: Any, licensing_staff: Any
) -> None:
    ratecards.import_card(OPEN_FROM_2026, published_by="tests")
    application = _submitted(vendor, STAFF_USE, NOW, (date(2026, 1, 1), date(2026, 12, 31)))
    actor = Actor.of(accounts.principal_for(licensing_staff))
    with pytest.raises(InvalidInput) as refused:
        agreements.approve(
            application.id,
            actor,
            policy=issuing(),
            modifications=agreements.Modifications(
                term_start=date(2026, 1, 1),
                term_end=date(9998, 9, 30),
                term_reason="The licensee asked for it.",
            ),
            now=NOW,
        )
    assert A_HUNDRED_YEARS in str(refused.value.errors["term.end"])


# --- where signing in returns to ------------------------------------------------------


@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "100 per minute"}])
def test_a_return_address_hides_no_dot_segment_behind_an_escaped_slash(
    app: Flask, vendor: Any
) -> None:
    """Round 50 kept a return address under the mount point and refused a `..`
    segment, escaped or not, but read each segment's escapes alone: `..%2fother` is
    one segment to the browser, which sends it as it is, and a proxy in front (nginx
    decodes, then resolves dots) serves `/licensing/..%2fother/` as `/other/`, another
    application on the host. So is `..%5c` to servers that read a backslash as a
    slash, and `..;` to those that drop a segment's parameters."""
    for elsewhere in (
        "/licensing/..%2fother/",
        "/licensing/%2e%2e%2fother/",
        "/licensing/portal/..%2f..%2fother/",
        "/licensing/..%5cother/",
        "/licensing/..;/other/",
        "/licensing/%2e%2e;x/other/",
    ):
        assert returned_to(app, vendor, elsewhere) == "/licensing/portal/", elsewhere
    for here in ("/licensing/portal/invoices?page=2", "/licensing/portal/a..b/", "/licensing"):
        assert returned_to(app, vendor, here) == here


# --- the commands that name an organization -------------------------------------------


def test_a_command_naming_an_organization_prints_no_control_character_and_no_traceback(
    app: Flask, vendor: Any
) -> None:
    """Round 50's `users move --to NAME` (and `exports --organization NAME`) list the
    candidates a name finds. A legal name stored before names were one line may hold
    an escape sequence, which the operator's terminal obeyed; a name typed in a
    terminal that is not UTF-8 reaches Python as a lone surrogate, and was a
    UnicodeEncodeError's traceback (a NUL, PostgreSQL's DataError)."""
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization)
    factories.make_organization(session, legal_name="Harbor Analytics LLC")
    hidden = factories.make_organization(session, legal_name="Harbor Analytics LLC")
    session.execute(
        update(Organization)
        .where(Organization.id == hidden.id)
        .values(
            legal_name="Harbor Analytics LLC\x1b]0;pwned\x07",
            legal_name_key=name_key("Harbor Analytics LLC\x1b]0;pwned\x07"),
            legal_name_sort_key=sort_key("Harbor Analytics LLC\x1b]0;pwned\x07"),
        )
    )
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["users", "move", clerk.email, "--to", "harbor", "--reason", "r"])
    assert listed.exit_code == 2
    assert "\x1b" not in listed.output
    assert "\x07" not in listed.output
    assert "Harbor Analytics LLC\\x1b]0;pwned\\x07 (id" in listed.output
    for typed in ("Soci\udce9t\udce9", "Harbor\x00"):
        for args in (
            ["users", "move", clerk.email, "--to", typed, "--reason", "r"],
            ["exports", "invoices", "--organization", typed],
        ):
            answer = runner.invoke(args=args)
            assert answer.exit_code == 2, (args, answer.exception)
            assert "a character no legal name has" in answer.output


# --- two requests at once -------------------------------------------------------------

ADDRESS = "newcomer@example.com"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: one writer
def test_invitations_to_one_address_at_once_keep_one_pending_and_the_hours_budget(
    committed_app: Flask,
) -> None:
    """Round 50: a new invitation to an address replaces the pending one (now audited
    `invitation.revoked` naming its successor) and reads the pending invitations
    alone. Neither that read nor the budget's counts (3 an hour to one address, round
    30) were taken under a lock: invitations sent at once each found none pending and
    each counted the others' as not yet sent, so several stayed pending to one address
    and more than 3 went out in the hour. The organization's row is locked first now,
    as every other step on its people takes it."""
    with committed_app.app_context():
        first = factories.make_vendor(db.session())
        others = [
            factories.make_vendor(
                db.session(), organization=first.organization, role="administrator"
            )
            for _ in range(4)
        ]
        organization_id = first.organization_id or 0
        actors = [Actor.of(accounts.principal_for(user)) for user in (first, *others)]
        db.session().commit()

    def invite() -> int | None:
        try:
            return accounts.invite_member(organization_id, ADDRESS, actors.pop()).id
        except InvalidInput:
            return None  # the hour's budget spent

    issued = [link_id for link_id in run_as_hosts(committed_app, invite, hosts=5) if link_id]
    with committed_app.app_context():
        session = db.session()
        links = session.scalars(select(OneTimeToken).where(OneTimeToken.email == ADDRESS)).all()
        pending = [link for link in links if link.revoked_at is None]
        notes = session.scalars(
            select(AuditEvent.note).where(AuditEvent.action == "invitation.revoked")
        ).all()
    assert len(issued) == 3
    assert sorted(link.id for link in links) == sorted(issued)
    assert len(pending) == 1
    assert len(notes) == 2
    assert all(note.startswith("Replaced by invitation ") for note in notes)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: one writer
def test_password_resets_asked_at_once_send_at_most_three_an_hour_to_an_address(
    committed_app: Flask,
) -> None:
    """The same read-then-queue as invitations, in every per-address email budget
    (a reset's 3 an hour, sign-up's note to a taken address, a confirmation link):
    six resets at once sent five emails to one address, with an account or without.
    The steps that count an address's emails take turns on it now."""
    with committed_app.app_context():
        email = factories.make_vendor(db.session()).email
        db.session().commit()
    for address in (email, "nobody@example.com"):
        run_as_hosts(committed_app, partial(accounts.request_password_reset, address), hosts=6)
    with committed_app.app_context():
        sent = {
            address: db.session().scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.recipients == json.dumps([address]))
            )
            for address in (email, "nobody@example.com")
        }
    assert sent == {email: 3, "nobody@example.com": 3}
