"""Agreement numbers: `CPT-YYYY-NNNNNN`, never repeated, even when issued at once."""

from __future__ import annotations

from flask import Flask

from licensing import db
from licensing.actors import Actor
from licensing.agreements.services import _next_number
from tests.support.hosts import run_as_hosts
from tests.support.settings import issuing


def test_concurrent_issuers_never_draw_the_same_number(committed_app: Flask) -> None:
    issuers, per_issuer = 5, 4

    def issue() -> list[str]:
        drawn: list[str] = []
        for _ in range(per_issuer):
            with db.transaction() as session:
                drawn.append(_next_number(session, 2031))
        return drawn

    issued = run_as_hosts(committed_app, issue, hosts=issuers)
    drawn = [number for numbers in issued for number in numbers]
    assert sorted(drawn) == [f"CPT-2031-{n:06d}" for n in range(1, issuers * per_issuer + 1)]


def test_each_year_has_its_own_sequence(app: Flask) -> None:
    with db.transaction() as session:
        numbers = [_next_number(session, 2030), _next_number(session, 2029)]
        numbers.append(_next_number(session, 2030))
    assert numbers == ["CPT-2030-000001", "CPT-2029-000001", "CPT-2030-000002"]


def test_two_hosts_running_expire_at_once_lapse_each_application_once(
    committed_app: Flask,
) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from licensing.accounts import services as accounts
    from licensing.agreements import services
    from licensing.audit.models import AuditEvent
    from licensing.ratecards import services as ratecards
    from tests.integration.agreements.conftest import NOW, STAFF_USE, draft
    from tests.integration.pricing.conftest import example_document
    from tests.support import factories

    with committed_app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor = Actor.of(accounts.principal_for(factories.make_vendor(session)))
        staff = Actor.of(accounts.principal_for(factories.make_staff(session)))
        references = []
        for _ in range(4):
            application = services.create_draft(vendor, draft(STAFF_USE))
            services.submit(application.id, vendor, policy=issuing(), attest=True, now=NOW)
            services.return_for_information(application.id, "More", staff, now=NOW)
            references.append(application.reference)
    reports = run_as_hosts(committed_app, lambda: services.expire(now=NOW + timedelta(days=30)))
    lapsed = [reference for report in reports for reference in report.lapsed]
    assert sorted(lapsed) == sorted(references)
    with committed_app.app_context():
        events = db.session().scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "application.lapsed")
        )
    assert events == len(references)


def test_two_hosts_running_expire_at_once_supersede_each_renewed_agreement_once(
    committed_app: Flask,
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from licensing.accounts import services as accounts
    from licensing.agreements import services
    from licensing.audit.models import AuditEvent
    from licensing.ratecards import services as ratecards
    from tests.integration.agreements.conftest import AUTO_USE, NOW
    from tests.integration.pricing.conftest import card_document, example_document
    from tests.support import factories
    from tests.support.agreements import accept, agreement_of, make_active_agreement

    december = datetime(2027, 12, 2, 15, 0, tzinfo=UTC)
    with committed_app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        ratecards.import_card(
            card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
            published_by="tests",
        )
        session = db.session()
        user, staff = factories.make_vendor(session), factories.make_staff(session)
        vendor = Actor.of(accounts.principal_for(user))
        numbers = []
        for _ in range(3):
            old = make_active_agreement(user, staff, AUTO_USE, now=NOW)
            renewal = services.start_renewal(old.id, vendor, now=december)
            renewal = services.submit(
                renewal.id, vendor, policy=issuing(), attest=True, now=december
            )
            accept(agreement_of(renewal), user, now=december)
            numbers.append(old.number)
    new_year = datetime(2028, 1, 1, 15, 0, tzinfo=UTC)
    reports = run_as_hosts(committed_app, lambda: services.expire(now=new_year))
    superseded = [number for report in reports for number in report.superseded]
    assert sorted(superseded) == sorted(numbers)
    with committed_app.app_context():
        events = db.session().scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "agreement.superseded")
        )
    assert events == len(numbers)
