"""Round 58: a royalty report's review step kept only the address of the staff member
who took it, and the report's page named whoever holds that address now. A step keeps
the account's id (`taken_by_id`, accounts_0013) and is named by it, as is the request
an amendment answers; a step taken before keeps its address and is named by it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.royalties import services as royalty_services
from licensing.royalties.models import RoyaltyReportReviewStep
from tests.integration.royalties.conftest import AFTER, SOFTWARE, row
from tests.support import factories

SignIn = Callable[..., FlaskClient]


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_review_step_names_who_took_it_after_their_address_passed_to_someone_else(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    session = db.session()
    reviewer = factories.make_staff(session)
    reviewer.full_name = "Tomasz Wren"
    session.commit()
    recorded, named = reviewer.email, f"Tomasz Wren ({reviewer.email})"
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    royalty_services.review(
        report.id,
        "request_correction",
        Actor.of(accounts.principal_for(reviewer)),
        note="Clinic B is missing.",
        now=AFTER[1],
    )
    step = session.scalars(
        select(RoyaltyReportReviewStep).where(RoyaltyReportReviewStep.report_id == report.id)
    ).one()
    assert step.taken_by_id == reviewer.id
    # The reviewer's address changes, and a newcomer is given the old one.
    moved = session.get(User, reviewer.id)
    assert moved is not None
    moved.email = f"moved.{recorded}"
    session.commit()
    newcomer = factories.make_staff(session, email=recorded)
    client = signed_in(app.test_client(), licensing_staff)
    path = f"/console/royalty-reports/{report.id}"
    words = _words(client.get(path).get_data(as_text=True))
    assert f"by {named}: Clinic B is missing." in words
    assert f"by {newcomer.full_name}" not in words

    # The amendment answering it names who asked, by the account too.
    amendment = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=100), row(1, "B", quantity=5)],
        amends=report.id,
        reason="Clinic B added",
    ).report
    words = _words(client.get(f"/console/royalty-reports/{amendment.id}").get_data(as_text=True))
    answered = words[words.index("In answer to the correction the office asked for") :]
    assert f"by {named}: Clinic B is missing." in answered

    # A step taken before accounts_0013 kept no account: named by its address, as before.
    session.execute(
        update(RoyaltyReportReviewStep)
        .where(RoyaltyReportReviewStep.id == step.id)
        .values(taken_by_id=None)
    )
    session.commit()
    words = _words(client.get(path).get_data(as_text=True))
    assert f"by {newcomer.full_name} ({recorded}): Clinic B is missing." in words
