"""The seal of an issued agreement (`licensing.audit.seals`): its stored PDF and
its amounts, registered by `licensing.agreements.init_app`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import undefer

from licensing.agreements.models import Agreement
from licensing.audit.seals import Kind, digest, number_text, register_kind, sha256


def _agreement_amounts(agreement: Agreement) -> dict[str, Any]:
    return {
        "currency": agreement.currency,
        "total": number_text(agreement.total),
        "late_fee_monthly_percent": number_text(agreement.late_fee_monthly_percent),
        "payment_terms_days": agreement.payment_terms_days,
    }


AGREEMENT = Kind(
    label="agreement",
    model=Agreement,
    issued_digest=lambda agreement: sha256(agreement.pdf),
    issued_column="pdf_sha256",
    amounts_digest=lambda agreement: digest(_agreement_amounts(agreement)),
    is_issued=lambda _agreement: True,
    # The check hashes the stored bytes, which no other read loads (round 51).
    narrow=lambda statement: statement.options(undefer(Agreement.pdf)),
)


def register() -> None:
    register_kind(AGREEMENT)
