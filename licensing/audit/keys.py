"""The audit keys: HMAC keys for the audit chain and the seals of issued documents.

`AUDIT_HMAC_KEY` signs new rows; keys listed in `AUDIT_HMAC_RETIRED_KEYS` only
verify the rows they signed before a rotation. Each row stores the id of its
key, a digest of the key that says nothing about the key itself.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app

KEY_ID_LENGTH = 16


class UnknownKey(LookupError):
    """A row names a key that is neither the current key nor a retired one."""


def key_id(key: str) -> str:
    """The id stored with each row a key signs."""
    return hashlib.sha256(b"licensing audit key id:" + key.encode("utf-8")).hexdigest()[
        :KEY_ID_LENGTH
    ]


def ring() -> dict[str, bytes]:
    """Every configured key by its id: the current one and the retired ones."""
    config = current_app.config["LICENSING"]
    if not config.audit_hmac_key:
        raise RuntimeError("AUDIT_HMAC_KEY is not configured")
    keys = (config.audit_hmac_key, *config.audit_hmac_retired_keys)
    return {key_id(key): key.encode("utf-8") for key in keys}


def current() -> tuple[str, bytes]:
    """(id, key) that signs new rows."""
    key = current_app.config["LICENSING"].audit_hmac_key
    if not key:
        raise RuntimeError("AUDIT_HMAC_KEY is not configured")
    return key_id(key), key.encode("utf-8")


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
