"""Round 58: the console's organization page's History listed the organization's own
events only (created, profile updated); its members' role changes, removals, two-step
and email changes, their API tokens and its invitations were in the audit log alone
(admin only, no filter by organization). It lists every one now, newest first, each
naming whom or what it is about, a page at a time, in the same statements at 10 and
100 events, and the audit log's (type, id) index finds them on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import queries, views
from licensing.accounts.models import INVITATION, OneTimeToken, Organization, User
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from tests.support import factories
from tests.support.plans import analyzed, copied, plan_of, sent_with_values, sorts
from tests.support.statements import sent_by

SignIn = Callable[..., FlaskClient]


def _invitation(organization: Organization, email: str) -> OneTimeToken:
    session = db.session()
    link = OneTimeToken(
        purpose=INVITATION,
        token_hash=f"{organization.id:08d}{abs(hash(email)) % 10**20:056d}",
        email=email,
        organization_id=organization.id,
        organization_role="member",
        expires_at=utcnow() + timedelta(days=7),
    )
    session.add(link)
    session.flush()
    return link


def _events(organization: Organization, count: int) -> None:
    """`count` events about the organization's people, tokens and invitations, in
    turn, as their services record them."""
    session = db.session()
    person = factories.make_vendor(
        session,
        organization,
        full_name="Oskar Lind",
        email=f"oskar{count}.{organization.id}@tallowmere.example",
    )
    [token] = factories.api_tokens(person, 1, count)
    link = _invitation(organization, f"lena{count}.{organization.id}@tallowmere.example")
    kinds = [
        ("user.role_changed", "user", person.id),
        ("user.two_step_enabled", "user", person.id),
        ("api_token.created", "api_token", token),
        ("invitation.created", "invitation", link.id),
    ]
    for number in range(count):
        action, entity_type, entity_id = kinds[number % len(kinds)]
        audit.record(
            session,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=None,
            after={"number": number},
            actor="ines.varga@tallowmere.example",
        )
    session.commit()


def _history_statements(app: Flask, organization_id: int) -> int:
    """The statements the page's history sends with nobody loaded yet."""
    session = db.session()
    session.expunge_all()
    organization = session.get(Organization, organization_id)
    assert organization is not None
    with app.test_request_context(), sent_by(app) as sent:
        views._organization_history(session, organization)
    return len(sent)


