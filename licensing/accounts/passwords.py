"""Password hashing (argon2id) and the password rule.

The rule, as the sign-up form explains it: at least 12 characters (at most
128), and not an obvious one: not a common password or a common password with
digits or symbols around it, not one character repeated or a keyboard or
alphabet sequence, and not containing your email address or name.
"""

from __future__ import annotations

import hashlib
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from licensing.words import at_most_characters

MIN_LENGTH = 12
MAX_LENGTH = 128

RULE = (
    f"At least {MIN_LENGTH} characters. Avoid common passwords, repeated or sequential "
    "characters, and your email address or name; a few unrelated words make a strong one."
)

# argon2id with argon2-cffi's defaults (RFC 9106, low-memory profile). The test
# suite swaps in the cheapest parameters to stay fast; the algorithm and code
# path are the same.
HASHER = PasswordHasher()

# Words that, with digits or symbols around them, make most leaked passwords.
_COMMON_WORDS_TEXT = """
    password passw0rd passwort motdepasse contrasena qwerty qwertyuiop asdfgh asdfghjkl
    zxcvbn zxcvbnm azerty letmein welcome iloveyou admin administrator root changeme
    default secret master monkey dragon football baseball basketball soccer hockey
    sunshine princess superman batman starwars trustno1 whatever shadow michael
    jennifer jordan hunter freedom ninja mustang access login abc abcdef abcdefg
    abc123 qazwsx qweasd 1qaz2wsx zaq12wsx passpass test testing guest user
    licensing license licence royalty royalties cpt health healthcare medical
    hospital clinic doctor nurse company summer winter spring autumn january
    february march april may june july august september october november december
    monday friday computer internet samsung apple google microsoft
    """
COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())

_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890123456789",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm",
)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# Checked against when the email is unknown, so that a wrong address takes as
# long to refuse as a wrong password (no account discovery by timing).
_DUMMY_HASHES: dict[int, str] = {}


def waste_time_like_a_verification(password: str) -> None:
    key = id(HASHER)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = HASHER.hash("not a real password, only for timing")
    verify_password(_DUMMY_HASHES[key], password)


def session_fingerprint(password_hash: str) -> str:
    """A short digest of the hash: part of the session's user id, so a new
    password invalidates the sessions signed in with the old one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _is_sequence(text: str) -> bool:
    return len(text) >= 4 and any(
        text in sequence or text in sequence[::-1] for sequence in _SEQUENCES
    )


def _strip_decoration(text: str) -> str:
    """The core of a password once digits and symbols around it are removed."""
    return re.sub(r"^[\W\d_]+|[\W\d_]+$", "", text)


def password_problems(password: str, *, email: str = "", names: tuple[str, ...] = ()) -> list[str]:
    """Why `password` breaks the rule (an empty list when it is acceptable)."""
    if len(password) < MIN_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters ({len(password)} given)."]
    if len(password) > MAX_LENGTH:
        return [at_most_characters(MAX_LENGTH)]
    lowered = password.lower()
    compact = re.sub(r"\s+", "", lowered)
    problems: list[str] = []
    if len(set(compact)) <= 3:
        problems.append("Use more than three different characters.")
    elif _is_sequence(compact) or _is_sequence(_strip_decoration(compact)):
        problems.append("Do not use a keyboard, alphabet or number sequence.")
    core = _strip_decoration(compact)
    repeated = re.fullmatch(r"(.+?)\1+", core or compact)
    if core in COMMON_WORDS or (repeated and repeated.group(1) in COMMON_WORDS):
        problems.append("This is a commonly used password; choose something less predictable.")
    elif repeated and len(repeated.group(1)) <= 4 and not problems:
        problems.append("Do not repeat a short pattern.")
    local = email.split("@")[0].lower()
    if len(local) >= 4 and local in lowered:
        problems.append("Do not include your email address.")
    for name in names:
        for part in re.split(r"\W+", name.lower()):
            if len(part) >= 4 and part in lowered and part not in {"the", "inc", "corp"}:
                problems.append("Do not include your name or your organization's name.")
                break
        else:
            continue
        break
    return problems
