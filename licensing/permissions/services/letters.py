"""Decision letters: numbered per request, rendered once and stored with their
digest (never re-rendered: the stored bytes are what the requester received)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from licensing import references

from .. import documents
from ..models import PermissionLetter, PermissionRequest
from ._common import label

GRANT = "grant"
DENIAL = "denial"


def next_number(request: PermissionRequest, kind: str) -> str:
    count = len(request.letters) + 1
    return references.permission_letter(request.reference, granted=kind == GRANT, count=count)


def addressee(request: PermissionRequest) -> documents.Requester:
    return documents.Requester(
        name=request.requester_shown_name,
        email=request.requester_address,
        institution=request.shown_institution,
        role=label(request.stated_role) if request.stated_role else None,
    )


def store(
    session: Session, request: PermissionRequest, kind: str, number: str, data: bytes, now: datetime
) -> PermissionLetter:
    letter = PermissionLetter(
        request_id=request.id,
        kind=kind,
        number=number,
        issued_at=now,
        pdf=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    session.add(letter)
    session.flush()
    session.expire(request, ["letters"])
    return letter


def described(letter: PermissionLetter) -> str:
    """The letter as the decision's audit note names it."""
    return f"{letter.kind} letter {letter.number} (sha256 {letter.sha256})"
