"""Issued documents are sealed when issued, and `licensing audit verify` names any
invoice, credit note, agreement or permission letter edited in the database since."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select, text

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.audit import seals
from licensing.audit.keys import key_id
from licensing.audit.models import AuditEvent
from licensing.billing import services as billing
from licensing.billing.models import Invoice, KeptPdf
from licensing.billing.services import documents as kept_documents
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionLetter
from tests.conftest import TEST_AUDIT_KEY
from tests.integration.agreements.conftest import AUTO_USE, NOW, draft
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.permissions.conftest import (
    last_mail,
    request_input,
    token_in,
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import agreement_of
from tests.support.billing import credited, paid_offline
from tests.support.factories import billing_clerk
from tests.support.settings import invoice_terms, issuing, permission_sla_days


def _invoice(vendor: Any) -> Invoice:
    invoice = send_activation(activated(vendor.organization_id, ("1200.00", "350.50")))
    assert invoice is not None
    return invoice


def _verify(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _problems() -> list[str]:
    db.session().expire_all()
    return seals.verify_documents(db.session()).problems


def _agreement(vendor: Any) -> Agreement:
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(Actor.of(principal), draft(AUTO_USE), now=NOW)
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW)
    return agreement_of(application)


def _letter() -> PermissionLetter:
    created = permissions.submit_request(request_input())
    confirmed = permissions.confirm_email(
        token_in(last_mail(created.requester_email), "/permissions/confirm/"),
        sla_days=permission_sla_days(),
    )
    permissions.approve(confirmed.id, Actor.SYSTEM, conditions="Cite the source.")
    return db.session().scalars(select(PermissionLetter)).one()


def test_an_issued_invoice_is_sealed_and_verifies(app: Flask, vendor: Any) -> None:
    invoice = _invoice(vendor)
    assert len(invoice.issued_sha256 or "") == len(invoice.amounts_sha256 or "") == 64
    assert invoice.seal is not None
    assert invoice.seal_key_id == key_id(TEST_AUDIT_KEY)
    code, output = _verify(app)
    assert code == 0, output
    assert "Issued documents intact: 1 checked, 1 kept PDF(s) hashed again." in output


def test_an_invoice_total_edited_in_sql_makes_verify_fail_naming_it(
    app: Flask, vendor: Any
) -> None:
    invoice = _invoice(vendor)
    db.session().execute(
        text("UPDATE invoices SET total = total * 2 WHERE id = :id"), {"id": invoice.id}
    )
    code, output = _verify(app)
    assert code == 1
    assert f"invoice {invoice.number}: its amounts no longer match those issued (edited)" in output


def test_an_edited_invoice_line_is_named(app: Flask, vendor: Any) -> None:
    invoice = _invoice(vendor)
    db.session().execute(
        text("UPDATE invoice_lines SET amount = amount * 2 WHERE invoice_id = :id"),
        {"id": invoice.id},
    )
    assert _problems() == [
        f"invoice {invoice.number}: its amounts no longer match those issued (edited)"
    ]


def test_an_edit_that_also_rewrites_the_digests_breaks_the_seal(app: Flask, vendor: Any) -> None:
    invoice = _invoice(vendor)
    db.session().execute(
        text("UPDATE invoices SET memo = 'edited' WHERE id = :id"), {"id": invoice.id}
    )
    db.session().expire_all()
    edited = db.session().get(Invoice, invoice.id)
    assert edited is not None
    kind = seals.KINDS[0]
    db.session().execute(
        text("UPDATE invoices SET issued_sha256 = :digest WHERE id = :id"),
        {"digest": kind.issued_digest(edited), "id": invoice.id},
    )
    assert _problems() == [
        f"invoice {invoice.number}: its digests or number do not match its seal (edited)"
    ]


def test_payments_and_credits_do_not_break_the_seal(app: Flask, vendor: Any) -> None:
    invoice = _invoice(vendor)
    credit = credited(invoice.id, "100.00", "Goodwill")
    paid_offline(invoice.id, "1450.50", "W-1")
    assert credit.seal is not None
    assert db.session().get(Invoice, invoice.id, populate_existing=True).state == "paid"  # type: ignore[union-attr]
    assert _problems() == []


def test_a_credit_note_edited_in_sql_is_named(app: Flask, vendor: Any) -> None:
    invoice = _invoice(vendor)
    credit = credited(invoice.id, "100.00", "Goodwill")
    db.session().execute(
        text("UPDATE credit_notes SET reason = 'Something else' WHERE id = :id"),
        {"id": credit.id},
    )
    assert _problems() == [
        f"credit note {credit.number}: its issued content no longer matches its SHA-256 (edited)"
    ]


def test_draft_invoices_are_not_sealed(app: Flask, vendor: Any) -> None:
    from licensing.billing.services import Charge

    draft_invoice = billing.create_draft(
        organization_id=vendor.organization_id,
        currency="USD",
        charges=[Charge(description="Consulting", amount=Decimal("10.00"))],
        standard=invoice_terms(),
        actor=billing_clerk(),
    )
    assert draft_invoice.seal is None
    assert _problems() == []
    finalized = billing.finalize_invoice(draft_invoice.id, actor=billing_clerk())
    assert finalized.seal is not None
    assert _problems() == []


def test_an_agreement_whose_pdf_and_digest_are_replaced_is_named(
    app: Flask,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = _agreement(vendor)
    assert agreement.amounts_sha256 is not None
    assert agreement.seal is not None
    assert _problems() == []
    forged = b"%PDF-1.4 another agreement"
    db.session().execute(
        text("UPDATE agreements SET pdf = :pdf, pdf_sha256 = :digest WHERE id = :id"),
        {"pdf": forged, "digest": hashlib.sha256(forged).hexdigest(), "id": agreement.id},
    )
    assert _problems() == [
        f"agreement {agreement.number}: its digests or number do not match its seal (edited)"
    ]


def test_an_agreement_total_edited_in_sql_is_named(
    app: Flask,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = _agreement(vendor)
    db.session().execute(
        text("UPDATE agreements SET total = total + total WHERE id = :id"), {"id": agreement.id}
    )
    assert _problems() == [
        f"agreement {agreement.number}: its amounts no longer match those issued (edited)"
    ]


def test_a_permission_letter_edited_in_sql_is_named(app: Flask) -> None:
    letter = _letter()
    assert letter.seal is not None
    assert _problems() == []
    db.session().execute(
        text("UPDATE permission_letters SET pdf = :pdf WHERE id = :id"),
        {"pdf": b"%PDF-1.4 a different letter", "id": letter.id},
    )
    assert _problems() == [
        f"permission letter {letter.number}: its issued content no longer matches its "
        "SHA-256 (edited)"
    ]


def test_a_seal_removed_in_sql_is_named(app: Flask, vendor: Any) -> None:
    invoice = _invoice(vendor)
    db.session().execute(text("UPDATE invoices SET seal = NULL WHERE id = :id"), {"id": invoice.id})
    assert _problems() == [
        f"invoice {invoice.number}: issued but not sealed (the seal was removed, or it "
        "predates sealing)"
    ]


def test_a_removed_seal_is_not_restored_by_a_later_change_to_the_invoice(
    app: Flask, vendor: Any
) -> None:
    invoice = _invoice(vendor)
    db.session().execute(
        text("UPDATE invoices SET seal = NULL, memo = 'edited' WHERE id = :id"),
        {"id": invoice.id},
    )
    db.session().expire_all()
    paid_offline(invoice.id, "100.00", "W-2")
    assert _problems() == [
        f"invoice {invoice.number}: issued but not sealed (the seal was removed, or it "
        "predates sealing)"
    ]


def test_documents_sealed_with_a_retired_key_still_verify(app: Flask, vendor: Any) -> None:
    import dataclasses

    invoice = _invoice(vendor)
    config = app.config["LICENSING"]
    app.config["LICENSING"] = dataclasses.replace(
        config, audit_hmac_key="the-new-key", audit_hmac_retired_keys=(config.audit_hmac_key,)
    )
    try:
        assert _problems() == []
        app.config["LICENSING"] = dataclasses.replace(
            app.config["LICENSING"], audit_hmac_retired_keys=()
        )
        # The issued invoice, and (round 47) its kept PDF, sealed under the retired key.
        problem, kept = _problems()
        assert problem.startswith(f"invoice {invoice.number}: sealed with audit key ")
        assert kept.startswith(f"invoice {invoice.number}, kept PDF in standing open; ")
        assert ": sealed with audit key " in kept
    finally:
        app.config["LICENSING"] = config


def test_admins_see_edited_documents_in_the_api_verification(
    app: Flask, vendor: Any, admin: Any
) -> None:
    from tests.support.factories import bearer

    invoice = _invoice(vendor)
    client = app.test_client()
    url = "/api/v1/audit-events/verification"
    intact = client.get(url, headers=bearer(admin)).get_json()
    assert (intact["ok"], intact["documents"], intact["document_problems"]) == (True, 1, [])
    assert intact["kept_pdfs"] == 1  # the issued invoice's PDF, hashed again (round 46)
    db.session().execute(
        text("UPDATE invoices SET total = total * 2 WHERE id = :id"), {"id": invoice.id}
    )
    tampered = client.get(url, headers=bearer(admin)).get_json()
    assert tampered["ok"] is False
    assert tampered["document_problems"] == [
        f"invoice {invoice.number}: its amounts no longer match those issued (edited)"
    ]


def test_documents_issued_before_sealing_are_sealed_once_by_the_command(
    app: Flask, vendor: Any
) -> None:
    invoice = _invoice(vendor)
    credit = credited(invoice.id, "50.00", "Goodwill")
    letter = _letter()
    # As a database from before sealing holds them.
    db.session().execute(text("UPDATE invoices SET seal = NULL, issued_sha256 = NULL"))
    db.session().execute(text("UPDATE credit_notes SET seal = NULL"))
    db.session().execute(text("UPDATE permission_letters SET seal = NULL"))
    assert len(_problems()) == 3
    result = app.test_cli_runner().invoke(args=["audit", "seal-unsealed"])
    assert result.exit_code == 0, result.output
    assert f"invoice {invoice.number}" in result.output
    assert f"credit note {credit.number}" in result.output
    assert f"permission letter {letter.number}" in result.output
    assert _problems() == []
    again = app.test_cli_runner().invoke(args=["audit", "seal-unsealed"])
    assert "Sealed 0 document(s)." in again.output
    code, output = _verify(app)
    assert code == 0, output


def test_sealing_refuses_a_letter_whose_pdf_no_longer_matches_its_digest(app: Flask) -> None:
    letter = _letter()
    db.session().execute(
        text("UPDATE permission_letters SET seal = NULL, pdf = :pdf"), {"pdf": b"%PDF-1.4 other"}
    )
    result = app.test_cli_runner().invoke(args=["audit", "seal-unsealed"])
    assert result.exit_code == 1
    assert f"permission letter {letter.number}" in result.output
    assert _problems() != []


# --- kept PDFs (round 46) -----------------------------------------------------------


def test_a_kept_pdf_altered_in_sql_makes_verify_fail_naming_its_document(
    app: Flask, vendor: Any
) -> None:
    invoice = _invoice(vendor)  # its issuing email's PDF is kept
    code, output = _verify(app)
    assert code == 0, output
    # Under the ORM's refusal (`refuse_changes`): a raw UPDATE, as an edit in the database.
    db.session().execute(
        text("UPDATE kept_pdfs SET pdf = :pdf WHERE invoice_id = :id"),
        {"pdf": b"%PDF-1.4 not what was emailed", "id": invoice.id},
    )
    code, output = _verify(app)
    assert code == 1
    # The problem is the kept PDF's, counted apart from the documents (round 60).
    assert "Issued documents TAMPERED: 1 problem(s) in 1 document(s) and 1 kept PDF(s):" in output
    assert (
        f"invoice {invoice.number}, kept PDF in standing open; paid 0.00; credited 0.00; "
        "balance due 1550.50: its kept bytes no longer match their SHA-256 (edited)"
    ) in output


def test_a_kept_pdfs_sha256_rewritten_alone_is_named_too(app: Flask, vendor: Any) -> None:
    invoice = _invoice(vendor)
    credit = credited(invoice.id, "100.00", "Goodwill")
    kept_documents.kept_credit_note_pdf(credit)
    db.session().execute(
        text("UPDATE kept_pdfs SET sha256 = :digest WHERE credit_note_id = :id"),
        {"digest": hashlib.sha256(b"other bytes").hexdigest(), "id": credit.id},
    )
    assert _problems() == [
        f"credit note {credit.number}, kept PDF in standing issued: "
        "its kept bytes no longer match their SHA-256 (edited)"
    ]


def test_verify_streams_the_kept_pdfs_in_batches_and_checks_every_one(
    app: Flask, vendor: Any, monkeypatch: Any
) -> None:
    invoice = _invoice(vendor)
    credit = credited(invoice.id, "100.00", "Goodwill")
    kept_documents.kept_credit_note_pdf(credit)
    paid_offline(invoice.id, "1450.50", "W-1")
    paid = db.session().get(Invoice, invoice.id, populate_existing=True)
    assert paid is not None
    kept_documents.kept_invoice_pdf(paid)  # a third document: the paid standing
    db.session().execute(
        text("UPDATE kept_pdfs SET pdf = :pdf WHERE invoice_id = :id AND issued_id IS NOT NULL"),
        {"pdf": b"%PDF-1.4 edited", "id": invoice.id},
    )
    batches: list[int] = []
    verify_kept = seals._verify_kept

    def counting(session: Any, kept: seals.KeptBytes, report: seals.DocumentReport) -> None:
        batches.append(seals.KEPT_BATCH)
        verify_kept(session, kept, report)

    monkeypatch.setattr(seals, "KEPT_BATCH", 1)
    monkeypatch.setattr(seals, "_verify_kept", counting)
    db.session().expire_all()
    report = seals.verify_documents(db.session())
    assert (report.kept, batches) == (3, [1])
    [problem] = report.problems
    assert problem.startswith(f"invoice {invoice.number}, kept PDF in standing paid ")


# --- kept PDFs sealed (round 47) ------------------------------------------------------


_REWRITES = {
    column: text(f"UPDATE kept_pdfs SET pdf = :pdf, sha256 = :digest WHERE {column} = :id")  # noqa: S608 - a fixed column
    for column in ("invoice_id", "credit_note_id")
}


def _rewrite_kept(column: str, record_id: int, content: bytes) -> None:
    """The kept row's bytes and their SHA-256 both rewritten in SQL, consistently."""
    digest = hashlib.sha256(content).hexdigest()
    db.session().execute(_REWRITES[column], {"pdf": content, "digest": digest, "id": record_id})


