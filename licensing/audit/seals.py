"""Seals on issued documents: invoices, credit notes, agreements, permission letters.

When a document is issued, the flush that writes it stores the SHA-256 of its
issued bytes (the stored PDF of an agreement or letter; for invoices and
credit notes, whose PDFs are drawn from their records, the canonical JSON of
the issued content they are drawn from) and the SHA-256 of its canonical
amounts, and a seal: an HMAC under the audit key (see `audit.keys`) over the
document's number and both digests. `verify_documents` recomputes all three
for every issued document, so an edit made directly in the database is
reported, even one that also rewrites the digests: that needs the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, event, inspect, select, update
from sqlalchemy.orm import Session

from licensing import db
from licensing.audit import keys as audit_keys
from licensing.audit.services import canonical_json
from licensing.audit.services import record as audit_record


def number_text(value: Decimal | None) -> str | None:
    """An amount's value, whatever scale it was stored or typed with."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def sha256(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def digest(value: Any) -> str:
    return sha256(canonical_json(value))


# --- the kinds of document, each registered by the feature that issues it --------


@dataclass(frozen=True)
class Kind:
    """How to seal and check one kind of document."""

    label: str
    model: type[Any]
    # The SHA-256 of the issued bytes, recomputed from the row.
    issued_digest: Callable[[Any], str]
    # Where that digest is stored on the row.
    issued_column: str
    amounts_digest: Callable[[Any], str] | None
    is_issued: Callable[[Any], bool]
    # Issued by an update out of this state (an invoice leaves draft); None: the
    # document is written issued.
    issued_from: str | None = None
    # Narrows the query for the issued documents (and loads what the digests read).
    narrow: Callable[[Select[Any]], Select[Any]] = lambda statement: statement


# In the order `licensing audit verify` checks them: the order they are registered in.
KINDS: list[Kind] = []
_BY_MODEL: dict[type[Any], Kind] = {}


def register_kind(kind: Kind) -> None:
    """Seal documents of `kind` as they are issued and check them in `verify_documents`
    (a feature's `init_app` registers its own; registering again changes nothing)."""
    if kind.model not in _BY_MODEL:
        KINDS.append(kind)
        _BY_MODEL[kind.model] = kind


@dataclass(frozen=True)
class KeptBytes:
    """Bytes kept as first served (an invoice's or credit note's PDF, round 44), each
    row checked against its stored SHA-256 by `verify_documents` (round 46) and, since
    round 47, against its seal: an HMAC under the audit key over what the row is of
    (`identity`) and that SHA-256, written with the row (`seal_kept`), so bytes and
    digest rewritten together no longer pass."""

    label: str
    # The table's model: `seal_unsealed` seals its rows kept before round 47.
    model: type[Any]
    # Rows in a stable order, each with `id`, `name` (the document's, as verify names
    # it), `content`, `sha256`, `seal_key_id`, `seal` and what `identity` reads.
    rows: Callable[[], Select[*tuple[Any, ...]]]
    # What a row is of (its document and standing), as sealed with its SHA-256.
    identity: Callable[[Any], Mapping[str, Any]]


KEPT: list[KeptBytes] = []
# Rows read at once while checking kept bytes: a PDF is about 45 KB, so a batch is a
# few MB whatever the table's size.
KEPT_BATCH = 100


def register_kept(kept: KeptBytes) -> None:
    """Check `kept`'s rows in `verify_documents` (registering again changes nothing)."""
    if all(known.label != kept.label for known in KEPT):
        KEPT.append(kept)


def _kept_seal_text(kept: KeptBytes, identity: Mapping[str, Any], digest: str) -> str:
    return canonical_json({"kind": kept.label, **identity, "sha256": digest})


def seal_kept(kept: KeptBytes, identity: Mapping[str, Any], digest: str) -> dict[str, str]:
    """The columns that seal a kept row of `identity` whose bytes hash to `digest`
    (`seal_key_id`, `seal`), under the current audit key: written with the row."""
    key_id, key = audit_keys.current()
    return {
        "seal_key_id": key_id,
        "seal": audit_keys.sign(key, _kept_seal_text(kept, identity, digest)),
    }


def _seal_text(kind: Kind, number: str, issued: str, amounts: str | None) -> str:
    return canonical_json(
        {"kind": kind.label, "number": number, "issued_sha256": issued, "amounts_sha256": amounts}
    )


# --- sealing ----------------------------------------------------------------------


