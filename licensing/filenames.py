"""A downloaded or attached file's name built from what its reader knows (round 55:
a statement named by its organization, not the organization's row id), safe in a
file system and in a `Content-Disposition` header, in any script."""

from __future__ import annotations

import unicodedata
import urllib.parse

# Long enough for a legal name's words, short of any file system's limit with the
# rest of the name (255 bytes; a character may take 4 in UTF-8).
SLUG_MAX = 50
_KEPT = ("L", "N", "M")  # letters, digits and the marks that combine with them


def slug(name: str, *, empty: str = "organization") -> str:
    """`name` as a file name's word: lower case, each run of anything but letters,
    digits and their marks (spaces, punctuation, slashes, quotes, controls, bidi
    marks) one hyphen, none at either end, at most `SLUG_MAX` characters, in its
    own script ("Société Générale S.A." -> "société-générale-s-a"); `empty` when
    nothing is left."""
    words: list[str] = []
    current = ""
    for character in unicodedata.normalize("NFC", name).lower():
        if unicodedata.category(character)[0] in _KEPT:
            current += character
        elif current:
            words.append(current)
            current = ""
    if current:
        words.append(current)
    said = "-".join(words)[:SLUG_MAX].rstrip("-")
    return said or empty


def ascii_name(filename: str) -> str:
    """`filename` for a client that reads only `filename=`: accents dropped
    ("société" -> "societe"), any other character outside ASCII left out, and the
    hyphens that leaves doubled made one."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    while "--" in folded:
        folded = folded.replace("--", "-")
    return folded.replace("-.", ".")


def content_disposition(disposition: str, filename: str) -> str:
    """The `Content-Disposition` header naming `filename` (RFC 6266): its ASCII
    form as `filename`, and, when it has other characters, the name itself as
    `filename*` in UTF-8, which every current browser prefers."""
    if filename.isascii():
        return f'{disposition}; filename="{filename}"'
    quoted = urllib.parse.quote(filename, safe="")
    return f"{disposition}; filename=\"{ascii_name(filename)}\"; filename*=UTF-8''{quoted}"
