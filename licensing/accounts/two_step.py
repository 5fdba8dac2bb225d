"""Two-step sign-in's arithmetic: authenticator secrets, codes and recovery codes.

No database and no Flask here. `pyotp` checks the codes (RFC 6238, 30-second
steps, 6 digits) and `segno` draws the set-up QR code as inline SVG.

The secret is never stored. A user's row keeps a random `nonce` and the id of
the key it was made with; the secret is HMAC-SHA-256(key, user id and nonce),
so a copy of the database alone does not give it away, and the key (the audit
key, `AUDIT_HMAC_KEY`, which production already requires and keeps apart from
the database) is needed to compute it. A rotated audit key stays in
`AUDIT_HMAC_RETIRED_KEYS`, so secrets made with it keep working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime

import pyotp

# pyotp's default: 30-second steps. A code from the step before or after the
# server's is accepted too (a phone's clock a little off).
STEP_SECONDS = 30
VALID_WINDOW = 1

RECOVERY_CODE_COUNT = 10
# 10 characters of an alphabet without look-alikes (no 0/O, 1/I/L): 50 bits each.
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_RECOVERY_LENGTH = 10

ISSUER = "CPT Licensing"


def new_nonce() -> str:
    return secrets.token_hex(16)


def secret_for(key: bytes, user_id: int, nonce: str) -> str:
    """The base32 secret an authenticator app holds (160 bits, as RFC 4226 suggests)."""
    digest = hmac.new(key, f"two-step sign-in:{user_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def secret_in_groups(secret: str) -> str:
    """`ABCD EFGH ...`: for typing into an app that cannot scan the code."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as an inline `<svg>` element (no XML declaration), titled for
    screen readers; drawn here, so nothing is fetched from elsewhere."""
    # Imported here, not with the app: only setting up an authenticator draws a QR
    # code, and segno is 2 MB resident that every other process need not hold (round 50).
    import segno

    title = "QR code for your authenticator app"
    svg: str = segno.make(uri, error="m").svg_inline(
        scale=5, title=title, dark="#000", light="#fff"
    )
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def accepted_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The time step the code belongs to, if it is right and newer than the last
    code accepted (`last_step`): a code is accepted once, so one seen over a
    shoulder or replayed within its 30 seconds is refused."""
    digits = "".join(code.split())
    # ASCII digits only: "١٢٣٤٥٦" is digits to `str.isdigit`, and `compare_digest`
    # raises TypeError on non-ASCII text (a 500, and an attempt not counted).
    if len(digits) != 6 or not (digits.isascii() and digits.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), digits):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Codes as shown: `ABCDE-FGHJK`."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_code_hash(code: str) -> str:
    """SHA-256 of the code without spaces, dashes or case: 50 random bits, so a
    fast hash is enough, as for API tokens."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(b"recovery code:" + canonical.encode("ascii", "ignore")).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return len(canonical) == _RECOVERY_LENGTH and not canonical.isdigit()


def key_from_ring(ring: Mapping[str, bytes], key_id: str | None) -> bytes | None:
    return ring.get(key_id or "")


# --- remembered browsers -------------------------------------------------------------


def new_browser_token() -> str:
    """The cookie of a remembered browser: 256 random bits."""
    return secrets.token_urlsafe(32)


def browser_token_hash(token: str) -> str:
    """What the database keeps of a remembered browser's token: 256 random bits,
    so a fast hash is enough, as for API tokens."""
    return hashlib.sha256(b"remembered browser:" + token.encode("utf-8", "ignore")).hexdigest()


# Most specific first: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
# iPhones say "like Mac OS X", Android says "Linux", ChromeOS says "X11".
_SYSTEMS = (
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
BROWSER_LABEL_LENGTH = 60


def browser_label(user_agent: str) -> str:
    """A short name for the browser a User-Agent describes ("Chrome on Linux"),
    only for its owner to tell their browsers apart: anyone can send any
    User-Agent, so nothing is ever decided by it."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "A browser")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    label = f"{browser} on {system}" if system else browser
    return label[:BROWSER_LABEL_LENGTH]