def _seal_values(kind: Kind, document: Any) -> dict[str, Any]:
    """The columns that seal `document` as it is now, under the current key."""
    issued = kind.issued_digest(document)
    amounts = kind.amounts_digest(document) if kind.amounts_digest else None
    key_id, key = audit_keys.current()
    values: dict[str, Any] = {
        kind.issued_column: issued,
        "seal_key_id": key_id,
        "seal": audit_keys.sign(key, _seal_text(kind, str(document.number), issued, amounts)),
    }
    if kind.amounts_digest:
        values["amounts_sha256"] = amounts
    return values


def seal(document: Any) -> None:
    """Store the document's digests and seal it with the current audit key."""
    for name, value in _seal_values(_BY_MODEL[type(document)], document).items():
        setattr(document, name, value)


def _issued_now(record: Any) -> bool:
    """True when this flush issues the document: a record written issued, or an
    invoice moving out of draft. Never a document issued earlier whose seal is
    missing: resealing it would bless whatever edit was made meanwhile."""
    kind = _BY_MODEL.get(type(record))
    if kind is None or record.seal is not None or not kind.is_issued(record):
        return False
    state = inspect(record)
    if state.pending or state.transient:
        return True
    if kind.issued_from is not None:
        return kind.issued_from in state.attrs.state.history.deleted
    return False


def _issued_by_update(record: Any) -> bool:
    kind = _BY_MODEL.get(type(record))
    return kind is not None and kind.issued_from is not None


def _seal_issued_documents(session: Session, _context: Any, _instances: Any) -> None:
    """Seal each document in the flush that issues it, whichever service issues
    it. Invoices are issued by an update (draft to open); the others are
    written issued, and letters and agreements refuse later updates."""
    updated = [r for r in session.dirty if _issued_by_update(r)]
    for record in list(session.new) + updated:
        if _issued_now(record):
            seal(record)


def init_app() -> None:
    """Register the sealing listener (once per process: it is on every Session)."""
    if not event.contains(Session, "before_flush", _seal_issued_documents):
        event.listen(Session, "before_flush", _seal_issued_documents)


def seal_unsealed() -> tuple[list[str], list[str]]:
    """Seal the issued documents that have no seal: those issued before sealing
    existed, in a database upgraded since. Run once, right after the upgrade:
    it trusts each document as it is now. An agreement or letter whose PDF no
    longer matches its stored SHA-256 is left unsealed and reported. Then the
    kept rows (`KEPT`) without a seal: those kept before round 47, the same way.

    Returns (sealed, refused), each a list of "<kind> <number>" (a kept row's
    name: "invoice INV-..., kept PDF in standing ..."); each sealed document or
    row is audited (`<kind>.sealed`, `kept_pdf.sealed`).
    """
    sealed: list[str] = []
    refused: list[str] = []
    with db.transaction() as session:
        for kind in KINDS:
            for document in _issued(session, kind):
                if document.seal is not None:
                    continue
                name = f"{kind.label} {document.number}"
                stored = getattr(document, kind.issued_column)
                if stored is not None and stored != kind.issued_digest(document):
                    refused.append(name)
                    continue
                values = _seal_values(kind, document)
                # A Core UPDATE: letters refuse every ORM update once issued.
                session.execute(
                    update(kind.model).where(kind.model.id == document.id).values(**values)
                )
                audit_record(
                    session,
                    action=f"{kind.label.replace(' ', '_')}.sealed",
                    entity_type=kind.label.replace(" ", "_"),
                    entity_id=document.id,
                    before=None,
                    after={"number": document.number, **values},
                    note="sealed after an upgrade: issued before documents were sealed",
                )
                sealed.append(name)
        for kept in KEPT:
            _seal_unsealed_kept(session, kept, sealed, refused)
    return sealed, refused