def test_a_kept_pdfs_bytes_and_sha256_rewritten_together_are_caught_by_its_seal(
    app: Flask, vendor: Any
) -> None:
    # Round 46 hashed the bytes again, but against a digest anyone with the database
    # could rewrite too: this edit passed `audit verify`.
    invoice = _invoice(vendor)
    _rewrite_kept("invoice_id", invoice.id, b"%PDF-1.4 a forged invoice")
    code, output = _verify(app)
    assert code == 1
    assert (
        f"invoice {invoice.number}, kept PDF in standing open; paid 0.00; credited 0.00; "
        "balance due 1550.50: its SHA-256, or what it is of, does not match its seal "
        "(bytes and digest edited)"
    ) in output


def test_a_kept_row_moved_to_another_document_with_its_seal_is_caught(
    app: Flask, vendor: Any
) -> None:
    # The seal covers what the row is of: a credit note's kept bytes, digest and seal
    # copied over the invoice's issued row do not pass as the invoice's.
    invoice = _invoice(vendor)
    credit = credited(invoice.id, "100.00", "Goodwill")
    kept_documents.kept_credit_note_pdf(credit)
    db.session().execute(
        text(
            "UPDATE kept_pdfs SET (pdf, sha256, seal_key_id, seal) = "
            "(SELECT pdf, sha256, seal_key_id, seal FROM kept_pdfs WHERE credit_note_id = :c) "
            "WHERE invoice_id = :i"
        ),
        {"c": credit.id, "i": invoice.id},
    )
    [problem] = _problems()
    assert problem.startswith(f"invoice {invoice.number}, kept PDF in standing open; ")
    assert problem.endswith("does not match its seal (bytes and digest edited)")


