"""Round 7: a licensing officer's week (applications, royalties, standing, audit)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.accounts.services import standing
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import NOW, STAFF_USE

Apply = Callable[..., Application]


def _text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_an_amended_approval_reads_as_a_change_of_amount_in_the_history_and_the_audit_log(
    apply: Apply, vendor: Any, licensing_staff: Any, admin: Any, signed_in: Any, app: Flask
) -> None:
    # The history showed the stored record itself: "modifications: — → {'field':
    # 'amount', 'from': '8000.00', 'line': 0, ...}", a Python dict counting uses from 0.
    application = apply(vendor, STAFF_USE)
    services.start_review(
        application.id, Actor.of(accounts.principal_for(licensing_staff)), now=NOW
    )
    staff = signed_in(app.test_client(), licensing_staff)
    approved = staff.post(
        f"/console/applications/{application.id}/approve",
        data={
            "amount-0": "6000.00",
            "reason-0": "Negotiated: pilot year",
            "term_end": "2027-06-30",
            "term_reason": "A half-year pilot",
        },
    )
    assert approved.status_code == 302
    said = "use 1 amount changed from 8000.00 to 6000.00 (Negotiated: pilot year)"
    term = "term end changed from 2027-12-31 to 2027-06-30 (A half-year pilot)"
    page = _text(staff.get(f"/console/applications/{application.id}"))
    history = page[page.index("<h2>History</h2>") :]
    assert f"modifications: — → {term}; {said}" in history
    assert "{'field'" not in history
    audit = _text(signed_in(app.test_client(), admin).get("/console/audit?entity_type=application"))
    assert said in audit
    assert "{'field'" not in audit


def test_an_organizations_history_says_its_standing_in_words(
    vendor: Any, licensing_staff: Any, admin: Any, signed_in: Any, app: Flask
) -> None:
    # The standing read "pending payment" beside its badge and "active →
    # pending_payment" in the history below it and in the audit log.
    organization = vendor.organization
    with db.transaction() as session:
        standing.change_standing(
            session,
            session.get(Organization, organization.id),
            "mark_pending_payment",
            reason="Invoice INV-2027-000001 is 40 days overdue.",
            notify=False,
            actor=Actor.SYSTEM,
        )
    page = _text(
        signed_in(app.test_client(), licensing_staff).get(
            f"/console/organizations/{organization.id}"
        )
    )
    history = page[page.index('<h2 id="history">History</h2>') :]
    assert "standing: active → pending payment" in history
    assert "pending_payment" not in history
    audit = _text(
        signed_in(app.test_client(), admin).get("/console/audit?entity_type=organization")
    )
    assert "standing: active → pending payment" in audit


def test_a_records_history_names_each_step_in_words(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    # The "What" column read "application.quote stored", "organization.standing
    # changed": the audit log's action name with only its underscores undone.
    application = apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    page = _text(staff.get(f"/console/applications/{application.id}"))
    history = page[page.index("<h2>History</h2>") :]
    for words in ("Application created", "Application quote stored", "Application submitted"):
        assert f"<td>{words}</td>" in history
    assert "application." not in history
