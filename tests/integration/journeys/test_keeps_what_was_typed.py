"""Round 2 loose end: the application and agreement pages that read the posted
form themselves (the console's decision, internal note and termination, the
vendor's reconsideration, resubmission and acceptance) come back after a refusal
with what was typed, the message beside the refused field, and nothing stored.
On both backends."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries
from licensing.agreements import services as agreements
from licensing.agreements.models import (
    NOTE_MAX,
    REASON_MAX,
    Acceptance,
    Agreement,
    Application,
)
from licensing.audit.models import AuditEvent
from tests.integration.agreements.conftest import (  # noqa: F401 - `apply` is a fixture
    AUTO_USE,
    NOW,
    STAFF_USE,
    apply,
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import agreement_of
from tests.support.settings import issuing

# A reviewer's long reason, with what a page must escape, not interpret.
LONG_REASON = (
    "The revenue figure <b>does not</b> match the audited accounts & the feed's "
    "distribution list; " * 20
).strip()


def _events(application_id: int) -> int:
    return int(
        db.session().scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.entity_type == "application",
                AuditEvent.entity_id == str(application_id),
            )
        )
        or 0
    )


def _state(application_id: int) -> str:
    application = db.session().get(Application, application_id)
    assert application is not None
    db.session().refresh(application)
    return application.state


def _textarea(page: str, name: str) -> str:
    """The text in the page's textarea `name`, unescaped as the browser shows it."""
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, f"no textarea {name}"
    return html.unescape(found.group(1))


