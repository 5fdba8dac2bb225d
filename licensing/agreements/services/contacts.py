"""The office's record that it chased a licence (round 60, agreements60): a contact
with the licensee about an agreement that expired without a renewal, kept with the
day, how, a note and who recorded it, and audited on the agreement."""

from __future__ import annotations

from datetime import date, datetime

from licensing import calendar, db
from licensing.actors import Actor
from licensing.agreements.models import CONTACT_NOTE_MAX, CONTACT_WAYS, Agreement, AgreementContact
from licensing.agreements.services._common import _called, _now, _written
from licensing.agreements.states import EXPIRED
from licensing.audit import services as audit
from licensing.errors import Conflict, InvalidInput, NotFound

CONTACT_RECORDED = "agreement.licensee_contacted"


def record_contact(
    agreement_id: int,
    contacted_on: str | date | None,
    how: str | None,
    note: str | None,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> AgreementContact:
    """Record that the office contacted the licensee of `agreement_id` about its
    licence, on `contacted_on` (YYYY-MM-DD, no later than the office's today nor
    before the agreement was issued), `how` (one of `CONTACT_WAYS`), with an optional
    `note`: licensing and billing staff, on an agreement that was in force and
    expired (409 otherwise, saying what it is). Every field's problem is said at
    once, nothing stored; audited `agreement.licensee_contacted` on the agreement."""
    actor.require_role("licensing", "billing")
    moment = _now(now)
    today = calendar.office_date(moment)
    problems: dict[str, list[str]] = {}
    day = _day(contacted_on, today, problems)
    if how not in CONTACT_WAYS:
        ways = ", ".join(CONTACT_WAYS.values())
        problems["how"] = [f"Choose how the licensee was contacted: {ways}."]
    try:
        text = _written(note, "note", CONTACT_NOTE_MAX)
    except InvalidInput as error:
        problems.update(error.errors)
        text = ""
    with db.transaction() as session:
        agreement = session.get(Agreement, agreement_id)
        if agreement is None or not actor.may_see(agreement.organization_id):
            raise NotFound(f"There is no agreement {agreement_id}.")
        if agreement.state != EXPIRED or agreement.activated_at is None:
            state = agreement.state.replace("_", " ")
            raise Conflict(
                f"{_called(agreement)} is {state}"
                + ("" if agreement.activated_at else " and was never in force")
                + "; only a licence that expired after being in force is chased."
            )
        if day is not None and day > today:
            problems.setdefault("contacted_on", []).append(
                f"The day of the contact is after today ({today.isoformat()}): "
                "record a contact once it is made."
            )
        issued = calendar.office_date(agreement.issued_at)
        if day is not None and day < issued:
            problems.setdefault("contacted_on", []).append(
                f"The day of the contact is before the agreement was issued ({issued.isoformat()})."
            )
        if problems:
            raise InvalidInput("The contact is not recorded: correct the fields.", problems)
        assert day is not None
        assert how is not None
        contact = AgreementContact(
            agreement_id=agreement.id,
            contacted_on=day,
            how=how,
            note=text,
            recorded_by_id=actor.user_id,
            recorded_at=moment,
        )
        session.add(contact)
        session.flush()
        audit.record_event(
            session,
            CONTACT_RECORDED,
            agreement.id,
            actor=actor,
            after={"contacted_on": day, "how": how, "contact_id": contact.id},
            note=text or None,
        )
        return contact


def _day(value: str | date | None, today: date, problems: dict[str, list[str]]) -> date | None:
    if isinstance(value, date):
        return value
    written = (value or "").strip()
    if not written:
        problems["contacted_on"] = ["Give the day of the contact (YYYY-MM-DD)."]
        return None
    try:
        return calendar.parse_day(written)
    except ValueError:
        problems["contacted_on"] = [
            f"The day of the contact is written YYYY-MM-DD, like {today.isoformat()}."
        ]
        return None
