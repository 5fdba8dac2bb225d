"""How pages name a record an audit event (or any page) refers to: by the
reference people use (APP-000042, INV-2027-000001, CPT-2027-000001, PR-...),
linked to its console page when the viewer may open it.

`record_refs(pairs)` reads the numbers of every invoice, agreement, credit note
and permission request in one query per type (a page of audit rows is one call);
each feature registers its numbered records (`numbered_record`) and those named
from their id (`named_by_id`), so this module imports none of them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, url_for
from sqlalchemy import select

from licensing import db
from licensing.web.navigation import may_open
from licensing.words import vocab


@dataclass(frozen=True)
class RecordRef:
    label: str
    url: str | None


# entity type -> (console endpoint, its id parameter)
_PAGES = {
    "application": ("agreements_console.application", "application_id"),
    "agreement": ("agreements_console.agreement_detail", "agreement_id"),
    "invoice": ("billing_console.invoice_detail", "invoice_id"),
    "payment": ("billing_console.payment_detail", "payment_id"),
    "credit_note": ("billing_console.credit_note_detail", "credit_note_id"),
    "organization": ("accounts_console.organization_detail", "organization_id"),
    "user": ("accounts_console.user_detail", "user_id"),
    "permission_request": ("permissions_console.detail", "request_id"),
    "royalty_report": ("royalties.console_report", "report_id"),
    "outbox_message": ("mail_console.outbox_message", "message_id"),
    "rate_card": ("ratecards_console.detail", "version"),
}

# Every type of record the audit log holds, as a person reads it: the Record type
# filter's choices and, for a record with no reference of its own, the Record
# column ("Outbox message 12", once "outbox message 12").
# tests/unit/test_audit_record_types.py walks the sources for every type written to
# the log, so a new one without a name here fails.
RECORD_TYPE_NAMES = {
    "agreement": "Agreement",
    "api_token": "API token",
    "application": "Application",
    "credit_note": "Credit note",
    "dispute": "Card payment dispute",
    "email": "Email",
    "export": "Export",
    "invitation": "Invitation",
    "invoice": "Invoice",
    "organization": "Organization",
    "outbox_message": "Outbox message",
    "payment": "Payment",
    "payment_reversal": "Payment reversal",
    "permission_request": "Permission request",
    "rate_card": "Rate card",
    "refund": "Refund",
    "royalty_report": "Royalty report",
    "statement": "Statement of account sent",
    "stripe_delivery": "Stripe delivery not read",
    "stripe_event": "Stripe event",
    "stripe_payment_intent": "PaymentIntent Stripe does not know",
    "unmatched_dispute": "Dispute not matched to a payment",
    "user": "User account",
}


def record_type_name(entity_type: str) -> str:
    """A record type as a person reads it ("API token", "Outbox message"); a type
    the map does not know (none the service writes) reads as a label."""
    return RECORD_TYPE_NAMES.get(entity_type) or vocab(entity_type)


def record_type_in_sentence(entity_type: str) -> str:
    """A record type's name as it reads inside a sentence ("outbox message", "user
    account", "API token": an acronym keeps its capitals)."""
    name = record_type_name(entity_type)
    first, _, rest = name.partition(" ")
    return name if first.isupper() else f"{first.lower()} {rest}".rstrip()


# Records whose id is their name rather than a number (a rate card's version).
_NAMED_BY_TEXT = frozenset({"rate_card"})


# The same records on the vendor portal (a vendor only ever sees their own).
_PORTAL_PAGES = {
    "application": ("agreements.application", "application_id"),
    "agreement": ("agreements.agreement", "agreement_id"),
    "invoice": ("billing.invoice_detail", "invoice_id"),
    "royalty_report": ("royalties.portal_report", "report_id"),
}


def _page_of(entity_type: str) -> tuple[str, str] | None:
    """The page that shows a record of `entity_type` to the viewer, if any."""
    for pages in (_PAGES, _PORTAL_PAGES):
        page = pages.get(entity_type)
        if page and may_open(page[0]):
            return page
    return None


# entity type -> (model, the column people name it by, how a typed name is written
# in that column), registered by each feature
_NUMBERED: dict[str, tuple[Any, Any, Callable[[str], str]]] = {}


def numbered_record(
    entity_type: str, model: Any, column: Any, *, spelled: Callable[[str], str] = str.upper
) -> None:
    """Let pages name and find records of `entity_type` by `column` (a number such
    as INV-2027-000001, or a user's email address); `spelled` turns what someone
    typed into the column's spelling. A feature registers its records at import."""
    _NUMBERED[entity_type] = (model, column, spelled)


def _numbered() -> dict[str, tuple[Any, Any, Callable[[str], str]]]:
    return _NUMBERED


# (entity type, the number people type, the column holding that record's id): a
# number printed on one record that finds another, registered by each feature
_FOUND_BY: list[tuple[str, Any, Any]] = []


def found_by(entity_type: str, column: Any, record_id: Any) -> None:
    """Let a number printed on a document (a permission letter's PR-...-G1) find
    the record of `entity_type` it belongs to (its request), whose events tell
    who issued it; a feature registers these at import."""
    _FOUND_BY.append((entity_type, column, record_id))


# entity type -> how people name a record of it from its id alone, no query needed
# (an application's `APP-000042`), registered by each feature
_NAMED_BY_ID: dict[str, Callable[[int], str]] = {}
# entity type -> how a typed reference of it reads (`APP-000042`, `app42`): its id
_TYPED_BY_ID: dict[str, re.Pattern[str]] = {}


