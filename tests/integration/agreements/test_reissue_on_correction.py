"""Round 55: an agreement issued on a rate card later corrected, and not yet accepted,
is reissued on the correction by licensing staff (docs/agreements.md): a new
agreement priced on the corrected card naming the one it replaces, the old one
`replaced` as it was, the licensee emailed; refused once accepted."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.audit import queries as audit_queries
from licensing.errors import Conflict, PermissionDenied
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import DEVELOPMENT_USE, STAFF_USE, draft
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import accept, agreement_of, issued_agreement
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer
from tests.support.settings import issuing

REASON = "Rate card 2027.1 had the development fee mistyped; 2027.2 corrects it."


def _correction(version: str = "2027.2", fee: str = "2750.00") -> dict[str, Any]:
    """2027.1 for the same days, its development fee (2,500.00) corrected."""
    document = example_document()
    document["version"] = version
    document["rules"][2]["model"]["amount"] = fee
    return document


def _staff(licensing_staff: Any) -> Actor:
    return Actor.of(accounts.principal_for(licensing_staff))


def _reissued(agreement: Agreement, licensing_staff: Any, **kwargs: Any) -> Agreement:
    return agreements.reissue(
        agreement.id, REASON, _staff(licensing_staff), policy=issuing(), **kwargs
    )


def test_an_unaccepted_agreement_on_a_corrected_card_is_reissued_at_the_corrected_price(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    old = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    assert (old.state, old.rate_card, old.total) == ("issued", "2027.1", Decimal("2500.00"))
    number, pdf_digest = old.number, old.pdf_sha256
    ratecards.import_card(_correction(), published_by="tests")

    new = _reissued(old, licensing_staff)

    session = db.session()
    session.refresh(old)
    assert (new.state, new.rate_card, new.total) == ("issued", "2027.2", Decimal("2750.00"))
    assert new.number != number
    assert new.pdf_sha256 != pdf_digest
    assert new.reissue_of_id == old.id
    assert new.application_id == old.application_id
    assert (new.term_start, new.term_end) == (old.term_start, old.term_end)
    # The old one is replaced, never edited: its number, price and bytes as issued.
    assert (old.state, old.number, old.total, old.pdf_sha256) == (
        "replaced",
        number,
        Decimal("2500.00"),
        pdf_digest,
    )
    assert old.ended_at is not None
    assert old.reissued_as is not None
    assert old.reissued_as.id == new.id
    application = session.get(Application, old.application_id)
    assert application is not None
    assert application.agreement is not None
    assert application.agreement.id == new.id
    assert agreement_of(application).id == new.id
    # The price is a new quote version: the card changed, with the reason.
    latest = application.quotes[-1]
    assert (latest.kind, latest.rate_card, latest.total) == (
        "modified",
        "2027.2",
        Decimal("2750.00"),
    )
    assert latest.modifications[0] == {
        "field": "rate_card",
        "line": None,
        "from": "2027.1",
        "to": "2027.2",
        "reason": REASON,
    }
    # The new PDF is priced on the correction and says why its card changed.
    document = " ".join(pdf_text(stored_pdf(new)).split())
    assert "rate card 2027.2" in document
    assert f"The Licensor amended the rate card from 2027.1 to 2027.2: {REASON}" in document
    # Audited on both, each naming the other's card or number.
    replaced = audit_queries.events_for(session, "agreement", old.id)[0]
    assert replaced.action == "agreement.reissued"
    assert json.loads(replaced.after or "{}") == {"state": "replaced", "rate_card": "2027.2"}
    assert replaced.note == REASON
    issued = audit_queries.events_for(session, "agreement", new.id)[0]
    assert issued.action == "agreement.issued"
    assert json.loads(issued.after or "{}")["reissue_of"] == number
    # The licensee is emailed the new agreement to accept, and why.
    email = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1)).one()
    assert email.subject == (
        f"Agreement {new.number}: reissued on rate card 2027.2 in place of {number}, ready to "
        "accept"
    )
    body = " ".join(email.body_text.split())
    assert f"Agreement {number} was priced on rate card 2027.1" in body
    assert f"license agreement {new.number} replaces it" in body
    assert "total 2,750.00 USD (it was 2,500.00 USD)" in body
    assert REASON in body


def test_the_replaced_agreement_cannot_be_accepted_and_names_its_reissue(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    old = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    ratecards.import_card(_correction(), published_by="tests")
    new = _reissued(old, licensing_staff)
    with pytest.raises(Conflict, match=f"replaced, unaccepted, by agreement {new.number}"):
        accept(old, vendor)
    accept(new, vendor)
    assert new.state == "active"


def test_an_accepted_agreement_is_not_reissued_and_the_refusal_says_what_is_allowed(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    accept(agreement, vendor)
    ratecards.import_card(_correction(), published_by="tests")
    with pytest.raises(Conflict) as refused:
        _reissued(agreement, licensing_staff)
    assert refused.value.detail == (
        f"Agreement {agreement.number} is active: the licensee accepted it, so it is not "
        "reissued (its invoices follow its rate card). Terminate it, giving the reason, or "
        "issue a credit note for the difference on its invoices."
    )
    db.session().refresh(agreement)
    assert agreement.state == "active"
    assert (
        db.session().scalar(select(Agreement).where(Agreement.reissue_of_id.is_not(None))) is None
    )


def test_an_agreement_on_a_card_no_correction_replaced_is_not_reissued(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    with pytest.raises(Conflict, match="is not replaced by a correction"):
        _reissued(agreement, licensing_staff)
    # A card for the second half only corrects 2027.1 for the second half of the term
    # (round 61: before, "not replaced by a correction"): not reissued for part of it.
    half = _correction("2027.3")
    half["effective_from"] = "2027-07-01"
    ratecards.import_card(half, published_by="tests")
    with pytest.raises(Conflict, match="runs across both"):
        _reissued(agreement, licensing_staff)
    db.session().refresh(agreement)
    assert agreement.state == "issued"


def test_only_licensing_staff_reissue_and_a_reason_is_required(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    ratecards.import_card(_correction(), published_by="tests")
    licensee = Actor.of(accounts.principal_for(vendor))
    with pytest.raises(PermissionDenied):
        agreements.reissue(agreement.id, REASON, licensee, policy=issuing())
    with pytest.raises(Exception, match="Give a reason"):
        agreements.reissue(agreement.id, "  ", _staff(licensing_staff), policy=issuing())
    db.session().refresh(agreement)
    assert agreement.state == "issued"


def test_an_amount_staff_set_on_approval_is_kept_with_its_reason(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    # STAFF_USE waits for review; staff approve it at 6,000.00, with a reason.
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(Actor.of(principal), draft(DEVELOPMENT_USE, STAFF_USE))
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
    staff = _staff(licensing_staff)
    agreements.start_review(application.id, staff)
    agreements.approve(
        application.id,
        staff,
        policy=issuing(),
        modifications=agreements.Modifications(
            lines=[agreements.LineChange(1, Decimal("6000.00"), "Pilot rate for the first year")]
        ),
    )
    old = agreement_of(application)
    assert old.total == Decimal("8500.00")
    ratecards.import_card(_correction(), published_by="tests")

    preview = agreements.check_reissue(old.id, REASON, staff)
    assert [(line.use, line.was, line.now, line.kept) for line in preview.lines] == [
        (1, Decimal("2500.00"), Decimal("2750.00"), ""),
        (
            2,
            Decimal("6000.00"),
            Decimal("6000.00"),
            "set by hand on approval: Pilot rate for the first year",
        ),
    ]
    assert (preview.was_total, preview.total, preview.card) == (
        Decimal("8500.00"),
        Decimal("8750.00"),
        "2027.2",
    )
    new = _reissued(old, licensing_staff)
    assert new.total == Decimal("8750.00")
    changes = new.quote.modifications
    assert changes[1] == {
        "field": "amount",
        "line": 1,
        "from": "8000.00",
        "to": "6000.00",
        "reason": "Pilot rate for the first year",
    }


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return html.unescape(found.group(1))


def test_the_console_offers_the_reissue_asks_first_with_each_price_then_reissues(
    client: FlaskClient, signed_in: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    old = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    signed_in(client, licensing_staff)
    page = f"/console/agreements/{old.id}"
    # Before a correction, nothing to reissue on.
    assert 'id="reissue"' not in client.get(page).get_data(as_text=True)
    ratecards.import_card(_correction(), published_by="tests")

    # The card's page lists the agreement and links its reissue.
    card = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    assert f'href="/console/agreements/{old.id}#reissue"' in card
    assert "One awaiting acceptance can be reissued on the corrected card" in _words(card)
    shown = client.get(page).get_data(as_text=True)
    assert "Reissue on the corrected card" in shown
    assert "Rate card 2027.1, which priced this agreement, is replaced by 2027.2" in _words(shown)

    # A missing reason is the form again, beside the field, nothing asked.
    missing = client.post(f"{page}/reissue", data={"reissue-reason": " "})
    assert missing.status_code == 422
    assert "Give a reason." in _words(missing.get_data(as_text=True))

    asked = client.post(f"{page}/reissue", data={"reissue-reason": REASON})
    assert asked.status_code == 200
    question = asked.get_data(as_text=True)
    words = _words(question)
    assert f"Reissue agreement {old.number} on rate card 2027.2?" in words
    assert "total 2,750.00 USD (it is 2,500.00 USD)" in words
    assert "Use 1 (Scrubber Pro SDK): 2,500.00 USD on 2027.1, 2,750.00 USD on 2027.2." in words
    assert "Invoiced when they accept it: 2,750.00 USD (it is 2,500.00 USD)." in words
    assert f"The licensee is emailed the new agreement to accept, with the reason: {REASON}" in (
        words
    )
    db.session().refresh(old)
    assert old.state == "issued"  # asking changed nothing
    confirmation = _hidden(question, "confirmation")

    # The reason edited on the way: refused, nothing done.
    edited = client.post(
        f"{page}/reissue",
        data={"reissue-reason": "Another reason", "confirmed": "yes", "confirmation": confirmation},
    )
    assert edited.status_code == 400
    assert "Not reissued: the reason posted is not the one shown to confirm" in _words(
        edited.get_data(as_text=True)
    )
    db.session().refresh(old)
    assert old.state == "issued"

    done = client.post(
        f"{page}/reissue",
        data={"reissue-reason": REASON, "confirmed": "yes", "confirmation": confirmation},
    )
    assert done.status_code == 302
    db.session().refresh(old)
    assert old.state == "replaced"
    new = old.reissued_as
    assert new is not None
    assert done.headers["Location"].endswith(f"/console/agreements/{new.id}")
    landed = _words(client.get(done.headers["Location"]).get_data(as_text=True))
    assert f"Agreement {old.number} is replaced by {new.number}, priced on rate card 2027.2." in (
        landed
    )
    assert f"Reissues {old.number} (issued on rate card 2027.1, which 2027.2 corrected)" in landed
    replaced = _words(client.get(page).get_data(as_text=True))
    assert f"Replaced by {new.number} (reissued" in replaced
    assert "Reissue on the corrected card" not in replaced


def test_a_confirmation_shown_before_another_correction_is_refused_with_what_changed(
    client: FlaskClient, signed_in: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    old = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    ratecards.import_card(_correction(), published_by="tests")
    signed_in(client, licensing_staff)
    page = f"/console/agreements/{old.id}"
    question = client.post(f"{page}/reissue", data={"reissue-reason": REASON})
    confirmation = _hidden(question.get_data(as_text=True), "confirmation")
    # 2027.2 was itself wrong: 2027.4 corrects it before the press.
    ratecards.import_card(_correction("2027.4", "2600.00"), published_by="tests")
    pressed = client.post(
        f"{page}/reissue",
        data={"reissue-reason": REASON, "confirmed": "yes", "confirmation": confirmation},
    )
    assert pressed.status_code == 409
    assert "card 2027.2 then, 2027.4 now; total 2750.00 then, 2600.00 now" in _words(
        pressed.get_data(as_text=True)
    )
    db.session().refresh(old)
    assert old.state == "issued"


def test_the_api_reissues_for_licensing_staff_and_refuses_a_vendor_and_an_accepted_one(
    client: FlaskClient, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    old = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    ratecards.import_card(_correction(), published_by="tests")
    url = f"/api/v1/agreements/{old.id}/reissue"
    assert client.post(url, json={"reason": REASON}, headers=bearer(vendor)).status_code == 403
    blank = client.post(url, json={"reason": ""}, headers=bearer(licensing_staff))
    assert blank.status_code == 422

    answer = client.post(url, json={"reason": REASON}, headers=bearer(licensing_staff))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["state"], body["rate_card"], body["total"]) == ("issued", "2027.2", "2750.00")
    assert body["reissue_of"] == old.number
    assert answer.headers["Location"].endswith(f"/api/v1/agreements/{body['id']}")
    replaced = client.get(f"/api/v1/agreements/{old.id}", headers=bearer(vendor)).get_json()
    assert (replaced["state"], replaced["replaced_by"]) == ("replaced", body["number"])
    assert replaced["allowed_actions"] == []

    again = client.post(url, json={"reason": REASON}, headers=bearer(licensing_staff))
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert (
        "only an agreement awaiting the licensee's acceptance is reissued"
        in (again.get_json()["detail"])
    )
    accept(db.session().get(Agreement, body["id"]), vendor)
    accepted = client.post(
        f"/api/v1/agreements/{body['id']}/reissue",
        json={"reason": REASON},
        headers=bearer(licensing_staff),
    )
    assert accepted.status_code == 409
    assert (
        "Terminate it, giving the reason, or issue a credit note" in (accepted.get_json()["detail"])
    )
