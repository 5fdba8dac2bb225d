"""Round 58: a corrected request replaces the one it corrects. Sent from an open
request's status page ("send a corrected request"), the form carries that request's
link back (a hidden field, never in an address); once the correction is confirmed the
first request is withdrawn, naming the correction, and the correction keeps its
reviewer. Until round 58 the two stood side by side in the queue, the first assigned
and days old, the correction unassigned, with nothing on either page saying that one
replaced the other, until the requester remembered to withdraw the first. Each
request's console page names the other; the requester's emails say it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.permissions.states import APPROVED, SUBMITTED, UNCONFIRMED, WITHDRAWN
from tests.integration.permissions.conftest import (
    OFFICE,
    last_mail,
    link_in,
    request_fields,
)

Submit = Callable[..., tuple[PermissionRequest, str]]
EMAIL = "lena.ortiz@cedar-ridge.example"


def _corrected_form(client: FlaskClient, token: str) -> dict[str, str]:
    """The form the status page's "send a corrected request" opens, its hidden
    field as the page holds it, the audience corrected."""
    page = client.get(f"/permissions/request?again={token}").get_data(as_text=True)
    hidden = re.search(r'<input id="corrects" name="corrects" type="hidden" value="([^"]*)"', page)
    assert hidden is not None, page
    return request_fields(audience_size="90", corrects=hidden.group(1))


def _newest() -> PermissionRequest:
    return (
        db.session()
        .scalars(select(PermissionRequest).order_by(PermissionRequest.id.desc()))
        .first()
    )


def _mails_to(address: str) -> list[OutboxMessage]:
    statement = select(OutboxMessage).order_by(OutboxMessage.id)
    return [m for m in db.session().scalars(statement) if address in m.to]


def test_a_confirmed_correction_withdraws_the_request_it_corrects_and_keeps_its_reviewer(
    client: FlaskClient, submit: Submit, licensing_staff: Any, signed_in: Any
) -> None:
    first, token = submit()
    services.assign([first.id], licensing_staff.id, OFFICE)
    page = client.get(f"/permissions/status/{token}").get_data(as_text=True)
    assert "once you confirm it, it replaces this one" in page
    form = client.get(f"/permissions/request?again={token}").get_data(as_text=True)
    assert f"once you confirm it, it replaces {first.reference}" in html.unescape(form)

    sent = client.post("/permissions/request", data=_corrected_form(client, token))
    assert sent.status_code == 302
    correction = _newest()
    assert correction.corrects_id == first.id
    db.session().refresh(first)
    assert first.state == SUBMITTED  # not replaced until the correction is confirmed
    mails_before = len(_mails_to(EMAIL))

    client.get(link_in(last_mail(EMAIL), "/permissions/confirm/"))
    db.session().expire_all()
    first = db.session().get(PermissionRequest, first.id)
    correction = db.session().get(PermissionRequest, correction.id)
    assert first.state == WITHDRAWN
    assert correction.state == SUBMITTED
    assert correction.assignee_id == licensing_staff.id
    withdrawn = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "permission_request.withdrawn"))
        .one()
    )
    assert withdrawn.note == f"replaced by the corrected request {correction.reference}"
    # One email to the requester: the correction received, saying what it replaced.
    told = _mails_to(EMAIL)[mails_before:]
    assert [m.subject.split(" (")[0] for m in told] == ["We received your permission request"]
    assert f"It replaces your request {first.reference}, which is withdrawn" in told[0].body_text
    # The reviewer learns which request to read now.
    notices = [m.subject for m in _mails_to(licensing_staff.email)]
    assert (
        f"Permission request {first.reference}: withdrawn by the requester, replaced by the "
        f"corrected request {correction.reference}"
    ) in notices

    signed_in(client, licensing_staff)
    page = html.unescape(client.get(f"/console/permissions/{correction.id}").get_data(as_text=True))
    assert f"{first.reference}</a>, withdrawn: replaced by this request when the requester" in page
    assert "whose reviewer it kept" in page
    page = html.unescape(client.get(f"/console/permissions/{first.id}").get_data(as_text=True))
    assert f"{correction.reference}</a>, submitted: it replaced this request" in page


def test_a_correction_of_a_request_decided_meanwhile_stands_beside_the_decision(
    client: FlaskClient, submit: Submit
) -> None:
    first, token = submit()
    client.post("/permissions/request", data=_corrected_form(client, token))
    correction = _newest()
    confirm = link_in(last_mail(EMAIL), "/permissions/confirm/")
    services.approve(first.id, OFFICE)
    client.get(confirm)
    db.session().expire_all()
    assert db.session().get(PermissionRequest, first.id).state == APPROVED
    correction = db.session().get(PermissionRequest, correction.id)
    assert correction.state == SUBMITTED
    assert correction.corrects_id == first.id


def test_an_unconfirmed_correction_replaces_nothing(client: FlaskClient, submit: Submit) -> None:
    first, token = submit()
    client.post("/permissions/request", data=_corrected_form(client, token))
    assert _newest().state == UNCONFIRMED
    db.session().refresh(first)
    assert first.state == SUBMITTED


def test_a_made_up_token_or_a_grants_new_request_corrects_nothing(
    client: FlaskClient, submit: Submit
) -> None:
    sent = client.post("/permissions/request", data=request_fields(corrects="x" * 43))
    assert sent.status_code == 302
    assert _newest().corrects_id is None
    granted, token = submit(requester_email="ana.ruiz@cedar-ridge.example")
    services.approve(granted.id, OFFICE)
    form = client.get(f"/permissions/request?again={token}").get_data(as_text=True)
    assert 'name="corrects" type="hidden" value=""' in form
    fields = request_fields(requester_email="ana.ruiz@cedar-ridge.example", corrects=token)
    client.post("/permissions/request", data=fields)  # posted by hand: still nothing
    assert _newest().corrects_id is None