def _seal_unsealed_kept(
    session: Session, kept: KeptBytes, sealed: list[str], refused: list[str]
) -> None:
    """Seal `kept`'s rows that have none (kept before round 47), each audited
    (`<label>.sealed`), trusting each as it is now unless its bytes no longer match
    its SHA-256 (refused). The rows are hashed `KEPT_BATCH` at a time and only what
    seals them is held, so the UPDATEs never meet an open cursor over the table."""
    found: list[tuple[int, str, Mapping[str, Any], str]] = []
    rows = session.execute(
        kept.rows().where(kept.model.seal.is_(None)).execution_options(yield_per=KEPT_BATCH)
    )
    for row in rows:
        if sha256(bytes(row.content)) != row.sha256:
            refused.append(row.name)
        else:
            found.append((row.id, row.name, kept.identity(row), row.sha256))
    action = kept.label.lower().replace(" ", "_")
    for row_id, name, identity, digest in found:
        values = seal_kept(kept, identity, digest)
        session.execute(update(kept.model).where(kept.model.id == row_id).values(**values))
        audit_record(
            session,
            action=f"{action}.sealed",
            entity_type=action,
            entity_id=row_id,
            before=None,
            after={"name": name, "sha256": digest, **values},
            note="sealed after an upgrade: kept before kept PDFs were sealed (round 47)",
        )
        sealed.append(name)


# --- verifying --------------------------------------------------------------------


def _problem(kind: Kind, document: Any, ring: Mapping[str, bytes]) -> str | None:
    name = f"{kind.label} {document.number}"
    if document.seal is None:
        return f"{name}: issued but not sealed (the seal was removed, or it predates sealing)"
    key = ring.get(document.seal_key_id or "")
    if key is None:
        return (
            f"{name}: sealed with audit key {document.seal_key_id}, which is not configured "
            "(add the old key to AUDIT_HMAC_RETIRED_KEYS, or the seal is forged)"
        )
    stored_issued = getattr(document, kind.issued_column)
    stored_amounts = document.amounts_sha256 if kind.amounts_digest else None
    text = _seal_text(kind, str(document.number), stored_issued, stored_amounts)
    if audit_keys.sign(key, text) != document.seal:
        return f"{name}: its digests or number do not match its seal (edited)"
    if kind.amounts_digest and kind.amounts_digest(document) != stored_amounts:
        return f"{name}: its amounts no longer match those issued (edited)"
    if kind.issued_digest(document) != stored_issued:
        return f"{name}: its issued content no longer matches its SHA-256 (edited)"
    return None


def _issued(session: Session, kind: Kind) -> Iterator[Any]:
    statement = kind.narrow(select(kind.model).order_by(kind.model.id))
    yield from session.scalars(statement.execution_options(yield_per=500, populate_existing=True))


@dataclass
class DocumentReport:
    """What `verify_documents` found: documents checked, and each mismatch."""

    documents: int = 0
    # Kept PDFs whose bytes were hashed again (`KeptBytes`).
    kept: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_documents(session: Session) -> DocumentReport:
    """Check every issued document against its digests and seal, and every kept
    PDF's bytes against their SHA-256."""
    report = DocumentReport()
    ring = audit_keys.ring()
    for kind in KINDS:
        for document in _issued(session, kind):
            report.documents += 1
            problem = _problem(kind, document, ring)
            if problem:
                report.problems.append(problem)
    for kept in KEPT:
        _verify_kept(session, kept, report)
    return report


def _verify_kept(session: Session, kept: KeptBytes, report: DocumentReport) -> None:
    """Hash each kept row's bytes again and check its seal, streamed `KEPT_BATCH`
    rows at a time (a server-side cursor on PostgreSQL), never the whole table in
    memory."""
    ring = audit_keys.ring()
    rows = session.execute(kept.rows().execution_options(yield_per=KEPT_BATCH))
    for row in rows:
        report.kept += 1
        problem = _kept_problem(kept, row, ring)
        if problem:
            report.problems.append(f"{row.name}: {problem}")


def _kept_problem(kept: KeptBytes, row: Any, ring: Mapping[str, bytes]) -> str | None:
    if sha256(bytes(row.content)) != row.sha256:
        return "its kept bytes no longer match their SHA-256 (edited)"
    if row.seal is None:
        # Kept before round 47, and `seal-unsealed` not run since the upgrade; or the
        # seal was removed: failing is the only answer that a removal cannot pass.
        return (
            "kept but not sealed (kept before round 47: run `licensing audit "
            "seal-unsealed` once after the upgrade; otherwise its seal was removed)"
        )
    key = ring.get(row.seal_key_id or "")
    if key is None:
        return (
            f"sealed with audit key {row.seal_key_id}, which is not configured "
            "(add the old key to AUDIT_HMAC_RETIRED_KEYS, or the seal is forged)"
        )
    if audit_keys.sign(key, _kept_seal_text(kept, kept.identity(row), row.sha256)) != row.seal:
        return "its SHA-256, or what it is of, does not match its seal (bytes and digest edited)"
    return None