def test_kept_pdfs_from_before_their_seals_are_named_until_seal_unsealed_seals_them(
    app: Flask, vendor: Any
) -> None:
    invoice = _invoice(vendor)
    credit = credited(invoice.id, "100.00", "Goodwill")
    kept_documents.kept_credit_note_pdf(credit)
    # As a database upgraded to billing_0019 holds the rows kept before it.
    db.session().execute(text("UPDATE kept_pdfs SET seal = NULL, seal_key_id = NULL"))
    problems = _problems()
    assert len(problems) == 2
    assert all("kept but not sealed (kept before round 47" in problem for problem in problems)
    result = app.test_cli_runner().invoke(args=["audit", "seal-unsealed"])
    assert result.exit_code == 0, result.output
    assert "Sealed 2 document(s)." in result.output
    assert f"invoice {invoice.number}, kept PDF in standing open; " in result.output
    assert f"credit note {credit.number}, kept PDF in standing issued" in result.output
    assert _problems() == []
    audited = db.session().scalars(
        select(AuditEvent.entity_type).where(AuditEvent.action == "kept_pdf.sealed")
    )
    assert list(audited) == ["kept_pdf", "kept_pdf"]
    again = app.test_cli_runner().invoke(args=["audit", "seal-unsealed"])
    assert "Sealed 0 document(s)." in again.output
    # Sealed now: a rewrite of both is caught as any other row's.
    _rewrite_kept("credit_note_id", credit.id, b"%PDF-1.4 forged")
    [problem] = _problems()
    assert problem.startswith(f"credit note {credit.number}, kept PDF in standing issued: ")


def test_seal_unsealed_refuses_a_kept_pdf_whose_bytes_no_longer_match_its_sha256(
    app: Flask, vendor: Any
) -> None:
    invoice = _invoice(vendor)
    db.session().execute(
        text("UPDATE kept_pdfs SET seal = NULL, seal_key_id = NULL, pdf = :pdf"),
        {"pdf": b"%PDF-1.4 edited before the upgrade"},
    )
    result = app.test_cli_runner().invoke(args=["audit", "seal-unsealed"])
    assert result.exit_code == 1
    assert f"invoice {invoice.number}, kept PDF in standing open; " in result.output
    assert "Sealed 0 document(s)." in result.output
    [problem] = _problems()
    assert problem.endswith("its kept bytes no longer match their SHA-256 (edited)")
    seal = db.session().scalars(select(KeptPdf.seal).where(KeptPdf.invoice_id == invoice.id))
    assert list(seal) == [None]
