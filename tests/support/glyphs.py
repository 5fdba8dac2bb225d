"""Which characters a PDF draws without a glyph of its own (as the font's empty box).

Text read back from a PDF is no proof that it was drawn: reportlab writes a
character map for every character, also for one its font has no glyph for,
which is then drawn with the font's `.notdef` glyph, an empty box. So each
character is followed from the page's font (its ToUnicode map, which gives the
code the character was drawn with) into the embedded font file, whose own
character map must give that code a real glyph.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from fontTools.ttLib import TTFont
from pypdf import PdfReader

# Invented names of licensees, signers and organizations, as users type them
# (RUF001: the dotless i and the Greek and Cyrillic capitals are meant).
EUROPEAN_NAMES = {
    "Polish": "Łódź Łukasz, Żaneta Gęślińska sp. z o.o., Źródło Ćma",
    "Czech": "Dvořák s.r.o., Řehoř Šťastný, Ďáblice & Růžička",
    "Hungarian": "Erdős Kft., Győző Szűcs, ŐRSÉG ŰRHAJÓ Zrt.",
    "Romanian": "Ștefan Țărână SRL, Șerban Ioniță, Târgu Mureș",
    "Turkish": "Şahin İğdır A.Ş., Işıl Öztürk, Ğ ğ ı İ",  # noqa: RUF001
    "Greek": "Γιώργος Παπαδόπουλος Α.Ε., Ωμέγα Ψηφιακή",  # noqa: RUF001
    "Cyrillic": "ООО «Дмитрий Шостакович», Ђорђе Јовановић, Їжак Ґудзь",  # noqa: RUF001
}

# reportlab writes the ToUnicode map of a subset as pairs "<code> <UTF-16BE>".
_PAIR = re.compile(rb"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4,})>")


def _embedded_fonts(data: bytes) -> Iterator[Any]:
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/FontDescriptor" in font and "/FontFile2" in font["/FontDescriptor"]:
                yield font


def glyphs_drawn(data: bytes) -> dict[str, set[str]]:
    """Each character the PDF's embedded fonts can draw, with the glyph names
    (per font subset) it is drawn with; `.notdef` or "empty" where it has none."""
    drawn: dict[str, set[str]] = {}
    for font in _embedded_fonts(data):
        font_file = TTFont(io.BytesIO(font["/FontDescriptor"]["/FontFile2"].get_data()))
        codes = font_file["cmap"].tables[0].cmap  # the subset's one map: code -> glyph
        glyphs = font_file["glyf"]
        for code, unicode in _PAIR.findall(font["/ToUnicode"].get_data()):
            character = bytes.fromhex(unicode.decode()).decode("utf-16-be")
            glyph = codes.get(int(code, 16), ".notdef")
            if glyph != ".notdef" and glyphs[glyph].numberOfContours == 0:
                glyph = "empty"  # an outline-less glyph: right for a space only
            drawn.setdefault(character, set()).add(glyph)
    return drawn


def drawn_without_glyph(data: bytes, text: str) -> list[str]:
    """The characters of `text` (but white space) the PDF has no glyph for."""
    drawn = glyphs_drawn(data)
    return sorted(
        character
        for character in set(text)
        if not character.isspace()
        and (not drawn.get(character) or drawn[character] & {".notdef", "empty"})
    )