def named_by_id(entity_type: str, reference_of: Callable[[int], str]) -> None:
    """Let pages name records of `entity_type` by `reference_of(id)`, the model's
    own format (`Application.reference_of`), and find them by it typed (its letters,
    an optional hyphen, the id with or without its zeros); a feature registers it
    at import."""
    _NAMED_BY_ID[entity_type] = reference_of
    letters = re.escape(reference_of(0).split("-")[0])
    _TYPED_BY_ID[entity_type] = re.compile(rf"^{letters}-?0*(\d{{1,9}})$", re.IGNORECASE)


# entity type -> reads how people name many records of it (and the page to open),
# in one query for all the ids given: a record named from several columns or
# another record (an API token by its name and owner), registered by each feature
Describe = Callable[[list[int]], dict[int, RecordRef]]
_DESCRIBED: dict[str, Describe] = {}


def described(entity_type: str, describe: Describe) -> None:
    """Let pages name records of `entity_type` by `describe(ids)`, which reads every
    one asked for in one query and answers each one's `RecordRef` (a record it
    cannot find keeps the generic name); a feature registers it at import."""
    _DESCRIBED[entity_type] = describe


def _digits(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _labels(pairs: list[tuple[str, object]]) -> dict[tuple[str, str], str]:
    wanted: dict[str, set[int]] = defaultdict(set)
    for entity_type, entity_id in pairs:
        if (number := _digits(entity_id)) is not None:
            wanted[entity_type].add(number)
    labels: dict[tuple[str, str], str] = {}
    for entity_type, reference_of in _NAMED_BY_ID.items():
        for number in wanted.get(entity_type, ()):
            labels[(entity_type, str(number))] = reference_of(number)
    session = db.session()
    for entity_type, (model, column, _spelled) in _numbered().items():
        ids = wanted.get(entity_type)
        if ids:
            for record_id, name in session.execute(
                select(model.id, column).where(model.id.in_(sorted(ids)))
            ):
                if name:
                    labels[(entity_type, str(record_id))] = str(name)
    return labels


def record_refs(pairs: Iterable[tuple[str, object]]) -> dict[tuple[str, str], RecordRef]:
    """(entity type, id) -> how to name and link it, for every pair given."""
    given = list(pairs)
    labels = _labels(given)
    refs: dict[tuple[str, str], RecordRef] = {}
    for entity_type, entity_id in given:
        key = (entity_type, str(entity_id))
        label = labels.get(key, f"{record_type_name(entity_type)} {entity_id}")
        refs[key] = RecordRef(label, record_url(entity_type, entity_id))
    for (entity_type, record_id), ref in _described(given).items():
        refs[(entity_type, str(record_id))] = ref
    return refs


def _described(pairs: list[tuple[str, object]]) -> dict[tuple[str, int], RecordRef]:
    """The `described` records among `pairs`, each type's read in one query."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for entity_type, entity_id in pairs:
        if entity_type in _DESCRIBED and (number := _digits(entity_id)) is not None:
            wanted[entity_type].add(number)
    return {
        (entity_type, record_id): ref
        for entity_type, ids in wanted.items()
        for record_id, ref in _DESCRIBED[entity_type](sorted(ids)).items()
    }


def find_reference(text: str) -> tuple[str, str] | None:
    """The (entity type, id) a typed reference names: APP-000042, RR-000005,
    INV-2027-000001, CPT-2027-000001, CN-..., a permission request's reference or
    one of its letters' numbers, a user's email address; None otherwise."""
    value = text.strip()
    for entity_type, typed in _TYPED_BY_ID.items():
        if found := typed.match(value):
            return entity_type, str(int(found.group(1)))
    session = db.session()
    for entity_type, (model, column, spelled) in _numbered().items():
        record_id = session.scalar(select(model.id).where(column == spelled(value)))
        if record_id is not None:
            return entity_type, str(record_id)
    for entity_type, column, owner_id in _FOUND_BY:
        record_id = session.scalar(select(owner_id).where(column == value.upper()))
        if record_id is not None:
            return entity_type, str(record_id)
    return None


def record_url(entity_type: str, entity_id: object) -> str | None:
    """The page of one record the viewer may open, without reading its name (a
    list names its rows itself: no query per row)."""
    page = _page_of(entity_type)
    key: object = str(entity_id) if entity_type in _NAMED_BY_TEXT else _digits(entity_id)
    if page is None or key is None:
        return None
    values: dict[str, Any] = {page[1]: key}
    return url_for(page[0], **values)


def record_ref(entity_type: str, entity_id: object) -> RecordRef:
    """One record's name and link (`record_refs` for a whole table)."""
    return record_refs([(entity_type, entity_id)])[(entity_type, str(entity_id))]


def reference_ref(text: str | None) -> RecordRef | None:
    """A reference stored as text (a permission request's APP-000042) as a link."""
    named = find_reference(text) if text else None
    return record_ref(*named) if named else None


# A record's reference inside stored words: RR-000004, INV-2027-000001.
_REFERENCE_IN_TEXT = re.compile(r"\b[A-Z]{2,4}-(?:\d{4}-)?\d{6}\b")


def named_in(text: str | None, entity_type: str) -> RecordRef | None:
    """The first record of `entity_type` that stored words name by its reference, as
    a link: a credit note's reason names the royalty report that issued it (round 56:
    the invoice's page said so only in words)."""
    for token in _REFERENCE_IN_TEXT.findall(text or ""):
        named = find_reference(token)
        if named and named[0] == entity_type:
            return record_ref(*named)
    return None


def register(app: Flask) -> None:
    app.jinja_env.globals["named_in"] = named_in
    app.jinja_env.globals["record_refs"] = record_refs
    app.jinja_env.globals["record_ref"] = record_ref
    app.jinja_env.globals["record_url"] = record_url
    app.jinja_env.globals["record_type_name"] = record_type_name
    app.jinja_env.globals["reference_ref"] = reference_ref
