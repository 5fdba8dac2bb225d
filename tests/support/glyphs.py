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

# Invented names in Chinese, Japanese and Korean, each with the CID font its CJK
# characters must be drawn in: kana make the Han of the same text Japanese (東京支店,
# after a space, too); Han alone is drawn in the Simplified Chinese font.
CJK_NAMES = {
    "Japanese": ("株式会社テスト 東京支店", "HeiseiKakuGo-W5"),
    "Chinese": ("北京测试有限公司", "STSong-Light"),
    "Korean": ("테스트 주식회사", "HYGothic-Medium"),
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


def fonts_drawing(data: bytes) -> dict[str, set[str]]:
    """Each character (but white space) the pages' content streams draw, with
    the fonts it is drawn in: their names without a subset's tag."""
    drawn: dict[str, set[str]] = {}

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if font is None:
            return
        name = str(font["/BaseFont"]).lstrip("/").split("+")[-1]
        for character in text:
            if not character.isspace():
                drawn.setdefault(character, set()).add(name)

    for page in PdfReader(io.BytesIO(data)).pages:
        page.extract_text(visitor_text=visit)
    return drawn


def standard_cid_fonts(data: bytes) -> dict[str, str]:
    """The fonts of the pages that are CID fonts left to the viewer (Type 0, not
    embedded), by name, with their Adobe character collection (e.g. Japan1)."""
    found: dict[str, str] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if font["/Subtype"] != "/Type0":
                continue
            cid_font = font["/DescendantFonts"][0].get_object()
            descriptor = cid_font["/FontDescriptor"].get_object()
            if not {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor):
                found[str(font["/BaseFont"]).lstrip("/")] = str(
                    cid_font["/CIDSystemInfo"]["/Ordering"]
                )
    return found


def misdrawn(data: bytes, text: str, cid_font: str) -> list[str]:
    """The characters of `text` not drawn as they should be: a CJK character
    drawn in any font but `cid_font` (or not at all), any other (but white
    space) without a glyph of its own in the embedded fonts."""
    from licensing.pdf import has_cjk

    drawn = fonts_drawing(data)
    cjk = {character for character in text if has_cjk(character)}
    wrong = {character for character in cjk if drawn.get(character) != {cid_font}}
    others = "".join(character for character in text if character not in cjk)
    return sorted(wrong.union(drawn_without_glyph(data, others)))


# Invented names in the right-to-left scripts (round 54): a Hebrew company, an
# Arabic one (its letters joined in print), and lam-alef, which Arabic writes as one.
RTL_NAMES = {
    "Hebrew": "שמעון כהן מערכות רפואיות בע״מ",
    "Arabic": "شركة البرمجيات الطبية المحدودة",
}
LAM_ALEF = "سلام"


def shown_in_order(data: bytes) -> list[str]:
    """The text of each string the pages show (`Tj`, `TJ`), character by character
    in the order drawn, left to right, through each font's ToUnicode map: what a
    reader sees, where text extraction (pypdf's too) reorders right-to-left text
    into the order it was typed. CID fonts and the standard fonts are skipped, and
    so are the direction marks (LRM, RLM) drawn beside right-to-left runs for
    readers of the text (round 61): they draw nothing."""
    from pypdf.generic import ContentStream

    shown: list[str] = []
    for page in PdfReader(io.BytesIO(data)).pages:
        fonts = page["/Resources"]["/Font"]
        maps: dict[str, dict[int, str]] = {}
        for name, font in fonts.items():
            font = font.get_object()
            if "/ToUnicode" in font and font["/Subtype"] == "/TrueType":
                maps[name] = {
                    int(code, 16): bytes.fromhex(unicode.decode()).decode("utf-16-be")
                    for code, unicode in _PAIR.findall(font["/ToUnicode"].get_data())
                }
        current: dict[int, str] | None = None
        for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
            if operator == b"Tf":
                current = maps.get(operands[0])
            elif operator in (b"Tj", b"TJ") and current is not None:
                strings = operands[0] if operator == b"TJ" else [operands[0]]
                raw = b"".join(
                    part.original_bytes if hasattr(part, "original_bytes") else bytes(part)
                    for part in strings
                    if not isinstance(part, int | float) and not hasattr(part, "as_numeric")
                )
                text = "".join(current.get(code, "\ufffd") for code in raw)
                shown.append(text.replace("\u200e", "").replace("\u200f", ""))
    return shown


# Invented names in Thai and Devanagari (round 54), drawn in Noto Sans: Thai with its
# vowels and tone marks above and below; Devanagari with conjuncts (क्ष, त्र, प्र) and
# the vowel sign i, drawn before the consonant it follows in the text.
SHAPED_NAMES = {
    "Thai": "บริษัท ทดสอบซอฟต์แวร์ จำกัด",
    "Devanagari": "क्षत्रिय हिन्दी सॉफ्टवेयर प्राइवेट लिमिटेड",
}
