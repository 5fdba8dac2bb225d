"""Round 57: what a licensing analyst reads of an application the vendor resubmitted
after the office's question (docs/agreements.md, "A resubmission, read beside the
question"): the question beside the answer, what the resubmission changed from the
quote the question was asked on, the stale quote marked, and the queue's row saying
the application came back."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.agreements.resubmission import resubmission
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support.settings import issuing

Apply = Callable[..., Application]
QUESTION = "What was the feed's revenue last year?"
ANSWER = "90,000.00 USD: the draft said 80,000.00 by mistake."


def _p(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _returned(apply: Apply, vendor: Any, staff: Any) -> Application:
    """The per-user use and the revenue share (80,000.00) submitted at `NOW`, then
    returned with `QUESTION`."""
    application = apply(vendor, AUTO_USE, STAFF_USE)
    return services.return_for_information(application.id, QUESTION, _p(staff), now=NOW)


def _resubmit(
    application: Application, vendor: Any, *, revenue: str | None, response: str | None
) -> None:
    if revenue is not None:
        services.update_draft(
            application.id,
            _p(vendor),
            services.ApplicationDraft.from_fields(
                {
                    "term_start": application.term_start,
                    "term_end": application.term_end,
                    "uses": [AUTO_USE, {**STAFF_USE, "revenue": revenue}],
                }
            ),
            now=NOW + timedelta(days=1),  # before its deadline (round 58: a late change is refused)
        )
    services.submit(
        application.id,
        _p(vendor),
        policy=issuing(),
        attest=True,
        response=response,
        now=NOW + timedelta(days=1),
    )


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return _words(response.get_data(as_text=True))


def test_a_resubmitted_application_says_the_question_the_answer_and_what_the_vendor_changed(
    apply: Apply,
    vendor: Any,
    licensing_staff: Any,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
) -> None:
    application = _returned(apply, vendor, licensing_staff)
    signed_in(client, licensing_staff)
    # While it waits on the vendor, the question is said once, as before, and nothing
    # is compared.
    page = _page(client, f"/console/applications/{application.id}")
    assert f"Asked the vendor {QUESTION}" in page
    assert "The office asked" not in page
    assert "What the resubmission changed" not in page
    _resubmit(application, vendor, revenue="90000.00", response=ANSWER)

    page = _page(client, f"/console/applications/{application.id}")
    assert "Asked the vendor" not in page
    # The question beside the answer (the page showed the answer alone).
    assert f"The office asked {QUESTION} (" in page
    asked = page.split("The office asked", 1)[1].split("Vendor's", 1)[0]
    assert f"{licensing_staff.full_name} ({licensing_staff.email}))" in asked
    assert f"Vendor's answer {ANSWER}" in page
    # What moved, against the quote the question was asked on.
    assert (
        "What the resubmission changed Quote version 2, resubmitted after the office's "
        "question, against version 1, the one the question was asked on: 42,800.00 USD, "
        "1,000.00 USD more than 41,800.00 USD."
    ) in page
    assert (
        "2. Fernhill Code Feed 8,000.00 9,000.00 1,000.00 more Expected annual revenue from "
        "80,000.00 USD to 90,000.00 USD."
    ) in page
    assert "1. Scrubber Pro 33,800.00 33,800.00 no change Nothing: priced as before." in page
    # The stale quote is marked; the approval's figures are the latest.
    assert (
        "Replaced by quote version 2, submitted since: the approval below prices version 2."
    ) in page
    assert "Use 2: Fernhill Code Feed (quoted 9,000.00)" in page
    # Returned again: the answer kept is said to be the earlier question's.
    services.return_for_information(
        application.id, "And in Canada?", _p(licensing_staff), now=NOW + timedelta(days=2)
    )
    page = _page(client, f"/console/applications/{application.id}")
    assert "Asked the vendor And in Canada?" in page
    assert f"Vendor's answer to the earlier question {ANSWER}" in page
    assert "What the resubmission changed" not in page


def test_a_resubmission_that_changed_nothing_and_answered_nothing_says_so(
    apply: Apply,
    vendor: Any,
    licensing_staff: Any,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
) -> None:
    application = _returned(apply, vendor, licensing_staff)
    _resubmit(application, vendor, revenue=None, response=None)

    signed_in(client, licensing_staff)
    page = _page(client, f"/console/applications/{application.id}")
    assert f"The office asked {QUESTION}" in page
    assert "Vendor's answer none: they resubmitted without one" in page
    assert "41,800.00 USD, the same total." in page
    assert (
        "No quantity, revenue, rule or price of any use changed: every use is priced as in "
        "version 1."
    ) in page


def test_the_queue_and_the_home_say_an_application_came_back_until_its_review_starts(
    apply: Apply,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
) -> None:
    answered = _returned(apply, vendor, licensing_staff)
    _resubmit(answered, vendor, revenue=None, response=ANSWER)
    silent = _returned(apply, other_vendor, licensing_staff)
    _resubmit(silent, other_vendor, revenue="85000.00", response=None)
    new = apply(vendor, AUTO_USE, STAFF_USE)

    signed_in(client, licensing_staff)

    def row(application: Application) -> str:
        response = client.get("/console/applications?state=submitted")
        assert response.status_code == 200
        rows = re.findall(r"<tr[^>]*>.*?</tr>", response.get_data(as_text=True), re.S)
        found = [_words(r) for r in rows if f">{application.reference}<" in r]
        assert len(found) == 1, application.reference
        return found[0]

    assert "submitted resubmitted with an answer" in row(answered)
    assert "submitted resubmitted, without an answer" in row(silent)
    assert "resubmitted" not in row(new)
    # The console home's row counts them (round 57: three awaiting review, no word of
    # which had come back).
    home = _page(client, "/console/")
    assert "2 back from the vendor with more information, marked resubmitted." in home
    services.start_review(answered.id, _p(licensing_staff), now=NOW + timedelta(days=2))
    response = client.get("/console/applications?state=in_review")
    assert "resubmitted" not in _words(response.get_data(as_text=True))
    home = _page(client, "/console/")
    assert "1 back from the vendor with more information, marked resubmitted." in home


def test_versions_stored_without_their_request_are_compared_by_amount_alone(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    """Older snapshots hold no request: their uses are matched by position, each
    amount compared, none said to be new."""
    application = _returned(apply, vendor, licensing_staff)
    _resubmit(application, vendor, revenue="90000.00", response=ANSWER)
    versions = [
        SimpleNamespace(
            version=version.version,
            kind=version.kind,
            created_at=version.created_at,
            term_start=version.term_start,
            term_end=version.term_end,
            snapshot={k: v for k, v in version.snapshot.items() if k != "request"},
        )
        for version in application.quotes
    ]
    found = resubmission(db.session(), application, versions)
    assert found is not None
    assert [(use.before, use.after, use.reasons) for use in found.uses] == [
        (Decimal("33800.00"), Decimal("33800.00"), ()),
        (Decimal("8000.00"), Decimal("9000.00"), ()),
    ]
    assert found.dropped == ()