def _message_beside(page: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert found, f"no message beside {field}"
    return html.unescape(found.group(1))


def _in_review(apply: Any, vendor: Any, staff: Any) -> Application:  # noqa: F811 - the fixture
    application: Application = apply(vendor, STAFF_USE)
    agreements.start_review(application.id, Actor.of(accounts.principal_for(staff)), now=NOW)
    return application


def _staff(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _returned_to_vendor(apply: Any, vendor: Any, staff: Any) -> Application:  # noqa: F811 - the fixture
    """An application staff sent back for more information today: its 5 business days
    to resubmit run (round 57: past them, its page offers no *Resubmit*)."""
    application = _in_review(apply, vendor, staff)
    agreements.review(
        application.id,
        "return",
        _staff(staff),
        policy=issuing(),
        reason="Send the feed's distribution list.",
    )
    return application


def test_a_decision_without_an_action_keeps_the_reason_typed_and_stores_nothing(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    events = _events(application.id)
    signed_in(client, licensing_staff)
    response = client.post(
        f"/console/applications/{application.id}/review",
        data={"action": "", "reason": LONG_REASON},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _textarea(page, "reason") == LONG_REASON
    assert "<b>does not</b>" not in page  # escaped, never marked safe
    assert _message_beside(page, "action") == "Choose an action."
    assert (_state(application.id), _events(application.id)) == ("in_review", events)


def test_a_rejection_with_a_reason_too_long_keeps_the_reason_and_the_chosen_action(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    events = _events(application.id)
    too_long = ("Not evidenced. " * 300)[: REASON_MAX + 1]
    signed_in(client, licensing_staff)
    response = client.post(
        f"/console/applications/{application.id}/review",
        data={"action": "reject", "reason": too_long},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _textarea(page, "reason") == too_long
    assert '<option value="reject" selected>' in page
    assert _message_beside(page, "reason") == f"At most {REASON_MAX:,} characters."
    assert (_state(application.id), _events(application.id)) == ("in_review", events)


def test_an_internal_note_too_long_is_the_page_again_with_the_note_typed(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = apply(vendor, AUTO_USE)
    note = ("Called the licensee about the <feed> & its users. " * 200)[: NOTE_MAX + 1]
    signed_in(client, licensing_staff)
    response = client.post(f"/console/applications/{application.id}/notes", data={"body": note})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _textarea(page, "body") == note
    assert _message_beside(page, "body") == f"At most {NOTE_MAX:,} characters."
    assert queries.notes(db.session(), application.id) == []


def test_a_request_for_reconsideration_too_long_keeps_what_the_vendor_wrote(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    agreements.reject(application.id, "Revenue not evidenced", _staff(licensing_staff))
    events = _events(application.id)
    too_long = ("Our audited accounts <attached> show 80,000.00 & more. " * 100)[: REASON_MAX + 1]
    signed_in(client, vendor)
    response = client.post(
        f"/portal/applications/{application.id}/reconsideration", data={"reason": too_long}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _textarea(page, "reason") == too_long
    assert _message_beside(page, "reason") == f"At most {REASON_MAX:,} characters."
    assert (_state(application.id), _events(application.id)) == ("rejected", events)


def test_a_resubmission_without_the_confirmation_keeps_the_answer_to_the_office(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _returned_to_vendor(apply, vendor, licensing_staff)
    events = _events(application.id)
    signed_in(client, vendor)
    response = client.post(
        f"/portal/applications/{application.id}/submit", data={"response": LONG_REASON}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _textarea(page, "response") == LONG_REASON
    assert "accurate" in _message_beside(page, "attest")
    assert (_state(application.id), _events(application.id)) == ("returned", events)


def _issued_agreement(apply: Any, vendor: Any) -> Agreement:  # noqa: F811 - the fixture
    return agreement_of(apply(vendor, AUTO_USE))  # priced by the card alone: issued at once


def test_an_acceptance_without_a_title_keeps_the_name_and_the_authority_ticked(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    agreement = _issued_agreement(apply, vendor)
    signed_in(client, vendor)
    response = client.post(
        f"/portal/agreements/{agreement.id}/accept",
        data={
            "signer_name": "Robin <Castellanos> & Partners",
            "signer_title": " ",
            "authority_confirmed": "yes",
            "pdf_sha256": agreement.pdf_sha256,
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Robin &lt;Castellanos&gt; &amp; Partners"' in page
    assert re.search(r'<input type="checkbox" id="authority_confirmed"[^>]* checked>', page)
    assert _message_beside(page, "signer_title") == "Give your title."
    db.session().refresh(agreement)
    assert agreement.state == "issued"
    assert db.session().scalar(select(func.count()).select_from(Acceptance)) == 0


@pytest.mark.parametrize("confirmed", [{}, {"confirmed": "yes"}], ids=["asking", "confirming"])
def test_a_termination_reason_too_long_is_the_page_again_with_the_reason_typed(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
    confirmed: dict[str, str],
) -> None:
    """Round 55: the reason is checked before asking (the confirmation page offered
    to terminate with a reason the step then refused) and before the signed
    confirmation is read (a post without one had a 400 rather than the field's
    message)."""
    agreement = _issued_agreement(apply, vendor)
    too_long = ("Breach of the <distribution> clause & the audit terms. " * 100)[: REASON_MAX + 1]
    signed_in(client, licensing_staff)
    response = client.post(
        f"/console/agreements/{agreement.id}/terminate",
        data={"reason": too_long, **confirmed},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _textarea(page, "reason") == too_long
    assert _message_beside(page, "reason") == f"At most {REASON_MAX:,} characters."
    db.session().refresh(agreement)
    assert (agreement.state, agreement.termination_reason) == ("issued", None)


# --- a character no database stores (NUL) ------------------------------------------------------

NUL = "\x00"
UNSTORABLE = "Contains a character that cannot be stored (a NUL character): remove it."


def _unstorable_kept(response: Any, field: str, typed: str) -> None:
    """The page again (422): what was typed, the NUL shown as U+FFFD where it
    was, and the message beside the field."""
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:2000]
    assert NUL not in page
    assert _textarea(page, field) == typed.replace(NUL, "\ufffd")
    assert _message_beside(page, field) == UNSTORABLE


def test_a_nul_in_a_decision_reason_is_told_beside_it_and_the_reason_kept(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    events = _events(application.id)
    typed = f"Revenue not{NUL} evidenced. {LONG_REASON}"
    signed_in(client, licensing_staff)
    response = client.post(
        f"/console/applications/{application.id}/review",
        data={"action": "reject", "reason": typed},
    )
    _unstorable_kept(response, "reason", typed)
    assert (_state(application.id), _events(application.id)) == ("in_review", events)


def test_a_nul_in_an_internal_note_is_told_beside_it_and_the_note_kept(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = apply(vendor, AUTO_USE)
    typed = f"Call{NUL} back about the feed. {LONG_REASON}"
    signed_in(client, licensing_staff)
    response = client.post(f"/console/applications/{application.id}/notes", data={"body": typed})
    _unstorable_kept(response, "body", typed)
    assert queries.notes(db.session(), application.id) == []


def test_a_nul_in_a_request_for_reconsideration_is_told_beside_it_and_the_reason_kept(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    agreements.reject(application.id, "Revenue not evidenced", _staff(licensing_staff))
    typed = f"Our accounts{NUL} are audited. {LONG_REASON}"
    signed_in(client, vendor)
    response = client.post(
        f"/portal/applications/{application.id}/reconsideration", data={"reason": typed}
    )
    _unstorable_kept(response, "reason", typed)
    assert _state(application.id) == "rejected"


def test_a_nul_in_a_termination_reason_is_told_beside_it_before_asking_to_confirm(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    agreement = _issued_agreement(apply, vendor)
    typed = f"Breach of the{NUL} distribution clause. {LONG_REASON}"
    signed_in(client, licensing_staff)
    response = client.post(f"/console/agreements/{agreement.id}/terminate", data={"reason": typed})
    _unstorable_kept(response, "reason", typed)
    db.session().refresh(agreement)
    assert (agreement.state, agreement.termination_reason) == ("issued", None)


def test_a_nul_in_the_answer_to_the_office_is_told_beside_it_and_the_answer_kept(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _returned_to_vendor(apply, vendor, licensing_staff)
    typed = f"The list{NUL} is attached. {LONG_REASON}"
    signed_in(client, vendor)
    response = client.post(
        f"/portal/applications/{application.id}/submit",
        data={"response": typed, "attest": "yes"},
    )
    _unstorable_kept(response, "response", typed)
    assert _state(application.id) == "returned"


def test_a_nul_in_the_signers_name_is_told_beside_it_and_the_acceptance_kept(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    agreement = _issued_agreement(apply, vendor)
    signed_in(client, vendor)
    response = client.post(
        f"/portal/agreements/{agreement.id}/accept",
        data={
            "signer_name": f"Robin{NUL} Castellanos",
            "signer_title": "Chief Executive",
            "authority_confirmed": "yes",
            "pdf_sha256": agreement.pdf_sha256,
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert NUL not in page
    assert 'value="Robin\ufffd Castellanos"' in page
    assert 'value="Chief Executive"' in page
    assert re.search(r'<input type="checkbox" id="authority_confirmed"[^>]* checked>', page)
    assert _message_beside(page, "signer_name") == UNSTORABLE
    db.session().refresh(agreement)
    assert agreement.state == "issued"
    assert db.session().scalar(select(func.count()).select_from(Acceptance)) == 0