def test_the_history_lists_its_members_tokens_and_invitations_events_each_named(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    organization = vendor.organization
    session = db.session()
    colleague = factories.make_vendor(
        session, organization, full_name="Lena Sato", email="lena@tallowmere.example"
    )
    [token] = factories.api_tokens(colleague, 1, 1)
    link = _invitation(organization, "oskar@tallowmere.example")
    for action, entity_type, entity_id in [
        ("user.role_changed", "user", colleague.id),
        ("user.email_changed", "user", vendor.id),
        ("api_token.created", "api_token", token),
        ("invitation.created", "invitation", link.id),
        # Another organization's person: not this organization's history.
        ("user.role_changed", "user", other_vendor.id),
    ]:
        audit.record(
            session,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=None,
            after={"organization_role": "billing"},
            actor=vendor.email,
            actor_user_id=vendor.id,
        )
    session.commit()
    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/organizations/{organization.id}").get_data(as_text=True)
    history = page[page.index('id="history"') :]
    assert f"{colleague.full_name} ({colleague.email})</a>" in history
    assert f'href="/console/users/{colleague.id}"' in history
    assert f"{vendor.full_name} ({vendor.email})</a>" in history
    assert f"“token 1”, {colleague.full_name}&#39;s ({colleague.email})" in history
    assert "the invitation to oskar@tallowmere.example" in history
    other = other_vendor.organization.id
    other_events = session.scalars(queries.organization_history(other)).all()
    assert f'href="/console/users/{other_vendor.id}"' not in history
    assert any(event.entity_id == str(other_vendor.id) for event in other_events)
    # Newest first: the invitation's event before the role change.
    assert history.index("the invitation to") < history.index(f"{colleague.full_name} (")


def test_the_history_pages_and_sends_the_same_statements_at_10_and_100_events(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    organization_id = vendor.organization.id
    _events(vendor.organization, 10)
    at_10 = _history_statements(app, organization_id)
    _events(db.session().get(Organization, organization_id), 100)
    at_100 = _history_statements(app, organization_id)
    assert at_100 == at_10
    console = signed_in(app.test_client(), admin)
    url = f"/console/organizations/{organization_id}"
    first = console.get(url).get_data(as_text=True)
    assert 'aria-label="Pages of events"' in first
    shown = re.search(r"Events 1\u201350 of (\d+)", first)
    assert shown is not None
    total = int(shown.group(1))
    assert total >= 110
    last_page = -(-total // 50)
    last = console.get(url, query_string={"history_page": last_page}).get_data(as_text=True)
    assert f"page {last_page} of {last_page}" in last
    # The oldest event, the organization's creation or its first person's, is there.
    assert f"Oskar Lind (oskar10.{organization_id}@tallowmere.example)" in last


def test_the_history_reads_the_audit_log_through_its_record_index(
    app: Flask, vendor: User, other_vendor: User
) -> None:
    for each in (vendor.organization, other_vendor.organization):
        _events(each, 40)
    if db.session().connection().dialect.name == "sqlite":
        # SQLite's statistics (sqlite_stat1) are rows, rolled back with the test;
        # PostgreSQL's counts outlive it, so there only the tables read (round 58).
        db.session().connection().exec_driver_sql("ANALYZE")
    analyzed("audit_events", "users", "api_tokens", "one_time_tokens")
    statement = queries.organization_history(vendor.organization.id, also=[1, 2]).limit(50)
    with sent_with_values(app.extensions["licensing.db"].engine) as statements:
        rows = db.session().scalars(statement).all()
    assert rows
    assert {row.entity_type for row in rows} >= {"user", "api_token", "invitation"}
    sql, values = next((sql, values) for sql, values in statements if "audit_events" in sql)
    plan = plan_of(sql, values, sorts_priced_out=False)
    shown = "\n".join(plan)
    # Each record's events found by the (type, id) index; the log is not walked.
    assert "ix_audit_events_entity" in shown, shown
    assert "Seq Scan on audit_events" not in shown, shown
    assert not [line for line in plan if line.strip().startswith("SCAN audit_events")], shown
    assert "Index Scan Backward using uq_audit_events_seq" not in shown, shown


def test_the_moves_of_an_organization_are_read_through_the_action_index_not_the_whole_log(
    app: Flask, vendor: User, other_vendor: User
) -> None:
    """Round 59 (indexes59): the moves are read by (action, seq) (accounts_0014), the
    log's moves alone in seq order; through the action's own index SQLite, given
    statistics, walked the whole log by seq to spare sorting them. Priced on 2,000
    other events of the test's own, ANALYZEd (plans58)."""
    organization, joined = vendor.organization, other_vendor.organization
    session = db.session()
    for number in range(6):
        # Out of this organization, and moves between two others.
        moved_from = organization.id if number % 2 == 0 else joined.id + 1000
        audit.record(
            session,
            action="user.moved",
            entity_type="user",
            entity_id=other_vendor.id,
            before={"organization_id": moved_from, "organization_role": "member"},
            after={"organization_id": joined.id, "organization_role": "member"},
            actor="admin@example.com",
        )
    audit.record(
        session,
        action="user.role_changed",
        entity_type="user",
        entity_id=vendor.id,
        before=None,
        after={"organization_id": organization.id},
        actor="admin@example.com",
    )
    session.commit()
    [*moves, other] = session.scalars(
        select(AuditEvent).where(AuditEvent.actor == "admin@example.com").order_by(AuditEvent.seq)
    ).all()
    # 2,000 events of other actions, after the moves: at size the log's moves are few.
    actions = ("user.role_changed", "user.two_step_enabled", "invitation.created")
    copied(
        AuditEvent.__table__,
        other.id,
        2000,
        lambda n: {"seq": other.seq + 1 + n, "hash": f"{n:064x}", "action": actions[n % 3]},
    )
    if session.connection().dialect.name == "sqlite":
        session.connection().exec_driver_sql("ANALYZE")  # rows of sqlite_stat1, rolled back
    analyzed("audit_events")

    with sent_with_values(app.extensions["licensing.db"].engine) as statements:
        seqs = queries.moves_touching(session, organization.id)
    assert seqs == [move.seq for move in reversed(moves[::2])]
    [(sql, values)] = statements
    plan = plan_of(sql, values, sorts_priced_out=False)
    shown = "\n".join(plan)
    assert "ix_audit_events_action_seq" in shown, shown
    assert "Seq Scan on audit_events" not in shown, shown
    assert not [line for line in plan if line.strip().startswith("SCAN audit_events")], shown
    assert "uq_audit_events_seq" not in shown, shown
    if session.connection().dialect.name == "sqlite":
        assert not sorts(plan, "sqlite"), shown


def test_a_vendors_own_organization_page_shows_no_history(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _events(vendor.organization, 4)
    page = signed_in(app.test_client(), vendor).get("/organization").get_data(as_text=True)
    assert 'id="history"' not in page
