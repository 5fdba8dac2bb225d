"""The seal of an issued permission letter (`licensing.audit.seals`): its stored
PDF, registered by `licensing.permissions.init_app`."""

from __future__ import annotations

from sqlalchemy.orm import undefer

from licensing.audit.seals import Kind, register_kind, sha256
from licensing.permissions.models import PermissionLetter

LETTER = Kind(
    label="permission letter",
    model=PermissionLetter,
    issued_digest=lambda letter: sha256(letter.pdf),
    issued_column="sha256",
    amounts_digest=None,  # a letter states no amounts
    is_issued=lambda _letter: True,
    # The check hashes the stored bytes, which no other read loads (round 51).
    narrow=lambda statement: statement.options(undefer(PermissionLetter.pdf)),
)


def register() -> None:
    register_kind(LETTER)
